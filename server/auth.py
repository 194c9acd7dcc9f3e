"""Who is asking: console sessions (Flask-Login), API tokens for scripts, roles, CSRF, login and logout.

Console sessions live on the server (playlists.users: a row per login); the Flask cookie carries only the
session's random id, which Flask-Login hands to the user loader. Logout, a disabled user, a new password and an
admin's "sign out everywhere" end sessions at once; so do their idle and absolute lifetimes.

Every request is first sorted into one of three: a valid `Authorization: Bearer <API token>` (authenticated by
that token alone: a browser cannot add that header to a cross-site request, so no CSRF token is needed), a live
session cookie (unsafe methods need a CSRF token: a form field for forms, the X-CSRFToken header for JavaScript),
or anonymous. Anything else in an Authorization header (empty, another scheme, no token, a wrong or revoked
token) is no reason to skip CSRF. An anonymous call to a guarded route gets 401 (JSON) or the login page before
any other check.
"""

from __future__ import annotations

import functools
import os
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from playlists.demo import forget_first_start_secrets
from playlists.models import User
from playlists.users import (
    MIN_PASSWORD,
    LoginThrottled,
    SessionPolicy,
    ThrottlePolicy,
    UserError,
    audit,
    authenticate,
    change_own_password,
    claim_login_attempt,
    end_session,
    login_succeeded,
    purge_sessions,
    role_at_least,
    session_user,
    start_session,
    user_for_api_token,
)

from .db import get_session
from .errors import error_response
from .i18n import say

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class Staff(UserMixin):
    """The signed-in person, detached from the database session that loaded them; sid is their console
    session's id (None when they came with an API token)."""

    def __init__(self, user: User, sid: str | None = None) -> None:
        self.id, self.username, self.role = user.id, user.username, user.role
        self.sites = tuple(s for s in user.sites.splitlines() if s)
        self.group_ids = tuple(group.id for group in user.groups)
        # An admin chose their password (new account, reset): they choose their own before anything else.
        self.must_change = bool(getattr(user, "must_change_password", False))
        self.sid = sid

    def get_id(self) -> str | None:
        # What Flask-Login keeps in the cookie: the session's id, never the user's.
        return self.sid

    def can(self, role: str) -> bool:
        return role_at_least(self.role, role)


# Paths that players use: they have no session, so cookies are neither read nor set (and polls stay cheap).
# A screen's own calls are /api/v1/screens/<id>/<what>; /api/v1/screens/<id> itself is the staff's resource.
DEVICE_PATHS = ("/api/v1/screens/", "/api/v1/pairings", "/media/")


def is_device_path(path: str) -> bool:
    """True for the paths players call (a screen's manifest, now.png, heartbeat, plays; pairing; media)."""
    if path.startswith(DEVICE_PATHS[0]):
        return "/" in path[len(DEVICE_PATHS[0]):]
    return path.startswith(DEVICE_PATHS[1:])


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies: Secure whenever the request came over HTTPS; none at all on the players' paths."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request):
        if is_device_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Secret key, cookie flags, CSRF, session loading, and the login pages."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in _authenticate, only for session-authenticated calls
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.before_request(_authenticate)
    app.register_blueprint(bp)


def session_policy() -> SessionPolicy:
    """The lifetimes of console sessions, from SESSION_IDLE_MINUTES and SESSION_MAX_HOURS."""
    config = current_app.config
    return SessionPolicy(idle=timedelta(minutes=float(config["SESSION_IDLE_MINUTES"])),
                         max_age=timedelta(hours=float(config["SESSION_MAX_HOURS"])))


def throttle_policy() -> ThrottlePolicy:
    """Login delays, from the LOGIN_* settings."""
    config = current_app.config
    return ThrottlePolicy(free=int(config["LOGIN_FREE_FAILURES"]),
                          address_free=int(config["LOGIN_ADDRESS_FREE_FAILURES"]),
                          max_delay=timedelta(seconds=float(config["LOGIN_MAX_DELAY_S"])),
                          forget=timedelta(minutes=float(config["LOGIN_FORGET_MINUTES"])))


def _instance_secret(instance_path: str) -> str:
    """The instance's own secret key, made once (0600) so sessions survive restarts without configuration."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # the first process to get here wins; the others read its key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, encoding="ascii") as fh:
        return fh.read().strip()


@login_manager.user_loader
def _load(sid: str) -> Staff | None:
    session = get_session()
    user = session_user(session, sid, _now(), session_policy())
    staff = Staff(user, sid) if user is not None else None
    session.commit()  # the session's last use, at most once a minute; nothing else is pending this early
    return staff


def _authenticate() -> None:
    """Sort the request (API token, session, anonymous) before any view runs, then check CSRF where it applies."""
    if is_device_path(request.path) or request.endpoint == "static":
        return
    staff = current_staff()
    if request.method not in UNSAFE or request.routing_exception is not None \
            or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return  # a 404 or 405 is answered as such, not as a missing CSRF token
    if g.staff_via == "token":
        return
    if staff is None and hasattr(current_app.view_functions.get(request.endpoint), "required_role"):
        return  # require() answers 401 or the login page first: credentials come before any other check
    csrf.protect()


def _bearer_token() -> str | None:
    """The token of a well-formed `Authorization: Bearer <token>` header, else None."""
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token and " " not in token else None


def current_staff() -> Staff | None:
    """The person behind this request: by a valid API token, else by a live session; None if neither."""
    if "staff" not in g:
        g.staff, g.staff_via = None, None
        token = _bearer_token()
        user = user_for_api_token(get_session(), token, _now()) if token else None
        if user is not None:
            g.staff, g.staff_via = Staff(user), "token"
            get_session().commit()  # the token's last use, at most once a minute
        elif current_user.is_authenticated:
            g.staff, g.staff_via = current_user._get_current_object(), "web"
    return g.staff


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def require(role: str):
    """Let only signed-in people of at least `role` through: JSON callers get 401/403, browsers the login page."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                if _wants_json():
                    body, status = error_response(401, _("log in, or send Authorization: Bearer <API token>"),
                                                  "auth.required")
                    sent = "Authorization" in request.headers
                    return body, status, {"WWW-Authenticate": 'Bearer error="invalid_token"' if sent else "Bearer"}
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not staff.can(role):
                if _wants_json():
                    return error_response(403, _("this needs the %(role)s role; you are %(yours)s", role=role,
                                                 yours=staff.role), "auth.role")
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator


def actor() -> str:
    """How the audit log names whoever makes this request."""
    staff = current_staff()
    return f"{staff.username} ({g.staff_via})" if staff else "anonymous"


def _now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an absolute URL an attacker put in the link, nor control characters or a
    # backslash (browsers read "/\evil" as "//evil"; a CR or LF cannot go in a Location header: that was a 500).
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or len(target) > 2000 or any(ord(c) < 0x20 or c in "\x7f\\" for c in target):
        return url_for("console.home")
    return target


def _login_page(status: int = 200, retry_after: int | None = None):
    page = make_response(render_template("staff/login.html", next=request.values.get("next", "")), status)
    if retry_after is not None:
        page.headers["Retry-After"] = str(retry_after)
    return page


@bp.route("/staff/login", methods=["GET", "POST"])
def login():
    """The login form. Each attempt counts as a failure of its (address, name) pair and of its address until the
    password proves right; past a few failures the next attempt waits (429 with Retry-After)."""
    if request.method == "GET":
        return _login_page()
    session = get_session()
    username = request.form.get("username", "").strip().lower()
    remote, now, policy = request.remote_addr or "-", _now(), throttle_policy()
    try:
        claim_login_attempt(session, username, remote, now, policy)
        session.commit()  # counted before the password is checked, so concurrent guesses see each other
    except LoginThrottled as exc:
        session.rollback()
        flash(_("Too many failed attempts. Wait %(seconds)d seconds and try again.", seconds=exc.retry_after),
              "error")
        return _login_page(429, exc.retry_after)
    user = authenticate(session, username, request.form.get("password", ""))
    if user is None:
        flash(_("Wrong user name or password."), "error")
        return _login_page(401)
    login_succeeded(session, username, remote, now, policy)
    sid = start_session(session, user, now)
    purge_sessions(session, now, session_policy())
    audit(session, user.username, "login", f"user:{user.username}", now)
    session.commit()
    lang = flask_session.get("lang")
    flask_session.clear()  # nothing from before the login survives into the signed-in session
    if lang:
        flask_session["lang"] = lang
    login_user(Staff(user, sid))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/staff/logout")
def logout():
    """End this session on the server (a copy of the cookie stops working too) and forget it here."""
    if current_user.is_authenticated and current_user.sid:
        session = get_session()
        end_session(session, current_user.sid, _now())
        session.commit()
    lang = flask_session.get("lang")
    logout_user()
    flask_session.clear()
    if lang:
        flask_session["lang"] = lang
    return redirect(url_for("auth.login"))


PASSWORD_ERRORS = {
    "wrong_current": _l("The current password is wrong."),
    "mismatch": _l("The two copies of the new password differ."),
    "same": _l("The new password must differ from the current one."),
    "too_short": _l("The new password is too short: it needs at least %(n)d characters.", n=MIN_PASSWORD),
}


@bp.route("/staff/account/password", methods=["GET", "POST"])
@require("operator")
def account_password():
    """Change one's own password; every other session of this person ends (this one stays)."""
    if request.method == "GET":
        return render_template("staff/account_password.html", error=None, MIN_PASSWORD=MIN_PASSWORD)
    session, staff, now = get_session(), current_staff(), _now()
    form = request.form
    try:
        change_own_password(session, staff.id, form.get("current", ""), form.get("new", ""), form.get("repeat", ""),
                            now, keep_session=staff.sid)
    except UserError as exc:
        session.rollback()
        error = PASSWORD_ERRORS.get(exc.code) or say(exc)
        return render_template("staff/account_password.html", error=error, MIN_PASSWORD=MIN_PASSWORD), 400
    audit(session, actor(), "user.password", f"user:{staff.username}", now)
    session.commit()
    # The demo admin's first-start password is kept in the instance until it no longer works: now.
    forget_first_start_secrets(current_app.instance_path, staff.username)
    flash(_("Password changed. Your other sessions are signed out."), "ok")
    return redirect(url_for("auth.account_password"))
