"""Pairing a player with a screen, so that nobody types a token with a TV remote.

The player makes a secret, asks for a short code and shows it; staff approve the code for a screen; the
player then claims a fresh device token with its secret. The code alone is worth nothing: only the browser
that holds the secret can collect the token, once, and only before the code expires.

Anyone may ask for a code, so the open codes are capped: PairingLimits.max_open in all, max_per_client per
client address (an IPv6 address counts by its /64 network, which one household or attacker holds whole), so a
flood from one address cannot use up the codes other players need; codes expire after `lifetime`. Claims with a
wrong code or secret are counted per client address, and past claim_failures in one lifetime they are refused
(ClaimThrottled) until that window ends. Addresses are kept only as keyed hashes (client_key).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from renderer.errors import Problem

from .models import AnonThrottle, Pairing, Screen
from .network import as_utc
from .screens import hash_token, reissue_token

# No 0/O, 1/I/L: the code is read off a screen across a room.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
LIFETIME = timedelta(minutes=15)
# Open codes at once; beyond this, asking for more is refused rather than filling the table.
MAX_OPEN = 1000
_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class PairingError(Problem):
    """A pairing step that cannot be done; the message says why."""


class TooManyPairings(PairingError):
    """Too many codes are waiting for approval, in all or from this client."""


class ClaimThrottled(PairingError):
    """Too many wrong claims from this client; retry_after_s says when it may try again."""

    def __init__(self, text: str, retry_after_s: int, code: str | None = None, **params: object) -> None:
        super().__init__(text, code, **params)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class PairingLimits:
    """How long codes live, how many may be open (in all and per client), how many wrong claims a client may make
    in one lifetime."""

    lifetime: timedelta = LIFETIME
    max_open: int = MAX_OPEN
    max_per_client: int = 10
    claim_failures: int = 20


def client_key(secret: str | bytes, address: str, user_agent: str | None = None) -> str:
    """A keyed hash (HMAC-SHA256, hex) standing for a client: its address (an IPv6 address by its /64 network),
    and its user agent when given. The address itself is never stored; without the key it cannot be recovered
    by trying every address."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped is None:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
        elif ip.version == 6:
            address = str(ip.ipv4_mapped)
    except ValueError:
        pass  # not an address (a test client, a unix socket): hashed as it is
    key = secret.encode() if isinstance(secret, str) else secret
    message = address if user_agent is None else f"{address}\n{user_agent}"
    return hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def normalise_code(code: object) -> str:
    """The code as stored: upper case, without the dash or spaces people type. Refuses anything else."""
    text = re.sub(r"[\s-]", "", code).upper() if isinstance(code, str) else ""
    if len(text) != CODE_LENGTH or any(c not in ALPHABET for c in text):
        raise PairingError("pairing code: got %(typed)s, expected %(length)s characters such as K7M-4QX; type the "
                           "code the screen shows", code="pairing.code_format", field="code", typed=f"{code!r:.40}",
                           length=CODE_LENGTH)
    return text


def display_code(code: str) -> str:
    """K7M4QX -> K7M-4QX."""
    return f"{code[:3]}-{code[3:]}"


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not _SECRET.match(secret):
        raise PairingError("secret: expected 32 to 128 URL-safe random characters made by the player",
                           code="pairing.secret", field="secret")
    return secret


def start_pairing(session: Session, secret: object, now: datetime, client: str = "",
                  limits: PairingLimits | None = None) -> Pairing:
    """A new code for the player holding secret, valid for limits.lifetime; expired codes are dropped on the way.

    Refuses (TooManyPairings) when limits.max_open codes are open, or limits.max_per_client from this client
    (client_key of its address)."""
    limits = limits or PairingLimits(max_open=MAX_OPEN)
    secret = _check_secret(secret)
    session.execute(delete(Pairing).where(Pairing.expires_at <= now))
    if client and session.scalar(select(func.count()).select_from(Pairing).where(Pairing.client == client)) \
            >= limits.max_per_client:
        raise TooManyPairings("this address already has %(count)s pairing codes open (at most %(max)s); use one of "
                              "them or wait until they expire", code="pairing.too_many_here",
                              count=limits.max_per_client, max=limits.max_per_client)
    if session.scalar(select(func.count()).select_from(Pairing)) >= limits.max_open:
        raise TooManyPairings("too many players are waiting to be paired (at most %(max)s); try again later",
                              code="pairing.too_many", max=limits.max_open)
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if session.get(Pairing, code) is None:
            break
    pairing = Pairing(code=code, secret_hash=hash_token(secret), created_at=now, expires_at=now + limits.lifetime,
                      client=client)
    session.add(pairing)
    session.flush()
    return pairing


def open_pairing(session: Session, code: object, now: datetime) -> Pairing:
    """The pairing of code if it can still be approved or claimed; PairingError otherwise."""
    pairing = session.get(Pairing, normalise_code(code))
    if pairing is None or as_utc(pairing.expires_at) <= now:
        raise PairingError("no open pairing with code %(typed)s: it is wrong, used or expired; check the code the "
                           "screen shows now", code="pairing.not_open", field="code", typed=f"{code!r:.40}")
    return pairing


def approve_pairing(session: Session, code: object, screen_id: str, now: datetime) -> Pairing:
    """Give the player showing code the screen screen_id; it collects the token on its next claim."""
    pairing = open_pairing(session, code, now)
    screen = session.get(Screen, screen_id)
    if screen is None:
        raise PairingError("no screen %(id)s: add it first on the Screens page (or with signage screen add)",
                           code="screen.unknown", field="screen", id=repr(screen_id))
    if screen.retired_at is not None:
        raise PairingError("screen %(id)s is retired: choose a screen in service or add a new one",
                           code="pairing.screen_retired", field="screen", id=screen_id)
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
        raise PairingError("no open pairing with code %(typed)s: it is wrong, used or expired; check the code the "
                           "screen shows now", code="pairing.not_open", field="code", typed=f"{code!r:.40}")
    if pairing.screen_id is None:
        return None
    screen_id = pairing.screen_id
    session.delete(pairing)
    return screen_id, reissue_token(session, screen_id, now)


# --- wrong claims, counted per client ---------------------------------------------------------------------------

def check_claims_allowed(session: Session, client: str, now: datetime, limits: PairingLimits) -> None:
    """Refuse (ClaimThrottled) a client that made limits.claim_failures wrong claims in the current window."""
    row = session.get(AnonThrottle, ("claim", client))
    if row is None or row.count < limits.claim_failures:
        return
    ends = as_utc(row.window_start) + limits.lifetime
    if ends > now:
        raise ClaimThrottled("too many wrong pairing claims from this address (at most %(max)s in %(minutes)s "
                             "minutes); try again later", max(1, int((ends - now).total_seconds() + 0.999)),
                             code="pairing.throttled", max=limits.claim_failures,
                             minutes=int(limits.lifetime.total_seconds() // 60))


def note_claim_failure(session: Session, client: str, now: datetime, limits: PairingLimits) -> None:
    """Count a wrong claim of client, atomically (concurrent claims cannot slip past the limit); windows that
    ended are reset, and rows of ended windows are removed on the way."""
    now = now.astimezone(UTC)
    expired_before = now - limits.lifetime
    session.execute(delete(AnonThrottle).where(AnonThrottle.kind == "claim",
                                               AnonThrottle.window_start <= expired_before,
                                               AnonThrottle.client != client))
    dialect = session.get_bind().dialect.name
    stale = AnonThrottle.window_start <= expired_before
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(AnonThrottle)
        session.execute(insert.values(kind="claim", client=client, window_start=now, count=1).on_conflict_do_update(
            index_elements=[AnonThrottle.kind, AnonThrottle.client],
            set_={"count": case((stale, 1), else_=AnonThrottle.count + 1),
                  "window_start": case((stale, now), else_=AnonThrottle.window_start)}))
    elif not session.execute(update(AnonThrottle).where(AnonThrottle.kind == "claim", AnonThrottle.client == client)
                             .values(count=case((stale, 1), else_=AnonThrottle.count + 1),
                                     window_start=case((stale, now), else_=AnonThrottle.window_start))).rowcount:
        session.add(AnonThrottle(kind="claim", client=client, window_start=now, count=1))
