"""The console's pages for people: admins add users, change their role and what they see, disable them, sign
them out and reset their passwords (a generated password shown once, or a one-time link); anyone with a reset
link chooses a new password through it.

Every change is one transaction with its audit entry (the `_apply`/`Done` pattern of server/console.py); the
audit log never holds a password or a link. A refusal (a domain Problem) comes back in the reader's language
(server.i18n.say) next to the form, with what was typed kept.

A reset link is signed (itsdangerous, with the app's secret key) and carries the user's id, when it was made and
a fingerprint of the current password hash: it works until RESET_LINK_HOURS have passed or the password changes,
whichever comes first, so it works once. Nothing about links is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict

from playlists import models
from playlists.demo import forget_first_start_secrets
from playlists.models import Group, Screen, User
from playlists.users import (
    MIN_PASSWORD,
    ROLES,
    UserError,
    add_user,
    audit,
    check_reset,
    end_sessions,
    password_fingerprint,
    redeem_reset,
    reset_password,
    set_disabled,
    set_role,
    set_scope,
    user_by_id,
)
from renderer.errors import Problem

from .auth import actor, current_staff, require
from .console import Done, bp
from .db import get_session
from .errors import refusal_response
from .i18n import language, say
from .player import now

# What each role may do, in the words the add and edit forms show beside the choice.
ROLE_HELP = {
    "admin": _l("Everything staff can do, and manages people: accounts, roles, passwords; reads the audit log."),
    "staff": _l("Makes posters, uploads images, builds playlists and schedules, takes over screens, manages "
                "screens, groups and sites; sees every screen."),
    "operator": _l("Only looks: sees what the screens of their sites and groups show now and later, and whether "
                   "they are online. Changes nothing."),
}
RESET_SALT = "signage.password-reset"
# Pages a person whose password an admin chose may still open before choosing their own.
_OPEN_WHILE_MUST_CHANGE = {"auth.account_password", "auth.logout", "auth.login", "console.reset_with_link",
                           "static"}


# --- one transaction per change ------------------------------------------------------------------------------

def _apply(action: str, change: Callable[[Session, datetime], Done], who: str | None = None) -> tuple[
        Done | None, Problem | None]:
    """Run change, audit (as who, else whoever is logged in) and commit in one transaction; returns (done, None),
    or (None, refusal) with nothing stored."""
    session, at = get_session(), now()
    try:
        done = change(session, at)
        audit(session, who or actor(), action, done.target, at, before=done.before, after=done.after)
        session.commit()
    except UserError as exc:
        session.rollback()
        return None, exc
    except IntegrityError:
        session.rollback()  # two admins saving the same name at the same moment: the other one's row won
        return None, UserError("That conflicts with a change someone saved at the same moment; reload and try "
                               "again.", code="user.conflict")
    return done, None


def _scope(user: User) -> dict:
    return {"role": user.role, "sites": user.sites.splitlines(), "groups": [g.name for g in user.groups]}


def _posted_sites(form) -> list[str]:
    # Checkboxes (one value each) or, where no list of sites exists yet, a text area (one a line).
    return [line for value in form.getlist("sites") for line in value.splitlines()]


def _choices(session: Session, keep: tuple[str, ...] = ()) -> dict:
    """What the forms offer: the sites (the sites list where there is one, and every site a screen names) and
    the groups with their display names in the reader's language."""
    names = set(session.scalars(select(Screen.site).where(Screen.site != "")).all())
    site_model = getattr(models, "Site", None)
    if site_model is not None:
        names.update(session.scalars(select(site_model.name)).all())
    names.update(s for s in keep if s)
    lang = language()
    groups = [(grp.name, grp.label(lang) if hasattr(grp, "label") else grp.name)
              for grp in session.scalars(select(Group).order_by(Group.name))]
    return {"sites": sorted(names, key=str.casefold), "groups": groups, "group_names": dict(groups), "ROLES": ROLES,
            "ROLE_HELP": ROLE_HELP}


# --- the list and the add form -------------------------------------------------------------------------------

def _users_page(error: Problem | None = None, created: tuple[str, str] | None = None, status: int = 200):
    session = get_session()
    users = session.scalars(select(User).order_by(User.username)).all()
    form = request.form if error else ImmutableMultiDict()
    return render_template("staff/users.html", users=users, error=say(error) if error else None,
                           error_field=getattr(error, "field", None), created=created, form=form,
                           **_choices(session, tuple(_posted_sites(form)))), status


@bp.get("/users")
@require("admin")
def users():
    """Everyone who can log in, and the form to add someone."""
    return _users_page()


@bp.post("/users")
@require("admin")
def add_user_view():
    """Add a user; the page shows the generated password this once (it is never stored in clear), and its owner
    chooses their own at first login."""
    form = request.form

    def change(session, at):
        user, password = add_user(session, form.get("username", "").strip().lower(), form.get("role", ""), at,
                                  sites=_posted_sites(form), groups=form.getlist("groups"))
        return Done(f"user:{user.username}", after=_scope(user), value=(user.username, password))

    done, error = _apply("user.add", change)
    if error:
        return _users_page(error, status=400)
    return _users_page(created=done.value)


# --- one user ------------------------------------------------------------------------------------------------

def _edit_page(user_id: int, error: Problem | None = None, shown: dict | None = None, status: int = 200):
    session = get_session()
    try:
        user = user_by_id(session, user_id)
    except UserError as exc:
        flash(say(exc), "error")
        return redirect(url_for("console.users"))
    form = request.form if error else ImmutableMultiDict(
        [("role", user.role)] + [("sites", s) for s in user.sites.splitlines()]
        + [("groups", grp.name) for grp in user.groups])
    hours = _link_hours()
    return render_template("staff/user_edit.html", user=user, form=form, error=say(error) if error else None,
                           error_field=getattr(error, "field", None), shown=shown, link_hours=hours,
                           **_choices(session, tuple(_posted_sites(form)))), status


@bp.get("/users/<int:user_id>")
@require("admin")
def user_edit(user_id: int):
    """One user: their role and what they see, their password, their account."""
    return _edit_page(user_id)


@bp.post("/users/<int:user_id>")
@require("admin")
def save_user(user_id: int):
    """Change a user's role, sites and groups; refuses to leave the console without an active admin."""
    form = request.form

    def change(session, at):
        user = user_by_id(session, user_id)
        before = _scope(user)
        set_role(session, user, form.get("role", ""))
        set_scope(session, user, _posted_sites(form), form.getlist("groups"))
        return Done(f"user:{user.username}", before=before, after=_scope(user), value=user.username)

    done, error = _apply("user.edit", change)
    if error:
        return _edit_page(user_id, error, status=400)
    flash(_("Saved: %(name)s.", name=done.value), "ok")
    return redirect(url_for("console.user_edit", user_id=user_id))


def _link_hours() -> float:
    hours = float(current_app.config.get("RESET_LINK_HOURS", 24))
    return hours if 0 < hours <= 24 * 30 else 24


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=RESET_SALT)


@bp.post("/users/<int:user_id>/password")
@require("admin")
def reset_user_password(user_id: int):
    """Reset a user's password: `how=generate` sets a generated one (shown this once; its owner replaces it at
    next login; their sessions end), `how=link` makes a one-time link for its owner to choose one."""
    how = request.form.get("how")

    def change(session, at):
        user = user_by_id(session, user_id)
        if how == "link":
            issued = int(at.timestamp())
            token = _serializer().dumps([user.id, password_fingerprint(user), issued])
            until = datetime.fromtimestamp(issued, UTC) + timedelta(hours=_link_hours())
            return Done(f"user:{user.username}", after={"reset_link_until": until},
                        value={"link": url_for("console.reset_with_link", token=token, _external=True),
                               "until": until, "name": user.username})
        if how != "generate":
            raise UserError("Choose how to reset the password: a new password or a link.", code="user.reset_how",
                            field="how")
        password, ended = reset_password(session, user, at)
        return Done(f"user:{user.username}", after={"sessions_ended": ended, "must_change_password": True},
                    value={"password": password, "name": user.username})

    done, error = _apply("user.reset_link" if how == "link" else "user.reset_password", change)
    if error:
        return _edit_page(user_id, error, status=400)
    if "password" in done.value:
        # The first-start file's password no longer works once the demo's admin has another one.
        forget_first_start_secrets(current_app.instance_path, done.value["name"])
    return _edit_page(user_id, shown=done.value)


@bp.post("/users/<int:user_id>/status")
@require("admin")
def set_user_status(user_id: int):
    """Disable a user (their session and API tokens stop working at once) or enable them again."""
    disable = request.form.get("disabled") == "1"

    def change(session, at):
        user = user_by_id(session, user_id)
        if disable and user.id == current_staff().id:
            raise UserError("You cannot disable yourself: ask another admin.", code="user.disable_self")
        before = user.disabled
        set_disabled(session, user, disable, at)
        return Done(f"user:{user.username}", before={"disabled": before}, after={"disabled": disable})

    done, error = _apply("user.disable" if disable else "user.enable", change)
    flash(say(error) if error else (_("User disabled.") if disable else _("User enabled.")),
          "error" if error else "ok")
    return redirect(_back(user_id))


@bp.post("/users/<int:user_id>/sessions")
@require("admin")
def sign_out_everywhere(user_id: int):
    """End every console session of a user at once (an admin's own: all but this one)."""

    def change(session, at):
        user = user_by_id(session, user_id)
        ended = end_sessions(session, user.id, at, keep=current_staff().sid)
        return Done(f"user:{user.username}", after={"sessions_ended": ended}, value=(user.username, ended))

    done, error = _apply("user.signout", change)
    flash(say(error) if error else _("%(name)s is signed out everywhere (%(n)d sessions ended).",
                                     name=done.value[0], n=done.value[1]), "error" if error else "ok")
    return redirect(_back(user_id))


def _back(user_id: int) -> str:
    """The page the form was on: the user's own page or the list."""
    if request.form.get("back") == "user":
        return url_for("console.user_edit", user_id=user_id)
    return url_for("console.users")


# --- a reset link, used by its owner (no login) ----------------------------------------------------------------

def _read_link(token: str) -> tuple[User | None, list, Problem | None]:
    """The user, the link's fields and None; or None, [], the refusal of a link that does not work."""
    try:
        fields = _serializer().loads(token)
        if not (isinstance(fields, list) and len(fields) == 3):
            raise BadData("not three fields")
    except BadData:
        return None, [], UserError("This is not a password reset link (it may have been cut short when it was "
                                   "copied).", code="user.reset_invalid")
    session = get_session()
    user_id, fingerprint, issued = fields
    user = session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id < 2 ** 31 else None
    try:
        check_reset(user, fingerprint, issued, now(), timedelta(hours=_link_hours()))
    except UserError as exc:
        return None, [], exc
    return user, fields, None


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_with_link(token: str):
    """The page of a reset link: its owner chooses a new password; then every session of theirs ends and the
    link stops working."""
    user, fields, refusal = _read_link(token)
    if refusal is not None:
        return render_template("staff/reset_link.html", refusal=say(refusal), user=None, error=None,
                               MIN_PASSWORD=MIN_PASSWORD), 410 if refusal.code != "user.reset_invalid" else 404
    if request.method == "GET":
        return render_template("staff/reset_link.html", refusal=None, user=user, error=None,
                               MIN_PASSWORD=MIN_PASSWORD)
    form = request.form
    name = user.username

    def change(session, at):
        done_user = redeem_reset(session, fields[0], fields[1], fields[2], form.get("new", ""),
                                 form.get("repeat", ""), at, timedelta(hours=_link_hours()))
        return Done(f"user:{done_user.username}", after={"by": "reset link", "sessions_ended": "all"})

    # The audit log names the link's owner, who is not logged in.
    _done, error = _apply("user.password_by_link", change, who=f"{name} (reset link)")
    if error:
        return render_template("staff/reset_link.html", refusal=None, user=user, error=say(error),
                               MIN_PASSWORD=MIN_PASSWORD), 400
    forget_first_start_secrets(current_app.instance_path, name)
    flash(_("Password changed. Log in with it now."), "ok")
    return redirect(url_for("auth.login"))


# --- a password someone else chose is replaced at the first login ------------------------------------------

@bp.before_app_request
def _must_choose_password():
    """Send a person whose password an admin chose (new account, reset) to choose their own before anything
    else; API tokens and the players are not concerned."""
    if request.endpoint in _OPEN_WHILE_MUST_CHANGE or request.endpoint is None:
        return None
    # Who is asking was settled by server.auth before this runs (nothing is looked up here for players).
    staff = g.get("staff")
    if staff is None or g.get("staff_via") != "web" or not getattr(staff, "must_change", False):
        return None
    if request.path.startswith("/api/"):  # the console's scripts: JSON, as every API refusal
        return refusal_response(403, UserError("An admin chose your password: choose your own first, at "
                                               "/staff/account/password.", code="user.must_change_password"))
    return redirect(url_for("auth.account_password"))  # whose page says why
