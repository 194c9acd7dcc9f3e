"""People who use the console, their sessions and API tokens, login throttling and the audit log.

Passwords are hashed with Argon2id (argon2-cffi: slow, salted, memory-hard); API tokens and session ids are long
random strings stored as sha256 digests, like device tokens, because a slow hash buys nothing for 256 random bits.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from renderer.errors import Problem, term
from renderer.spec import bad_character

from .models import ApiToken, AuditEntry, Group, LoginThrottle, User, UserSession
from .network import as_utc
from .screens import hash_token, new_token, token_matches

ROLES = ("operator", "staff", "admin")  # each role can do what the ones before it can
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
_KEY_SAFE = re.compile(r"^[\w.:@\[\]-]{0,64}$", re.ASCII)  # names as typed, IPv4 and IPv6 addresses
MIN_PASSWORD = 10
# A session's or token's last use is written at most this often, so browsing costs no write per page.
TOUCH_EVERY = timedelta(minutes=1)
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


class UserError(Problem):
    """A user request that cannot be met; the message says what was wrong, code (when set) which rule it broke."""


def role_at_least(role: str, needed: str) -> bool:
    """True when role may do what needed may."""
    return ROLES.index(role) >= ROLES.index(needed)


def new_password() -> str:
    """A generated password: 16 URL-safe characters, about 96 random bits."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError("password too short: expected at least %(min)s characters", "too_short", "password",
                        min=MIN_PASSWORD)


def add_user(session: Session, username: str, role: str, now: datetime, *, password: str | None = None,
             sites: Iterable[str] = (), groups: Iterable[str] = ()) -> tuple[User, str]:
    """Create a user and return it with its password (generated when none is given, to be shown once)."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise UserError("bad user name: got %(name)s, expected 2-64 lowercase letters, digits, '.', '_' or '-'",
                        code="user.name_format", field="username", name=repr(username))
    if role not in ROLES:
        raise UserError("unknown role: got %(role)s, expected one of %(expected)s", code="user.role", field="role",
                        role=repr(role), expected=list(reversed(ROLES)))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError("user %(name)s exists already: choose another user name", code="user.exists",
                        field="username", name=repr(username))
    generated = password is None
    password = new_password() if password is None else password
    _check_password(password)
    # Someone else saw a generated password: its owner replaces it at their first login.
    user = User(username=username, role=role, password_hash=_hash(password),
                disabled=False, created_at=now, must_change_password=generated)
    set_scope(session, user, sites, groups)
    session.add(user)
    session.flush()
    return user, password


def set_scope(session: Session, user: User, sites: Iterable[str], groups: Iterable[str]) -> None:
    """Limit what an operator sees to these sites and groups (ignored for staff and admins)."""
    sites = [s.strip() for s in sites if s and s.strip()]
    if any("\n" in s for s in sites):
        raise UserError("site names cannot contain line breaks", code="user.sites", field="sites")
    names = list(dict.fromkeys(groups))
    # Checked before the query: PostgreSQL refuses a NUL in a text parameter (that was a 500 from the console).
    for what, value in [("site", s) for s in sites] + [("group", g) for g in names]:
        if not isinstance(value, str) or len(value) > 200 or bad_character(value, keep=""):
            raise UserError("%(what)s: got %(value)s, expected one line of printable text (at most 200 characters)",
                            code="text.bad_character", field=what + "s", what=term(what), value=f"{value!r:.60}")
    found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(names)))}
    if missing := [g for g in names if g not in found]:
        raise UserError("unknown group(s): %(names)s", code="group.unknown", field="groups", names=missing)
    user.sites = "\n".join(dict.fromkeys(sites))
    user.groups = [found[g] for g in names]


def user_named(session: Session, username: str) -> User:
    """The user with this name; refuses an unknown one."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError("no user %(name)s", code="user.unknown", field="username", name=repr(username))
    return user


def user_by_id(session: Session, user_id: object) -> User:
    """The user with this id; refuses an unknown one."""
    user = session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id < 2 ** 31 else None
    if user is None:
        raise UserError("There is no user number %(id)s: deleted, or a wrong address.", code="user.unknown",
                        id=user_id)
    return user


def _keep_an_admin(session: Session, user: User, role: str, disabled: bool) -> None:
    """Refuse a change that leaves no enabled admin: nobody could manage users from the console any more."""
    if user.role != "admin" or user.disabled or (role == "admin" and not disabled):
        return
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.disabled.is_(False), User.id != user.id))
    if not others:
        raise UserError("%(name)s is the only active admin: make another user an admin first, or nobody could "
                        "manage users any more.", code="user.last_admin", field="role", name=user.username)


def set_role(session: Session, user: User, role: str) -> None:
    """Give user another role; refuses an unknown role and the demotion of the last active admin."""
    if role not in ROLES:
        raise UserError("Role: choose admin, staff or operator.", code="user.role", field="role")
    _keep_an_admin(session, user, role, user.disabled)
    user.role = role


def set_password(session: Session, user: User, password: str, now: datetime, *,
                 keep_session: str | None = None, must_change: bool = False) -> int:
    """Give user a new password and end their sessions (all but keep_session, the one making the change);
    must_change makes them choose their own at next login (someone else chose this one).

    Returns how many sessions ended; refuses a password shorter than MIN_PASSWORD."""
    _check_password(password)
    user.password_hash = _hash(password)
    user.must_change_password = must_change
    return end_sessions(session, user.id, now, keep=keep_session)


def reset_password(session: Session, user: User, now: datetime) -> tuple[str, int]:
    """An admin's reset: a generated password (to be shown once) that its owner must replace at next login.

    Returns (password, sessions ended); every session of the user ends."""
    password = new_password()
    return password, set_password(session, user, password, now, must_change=True)


def password_fingerprint(user: User) -> str:
    """A short digest of the user's current password hash. A reset link carries it, so the link stops working
    as soon as the password changes (its own use included) without anything about links being stored."""
    return hashlib.sha256(f"reset-link:{user.password_hash}".encode()).hexdigest()[:24]


def check_reset(user: User | None, fingerprint: object, issued: object, now: datetime, valid: timedelta) -> User:
    """The user of a reset link (whose signature the caller checked) that still works; refuses one whose user is
    gone or disabled, whose password changed since it was made (so it was used already), or older than valid."""
    if isinstance(issued, bool) or not isinstance(issued, int) or not 0 < issued < 2 ** 40:
        raise UserError("This is not a password reset link.", code="user.reset_invalid")
    if user is None or user.disabled:
        raise UserError("This link no longer works: the account is disabled or gone. Ask an admin.",
                        code="user.reset_disabled")
    if fingerprint != password_fingerprint(user):
        raise UserError("This link no longer works: it was used already, or the password was changed since. "
                        "Ask an admin for a new link.", code="user.reset_used")
    made = datetime.fromtimestamp(issued, UTC)
    if _utc(now) - made > valid:
        raise UserError("This link expired at %(until)s. Ask an admin for a new one.", code="user.reset_expired",
                        until=made + valid)
    return user


def redeem_reset(session: Session, user_id: object, fingerprint: object, issued: object, new: str, repeat: str,
                 now: datetime, valid: timedelta) -> User:
    """Set the password chosen through a reset link (see check_reset); every session of the user ends, and the
    link stops working."""
    user = session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id < 2 ** 31 else None
    check_reset(user, fingerprint, issued, now, valid)
    if new != repeat:
        raise UserError("New password: the two copies differ.", code="user.password_mismatch", field="repeat")
    set_password(session, user, new, now)
    return user


def change_own_password(session: Session, user_id: int, current: str, new: str, repeat: str, now: datetime, *,
                        keep_session: str | None = None) -> User:
    """A person's own change of password: the current one must match and the new one be typed twice the same."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise UserError("user: got id %(id)s, expected an enabled user", code="user.disabled", id=user_id)
    if not _matches(user.password_hash, current if isinstance(current, str) else ""):
        raise UserError("current password: does not match", "wrong_current", "current")
    if new != repeat:
        raise UserError("new password: the two copies differ", "mismatch", "repeat")
    if new == current:
        raise UserError("new password: got the current one, expected a different one", "same", "new")
    set_password(session, user, new, now, keep_session=keep_session)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, or None; as slow for an unknown name as a known one."""
    user = session.scalar(select(User).where(User.username == username)) \
        if isinstance(username, str) and _USERNAME.match(username) else None
    ok = _matches(user.password_hash if user else _DUMMY_HASH, password if isinstance(password, str) else "")
    return user if ok and user is not None and not user.disabled else None


# --- console sessions ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lives: idle (since its last request) and at most (since the login)."""

    idle: timedelta = timedelta(minutes=60)
    max_age: timedelta = timedelta(hours=12)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"now: got a naive datetime {now!r}, expected an aware one")
    return now.astimezone(UTC)


def start_session(session: Session, user: User, now: datetime) -> str:
    """A new console session for user; returns its id (for the cookie), of which only the sha256 is kept."""
    now = _utc(now)
    token = new_token()
    session.add(UserSession(token_hash=hash_token(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def session_user(session: Session, token: str, now: datetime, policy: SessionPolicy) -> User | None:
    """The enabled user of this live session, or None (unknown, ended, idle too long, too old, user disabled).

    Marks the session as seen now, at most once every TOUCH_EVERY (the caller commits)."""
    if not isinstance(token, str) or not token:
        return None
    now = _utc(now)
    row = session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token),
                                                   UserSession.ended_at.is_(None)))
    if row is None or not token_matches(row.token_hash, token):
        return None
    seen = as_utc(row.last_seen_at)
    if now - as_utc(row.created_at) >= policy.max_age or now - seen >= policy.idle:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if now - seen >= TOUCH_EVERY:
        session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    return user


def end_session(session: Session, token: str, now: datetime) -> bool:
    """End one session (logout); True when it was live."""
    if not isinstance(token, str) or not token:
        return False
    statement = update(UserSession).where(UserSession.token_hash == hash_token(token),
                                          UserSession.ended_at.is_(None)).values(ended_at=_utc(now))
    return session.execute(statement).rowcount == 1


def end_sessions(session: Session, user_id: int, now: datetime, *, keep: str | None = None) -> int:
    """End every live session of a user (all but keep, a session id); returns how many ended."""
    statement = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep:
        statement = statement.where(UserSession.token_hash != hash_token(keep))
    return session.execute(statement.values(ended_at=_utc(now))).rowcount


def live_sessions(session: Session, user_id: int, now: datetime, policy: SessionPolicy) -> int:
    """How many sessions of this user could still be used."""
    now = _utc(now)
    rows = session.scalars(select(UserSession).where(UserSession.user_id == user_id,
                                                     UserSession.ended_at.is_(None))).all()
    return sum(1 for r in rows if now - as_utc(r.created_at) < policy.max_age
               and now - as_utc(r.last_seen_at) < policy.idle)


def purge_sessions(session: Session, now: datetime, policy: SessionPolicy) -> int:
    """Delete sessions that can no longer be used (ended, idle too long, too old); returns how many."""
    now = _utc(now)
    statement = delete(UserSession).where(or_(UserSession.ended_at.is_not(None),
                                              UserSession.last_seen_at <= now - policy.idle,
                                              UserSession.created_at <= now - policy.max_age))
    return session.execute(statement).rowcount


def set_disabled(session: Session, user: User, disabled: bool, now: datetime) -> None:
    """Disable a user (ending their sessions at once) or enable them again; refuses to disable the last active
    admin."""
    _keep_an_admin(session, user, user.role, disabled)
    user.disabled = disabled
    if disabled:
        end_sessions(session, user.id, now)


# --- login throttling ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThrottlePolicy:
    """Growing delays after failed logins, never a lock.

    Per (client address, user name) pair: `free` failures, then each next attempt waits 2, 4, 8 ... seconds up
    to max_delay. Per address across names the same with `address_free` failures. A key with no attempt for
    `forget` starts again from zero. An attacker's failures slow only their own address: the account's owner
    logging in from elsewhere never waits for them."""

    free: int = 3
    address_free: int = 20
    max_delay: timedelta = timedelta(minutes=15)
    forget: timedelta = timedelta(hours=1)

    def delay(self, failures: int, free: int) -> timedelta:
        """How long after the failures-th counted attempt the next one must wait."""
        if failures < free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** min(failures - free + 1, 30)), self.max_delay)


class LoginThrottled(Exception):
    """Too many failed logins for this pair or address: try again in retry_after seconds."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"too many failed logins: got another attempt, expected a wait of {self.retry_after} s")


def _column_safe(text: object) -> str:
    """text as it can be stored in a 64-character key: itself when it is a plain name or address, else a digest
    (NUL, control characters and lone surrogates cannot reach the database)."""
    text = text if isinstance(text, str) else ""
    if _KEY_SAFE.match(text):
        return text
    return "#" + hash_token(text.encode("utf-8", "surrogatepass").hex())[:63]


def _throttle_keys(username: str, remote: str, policy: ThrottlePolicy) -> list[tuple[tuple[str, str, str], int]]:
    remote, name = _column_safe(remote or "-"), _column_safe(username)
    return [(("addr", remote, ""), policy.address_free), (("pair", remote, name), policy.free)]


def _key_filter(key: tuple[str, str, str]):
    scope, remote, name = key
    return (LoginThrottle.scope == scope, LoginThrottle.remote == remote, LoginThrottle.username == name)


def _insert_new(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(LoginThrottle).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(LoginThrottle).on_conflict_do_nothing()
    return insert(LoginThrottle)


def _wait(row, now: datetime, free: int, policy: ThrottlePolicy) -> timedelta:
    if row is None or now - as_utc(row.last_at) >= policy.forget:
        return timedelta(0)
    # Never longer than the count calls for, even if the clock was set back after the last attempt.
    return min(max(timedelta(0), as_utc(row.next_at) - now), policy.delay(row.failures, free))


def login_wait(session: Session, username: str, remote: str, now: datetime, policy: ThrottlePolicy) -> timedelta:
    """How long this name from this address must wait before its next login attempt (zero: it may try now)."""
    now = _utc(now)
    return max(_wait(_read(session, key), now, free, policy) for key, free in _throttle_keys(username, remote, policy))


def _read(session: Session, key: tuple[str, str, str]):
    return session.execute(select(LoginThrottle.failures, LoginThrottle.last_at, LoginThrottle.next_at)
                           .where(*_key_filter(key))).one_or_none()


def _claim(session: Session, key: tuple[str, str, str], free: int, now: datetime, policy: ThrottlePolicy) -> None:
    # Compare-and-set on the count: of concurrent attempts that read the same count, one moves it on and the
    # others read again (and wait if the new count says so), so concurrent guesses cannot exceed the limit.
    scope, remote, name = key
    for _attempt in range(50):
        row = _read(session, key)
        if row is None:
            values = {"scope": scope, "remote": remote, "username": name, "failures": 1, "last_at": now,
                      "next_at": now + policy.delay(1, free)}
            # RETURNING rather than rowcount, which the ORM's insert does not report reliably on PostgreSQL.
            if session.execute(_insert_new(session).values(**values).returning(LoginThrottle.scope)).first():
                return
            continue
        if (wait := _wait(row, now, free, policy)) > timedelta(0):
            raise LoginThrottled(wait)
        failures = 0 if now - as_utc(row.last_at) >= policy.forget else row.failures
        statement = update(LoginThrottle).where(*_key_filter(key), LoginThrottle.failures == row.failures).values(
            failures=failures + 1, last_at=now, next_at=now + policy.delay(failures + 1, free))
        if session.execute(statement).rowcount == 1:
            return
    raise LoginThrottled(timedelta(seconds=1))  # that many concurrent attempts on one key: let them come back


def claim_login_attempt(session: Session, username: str, remote: str, now: datetime,
                        policy: ThrottlePolicy) -> None:
    """Count a login attempt as failed before its password is checked, or raise LoginThrottled.

    The caller commits at once (so concurrent attempts see the count) and calls login_succeeded afterwards when
    the password was right, which takes the count back."""
    now = _utc(now)
    if (wait := login_wait(session, username, remote, now, policy)) > timedelta(0):
        raise LoginThrottled(wait)
    for key, free in _throttle_keys(username, remote, policy):
        _claim(session, key, free, now, policy)


def login_succeeded(session: Session, username: str, remote: str, now: datetime, policy: ThrottlePolicy) -> None:
    """A right password: forget the pair's failures, give the address its attempt back, drop stale counts."""
    now = _utc(now)
    (addr, free), (pair, _free) = _throttle_keys(username, remote, policy)
    session.execute(delete(LoginThrottle).where(*_key_filter(pair)))
    for _attempt in range(50):
        row = _read(session, addr)
        if row is None or row.failures <= 0:
            break
        statement = update(LoginThrottle).where(*_key_filter(addr), LoginThrottle.failures == row.failures).values(
            failures=row.failures - 1, next_at=min(as_utc(row.next_at), now + policy.delay(row.failures - 1, free)))
        if session.execute(statement).rowcount == 1:
            break
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_at <= now - policy.forget))


def create_api_token(session: Session, username: str, name: str, now: datetime) -> str:
    """A new API token for a staff or admin user's scripts; returned once, only its digest is kept."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError("no user %(name)s", code="user.unknown", field="username", name=repr(username))
    if not role_at_least(user.role, "staff"):
        raise UserError("user %(name)s is an %(role)s: API tokens are for staff and admins", code="token.role",
                        field="username", name=repr(username), role=user.role)
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name[:100] or "script", token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def user_for_api_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The enabled user owning this unrevoked token, or None; with now, marks the token used (once a minute)."""
    if not isinstance(token, str) or not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None or not token_matches(row.token_hash, token) or row.user.disabled:
        return None
    if now is not None and (row.last_used_at is None or _utc(now) - as_utc(row.last_used_at) >= TOUCH_EVERY):
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=_utc(now)))
    return row.user


def list_api_tokens(session: Session) -> list[ApiToken]:
    """Every API token, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_api_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    """Revoke a token (it stops working at once); refuses an unknown id or one revoked already."""
    row = session.get(ApiToken, token_id) if isinstance(token_id, int) and 0 < token_id < 2 ** 31 else None
    if row is None:
        raise UserError("API token: got id %(id)s, but there is no such token", code="token.unknown", id=token_id)
    if row.revoked_at is not None:
        raise UserError("API token %(id)s was revoked already", code="token.revoked", id=token_id)
    row.revoked_at = _utc(now)
    return row


def audit(session: Session, actor: str, action: str, target: str, now: datetime, *, before: object = None,
          after: object = None) -> None:
    """Record a change in the same transaction as the change itself."""
    session.add(AuditEntry(at=now, actor=actor[:100], action=action[:64], target=target[:200],
                           before_json=json.dumps(before, ensure_ascii=False, default=str, sort_keys=True),
                           after_json=json.dumps(after, ensure_ascii=False, default=str, sort_keys=True)))
