"""Pairing endpoints: a player without a token asks for a code, shows it, and claims its token once approved.

Staff approve a code on the console's pairing page (/staff/pair?code=..., server/console_screens.py)."""

from __future__ import annotations

import io
from datetime import timedelta

import qrcode
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from playlists.pairing import (
    ClaimThrottled,
    PairingError,
    PairingLimits,
    TooManyPairings,
    check_claims_allowed,
    claim_pairing,
    client_key,
    display_code,
    note_claim_failure,
    open_pairing,
    start_pairing,
)

from .db import get_session
from .errors import refusal_response
from .player import json_body, now

bp = Blueprint("pairing", __name__)

POLL_AFTER_S = 3


def _secret(body: object) -> object:
    return body.get("secret") if isinstance(body, dict) else None


def limits() -> PairingLimits:
    """The app's pairing limits (PAIRING_* settings)."""
    config = current_app.config
    return PairingLimits(lifetime=timedelta(seconds=int(config["PAIRING_LIFETIME_S"])),
                         max_open=int(config["PAIRING_MAX_OPEN"]), max_per_client=int(config["PAIRING_MAX_PER_CLIENT"]),
                         claim_failures=int(config["PAIRING_CLAIM_FAILURES"]))


def _client() -> str:
    # request.remote_addr is the peer, or the client a trusted proxy names (TRUSTED_PROXIES, ProxyFix).
    return client_key(current_app.config["SECRET_KEY"], request.remote_addr or "")


def _too_many(exc: PairingError, retry_after_s: int):
    response = refusal_response(429, exc)
    response[0].headers["Retry-After"] = str(retry_after_s)
    return response


@bp.post("/api/v1/pairings")
def start():
    """201 with a new pairing code for the player that sent its secret; 429 past the open-code caps."""
    session, rules = get_session(), limits()
    try:
        pairing = start_pairing(session, _secret(json_body()), now(), _client(), rules)
    except TooManyPairings as exc:
        session.rollback()
        return _too_many(exc, POLL_AFTER_S * 20)
    except PairingError as exc:
        session.rollback()
        return refusal_response(400, exc)
    session.commit()
    code = display_code(pairing.code)
    return {"code": code, "expires_in_s": int(rules.lifetime.total_seconds()), "poll_after_s": POLL_AFTER_S,
            "approve_url": url_for("console.pair", code=code)}, 201


@bp.post("/api/v1/pairings/<code>/claim")
def claim(code: str):
    """202 while the code waits for approval; 200 with the screen and its new token once, then 404; 429 (with
    Retry-After) for an address that made too many wrong claims."""
    session, rules, client, moment = get_session(), limits(), _client(), now()
    body = json_body()
    try:
        check_claims_allowed(session, client, moment, rules)
        result = claim_pairing(session, code, _secret(body), moment)
    except ClaimThrottled as exc:
        session.rollback()
        return _too_many(exc, exc.retry_after_s)
    except PairingError as exc:
        session.rollback()
        note_claim_failure(session, client, moment, rules)
        session.commit()
        return refusal_response(404, exc)
    if result is None:
        return {"status": "waiting"}, 202
    session.commit()
    screen_id, token = result
    response = jsonify(screen_id=screen_id, token=token)
    response.headers["Cache-Control"] = "no-store"  # a secret: no cache may keep it
    return response


@bp.get("/api/v1/pairings/<code>/qr.png")
def qr(code: str):
    """A QR code of the approval link, for the player to show beside the code; 404 unless the code is open."""
    try:
        code = display_code(open_pairing(get_session(), code, now()).code)
    except PairingError as exc:
        return refusal_response(404, exc)
    image = qrcode.make(url_for("console.pair", code=code, _external=True), border=4, box_size=8)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "no-store"})
