"""The staff console's HTML pages (server-rendered, a little JavaScript, no build step).

Every change goes through `_apply`: the domain function, the media screens need (sync_renditions), the audit
entry and the commit happen in one transaction, and a refusal (ContentError, UserError) rolls all of it back
and comes back as the message to show next to the form.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict

from assets.store import StoreError
from playlists import content
from playlists.content import ContentError
from playlists.models import (
    AuditEntry,
    Group,
    Media,
    OverrideRow,
    PlaylistRow,
    Poster,
    ReminderRow,
    Rendition,
    ScheduleRow,
    Screen,
)
from playlists.network import as_utc
from playlists.screens import DEFAULT_TZ
from playlists.users import UserError, audit
from renderer import DEFAULT_URL, LANGUAGES, TEMPLATES, PosterSpec, RenderError, get_profile, render_poster
from renderer.spec import TEXT_FIELDS, default_copy

from .auth import actor, current_staff, require
from .db import get_session, get_store
from .errors import error_response
from .forms import FormError, PlaylistForm, PosterForm, ReminderForm, ScheduleForm, TakeoverForm
from .i18n import refusal, say, when
from .player import now
from .scope import viewer_scope, visible_media

bp = Blueprint("console", __name__, url_prefix="/staff")

# Role names as people read them (templates show _(role)).
ROLE_LABELS = {"admin": _l("admin"), "staff": _l("staff"), "operator": _l("operator")}
WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))  # 0 = Monday
FITS = {"contain": _l("Whole image (bands)"), "cover": _l("Fill the screen (cropped)")}
TEMPLATE_LABELS = {"install": _l("Install Bluezone"), "reminder": _l("Reminder")}
LANGUAGE_LABELS = {"vi": _l("Vietnamese"), "en": _l("English"), "vi-en": _l("Vietnamese and English")}
THEME_LABELS = {"blue": _l("Blue"), "light": _l("Light"), "dark": _l("Dark")}
# Shown when no screen is registered yet: the common shapes (landscape TV, portrait kiosk, LED panel).
FALLBACK_PROFILES = ("tv-1080p", "kiosk-portrait", "led-p10")
# Each preview render takes 50-300 ms, so a live preview shows at most this many profiles.
MAX_PREVIEWS = 6
PREVIEW_BOX = (480, 360)
THUMB_BOX = (320, 240)

# (endpoint, label, role needed): the home page lists what the person may open.
SECTIONS: list[tuple[str, object, str]] = []


def section(endpoint: str, label, role: str) -> None:
    """Announce a console page on the home page (pages register themselves as they are added)."""
    SECTIONS.append((endpoint, label, role))


def _sections() -> list[tuple[str, object]]:
    staff = current_staff()
    return [(endpoint, label) for endpoint, label, role in SECTIONS if staff and staff.can(role)]


@bp.context_processor
def _nav() -> dict:
    # `empty` stands for a form nobody has filled in, so templates refill fields from one kind of object.
    return {"nav_sections": _sections(), "ROLE_LABELS": ROLE_LABELS, "empty": ImmutableMultiDict()}


@bp.app_template_filter("local")
def _local(moment: datetime | None, seconds: bool = False) -> str:
    """A stored (UTC) instant as the province's wall time in the reader's words ("10:07 ngày 27/11/2026")."""
    return when(as_utc(moment), DEFAULT_TZ, seconds=seconds) if moment is not None else ""


# The home page (GET /staff/, "console.home") is the dashboard: server/dashboard.py.


# --- one transaction per change ------------------------------------------------------------------------------

@dataclass
class Done:
    """What a change did, for the audit log: its target ("poster:3"), the record after and before."""

    target: str
    after: object = None
    before: object = None
    value: object = None


def _apply(action: str, change: Callable[[Session, datetime], Done], *, sync: bool = True) -> tuple[Done | None,
                                                                                                    str | None]:
    """Run change, make the media screens now need, audit and commit, all in one transaction.

    Returns (done, None), or (None, message) with nothing stored when the change or a rendering is refused."""
    session, at = get_session(), now()
    try:
        done = change(session, at)
        if sync:
            content.sync_renditions(session, get_store(), at)
        audit(session, actor(), action, done.target, at, before=done.before, after=done.after)
        session.commit()
    except (ContentError, UserError, FormError) as exc:
        session.rollback()
        return None, refusal(exc)
    except IntegrityError:
        # Two people saving the same name at the same moment: the other one's row won.
        session.rollback()
        return None, _("That conflicts with a record someone saved at the same moment; reload and try again.")
    return done, None


# --- form fields: see server/forms.py ------------------------------------------------------------------------

def _describe_targets(rule) -> dict:
    return {"screens": [s.id for s in rule.screens], "groups": [g.name for g in rule.groups],
            "everywhere": rule.everywhere}


def _choices(session: Session) -> dict:
    """What the forms offer: posters, uploaded images, playlists, groups and screens."""
    return {
        "posters": session.scalars(select(Poster).order_by(Poster.id.desc())).all(),
        "assets": session.scalars(select(Media).where(Media.kind == "image").order_by(Media.created_at.desc())).all(),
        "playlists": session.scalars(select(PlaylistRow).order_by(PlaylistRow.name)).all(),
        "groups": session.scalars(select(Group).order_by(Group.name)).all(),
        "screens": session.scalars(select(Screen).where(Screen.retired_at.is_(None)).order_by(Screen.id)).all(),
    }


def _describe(session: Session, key: str) -> dict:
    """A content reference as people see it: {key (without the fit), fit, kind, label, thumb URL}."""
    base = key.removesuffix(":cover")
    fit = "cover" if key.endswith(":cover") else ("contain" if key.startswith("asset:") else "")
    kind, _sep, ident = base.partition(":")
    if kind == "poster" and ident.isdigit() and (poster := session.get(Poster, int(ident))):
        rendition = session.scalar(select(Rendition).where(Rendition.content == base).limit(1))
        thumb = url_for("console.thumb", sha256=rendition.sha256) if rendition else ""
        return {"key": base, "fit": fit, "kind": "poster", "label": poster.name, "thumb": thumb}
    if kind == "asset" and (media := session.get(Media, ident)):
        return {"key": base, "fit": fit, "kind": "asset", "label": media.label,
                "thumb": url_for("console.thumb", sha256=media.sha256)}
    return {"key": base, "fit": fit, "kind": kind, "label": key, "thumb": ""}


# --- thumbnails ----------------------------------------------------------------------------------------------

@bp.get("/media/<sha256>/thumb")
@require("operator")
def thumb(sha256: str):
    """A small PNG of an uploaded image or a rendition, for lists; immutable like the media it shows.

    Operators get only media their screens may show; anything else is 404, as for an unknown hash."""
    media = get_session().get(Media, sha256)
    if media is None or not _may_see_media(sha256):
        abort(404)
    try:
        with get_store().open(media.sha256, media.ext) as fh, Image.open(fh) as image:
            image.draft("RGB", THUMB_BOX)  # JPEG decodes at a fraction of its size: a 48 MP photo stays cheap
            small = ImageOps.contain(image.convert("RGB"), THUMB_BOX)
    except (OSError, StoreError):
        abort(404)
    out = io.BytesIO()
    small.save(out, "PNG")
    response = current_app.response_class(out.getvalue(), mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


def _may_see_media(sha256: str) -> bool:
    staff = current_staff()
    if staff.can("staff"):
        return True
    return sha256 in visible_media(viewer_scope())


# --- posters -------------------------------------------------------------------------------------------------

section("console.posters", _l("Posters"), "staff")


def _spec_from(form: PosterForm) -> dict:
    """A poster spec from the composer's fields (as typed, unchecked when refused, to show them again); an empty
    text field takes the official campaign text."""
    spec = {"template": form.template.data or "install", "lang": form.lang.data or "vi",
            "theme": form.theme.data or "blue", "url": form.url.data.strip() or DEFAULT_URL}
    for name in TEXT_FIELDS:
        value = form[name].data
        spec[name] = value if value.strip() else None
    return spec


def preview_profiles(session: Session, poster_id: int | None = None) -> list[str]:
    """The profiles a poster will play on, at most MAX_PREVIEWS: where a saved poster plays now, else those of
    the registered screens (a new poster may go anywhere), else a few common ones."""
    played = session.scalars(select(Rendition.profile).where(Rendition.content == f"poster:{poster_id}")
                             .order_by(Rendition.profile)).all() if poster_id is not None else []
    names = played or session.scalars(select(Screen.profile).distinct().order_by(Screen.profile)).all()
    return list(names[:MAX_PREVIEWS] or FALLBACK_PROFILES)


def _preview(spec: PosterSpec, profile_name: str) -> dict:
    """One profile's preview: a small PNG (data URL), whether the QR code decoded, the scan distance, or the
    renderer's refusal."""
    profile = get_profile(profile_name)
    base = {"profile": profile.name, "label": profile.label, "width": profile.width, "height": profile.height}
    try:
        poster = render_poster(spec, profile)
    except RenderError as exc:
        return {**base, "error": say(exc), "code": exc.code}
    image = poster.image.convert("RGB")
    if image.width > PREVIEW_BOX[0] or image.height > PREVIEW_BOX[1]:
        image = ImageOps.contain(image, PREVIEW_BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    return {**base, "qr_ok": poster.qr is not None, "scan_m": poster.qr.scan_m if poster.qr else None,
            "dropped": list(poster.dropped), "report": poster.report(),
            "image": "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")}


@bp.get("/posters")
@require("staff")
def posters():
    """Every poster, newest first, with a thumbnail of one of its renditions."""
    session = get_session()
    rows = session.scalars(select(Poster).order_by(Poster.id.desc())).all()
    items = [(p, json.loads(p.spec_json), _describe(session, f"poster:{p.id}")) for p in rows]
    return render_template("staff/posters.html", items=items, LANGUAGE_LABELS=LANGUAGE_LABELS,
                           TEMPLATE_LABELS=TEMPLATE_LABELS, THEME_LABELS=THEME_LABELS)


def _composer(poster: Poster | None, spec: dict, error: str | None = None, status: int = 200):
    defaults = {f"{t}/{lang}": default_copy(t, lang) for t in TEMPLATES for lang in LANGUAGES}
    page = render_template(
        "staff/poster_form.html", poster=poster, spec=spec, error=error, defaults=defaults,
        profiles=preview_profiles(get_session(), poster.id if poster else None), TEMPLATES=TEMPLATE_LABELS,
        LANGUAGES_=LANGUAGE_LABELS, THEMES=THEME_LABELS, DEFAULT_URL=DEFAULT_URL)
    return page, status


@bp.route("/posters/new", methods=["GET", "POST"], defaults={"poster_id": None})
@bp.route("/posters/<int:poster_id>", methods=["GET", "POST"])
@require("staff")
def poster_form(poster_id: int | None):
    """The composer. POST saves (renders for every screen that shows the poster) or shows why it cannot."""
    poster = get_session().get(Poster, poster_id) if poster_id is not None else None
    if poster_id is not None and poster is None:
        abort(404)
    if request.method == "GET":
        return _composer(poster, json.loads(poster.spec_json) if poster else PosterSpec().to_dict())
    form = PosterForm()
    spec = _spec_from(form)

    def change(session, at):
        form.checked()
        if poster is None:
            saved = content.add_poster(session, spec, at, name=form.name.data.strip())
            return Done(f"poster:{saved.id}", after=spec)
        before = json.loads(poster.spec_json)
        content.update_poster(session, poster.id, spec, at)
        return Done(f"poster:{poster.id}", after=spec, before=before)

    done, error = _apply("poster.save", change)
    if error:
        return _composer(poster, spec, form.explain(error), 400)
    flash(_("Poster saved."), "ok")
    return redirect(url_for("console.posters"))


@bp.post("/posters/preview")
@require("staff")
def poster_preview():
    """JSON {"previews": [...]}: the composer's poster on each profile it will play on; 400 {"message"} when a
    field is refused before any rendering."""
    form = PosterForm()
    try:
        form.checked()
        spec = PosterSpec.from_dict(_spec_from(form)).resolved()
    except (RenderError, FormError) as exc:
        words = refusal(exc)
        return error_response(400, words, words.code, words.field)
    profiles = preview_profiles(get_session(), form.poster_id.data)
    return jsonify(previews=[_preview(spec, name) for name in profiles])


# --- assets --------------------------------------------------------------------------------------------------

section("console.assets", _l("Images"), "staff")


@bp.get("/assets")
@require("staff")
def assets():
    """Uploaded images, newest first, with thumbnails."""
    return render_template("staff/assets.html", assets=_choices(get_session())["assets"])


@bp.get("/assets/upload")
@require("staff")
def upload_page():
    """The drag-and-drop page: the browser sends each file on its own to the JSON API (POST /api/v1/assets,
    which checks and stores it), with a progress bar each."""
    return render_template("staff/upload.html", upload_url=url_for("api.upload_asset"))


# --- playlists -----------------------------------------------------------------------------------------------

section("console.playlists", _l("Playlists"), "staff")


def _rows_from(form) -> list[tuple[str, str]]:
    """The editor's rows as sent, unchecked (durations as typed), to show a refused form again as it was."""
    rows = zip(form.getlist("content"), form.getlist("duration"), form.getlist("fit"), strict=False)
    return [(f"{key}:cover" if fit == "cover" else key, seconds) for key, seconds, fit in rows]


@bp.get("/playlists")
@require("staff")
def playlists():
    """Every playlist with its items' count and loop length."""
    return render_template("staff/playlists.html", playlists=_choices(get_session())["playlists"])


def _editor(playlist: PlaylistRow | None, name: str, items: list[tuple[str, object]], error=None, status=200):
    session = get_session()
    choices = _choices(session)
    rows = [{**_describe(session, key), "duration": seconds} for key, seconds in items]
    # One ready-made row per poster and image, which the page's script copies into the list.
    ready = [{**_describe(session, f"poster:{p.id}"), "duration": 10} for p in choices["posters"]] + \
            [{**_describe(session, f"asset:{a.sha256}"), "duration": 10} for a in choices["assets"]]
    return render_template("staff/playlist_form.html", playlist=playlist, name=name, rows=rows, ready=ready,
                           error=error, FITS=FITS, **choices), status


@bp.route("/playlists/new", methods=["GET", "POST"], defaults={"playlist_id": None})
@bp.route("/playlists/<int:playlist_id>", methods=["GET", "POST"])
@require("staff")
def playlist_form(playlist_id: int | None):
    """The playlist editor. POST stores the items in page order, or shows why it cannot."""
    playlist = get_session().get(PlaylistRow, playlist_id) if playlist_id is not None else None
    if playlist_id is not None and playlist is None:
        abort(404)
    if request.method == "GET":
        items = [(i.content, i.duration_s) for i in playlist.items] if playlist else []
        return _editor(playlist, playlist.name if playlist else "", items)
    form = PlaylistForm()
    name = playlist.name if playlist else form.name.data

    def change(session, at):
        items = form.items()
        if playlist is None:
            saved = content.add_playlist(session, name, items)
            return Done(f"playlist:{saved.id}", after={"name": saved.name, "items": items})
        before = {"name": playlist.name, "items": [(i.content, i.duration_s) for i in playlist.items]}
        content.set_playlist_items(session, playlist.id, items)
        return Done(f"playlist:{playlist.id}", after={"name": playlist.name, "items": items}, before=before)

    done, error = _apply("playlist.save", change)
    if error:
        return _editor(playlist, name, _rows_from(request.form), form.explain(error, {"items": "add-choice"}), 400)
    flash(_("Playlist saved."), "ok")
    return redirect(url_for("console.playlists"))


@bp.post("/playlists/<int:playlist_id>/delete")
@require("staff")
def delete_playlist(playlist_id: int):
    """Remove a playlist that no schedule plays; otherwise say which schedules still do."""

    def change(session, at):
        playlist = session.get(PlaylistRow, playlist_id)
        before = {"name": playlist.name, "items": [(i.content, i.duration_s) for i in playlist.items]} \
            if playlist is not None else None
        content.delete_playlist(session, playlist_id)
        return Done(f"playlist:{playlist_id}", before=before)

    done, error = _apply("playlist.delete", change, sync=False)
    flash(error or _("Deleted."), "error" if error else "ok")
    return redirect(url_for("console.playlists"))


# --- schedules and reminders ---------------------------------------------------------------------------------

section("console.schedules", _l("Schedules"), "staff")


def _describe_schedule(row: ScheduleRow) -> dict:
    return {"playlist": row.playlist_id, "priority": row.priority, "dates": [row.start_date, row.end_date],
            "weekdays": row.weekdays, "times": [row.start_time, row.end_time], **_describe_targets(row)}


def _describe_reminder(row: ReminderRow) -> dict:
    return {"content": row.content, "duration_s": row.duration_s, "every_min": row.every_min,
            "times": [row.start_time, row.end_time], **_describe_targets(row)}


def _schedules_page(error: dict | None = None, status: int = 200):
    session = get_session()
    return render_template(
        "staff/schedules.html", error=error or {}, form=request.form if error else ImmutableMultiDict(),
        WEEKDAYS=WEEKDAYS,
        schedules=session.scalars(select(ScheduleRow).order_by(ScheduleRow.priority.desc(), ScheduleRow.id)).all(),
        reminders=session.scalars(select(ReminderRow).order_by(ReminderRow.id)).all(),
        describe=lambda key: _describe(session, key), **_choices(session)), status


@bp.get("/schedules")
@require("staff")
def schedules():
    """Schedules and reminder slots, with the forms to add them."""
    return _schedules_page()


@bp.post("/schedules")
@require("staff")
def add_schedule():
    """Add a schedule from the form, or show the page again with the reason it was refused."""
    form = ScheduleForm()

    def change(session, at):
        f = form.checked()
        row = content.add_schedule(
            session, f["playlist"], name=f["name"].strip(), priority=f["priority"] or 0,
            start_date=f["start_date"], end_date=f["end_date"], weekdays=[int(d) for d in f["weekdays"]],
            start_time=f["start_time"], end_time=f["end_time"], **form.targets())
        return Done(f"schedule:{row.id}", after=_describe_schedule(row))

    done, error = _apply("schedule.add", change)
    if error:
        return _schedules_page({"schedule": form.explain(error)}, 400)
    flash(_("Schedule added."), "ok")
    return redirect(url_for("console.schedules"))


@bp.post("/reminders")
@require("staff")
def add_reminder():
    """Add a reminder slot from the form, or show the page again with the reason it was refused."""
    form = ReminderForm()

    def change(session, at):
        f = form.checked()
        row = content.add_reminder(
            session, f["content"], duration_s=f["duration_s"], every_min=f["every_min"], name=f["name"].strip(),
            start_time=f["start_time"], end_time=f["end_time"], **form.targets())
        return Done(f"reminder:{row.id}", after=_describe_reminder(row))

    done, error = _apply("reminder.add", change)
    if error:
        return _schedules_page({"reminder": form.explain(error, {"duration": "duration_s"})}, 400)
    flash(_("Reminder added."), "ok")
    return redirect(url_for("console.schedules"))


def _delete(model, kind: str, row_id: int, describe: Callable):
    # No screen needs new media after a deletion, so nothing is rendered.
    def change(session, at):
        row = session.get(model, row_id)
        before = describe(row) if row is not None else None
        content.delete_rule(session, model, row_id)
        return Done(f"{kind}:{row_id}", before=before)

    done, error = _apply(f"{kind}.delete", change, sync=False)
    flash(error or _("Deleted."), "error" if error else "ok")
    return redirect(url_for("console.schedules"))


@bp.post("/schedules/<int:schedule_id>/delete")
@require("staff")
def delete_schedule(schedule_id: int):
    """Remove a schedule; its screens fall back to their other rules, or the default poster."""
    return _delete(ScheduleRow, "schedule", schedule_id, _describe_schedule)


@bp.post("/reminders/<int:reminder_id>/delete")
@require("staff")
def delete_reminder(reminder_id: int):
    """Remove a reminder slot."""
    return _delete(ReminderRow, "reminder", reminder_id, _describe_reminder)


# --- emergency takeover --------------------------------------------------------------------------------------

section("console.takeover", _l("Emergency takeover"), "staff")


def reach_seconds(poll_after_s: float) -> int:
    """How long, at most, until every player has polled once: the poll interval plus its random fifth
    (player.js), plus a few seconds to download the media."""
    return math.ceil(poll_after_s * 1.2) + 5


def _until(form: TakeoverForm, at: datetime) -> datetime:
    """The takeover's end: `minutes` from now, or the local date and time in `until` when that is chosen."""
    if form.expiry.data == "until":
        return form.until.data.replace(tzinfo=ZoneInfo(DEFAULT_TZ))
    return at + timedelta(minutes=form.minutes.data)


def _takeover_page(error: str | None = None, status: int = 200):
    session, at = get_session(), now()
    active = session.scalars(select(OverrideRow).where(OverrideRow.end > at.astimezone(UTC))
                             .order_by(OverrideRow.start)).all()
    seconds = reach_seconds(float(current_app.config["POLL_AFTER_S"]))
    return render_template("staff/takeover.html", error=error, form=request.form if error else ImmutableMultiDict(),
                           active=active, reach_s=seconds, reach_min=math.ceil(seconds / 60),
                           poll_s=current_app.config["POLL_AFTER_S"], describe=lambda k: _describe(session, k),
                           **_choices(session)), status


@bp.get("/takeover")
@require("staff")
def takeover():
    """The takeover form and the takeovers running now."""
    return _takeover_page()


@bp.post("/takeover")
@require("staff")
def start_takeover():
    """Start a takeover now, above every schedule, until its expiry; or show why it was refused."""
    form = TakeoverForm()

    def change(session, at):
        f = form.checked()
        key = f["content"]
        if f["fit"] == "cover" and key.startswith("asset:"):
            key += ":cover"
        row = content.add_override(session, key, start=at, end=_until(form, at), name=f["name"].strip(),
                                   **form.targets())
        return Done(f"override:{row.id}", after={"content": key, "start": row.start, "end": row.end,
                                                  **_describe_targets(row)})

    done, error = _apply("override.start", change)
    if error:
        return _takeover_page(form.explain(error, {"end": "until" if form.expiry.data == "until" else "minutes"}), 400)
    flash(_("Takeover started: screens show it within about %(n)s seconds.",
            n=reach_seconds(float(current_app.config["POLL_AFTER_S"]))), "ok")
    return redirect(url_for("console.takeover"))


@bp.post("/takeover/<int:override_id>/end")
@require("staff")
def end_takeover(override_id: int):
    """End a takeover now: screens go back to their schedule at their next poll."""

    def change(session, at):
        row = content.end_override(session, override_id, at)
        return Done(f"override:{override_id}", after={"end": at}, before={"content": row.content, "end": row.end})

    done, error = _apply("override.end", change, sync=False)
    flash(error or _("Takeover ended: screens go back to their schedule at their next poll."),
          "error" if error else "ok")
    return redirect(url_for("console.takeover"))


# --- users ---------------------------------------------------------------------------------------------------

section("console.users", _l("Users"), "admin")


# The pages themselves are in server/console_people.py (the section stays here to keep the home page's order).


# --- offline exports -----------------------------------------------------------------------------------------

section("console.exports", _l("USB and print"), "staff")


@bp.get("/exports")
@require("staff")
def exports():
    """Forms for the staff downloads: a USB bundle for a screen or a group, and print-ready PDFs."""
    choices = _choices(get_session())
    return render_template("staff/exports.html", screens=choices["screens"], groups=choices["groups"])


# --- audit log -----------------------------------------------------------------------------------------------

section("console.audit_log", _l("Audit log"), "admin")


@bp.get("/audit")
@require("admin")
def audit_log():
    """The latest changes, newest first (admins only)."""
    entries = get_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)).all()
    return render_template("staff/audit.html", entries=entries)
