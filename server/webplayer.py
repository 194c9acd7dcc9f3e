"""The web player: the page that browsers, kiosks and LED-controller PCs open, and its service worker.

The page itself needs no auth: the device token lives in the browser (localStorage), is read from the URL
fragment (never sent to the server) and goes out only in the Authorization header of API calls.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template, request

bp = Blueprint("webplayer", __name__, url_prefix="/player")

# Reported in heartbeats; bump it with any change of player.js or sw.js.
PLAYER_VERSION = "1.0.1"
# The format of screen ids (playlists.screens); anything else cannot be a screen, so the page is not served.
_SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# The page and its script come from this server only; media and QR codes are same-origin images. Unlike the
# console (server/security.py), pages of this server may frame it (the operator preview does); it has no form.
_CSP = ("default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'self'")


def _page(screen_id: str | None):
    preview = request.args.get("preview", "") in ("1", "true", "yes")
    html = render_template("player.html", screen_id=screen_id or "", preview=preview, version=PLAYER_VERSION)
    response = current_app.make_response(html)
    # Revalidated on every load so a new player reaches screens; the service worker keeps a copy for offline.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/")
def pairing_page():
    """The player without a screen id: it shows a pairing code until staff approve it."""
    return _page(None)


@bp.get("/<screen_id>")
def player_page(screen_id: str):
    """The player of one screen (?preview=1: no proof of play, no heartbeat); 404 for a malformed id."""
    if not _SCREEN_ID.match(screen_id):
        abort(404)
    return _page(screen_id)


@bp.get("/sw.js")
def service_worker():
    """The service worker, served from /player/ so that its scope is /player/ without extra headers."""
    response = current_app.send_static_file("player/sw.js")
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    # Browsers compare the script on each navigation; no-cache makes them always ask, so fixes spread at once.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
