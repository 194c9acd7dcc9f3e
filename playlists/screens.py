"""Screens and their device tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from renderer.errors import Problem
from renderer.profiles import CATALOG
from renderer.spec import bad_character

from .models import Group, Screen

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_GROUP = re.compile(r"^[\w][\w .-]{0,63}$")
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


class ScreenError(Problem):
    """A screen request that cannot be met; the message says what was wrong."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A device token of 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


# Profiles a screen may have; print and web profiles are for exports.
SCREEN_KINDS = ("led", "lcd")
# Names the web player's own files use under /player/.
RESERVED_IDS = {"sw.js", "player.js", "player.css", "static"}
# What the screens table keeps of a screen's name, site and district.
MAX_LABEL = 200


def check_label(field: str, value: object) -> str:
    """Return a screen's name, site or district stripped; refuse non-text, more than MAX_LABEL characters, line
    breaks, control characters and lone surrogates (which PostgreSQL would refuse with an error, not a message)."""
    if not isinstance(value, str):
        raise ScreenError(f"{field}: got {type(value).__name__}, expected text")
    if len(value) > MAX_LABEL:
        raise ScreenError(f"{field} too long: got {len(value)} characters, expected at most {MAX_LABEL}")
    if bad := bad_character(value, keep=""):
        raise ScreenError(f"{field}: got {bad}, expected one line of printable text")
    return value.strip()


def _check(screen_id: str, profile: str, tz: str, groups: list[str]) -> None:
    if screen_id in RESERVED_IDS:
        raise ScreenError(f"screen id {screen_id!r} is reserved (the web player uses it): choose another")
    if not _ID.match(screen_id):
        raise ScreenError(f"bad screen id: got {screen_id!r}, expected lowercase letters, digits, '-', '_' or '.', "
                          "starting with a letter or digit, at most 64 characters")
    screens = [name for name, p in CATALOG.items() if p.kind in SCREEN_KINDS]
    if profile not in screens:
        why = "is for print or the web, not a screen" if profile in CATALOG else "is unknown"
        raise ScreenError(f"profile {profile!r} {why}: expected one of {', '.join(screens)}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScreenError(f"unknown time zone: got {tz!r}, expected an IANA name such as {DEFAULT_TZ}") from None
    for name in groups:
        if not _GROUP.match(name):
            raise ScreenError(f"bad group name: got {name!r}, expected letters, digits, spaces, '.', '-' or '_'")


def add_screen(session: Session, screen_id: str, profile: str, now: datetime, *, name: str = "", site: str = "",
               district: str = "", tz: str = DEFAULT_TZ, groups: list[str] | tuple[str, ...] = ()) -> str:
    """Register a screen and return its device token (shown once; only its hash is kept)."""
    groups = list(dict.fromkeys(groups))
    _check(screen_id, profile, tz, groups)
    name, site, district = (check_label(f, v) for f, v in (("name", name), ("site", site), ("district", district)))
    if session.get(Screen, screen_id) is not None:
        raise ScreenError(f"screen {screen_id!r} exists already")
    token = new_token()
    screen = Screen(id=screen_id, name=name or screen_id, site=site, district=district, profile=profile, tz=tz,
                    token_hash=hash_token(token), token_issued_at=now, created_at=now)
    session.add(screen)  # before the group lookups, which flush: the screen must already be in the session
    for group_name in groups:
        group = session.scalar(select(Group).where(Group.name == group_name)) or Group(name=group_name)
        screen.groups.append(group)
    return token


def reissue_token(session: Session, screen_id: str, now: datetime) -> str:
    """Give a screen a new token; the old one stops working at once."""
    screen = session.get(Screen, screen_id)
    if screen is None:
        raise ScreenError(f"no screen {screen_id!r}")
    token = new_token()
    screen.token_hash, screen.token_issued_at = hash_token(token), now
    return token


def list_screens(session: Session) -> list[Screen]:
    return list(session.scalars(select(Screen).order_by(Screen.id)))


def token_matches(token_hash: str | None, token: str) -> bool:
    """True when token hashes to token_hash; compared in constant time, and as slowly when there is no screen."""
    presented = hash_token(token)
    expected = token_hash if token_hash is not None else hash_token("")
    return hmac.compare_digest(presented, expected) and token_hash is not None


def screen_for_token(session: Session, screen_id: str, token: str) -> Screen | None:
    """The screen when token is its own; None otherwise, whichever part was wrong."""
    screen = session.get(Screen, screen_id)
    return screen if token_matches(screen.token_hash if screen is not None else None, token) else None
