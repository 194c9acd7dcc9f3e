"""The OpenAPI 3.1 document of the JSON API: staff routes (recorded by server.api's endpoint()), the players'
routes, pairing, media and /healthz, with the request and answer schemas of server/schemas.py.

Every status code a route can answer is listed, with the headers that tell a client what to do next
(WWW-Authenticate on 401, Retry-After on 429 and 503, ETag on cacheable answers). tests/test_api.py checks
that every Flask rule under /api/ is described here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel
from werkzeug.http import HTTP_STATUS_CODES

from . import schemas

AUTH_ERRORS = {"staff": (401, 403), "device": (401,), "none": ()}
SECURITY = {"staff": [{"apiToken": []}, {"session": []}], "device": [{"deviceToken": []}], "none": []}

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 0}}}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="...", error="invalid_token" when a token was sent '
                                              "but is wrong or revoked (RFC 6750)", "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_ERROR_MEANING = {
    400: "the request is malformed or a field is wrong; the message names the field and what was expected",
    401: "no credentials, or wrong or revoked ones",
    403: "signed in, but the role does not allow this",
    404: "no such record",
    409: "the change conflicts with an existing record",
    413: "the body is larger than the limit",
    415: "the body is not of the media type this route takes",
    429: "too many requests from this client; wait Retry-After seconds",
    503: "the screen's content is not ready yet; wait Retry-After seconds",
}


@dataclass(frozen=True)
class Operation:
    """One route of the document: rule in Flask syntax, method, summary and who may call it
    (security: "staff", "device" or "none")."""

    rule: str
    method: str
    summary: str
    security: tuple[str, ...] = ("none",)
    role: str | None = None
    request: type[BaseModel] | dict | None = None
    status: int = 200
    answer: type[BaseModel] | dict | None = None
    many: bool = False
    errors: tuple[int, ...] = ()
    media_type: str = "application/json"
    error_media_type: str = "application/json"  # /media is not under /api/: its errors are HTML pages
    # Further answers: status -> (description, model or raw schema or None, headers)
    more: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)  # headers of the success answer


_BINARY = {"type": "string", "format": "binary"}
_IMAGE_HEADERS = {"ETag": {"description": "strong entity tag (the sha256)", "schema": {"type": "string"}},
                  "Cache-Control": {"schema": {"type": "string"}}}
_SCREEN = {"screen_id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$", "examples": ["bx-bac-1"]}}
_CODE = {"code": {"type": "string", "description": "the pairing code as shown, such as K7M-4QX"}}


def _not_modified(what: str) -> dict:
    return {304: (f"the {what} the client holds (If-None-Match) is still current; no body", None, {})}


PLAYER: tuple[Operation, ...] = (
    Operation("/api/v1/screens/<screen_id>/manifest", "GET",
              "What to play for the next 48 hours: profile, media and timeline; strong ETag, If-None-Match gets 304",
              ("device",), answer=schemas.Manifest, more=_not_modified("manifest"), errors=(503,),
              headers={"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}}),
    Operation("/api/v1/screens/<screen_id>/now.png", "GET",
              "The exact-size image the screen should show at this instant", ("device",),
              answer=_BINARY, media_type="image/png", more=_not_modified("image"), errors=(503,),
              headers=_IMAGE_HEADERS | {
                  "X-Signage-Item": {"description": "the item shown", "schema": {"type": "string"}},
                  "X-Signage-Until": {"description": "when to ask again (UTC)", "schema": {"type": "string"}}}),
    Operation("/api/v1/screens/<screen_id>/heartbeat", "POST", "The player's status; 204", ("device",),
              request=schemas.HeartbeatIn, status=204, errors=(400, 413)),
    Operation("/api/v1/screens/<screen_id>/plays", "POST",
              "A batch of proof-of-play records; the answer counts accepted, duplicate and refused records (by "
              "reason)", ("device",), request=schemas.PlaysIn, status=202, answer=schemas.PlaysAnswer,
              errors=(400, 413, 503)),
    Operation("/api/v1/pairings", "POST", "A pairing code for a player without a token (it keeps the secret)",
              request=schemas.PairingSecret, status=201, answer=schemas.PairingOut, errors=(400, 413, 429)),
    Operation("/api/v1/pairings/<code>/claim", "POST",
              "202 while the code waits for approval; 200 with the screen and its device token once, then 404",
              request=schemas.PairingSecret, answer=schemas.PairingClaimed, errors=(400, 404, 413, 429),
              more={202: ("waiting for a person to approve the code", schemas.PairingWaiting, {})}),
    Operation("/api/v1/pairings/<code>/qr.png", "GET", "A QR code of the approval link; 404 unless the code is open",
              answer=_BINARY, media_type="image/png", errors=(404,)),
    Operation("/media/<sha256>.<ext>", "GET", "Immutable media bytes, cacheable for a year", answer=_BINARY,
              media_type="application/octet-stream", errors=(404,), more=_not_modified("file"),
              headers=_IMAGE_HEADERS, error_media_type="text/html"),
    Operation("/healthz", "GET", "200 when the database answers and storage takes a write", answer=schemas.Health,
              more={503: ("a check failed; checks says which", schemas.Health, {})}),
    Operation("/api/v1/openapi.json", "GET", "This document", answer={"type": "object"}),
)

_PATH_PARAMS = {**_SCREEN, **_CODE,
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "ext": {"type": "string", "pattern": "^[a-z0-9]{1,8}$"}}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID}
        else:
            schema = _PATH_PARAMS.get(name, {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def _schema(refs: dict, body) -> dict:
    return refs[body] if isinstance(body, type) else body


def _answer(refs: dict, description: str, body, media_type: str, headers: dict, many: bool = False) -> dict:
    out: dict = {"description": description}
    if body is not None:
        schema = _schema(refs, body)
        out["content"] = {media_type: {"schema": {"type": "array", "items": schema} if many else schema}}
    if headers:
        out["headers"] = headers
    return out


def _operation(refs: dict, op: Operation) -> dict:
    _, params = _path(op.rule)
    kind = op.security[0]
    doc: dict = {"summary": op.summary, "operationId": f"{op.method.lower()}{_path(op.rule)[0]}",
                 "parameters": params, "security": SECURITY[kind]}
    if op.role:
        doc["x-required-role"] = op.role
    if isinstance(op.request, type):
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[op.request]}}}
    elif op.request is not None:  # a multipart upload: {"file": "binary"}
        doc["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": list(op.request),
            "properties": {name: _BINARY for name in op.request}}}}}
    responses = {str(op.status): _answer(refs, HTTP_STATUS_CODES[op.status], op.answer, op.media_type,
                                         op.headers, op.many)}
    for status, (description, body, headers) in op.more.items():
        responses[str(status)] = _answer(refs, description, body, "application/json", headers)
    for status in sorted(set(op.errors) | set(AUTH_ERRORS[kind])):
        body = schemas.Error if op.error_media_type == "application/json" else {"type": "string"}
        responses.setdefault(str(status), _answer(refs, _ERROR_MEANING[status], body, op.error_media_type,
                                                  _ERROR_HEADERS.get(status, {})))
    doc["responses"] = dict(sorted(responses.items()))
    return doc


def document(staff_routes: list[Operation]) -> dict:
    """The whole OpenAPI document: the staff routes given, then the players', pairing, media and health."""
    refs, defs = schemas.components()
    paths: dict = {}
    for op in [*staff_routes, *PLAYER]:
        paths.setdefault(_path(op.rule)[0], {})[op.method.lower()] = _operation(refs, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bluezone signage API", "version": "1",
                 "description": "Staff and player API. Errors are JSON {error, message}; bad input is 400 with "
                                "the field named, a body over the limit 413, a body that is not JSON 415."},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer",
                             "description": "a staff API token: signage token create NAME"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "console login; unsafe methods also need the X-CSRFToken header"},
                "deviceToken": {"type": "http", "scheme": "bearer",
                                "description": "a screen's device token (signage screen add, or pairing); a wrong "
                                               "or revoked one gets 401 with WWW-Authenticate"},
            },
        },
    }
