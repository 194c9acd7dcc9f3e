"""The player-facing API: device-token auth, the manifest, now.png, heartbeats, proof of play, immutable media."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, g, request, send_file
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from assets.store import StoreError
from playlists.reports import PlayChecks, ReportError, heartbeat_values, record_heartbeat, record_plays
from playlists.resolver import now as resolve_now
from playlists.rules import RuleError
from playlists.screens import token_matches

from .db import get_manifests, get_session, get_store
from .errors import error_response, refusal_response
from .fastpoll import manifest_answer

bp = Blueprint("player", __name__)

MAX_REPORT_BYTES = 256 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"


def now() -> datetime:
    """The current time; tests replace the app's clock through config["CLOCK"]."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


# RFC 6750 section 3: a request without a bearer token gets the challenge alone; a token that is wrong, revoked,
# or not this screen's gets error="invalid_token" (parameters may come in any order; error first keeps the
# contract's text `Bearer error="invalid_token"` whole). Either way 401 tells a player to pair again.
CHALLENGE = 'Bearer realm="screens"'
INVALID_TOKEN = 'Bearer error="invalid_token", realm="screens"'


def unauthorised(challenge: str, message: str, code: str):
    """The 401 JSON answer with its WWW-Authenticate challenge."""
    response = error_response(401, message, code)
    response[0].headers["WWW-Authenticate"] = challenge
    response[0].headers["Cache-Control"] = "no-store"
    return response


def require_screen(view):
    """Let a request through only with the device token of the screen in its URL; 401 otherwise."""

    @functools.wraps(view)
    def wrapped(screen_id: str, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorised(CHALLENGE, _("a device token is required: Authorization: Bearer <token>"),
                                "device.token_required")
        # The snapshot holds every screen's token digest, so a poll needs no query beyond the revision check.
        network = get_manifests().network(wait=False)
        screen = network.screens.get(screen_id)
        if not token_matches(screen.token_hash if screen is not None else None, token.strip()):
            # The same answer whether the screen is unknown, the token revoked or another screen's: nobody
            # learns which screens exist, and the player knows to pair again.
            return unauthorised(INVALID_TOKEN, _("this device token is not valid for this screen: pair the player "
                                                 "again"), "device.token_invalid")
        g.screen, g.network = screen, network
        return view(screen_id=screen_id, **kwargs)

    return wrapped


def json_body():
    """The request's JSON body; 413 past MAX_REPORT_BYTES, 400 when it is not JSON."""
    if (request.content_length or 0) > MAX_REPORT_BYTES:
        raise RequestEntityTooLarge(f"body too large: expected at most {MAX_REPORT_BYTES} bytes")
    data = request.get_data(cache=False, as_text=False)
    if len(data) > MAX_REPORT_BYTES:
        raise RequestEntityTooLarge(f"body too large: expected at most {MAX_REPORT_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deep enough to exhaust the parser's stack ([[[[...).
        abort(400, _("malformed JSON body"))


@bp.post("/api/v1/screens/<screen_id>/heartbeat")
@require_screen
def heartbeat(screen_id: str):
    """Record the player's status; 204."""
    writer = current_app.extensions.get("signage.writer")
    if writer is not None:
        try:
            writer.heartbeat(heartbeat_values(screen_id, json_body(), now()))
        except ReportError as exc:
            return refusal_response(400, exc)
        return "", 204
    session = get_session()
    try:
        record_heartbeat(session, screen_id, json_body(), now())
    except ReportError as exc:
        session.rollback()
        return refusal_response(400, exc)
    session.commit()
    return "", 204


def play_checks() -> Callable[[], PlayChecks]:
    """What a play of this request's screen must fit (its rules now, and the app's tolerances), made on call:
    only a batch with new records needs them, and the screen's rules may refuse (RuleError)."""
    config, network, screen = current_app.config, g.network, g.screen
    keep = timedelta(days=float(config["PLAYS_KEEP_DAYS"]))
    skew, edge = (timedelta(seconds=float(config[name])) for name in ("PLAYS_CLOCK_SKEW_S", "PLAYS_EDGE_S"))
    return lambda: PlayChecks(rules=network.rules_for(screen), keep=keep, clock_skew=skew, edge=edge)


@bp.post("/api/v1/screens/<screen_id>/plays")
@require_screen
def plays(screen_id: str):
    """Judge a batch of proof-of-play records one by one; 202 with how many were accepted, known, refused and why.

    400 (nothing stored) for a batch that is not well formed; 503 while the screen's content cannot be resolved.
    """
    batch, moment, max_batch = json_body(), now(), int(current_app.config["PLAYS_MAX_BATCH"])
    checks = play_checks()

    def record(session):
        return record_plays(session, screen_id, batch, moment, checks, max_batch)

    writer = current_app.extensions.get("signage.writer")
    try:
        if writer is not None:
            outcome = writer.run(record)  # judged and stored in the writer's thread; this request waits
        else:
            session = get_session()
            try:
                outcome = record(session)
            except Exception:
                session.rollback()
                raise
            session.commit()
    except ReportError as exc:
        return refusal_response(400, exc)
    except RuleError as exc:
        return _not_ready(exc)
    return outcome.as_json(), 202


def _not_ready(exc: RuleError):
    current_app.logger.warning("screen %s cannot be served yet: %s", g.screen.id, exc)
    response = error_response(503, _("this screen's content is still being prepared; try again shortly"),
                              "screen.not_ready")
    response[0].headers["Retry-After"] = "30"
    return response


@bp.get("/api/v1/screens/<screen_id>/manifest")
@require_screen
def manifest(screen_id: str):
    """What to play for the next 48 hours; 304 when the player's ETag is still current.

    Authorised polls are usually answered by server.fastpoll before they get here; this view gives the same
    answer, and the errors."""
    moment = now()
    try:
        built = get_manifests().get(g.network, g.screen, moment, wait=False)
    except RuleError as exc:
        return _not_ready(exc)
    status, headers, body = manifest_answer(built, request.headers.get("Accept-Encoding", ""),
                                            request.headers.get("If-None-Match", ""),
                                            int(now().timestamp() * 1000))
    return Response(body, status=status, headers=headers)


@bp.get("/api/v1/screens/<screen_id>/now.png")
@require_screen
def now_png(screen_id: str):
    """The exact-size image the screen should show at this instant."""
    try:
        segment = resolve_now(g.network.rules_for(g.screen), now())
    except RuleError as exc:
        return _not_ready(exc)
    media = g.network.media_for(segment.item, g.screen.profile)
    response = send_file(get_store().path(media.sha256, media.ext), mimetype="image/png", conditional=True,
                         etag=media.sha256, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    # For simple players: what this is and when to ask again.
    response.headers["X-Signage-Item"] = segment.item.key
    response.headers["X-Signage-Until"] = segment.end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return response


@bp.get("/media/<sha256>.<ext>")
def media(sha256: str, ext: str):
    """Immutable media bytes, cacheable for a year by players, proxies and CDNs."""
    store = get_store()
    try:
        path = store.path(sha256, ext)
    except StoreError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, conditional=True, etag=sha256, max_age=31536000)
    response.headers["Cache-Control"] = IMMUTABLE
    # Browsers must take the bytes for the type we say (an image), never guess HTML from them.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
