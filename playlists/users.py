"""People who use the console, their API tokens, login throttling and the audit log.

Passwords are hashed with Argon2id (argon2-cffi: slow, salted, memory-hard); API tokens are long random strings
stored as sha256 digests, like device tokens, because a slow hash buys nothing for 256 random bits.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import ApiToken, AuditEntry, Group, LoginAttempt, User
from .screens import hash_token, new_token, token_matches

ROLES = ("operator", "staff", "admin")  # each role can do what the ones before it can
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10
# Failed logins allowed per name, and per client address, inside the window before logins are refused.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_REMOTE = 20
# Checked against when the user does not exist, so a wrong name takes as long as a wrong password.
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def _hash(password: str) -> str:
    return _HASHER.hash(password)


def _matches(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class UserError(ValueError):
    """A user request that cannot be met; the message says what was wrong."""


def role_at_least(role: str, needed: str) -> bool:
    """True when role may do what needed may."""
    return ROLES.index(role) >= ROLES.index(needed)


def new_password() -> str:
    """A generated password: 16 URL-safe characters, about 96 random bits."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: expected at least {MIN_PASSWORD} characters")


def add_user(session: Session, username: str, role: str, now: datetime, *, password: str | None = None,
             sites: Iterable[str] = (), groups: Iterable[str] = ()) -> tuple[User, str]:
    """Create a user and return it with its password (generated when none is given, to be shown once)."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise UserError(f"bad user name: got {username!r}, expected 2-64 lowercase letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"unknown role: got {role!r}, expected one of {', '.join(reversed(ROLES))}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    password = new_password() if password is None else password
    _check_password(password)
    user = User(username=username, role=role, password_hash=_hash(password),
                disabled=False, created_at=now)
    set_scope(session, user, sites, groups)
    session.add(user)
    session.flush()
    return user, password


def set_scope(session: Session, user: User, sites: Iterable[str], groups: Iterable[str]) -> None:
    """Limit what an operator sees to these sites and groups (ignored for staff and admins)."""
    sites = [s.strip() for s in sites if s and s.strip()]
    if any("\n" in s for s in sites):
        raise UserError("site names cannot contain line breaks")
    names = list(dict.fromkeys(groups))
    found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(names)))}
    if missing := [g for g in names if g not in found]:
        raise UserError(f"unknown group(s): {', '.join(missing)}")
    user.sites = "\n".join(dict.fromkeys(sites))
    user.groups = [found[g] for g in names]


def set_password(session: Session, user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = _hash(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, or None; as slow for an unknown name as a known one."""
    user = session.scalar(select(User).where(User.username == username)) if isinstance(username, str) else None
    ok = _matches(user.password_hash if user else _DUMMY_HASH, password if isinstance(password, str) else "")
    return user if ok and user is not None and not user.disabled else None


def login_allowed(session: Session, username: str, remote: str, now: datetime) -> bool:
    """False while this name or this client address has failed too often inside the throttling window."""
    since = now - THROTTLE_WINDOW
    by_user = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username[:64], LoginAttempt.at > since))
    by_remote = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote == remote[:64], LoginAttempt.at > since))
    return by_user < MAX_FAILURES_PER_USER and by_remote < MAX_FAILURES_PER_REMOTE


def record_login(session: Session, username: str, remote: str, ok: bool, now: datetime) -> None:
    """Remember a failure (and forget old ones); a success clears the name's failures."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - THROTTLE_WINDOW))
    if ok:
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == username[:64]))
    else:
        session.add(LoginAttempt(at=now, username=username[:64], remote=remote[:64]))


def create_api_token(session: Session, username: str, name: str, now: datetime) -> str:
    """A new API token for a staff or admin user's scripts; returned once, only its digest is kept."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    if not role_at_least(user.role, "staff"):
        raise UserError(f"user {username!r} is an {user.role}: API tokens are for staff and admins")
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name[:100] or "script", token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    """The enabled user owning this unrevoked token, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None or not token_matches(row.token_hash, token) or row.user.disabled:
        return None
    return row.user


def audit(session: Session, actor: str, action: str, target: str, now: datetime, *, before: object = None,
          after: object = None) -> None:
    """Record a change in the same transaction as the change itself."""
    session.add(AuditEntry(at=now, actor=actor[:100], action=action[:64], target=target[:200],
                           before_json=json.dumps(before, ensure_ascii=False, default=str, sort_keys=True),
                           after_json=json.dumps(after, ensure_ascii=False, default=str, sort_keys=True)))
