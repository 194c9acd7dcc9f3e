"""The console's pages for the network itself: screens, groups, sites and pairing players, without a shell.

Every change is one transaction with its audit entry (`_apply`, as in server/console.py); a refusal (a domain
Problem) rolls it back and comes back in the reader's language (server.i18n.say), next to the form, with what was
typed kept and the field marked. Staff change things; operators may look at the Screens page for the screens of
their scope only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import qrcode
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict

from playlists import content
from playlists.models import Group, Screen, Site, screen_groups
from playlists.monitoring import screen_states
from playlists.pairing import PairingError, approve_pairing, display_code, open_pairing
from playlists.resolver import now as resolve_now
from playlists.rules import RuleError
from playlists.screens import (
    SCREEN_KINDS,
    ScreenError,
    add_screen,
    group_by_id,
    groups_named,
    place_screen,
    reissue_token,
    rename_screen,
    retire_screen,
    save_group,
    save_site,
    screen_in_service,
    set_screen_groups,
    site_by_id,
)
from playlists.users import audit
from renderer.errors import Problem
from renderer.profiles import CATALOG

from .auth import actor, current_staff, require
from .console import Done, bp, section
from .db import get_manifests, get_session, get_store
from .i18n import language, say
from .player import now
from .preview import STATE_LABELS, limits
from .scope import viewer_scope

section("console.screens", _l("Screens"), "operator")
section("console.groups", _l("Groups"), "staff")
section("console.sites", _l("Sites"), "staff")

# What each screen profile is, in people's words (renderer.profiles.CATALOG keeps the English for developers).
PROFILE_LABELS = {
    "led-p10": _l("Outdoor LED panel P10 (1.92 × 0.96 m), city centre"),
    "led-p5-small": _l("Small indoor LED sign P5 (64 × 32 cm), shop front or counter"),
    "led-billboard": _l("Large outdoor LED billboard P10 (8 × 4 m)"),
    "tv-1080p": _l("Landscape TV, bus and train stations"),
    "kiosk-portrait": _l("Portrait kiosk, hospitals and administration centres"),
    "lobby-4k": _l("Lobby screen, hotels"),
    "bus-strip": _l("Wide strip screen inside buses"),
}
KIND_LABELS = {"led": _l("LED panel: few pixels, seen from afar; big simple text"),
               "lcd": _l("TV or kiosk screen: full picture, seen from close by")}
OUT_OF_STEP = _l("out of step")


def profiles() -> list[dict]:
    """The profiles a screen may have, with their size and kind in words, for the forms."""
    return [{"name": name, "label": PROFILE_LABELS.get(name, p.label), "width": p.width, "height": p.height,
             "kind": KIND_LABELS[p.kind]} for name, p in CATALOG.items() if p.kind in SCREEN_KINDS]


# --- group display names, for every page ----------------------------------------------------------------------

def _labels() -> dict[str, Group]:
    if "group_labels" not in g:
        g.group_labels = {row.name: row for row in get_session().scalars(select(Group))}
    return g.group_labels


@bp.app_template_global("group_label")
def group_label(group: Group | str) -> str:
    """A group's display name in the page's language (its identifier when it has none); takes a Group or a name."""
    if isinstance(group, Group):
        return group.label(language())
    row = _labels().get(group)
    return row.label(language()) if row is not None else str(group)


# --- one transaction per change -------------------------------------------------------------------------------

def _apply(action: str, change: Callable[[Session, datetime], Done], *,
           sync: list[str] | None = None) -> tuple[Done | None, Problem | str | None]:
    """Run change, make the media the screens in sync need, audit and commit, in one transaction.

    Returns (done, None), or (None, the refusal) with nothing stored."""
    session, at = get_session(), now()
    try:
        done = change(session, at)
        if sync:
            content.sync_renditions(session, get_store(), at, sync)
        audit(session, actor(), action, done.target, at, before=done.before, after=done.after)
        session.commit()
    except Problem as exc:
        session.rollback()
        return None, exc
    except IntegrityError:
        session.rollback()
        return None, _("That conflicts with a record someone saved at the same moment; reload and try again.")
    return done, None


def _words(error: Problem | str | None) -> str:
    return say(error) if isinstance(error, Problem) else (error or "")


def _field(error: Problem | str | None) -> str:
    return (error.field or "") if isinstance(error, Problem) else ""


def _back(endpoint: str, error, ok: str, **values):
    flash(_words(error) or ok, "error" if error else "ok")
    return redirect(url_for(endpoint, **values))


def _doc(screen: Screen) -> dict:
    return {"name": screen.name, "site": screen.site, "district": screen.district, "profile": screen.profile,
            "groups": [grp.name for grp in screen.groups]}


def _player_link(screen_id: str, token: str | None = None) -> str:
    link = url_for("webplayer.player_page", screen_id=screen_id, _external=True)
    return f"{link}#token={token}" if token else link


# --- the Screens page -----------------------------------------------------------------------------------------

@bp.get("/screens")
@require("operator")
def screens():
    """Screens of the viewer's scope (?site=, ?group= narrow it): place, profile, state, what they show now."""
    session, moment = get_session(), now()
    network = get_manifests().network()
    scope = viewer_scope()
    site, group = request.args.get("site", ""), request.args.get("group", "")
    visible = scope.screens(network)
    sites = sorted({s.site for s in visible if s.site})
    group_names = sorted({name for s in visible for name in s.groups}, key=lambda n: group_label(n).lower())
    shown = [s for s in visible if (not site or s.site == site) and (not group or group in s.groups)]
    states = screen_states(session, network, shown, moment, limits())
    showing: dict[tuple, str] = {}  # screens under the same rules show the same thing: resolve once per rule set
    rows = []
    for state in states:
        screen = state.screen
        key = screen.rules_key
        if key not in showing:
            try:
                item = resolve_now(network.rules_for(screen), moment).item
                showing[key] = url_for("console.thumb", sha256=network.media_for(item, screen.profile).sha256)
            except (RuleError, KeyError):
                showing[key] = ""
        profile = CATALOG.get(screen.profile)
        rows.append({"s": state, "thumb": showing[key], "profile": profile,
                     "profile_label": PROFILE_LABELS.get(screen.profile, profile.label if profile else ""),
                     "status": OUT_OF_STEP if state.out_of_step else STATE_LABELS.get(state.state, state.state),
                     "status_class": "out_of_step" if state.out_of_step else state.state})
    return render_template("staff/screens.html", rows=rows, sites=sites, groups=group_names, site=site,
                           group=group, can_edit=current_staff().can("staff"))


@bp.get("/screens/<screen_id>/qr.png")
@require("operator")
def screen_qr(screen_id: str):
    """A QR code of the screen's player link (no token in it), to open the player on a kiosk with a phone."""
    screen = get_manifests().network().screens.get(screen_id)
    if screen is None or not viewer_scope().allows(screen):
        abort(404)
    image = qrcode.make(_player_link(screen.id), border=2, box_size=4)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


# --- adding a screen ------------------------------------------------------------------------------------------

def _form_choices(session: Session) -> dict:
    return {"profiles": profiles(),
            "all_groups": session.scalars(select(Group).order_by(Group.name)).all(),
            "all_sites": session.scalars(select(Site).order_by(Site.name)).all()}


def _new_screen(session: Session, form, at: datetime) -> tuple[str, str]:
    """Register the screen the form describes; (its id, its token)."""
    screen_id = form.get("id", "").strip()
    groups = form.getlist("groups")
    groups_named(session, groups)  # only existing groups here: a typo must not make a new group
    token = add_screen(session, screen_id, form.get("profile", ""), at, name=form.get("name", ""),
                       site=form.get("site", ""), district=form.get("district", ""), groups=groups)
    return screen_id, token


@bp.get("/screens/new")
@require("staff")
def new_screen_form(error=None, status: int = 200):
    session = get_session()
    form = request.form if request.method == "POST" else ImmutableMultiDict()
    return render_template("staff/screens_new.html", form=form, error=_words(error), field=_field(error),
                           **_form_choices(session)), status


@bp.post("/screens/new")
@require("staff")
def add_screen_view():
    """Register a screen; the answer shows its device token and player link this once."""
    def change(session, at):
        screen_id, token = _new_screen(session, request.form, at)
        screen = session.get(Screen, screen_id)
        return Done(f"screen:{screen_id}", after=_doc(screen), value=(screen_id, token))

    done, error = _apply("screen.create", change, sync=[request.form.get("id", "").strip()])
    if error:
        return new_screen_form(error, 400)
    screen_id, token = done.value
    return render_template("staff/screens_token.html", screen_id=screen_id, token=token,
                           link=_player_link(screen_id, token), new=True)


# --- one screen: rename, place, groups, token, retire -----------------------------------------------------------

@bp.get("/screens/<screen_id>")
@require("staff")
def screen_form(screen_id: str, error=None, status: int = 200, action: str = ""):
    session = get_session()
    screen = session.get(Screen, screen_id)
    if screen is None or screen.retired_at is not None:
        abort(404)
    form = request.form if request.method == "POST" else ImmutableMultiDict()
    return render_template("staff/screens_edit.html", screen=screen, form=form, error=_words(error),
                           field=_field(error), action=action, link=_player_link(screen_id),
                           profile=next((p for p in profiles() if p["name"] == screen.profile), None),
                           **_form_choices(session)), status


def _screen_change(screen_id: str, action: str, apply: Callable[[Session, Screen, datetime], object], ok: str):
    def change(session, at):
        before = _doc(screen_in_service(session, screen_id))
        screen = apply(session, at)
        return Done(f"screen:{screen_id}", before=before, after=_doc(screen))

    done, error = _apply(action, change)
    if error:
        if isinstance(error, ScreenError) and error.code in ("screen.unknown", "screen.retired"):
            abort(404)
        return screen_form(screen_id, error, 400, action)
    flash(ok, "ok")
    return redirect(url_for("console.screen_form", screen_id=screen_id))


@bp.post("/screens/<screen_id>/name")
@require("staff")
def rename_screen_view(screen_id: str):
    return _screen_change(screen_id, "screen.rename",
                          lambda s, at: rename_screen(s, screen_id, request.form.get("name", "")), _("Name saved."))


@bp.post("/screens/<screen_id>/place")
@require("staff")
def place_screen_view(screen_id: str):
    form = request.form
    return _screen_change(screen_id, "screen.place",
                          lambda s, at: place_screen(s, screen_id, form.get("site", ""), form.get("district", ""), at),
                          _("Place saved."))


@bp.post("/screens/<screen_id>/groups")
@require("staff")
def screen_groups_view(screen_id: str):
    return _screen_change(screen_id, "screen.groups",
                          lambda s, at: set_screen_groups(s, screen_id, request.form.getlist("groups")),
                          _("Groups saved."))


@bp.post("/screens/<screen_id>/token")
@require("staff")
def reissue_token_view(screen_id: str):
    """A new device token, shown once; the old one stops working at once."""
    def change(session, at):
        screen_in_service(session, screen_id)
        return Done(f"screen:{screen_id}", value=reissue_token(session, screen_id, at))

    done, error = _apply("screen.token", change)
    if error:
        abort(404)
    return render_template("staff/screens_token.html", screen_id=screen_id, token=done.value,
                           link=_player_link(screen_id, done.value), new=False)


@bp.post("/screens/<screen_id>/retire")
@require("staff")
def retire_screen_view(screen_id: str):
    """Retire a screen once the box "yes, retire it" is ticked; its token stops working, its history stays."""
    if request.form.get("confirm") != "yes":
        error = ScreenError("tick the box to confirm that this screen is to be retired", code="screen.retire_confirm",
                            field="confirm")
        return screen_form(screen_id, error, 400, "retire")

    def change(session, at):
        before = _doc(screen_in_service(session, screen_id))
        retire_screen(session, screen_id, at)
        return Done(f"screen:{screen_id}", before=before, after={"retired": True})

    done, error = _apply("screen.retire", change)
    if error:
        abort(404)
    return _back("console.screens", None, _("Screen %(id)s retired: its token no longer works.", id=screen_id))


# --- groups ---------------------------------------------------------------------------------------------------

@bp.get("/groups")
@require("staff")
def groups(error=None, status: int = 200, editing: int | None = None):
    session = get_session()
    rows = session.scalars(select(Group).order_by(Group.name)).all()
    counts = dict(session.execute(select(screen_groups.c.group_id, func.count())
                                  .join(Screen, Screen.id == screen_groups.c.screen_id)
                                  .where(Screen.retired_at.is_(None)).group_by(screen_groups.c.group_id)).all())
    form = request.form if request.method == "POST" else ImmutableMultiDict()
    return render_template("staff/groups.html", groups=rows, counts=counts, form=form, error=_words(error),
                           field=_field(error), editing=editing), status


def _group_change(group_id: int | None):
    form = request.form

    def change(session, at):
        group = group_by_id(session, group_id) if group_id is not None else None
        before = {"name": group.name, "label_vi": group.label_vi, "label_en": group.label_en} if group else None
        group = save_group(session, group, form.get("name", ""), form.get("label_vi", ""), form.get("label_en", ""))
        return Done(f"group:{group.name}", before=before,
                    after={"name": group.name, "label_vi": group.label_vi, "label_en": group.label_en})

    done, error = _apply("group.create" if group_id is None else "group.rename", change)
    if error:
        return groups(error, 400, group_id)
    return _back("console.groups", None, _("Group saved."))


@bp.post("/groups")
@require("staff")
def add_group():
    return _group_change(None)


@bp.post("/groups/<int:group_id>")
@require("staff")
def edit_group(group_id: int):
    return _group_change(group_id)


# --- sites ----------------------------------------------------------------------------------------------------

@bp.get("/sites")
@require("staff")
def sites(error=None, status: int = 200, editing: int | None = None):
    session = get_session()
    rows = session.scalars(select(Site).order_by(Site.name)).all()
    counts = dict(session.execute(select(Screen.site, func.count()).where(Screen.retired_at.is_(None))
                                  .group_by(Screen.site)).all())
    form = request.form if request.method == "POST" else ImmutableMultiDict()
    return render_template("staff/sites.html", sites=rows, counts=counts, form=form, error=_words(error),
                           field=_field(error), editing=editing), status


def _site_change(site_id: int | None):
    form = request.form

    def change(session, at):
        site = site_by_id(session, site_id) if site_id is not None else None
        before = {"name": site.name, "district": site.district} if site else None
        site = save_site(session, site, form.get("name", ""), form.get("district", ""), at)
        return Done(f"site:{site.id}", before=before, after={"name": site.name, "district": site.district})

    done, error = _apply("site.create" if site_id is None else "site.rename", change)
    if error:
        return sites(error, 400, site_id)
    return _back("console.sites", None, _("Site saved."))


@bp.post("/sites")
@require("staff")
def add_site():
    return _site_change(None)


@bp.post("/sites/<int:site_id>")
@require("staff")
def edit_site(site_id: int):
    return _site_change(site_id)


# --- pairing a player -------------------------------------------------------------------------------------------

def _pair_page(error=None, status: int = 200, done: str | None = None):
    session, form = get_session(), (request.form if request.method == "POST" else request.args)
    typed = form.get("code", "")
    code, code_error = "", None
    if typed and not done:
        try:
            code = display_code(open_pairing(session, typed, now()).code)
        except PairingError as exc:
            code_error = exc
    if error is None and code_error is not None and request.method == "GET":
        error = PairingError("the code %(typed)s is wrong, used or expired: check the code the screen shows now",
                             code="pairing.not_open", field="code", typed=typed[:40])
    screens_in_service = session.scalars(select(Screen).where(Screen.retired_at.is_(None))
                                         .order_by(Screen.site, Screen.name)).all()
    return render_template("staff/pair.html", code=code, typed=typed, form=form, error=_words(error),
                           field=_field(error), done=done, screens=screens_in_service,
                           mode=form.get("mode", "existing" if screens_in_service else "new"),
                           **_form_choices(session)), status


@bp.get("/pair")
@require("staff")
def pair():
    """The page the QR on an unpaired player leads to: approve its code for a screen, existing or new."""
    return _pair_page()


@bp.post("/pair")
@require("staff")
def pair_approve():
    """Approve a pairing code for an existing screen, or for a new one made from the same form."""
    form = request.form
    new = form.get("mode") == "new"

    def change(session, at):
        try:
            open_pairing(session, form.get("code", ""), at)
        except PairingError:
            raise PairingError("the code %(typed)s is wrong, used or expired: check the code the screen shows now",
                               code="pairing.not_open", field="code", typed=form.get("code", "")[:40]) from None
        if new:
            screen_id, _token = _new_screen(session, form, at)  # the player claims a fresh token of its own
        else:
            screen_id = form.get("screen", "")
            if not screen_id:
                raise PairingError("choose the screen in the list, or choose a new screen and describe it",
                                   code="pairing.no_screen", field="screen")
            screen_in_service(session, screen_id)
        pairing = approve_pairing(session, form.get("code", ""), screen_id, at)
        return Done(f"screen:{screen_id}", after={"pairing": display_code(pairing.code), "new": new},
                    value=screen_id)

    done, error = _apply("screen.pair", change, sync=[form.get("id", "").strip()] if new else None)
    if error:
        if isinstance(error, ScreenError) and error.code == "screen.unknown":
            error.field = "screen"
        return _pair_page(error, 400)
    return _pair_page(done=done.value)
