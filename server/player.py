"""The player-facing API: device-token auth, heartbeats, proof of play, and immutable media."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, g, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge

from assets.store import StoreError
from playlists.reports import ReportError, record_heartbeat, record_plays
from playlists.screens import screen_for_token

from .db import get_session, get_store
from .errors import error_response

bp = Blueprint("player", __name__)

MAX_REPORT_BYTES = 256 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"


def now() -> datetime:
    """The current time; tests replace the app's clock through config["CLOCK"]."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def require_screen(view):
    """Let a request through only with the device token of the screen in its URL."""

    @functools.wraps(view)
    def wrapped(screen_id: str, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            response = error_response(401, "a device token is required: Authorization: Bearer <token>")
            response[0].headers["WWW-Authenticate"] = 'Bearer realm="screens"'
            return response
        screen = screen_for_token(get_session(), screen_id, token.strip())
        if screen is None:
            # The same answer whether the screen is unknown or the token belongs to another one.
            return error_response(404, "no such screen for this token")
        g.screen = screen
        return view(screen_id=screen_id, **kwargs)

    return wrapped


def _json_body():
    if (request.content_length or 0) > MAX_REPORT_BYTES:
        raise RequestEntityTooLarge(f"body too large: expected at most {MAX_REPORT_BYTES} bytes")
    data = request.get_data(cache=False, as_text=False)
    if len(data) > MAX_REPORT_BYTES:
        raise RequestEntityTooLarge(f"body too large: expected at most {MAX_REPORT_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        abort(400, "malformed JSON body")


@bp.post("/api/v1/screens/<screen_id>/heartbeat")
@require_screen
def heartbeat(screen_id: str):
    """Record the player's status; 204."""
    session = get_session()
    try:
        record_heartbeat(session, screen_id, _json_body(), now())
    except ReportError as exc:
        session.rollback()
        return error_response(400, str(exc))
    session.commit()
    return "", 204


@bp.post("/api/v1/screens/<screen_id>/plays")
@require_screen
def plays(screen_id: str):
    """Record a batch of proof-of-play records; 202 with how many were new."""
    session = get_session()
    try:
        fresh = record_plays(session, screen_id, _json_body(), now())
    except ReportError as exc:
        session.rollback()
        return error_response(400, str(exc))
    session.commit()
    return {"accepted": fresh}, 202


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
    return response
