"""Error responses: JSON for machine-facing paths, HTML pages for everything else; URL converters that turn
impossible identifiers into 404 before any view or query sees them."""

from __future__ import annotations

from typing import NoReturn

from flask import Flask, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
    default_exceptions,
)
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter, UnicodeConverter

from renderer.errors import Problem

from .i18n import say

JSON_PREFIXES = ("/api/", "/healthz", "/metrics")
# Record ids are SQL INTEGER columns: 32 bits on PostgreSQL (SQLite takes 64). A larger id names nothing, so it
# is a 404 here instead of an overflow in the database driver.
MAX_ID = 2**31 - 1
# Longest path segment a string parameter takes (screen ids are 64 characters, sha256 names 64 + extension).
MAX_SEGMENT = 200


def up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers 1..limit, without leading zeros."""
    digits = str(limit)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            parts.append(f"{digits[:i]}[{low}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class RecordId(IntegerConverter):
    """The default `int` converter: 1..MAX_ID in ASCII digits, else the URL matches no rule (404).

    Checked by the pattern itself, not only in to_python: Werkzeug checks methods before converters, so an id
    the pattern let through would get a 405 on a rule of another method instead of the 404."""

    regex = up_to(MAX_ID)

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class Segment(UnicodeConverter):
    """The default string converter: no control characters (a NUL cannot reach a query), at most MAX_SEGMENT."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = MAX_SEGMENT,
                 length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00-\\x1f\\x7f]")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def error_response(status: int, message: str, code: str | None = None, field: str | None = None):
    """The contract's JSON error: {"error": reason phrase, "message": what was wrong (in the reader's language),
    "code": a stable name of the rule broken, "field": the input concerned (only when there is one)}."""
    doc = {"error": HTTP_STATUS_CODES.get(status, "Unknown Error"), "message": message,
           "code": code or f"http.{status}"}
    if field:
        doc["field"] = field
    return jsonify(doc), status


def refusal_response(status: int, exc: BaseException):
    """error_response for a refusal: a Problem's sentence in the reader's language with its code and field."""
    if isinstance(exc, Problem):
        return error_response(status, say(exc), exc.code, exc.field)
    return error_response(status, say(exc))


def refuse(status: int, exc: BaseException) -> NoReturn:
    """abort(status) with a refusal: JSON callers get its code and field, HTML pages its sentence."""
    error = default_exceptions[status](description=say(exc))
    error.problem = exc if isinstance(exc, Problem) else None
    raise error


# Werkzeug's own descriptions are English; where a view raised the bare exception (its class's description), the
# answer says the same in the reader's language.
GENERIC = {
    400: _l("the request could not be understood: check its parameters and body"),
    401: _l("log in, or send Authorization: Bearer <API token>"),
    403: _l("you may not do this with your role"),
    404: _l("there is nothing at this address: check it"),
    409: _l("that conflicts with the current state: reload and try again"),
    410: _l("this is no longer available"),
    415: _l("this type of body is not accepted: check the Content-Type"),
    429: _l("too many requests: wait as long as Retry-After says, then try again"),
    500: _l("the server failed on this request; it has been logged, try again later"),
    503: _l("the server is busy or starting: wait as long as Retry-After says, then try again"),
}


def _message(exc: HTTPException) -> str:
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        return _("%(method)s is not allowed on %(path)s; allowed: %(allowed)s", method=request.method,
                 path=request.path, allowed=", ".join(sorted(exc.valid_methods)))
    if isinstance(exc, RequestEntityTooLarge) and current_app.config.get("MAX_CONTENT_LENGTH") \
            and exc.description == RequestEntityTooLarge.description:
        return _("body too large: expected at most %(limit)s bytes", limit=current_app.config["MAX_CONTENT_LENGTH"])
    if exc.code in GENERIC and (not exc.description or exc.description == type(exc).description):
        return str(GENERIC[exc.code])
    return exc.description or ""


def _html_error(exc: HTTPException):
    # The page with the console's layout, when server/pages.py has registered it (it imports what imports us).
    page = current_app.extensions.get("html_error")
    return page(exc) if page is not None else exc


def _handle_http(exc: HTTPException):
    if not wants_json():
        return _html_error(exc)
    if exc.response is not None:
        return exc.response
    problem = getattr(exc, "problem", None)
    body, status = error_response(exc.code or 500, _message(exc), problem.code if problem else None,
                                  problem.field if problem else None)
    # Keep what tells the client what to do next: Allow (405), WWW-Authenticate (401), Retry-After (429, 503).
    for name, value in exc.get_headers(request.environ):
        if name.lower() != "content-type":
            body.headers[name] = value
    return body, status


def _handle_unexpected(exc: Exception):
    # Unexpected failures are logged by Flask; callers get the reason phrase, not internals.
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    if not wants_json():
        return _html_error(InternalServerError())
    return error_response(500, _("the server failed to answer this request; it has been logged"))


def init_app(app: Flask) -> None:
    """Error handlers, and the default converters (before any blueprint adds a rule that uses them)."""
    app.url_map.converters["int"] = RecordId
    app.url_map.converters["default"] = app.url_map.converters["string"] = Segment
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
