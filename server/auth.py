"""Who is asking: console sessions (Flask-Login), API tokens for scripts, roles, CSRF, login and logout.

Pages and JSON calls made with a session cookie need a CSRF token (Flask-WTF): a form field for forms, the
X-CSRFToken header for JavaScript. Calls that carry `Authorization: Bearer` are authenticated by that token
alone (a browser cannot add that header to a cross-site request), so they need none.
"""

from __future__ import annotations

import functools
import os
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from playlists.models import User
from playlists.users import audit, authenticate, login_allowed, record_login, role_at_least, user_for_api_token

from .db import get_session
from .errors import error_response

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class Staff(UserMixin):
    """The signed-in person, detached from the database session that loaded them."""

    def __init__(self, user: User) -> None:
        self.id, self.username, self.role = user.id, user.username, user.role
        self.sites = tuple(s for s in user.sites.splitlines() if s)
        self.group_ids = tuple(group.id for group in user.groups)

    def can(self, role: str) -> bool:
        return role_at_least(self.role, role)


# Paths that players use: they have no session, so cookies are neither read nor set (and polls stay cheap).
DEVICE_PATHS = ("/api/v1/screens/", "/api/v1/pairings", "/media/")


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies: Secure whenever the request came over HTTPS; none at all on the players' paths."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request):
        if request.path.startswith(DEVICE_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Secret key, cookie flags, CSRF, session loading, and the login pages."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in _csrf below, only for session-authenticated calls
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.before_request(_csrf)
    app.register_blueprint(bp)


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
def _load(user_id: str) -> Staff | None:
    user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    return Staff(user) if user is not None and not user.disabled else None


def _csrf() -> None:
    if request.routing_exception is not None or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return  # a 404 or 405 is answered as such, not as a missing CSRF token
    if request.method in UNSAFE and "Authorization" not in request.headers \
            and not request.path.startswith(DEVICE_PATHS):
        csrf.protect()


def current_staff() -> Staff | None:
    """The person behind this request: by API token when one is sent, else by session; None if neither."""
    if "staff" not in g:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _sep, token = header.partition(" ")
            user = user_for_api_token(get_session(), token.strip()) if scheme.lower() == "bearer" else None
            g.staff = Staff(user) if user is not None else None
        else:
            g.staff = current_user if current_user.is_authenticated else None
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
                    return error_response(401, "log in, or send Authorization: Bearer <API token>")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not staff.can(role):
                if _wants_json():
                    return error_response(403, f"this needs the {role} role; you are {staff.role}")
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator


def actor() -> str:
    """How the audit log names whoever makes this request."""
    staff = current_staff()
    via = "token" if request.headers.get("Authorization") else "web"
    return f"{staff.username} ({via})" if staff else "anonymous"


def _now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an absolute URL an attacker put in the link.
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("console.home")
    return target


@bp.route("/staff/login", methods=["GET", "POST"])
def login():
    """The login form; after too many failures for a name or an address, logins wait out the window."""
    if request.method == "GET":
        return render_template("staff/login.html", next=request.args.get("next", ""))
    session = get_session()
    username = request.form.get("username", "").strip().lower()
    remote = request.remote_addr or "-"
    now = _now()
    if not login_allowed(session, username, remote, now):
        flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
        return render_template("staff/login.html", next=request.form.get("next", "")), 429
    user = authenticate(session, username, request.form.get("password", ""))
    record_login(session, username, remote, user is not None, now)
    if user is None:
        session.commit()
        flash(_("Wrong user name or password."), "error")
        return render_template("staff/login.html", next=request.form.get("next", "")), 401
    audit(session, user.username, "login", f"user:{user.username}", now)
    session.commit()
    lang = flask_session.get("lang")
    flask_session.clear()  # nothing from before the login survives into the signed-in session
    if lang:
        flask_session["lang"] = lang
    login_user(Staff(user))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/staff/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
