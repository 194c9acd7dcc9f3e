"""Pairing a player with a screen, so that nobody types a token with a TV remote.

The player makes a secret, asks for a short code and shows it; staff approve the code for a screen; the
player then claims a fresh device token with its secret. The code alone is worth nothing: only the browser
that holds the secret can collect the token, once, and only before the code expires.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import Pairing, Screen
from .network import as_utc
from .screens import hash_token, reissue_token

# No 0/O, 1/I/L: the code is read off a screen across a room.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
LIFETIME = timedelta(minutes=15)
# Open codes at once; beyond this, asking for more is refused rather than filling the table.
MAX_OPEN = 1000
_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class PairingError(ValueError):
    """A pairing step that cannot be done; the message says why."""


class TooManyPairings(PairingError):
    """Too many codes are waiting for approval."""


def normalise_code(code: object) -> str:
    """The code as stored: upper case, without the dash or spaces people type. Refuses anything else."""
    text = re.sub(r"[\s-]", "", code).upper() if isinstance(code, str) else ""
    if len(text) != CODE_LENGTH or any(c not in ALPHABET for c in text):
        raise PairingError(f"pairing code: got {code!r:.40}, expected {CODE_LENGTH} characters such as K7M-4QX")
    return text


def display_code(code: str) -> str:
    """K7M4QX -> K7M-4QX."""
    return f"{code[:3]}-{code[3:]}"


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not _SECRET.match(secret):
        raise PairingError("secret: expected 32 to 128 URL-safe random characters made by the player")
    return secret


def start_pairing(session: Session, secret: object, now: datetime) -> Pairing:
    """A new code for the player holding secret, valid for 15 minutes; expired codes are dropped on the way."""
    secret = _check_secret(secret)
    session.execute(delete(Pairing).where(Pairing.expires_at <= now))
    if session.scalar(select(func.count()).select_from(Pairing)) >= MAX_OPEN:
        raise TooManyPairings(f"too many players are waiting to be paired (at most {MAX_OPEN}); try again later")
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if session.get(Pairing, code) is None:
            break
    pairing = Pairing(code=code, secret_hash=hash_token(secret), created_at=now, expires_at=now + LIFETIME)
    session.add(pairing)
    session.flush()
    return pairing


def open_pairing(session: Session, code: object, now: datetime) -> Pairing:
    """The pairing of code if it can still be approved or claimed; PairingError otherwise."""
    pairing = session.get(Pairing, normalise_code(code))
    if pairing is None or as_utc(pairing.expires_at) <= now:
        raise PairingError(f"no open pairing with code {code!r:.40}: it is wrong, used or expired")
    return pairing


def approve_pairing(session: Session, code: object, screen_id: str, now: datetime) -> Pairing:
    """Give the player showing code the screen screen_id; it collects the token on its next claim."""
    pairing = open_pairing(session, code, now)
    if session.get(Screen, screen_id) is None:
        raise PairingError(f"no screen {screen_id!r}: add it first with `signage screen add`")
    pairing.screen_id, pairing.approved_at = screen_id, now
    return pairing


def claim_pairing(session: Session, code: object, secret: object, now: datetime) -> tuple[str, str] | None:
    """(screen_id, new device token) once the code is approved, None while it waits.

    The token is issued now (the screen's old token stops working) and the code is used up. Refuses an
    unknown, expired or used code and a wrong secret alike.
    """
    secret = _check_secret(secret)
    pairing = open_pairing(session, code, now)
    if not hmac.compare_digest(pairing.secret_hash, hash_token(secret)):
        raise PairingError(f"no open pairing with code {code!r:.40}: it is wrong, used or expired")
    if pairing.screen_id is None:
        return None
    screen_id = pairing.screen_id
    session.delete(pairing)
    return screen_id, reissue_token(session, screen_id, now)
