"""The JSON API of staff (posters, assets, playlists, schedules, reminders, overrides, screens, groups) and its
OpenAPI document, which also describes the players' and the pairing routes.

Each staff route is declared once with `endpoint(...)`, which registers it, guards it with its role, validates
its JSON body with its pydantic model (server/schemas.py) and records it for the OpenAPI document, so the
document cannot forget a route nor drift from what the route accepts. Every change runs in one transaction with
its audit entry and the media it needs (sync_renditions); a refused change leaves nothing behind.

Bad input is answered 400 with {"error", "message"} naming the field (400 rather than 422 so that one status
means "fix the request" whether the schema or the domain found the fault); a body over JSON_MAX_BYTES 413; a
body that is not JSON 415.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assets.ingest import IngestError, ingest
from playlists import content
from playlists.content import ContentError, ContentNotFound, store_ingested, sync_renditions
from playlists.models import (
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
from playlists.screens import ScreenError, add_screen, retire_screen, save_group
from playlists.users import audit
from renderer import PosterSpec, RenderError, encode, get_profile, render_poster
from renderer.errors import Problem

from . import schemas
from .auth import actor, require
from .db import get_session, get_store
from .errors import error_response, refusal_response
from .i18n import say
from .openapi import Operation, document
from .player import now
from .worker import run_heavy

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# What a record is called in a message (by its table's name, singular).
_KINDS = {"poster": _l("poster"), "playlist": _l("playlist"), "schedule": _l("schedule"), "reminder": _l("reminder"),
          "override": _l("takeover"), "screen": _l("screen"), "group": _l("group")}
ROUTES: list[Operation] = []  # what the OpenAPI document describes of this blueprint


def read_json(model: type[schemas.M]) -> schemas.M:
    """The request's JSON body validated as model; BodyError (400, 413) or 415 when it is not JSON at all."""
    limit = int(current_app.config["JSON_MAX_BYTES"])
    if (request.content_length or 0) > limit:
        raise schemas.BodyError(Problem("body too large: got %(size)s bytes, expected at most %(limit)s",
                                        code="body.too_large", size=request.content_length, limit=limit), 413)
    raw = request.stream.read(limit + 1)
    if not request.is_json:
        if not raw and not request.mimetype:
            raise schemas.BodyError(Problem("expected a JSON object body (Content-Type: application/json); send one",
                                            code="body.empty"))
        raise schemas.BodyError(Problem("Content-Type: got %(got)s, expected application/json; send the body as JSON",
                                        code="body.content_type", got=repr(request.mimetype or "none")), 415)
    return schemas.load(model, raw, max_bytes=limit, max_depth=int(current_app.config["JSON_MAX_DEPTH"]))


def endpoint(rule: str, method: str, role: str, summary: str, body: type[BaseModel] | dict | None = None,
             status: int = 200, answer: type[BaseModel] | None = None, many: bool = False, errors: tuple = ()):
    """Register a route of this API: its role, its body model (validated before the view runs, passed as
    body=...), and its line in the OpenAPI document. body={"file": "binary"} documents a multipart upload that
    the view reads itself."""

    def decorator(view: Callable):
        model = body if isinstance(body, type) else None

        @functools.wraps(view)
        def answering(*args, **kwargs):
            try:
                if model is not None:
                    kwargs["body"] = read_json(model)
                return view(*args, **kwargs)
            except schemas.BodyError as exc:
                return error_response(exc.status, exc.message, exc.code, exc.field)

        guarded = require(role)(answering)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
        # A session call with an unsafe method and no CSRF token is a 400 even without a body.
        codes = set(errors) | ({400, 409, 413, 415} if model is not None else set()) \
            | ({404} if "<int:" in rule else set()) | ({400} if method != "GET" else set())
        ROUTES.append(Operation(f"/api/v1{rule}", method, summary, ("staff",), role=role, request=body,
                                status=status, answer=answer, many=many, errors=tuple(sorted(codes))))
        return guarded

    return decorator


def _change(action: str, make: Callable, describe: Callable, status: int = 200, screens: list[str] | None = None):
    """Run make(session) with its audit entry and media in one transaction; answer describe(result) as JSON.

    The work (queries, renders of new media, the commit) runs in the worker's heavy-work thread, with this
    request's context, so that rendering a poster for every screen size never stalls the players' answers.
    `screens`: the only screens whose media the change can concern (a new screen), or None for any."""
    session = get_session()

    def work():
        result = make(session)
        session.flush()
        sync_renditions(session, get_store(), now(), screens)
        doc = describe(result)
        audit(session, actor(), action, _target(action, doc), now(), after=doc)
        session.commit()
        return doc

    try:
        doc = run_heavy(contextvars.copy_context().run, work)
    except ContentNotFound as exc:
        session.rollback()
        return refusal_response(404, exc)
    except (ContentError, ScreenError, RenderError) as exc:
        session.rollback()
        return refusal_response(400, exc)
    except IntegrityError:
        session.rollback()
        return error_response(409, _("That conflicts with an existing record; reload and try again."), "conflict")
    return jsonify(doc), status


def _target(action: str, doc: object) -> str:
    kind = action.split(".")[0]
    ident = doc.get("id") if isinstance(doc, dict) else None
    return f"{kind}:{ident}" if ident is not None else kind


# --- descriptions -----------------------------------------------------------------------------------------

def _poster_doc(poster: Poster) -> dict:
    renditions = get_session().scalars(select(Rendition).where(Rendition.content == f"poster:{poster.id}")
                                       .order_by(Rendition.profile)).all()
    return {"id": poster.id, "name": poster.name, "content": f"poster:{poster.id}", "default": poster.is_default,
            "spec": json.loads(poster.spec_json),
            "renditions": [{"profile": r.profile, "url": f"/media/{r.sha256}.{r.media.ext}",
                            **json.loads(r.report_json)} for r in renditions]}


def _media_doc(media: Media) -> dict:
    return {"sha256": media.sha256, "kind": media.kind, "width": media.width, "height": media.height,
            "bytes": media.bytes, "label": media.label, "content": f"asset:{media.sha256}",
            "url": f"/media/{media.sha256}.{media.ext}"}


def _playlist_doc(playlist: PlaylistRow) -> dict:
    return {"id": playlist.id, "name": playlist.name,
            "items": [{"content": i.content, "duration_s": i.duration_s} for i in playlist.items]}


def _target_doc(row) -> dict:
    return {"screens": [s.id for s in row.screens], "groups": [g.name for g in row.groups],
            "everywhere": row.everywhere}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _schedule_doc(row: ScheduleRow) -> dict:
    return {"id": row.id, "name": row.name, "playlist_id": row.playlist_id, "priority": row.priority,
            "start_date": _iso(row.start_date), "end_date": _iso(row.end_date),
            "weekdays": [int(d) for d in row.weekdays], "start_time": _iso(row.start_time),
            "end_time": _iso(row.end_time), **_target_doc(row)}


def _reminder_doc(row: ReminderRow) -> dict:
    return {"id": row.id, "name": row.name, "content": row.content, "duration_s": row.duration_s,
            "every_min": row.every_min, "start_time": _iso(row.start_time), "end_time": _iso(row.end_time),
            **_target_doc(row)}


def _override_doc(row: OverrideRow) -> dict:
    return {"id": row.id, "name": row.name, "content": row.content, "start": as_utc(row.start).isoformat(),
            "end": as_utc(row.end).isoformat(), **_target_doc(row)}


def _screen_doc(screen: Screen) -> dict:
    return {"id": screen.id, "name": screen.name, "site": screen.site, "district": screen.district,
            "profile": screen.profile, "tz": screen.tz, "groups": [g.name for g in screen.groups]}


def _list(model, describe: Callable, order):
    return jsonify([describe(row) for row in get_session().scalars(select(model).order_by(order))])


def _one(model, ident, describe: Callable):
    row = get_session().get(model, ident)
    if row is None:
        kind = model.__tablename__[:-1]
        return error_response(404, _("There is no %(kind)s %(id)s.", kind=_KINDS.get(kind, kind), id=ident),
                              "record.unknown")
    return jsonify(describe(row))


# --- posters ----------------------------------------------------------------------------------------------

@endpoint("/posters", "GET", "staff", "List posters with their renditions and QR reports",
          answer=schemas.PosterOut, many=True)
def list_posters():
    return _list(Poster, _poster_doc, Poster.id)


@endpoint("/posters", "POST", "staff", "Create a poster; it is rendered for every profile that shows it",
          body=schemas.PosterCreate, status=201, answer=schemas.PosterOut)
def create_poster(body: schemas.PosterCreate):
    return _change("poster.create", lambda s: content.add_poster(s, body.spec.spec(), now(), name=body.name),
                   _poster_doc, 201)


@endpoint("/posters/<int:poster_id>", "GET", "staff", "One poster", answer=schemas.PosterOut)
def get_poster(poster_id: int):
    return _one(Poster, poster_id, _poster_doc)


@endpoint("/posters/<int:poster_id>", "PUT", "staff", "Change what a poster says; it is rendered again",
          body=schemas.PosterUpdate, answer=schemas.PosterOut)
def update_poster(poster_id: int, body: schemas.PosterUpdate):
    return _change("poster.update", lambda s: content.update_poster(s, poster_id, body.spec.spec(), now()),
                   _poster_doc)


@endpoint("/posters/preview", "POST", "staff", "Render a spec on some profiles without saving: PNG data URLs "
          "and QR reports", body=schemas.PreviewRequest, answer=schemas.Previews)
def preview_poster(body: schemas.PreviewRequest):
    spec = body.spec.spec()
    return jsonify({"previews": [_preview(spec, name) for name in dict.fromkeys(body.profiles)]})


def _preview(spec: PosterSpec, name: str) -> dict:
    profile = get_profile(name)
    try:
        poster = render_poster(spec, profile)
    except RenderError as exc:
        return {"profile": name, "error": say(exc), "code": exc.code}
    png = base64.b64encode(encode(poster.image, "PNG", profile)).decode("ascii")
    return {"profile": name, "width": profile.width, "height": profile.height, "qr_ok": poster.qr is not None,
            "scan_m": poster.qr.scan_m if poster.qr else None, "report": poster.report(),
            "image": f"data:image/png;base64,{png}"}


# --- assets -----------------------------------------------------------------------------------------------

@endpoint("/assets", "GET", "staff", "List uploaded images", answer=schemas.MediaOut, many=True)
def list_assets():
    rows = get_session().scalars(select(Media).where(Media.kind == "image").order_by(Media.created_at.desc()))
    return jsonify([_media_doc(m) for m in rows])


@endpoint("/assets", "POST", "staff", "Upload an image (multipart field `file`): checked, cleaned, stored once",
          body={"file": "binary"}, status=201)
def upload_asset():
    upload = request.files.get("file")
    if upload is None:
        return error_response(400, _("expected a multipart/form-data body with the image in the field `file`"),
                              "upload.no_file", "file")
    # Werkzeug has spooled the file to a temporary file (above 500 KB): ingest reads it from there, in a thread
    # off the worker's event loop, one upload at a time per worker (server/worker.py), so that memory stays
    # bounded however many arrive at once.
    config = current_app.config
    clean = functools.partial(ingest, upload.stream, upload.filename or "", max_bytes=config["UPLOAD_MAX_BYTES"],
                              max_pixels=config["IMAGE_MAX_PIXELS"])
    try:
        cleaned = run_heavy(clean)
    except IngestError as exc:
        return refusal_response(exc.status, exc)
    session = get_session()
    try:
        media, created = store_ingested(session, get_store(), cleaned, now())
        doc = _media_doc(media) | {"notes": list(cleaned.notes)}
        if created:
            audit(session, actor(), "asset.upload", f"asset:{media.sha256}", now(), after=doc)
        session.commit()
    except IntegrityError:
        # The same image uploaded twice at the same moment: the other request stored it; answer with that.
        session.rollback()
        media, created = session.get(Media, cleaned.sha256), False
        doc = _media_doc(media) | {"notes": list(cleaned.notes)}
    return jsonify(doc), 201 if created else 200


def _document_upload() -> None:
    # The upload view reads its own multipart body; what it answers is written down here.
    index = next(i for i, op in enumerate(ROUTES) if op.rule == "/api/v1/assets" and op.method == "POST")
    ROUTES[index] = replace(ROUTES[index], answer=schemas.MediaOut, errors=(400, 409, 413, 415), more={
        200: ("the same image was uploaded before: nothing new is stored", schemas.MediaOut, {})})


_document_upload()


# --- playlists --------------------------------------------------------------------------------------------

@endpoint("/playlists", "GET", "staff", "List playlists", answer=schemas.PlaylistOut, many=True)
def list_playlists():
    return _list(PlaylistRow, _playlist_doc, PlaylistRow.id)


def _items(items: list[schemas.PlaylistItemIn]) -> list[tuple[str, int]]:
    return [(i.content, i.duration_s) for i in items]


@endpoint("/playlists", "POST", "staff", "Create a playlist", status=201, body=schemas.PlaylistCreate,
          answer=schemas.PlaylistOut)
def create_playlist(body: schemas.PlaylistCreate):
    return _change("playlist.create", lambda s: content.add_playlist(s, body.name, _items(body.items)),
                   _playlist_doc, 201)


@endpoint("/playlists/<int:playlist_id>", "GET", "staff", "One playlist", answer=schemas.PlaylistOut)
def get_playlist(playlist_id: int):
    return _one(PlaylistRow, playlist_id, _playlist_doc)


@endpoint("/playlists/<int:playlist_id>", "PUT", "staff", "Replace a playlist's items", body=schemas.PlaylistUpdate,
          answer=schemas.PlaylistOut)
def update_playlist(playlist_id: int, body: schemas.PlaylistUpdate):
    return _change("playlist.update", lambda s: content.set_playlist_items(s, playlist_id, _items(body.items)),
                   _playlist_doc)


@endpoint("/playlists/<int:playlist_id>", "DELETE", "staff", "Delete a playlist no schedule plays",
          answer=schemas.Deleted, errors=(400, 409))
def delete_playlist(playlist_id: int):
    return _change("playlist.delete", lambda s: content.delete_playlist(s, playlist_id),
                   lambda _: {"id": playlist_id, "deleted": True})


# --- schedules and reminders ------------------------------------------------------------------------------

@endpoint("/schedules", "GET", "staff", "List schedules", answer=schemas.ScheduleOut, many=True)
def list_schedules():
    return _list(ScheduleRow, _schedule_doc, ScheduleRow.id)


@endpoint("/schedules", "POST", "staff", "Schedule a playlist on screens and groups", status=201,
          body=schemas.ScheduleCreate, answer=schemas.ScheduleOut)
def create_schedule(body: schemas.ScheduleCreate):
    return _change("schedule.create", lambda s: content.add_schedule(
        s, body.playlist_id, name=body.name, priority=body.priority, start_date=body.start_date,
        end_date=body.end_date, weekdays=body.weekdays, start_time=body.start_time, end_time=body.end_time,
        **body.targets()), _schedule_doc, 201)


@endpoint("/schedules/<int:schedule_id>", "DELETE", "staff", "Delete a schedule", answer=schemas.Deleted,
          errors=(409,))
def delete_schedule(schedule_id: int):
    return _change("schedule.delete", lambda s: content.delete_rule(s, ScheduleRow, schedule_id),
                   lambda _: {"id": schedule_id, "deleted": True})


@endpoint("/reminders", "GET", "staff", "List reminder slots", answer=schemas.ReminderOut, many=True)
def list_reminders():
    return _list(ReminderRow, _reminder_doc, ReminderRow.id)


@endpoint("/reminders", "POST", "staff", "Show content every N minutes for D seconds", status=201,
          body=schemas.ReminderCreate, answer=schemas.ReminderOut)
def create_reminder(body: schemas.ReminderCreate):
    return _change("reminder.create", lambda s: content.add_reminder(
        s, body.content, duration_s=body.duration_s, every_min=body.every_min, name=body.name,
        start_time=body.start_time, end_time=body.end_time, **body.targets()), _reminder_doc, 201)


@endpoint("/reminders/<int:reminder_id>", "DELETE", "staff", "Delete a reminder slot", answer=schemas.Deleted,
          errors=(409,))
def delete_reminder(reminder_id: int):
    return _change("reminder.delete", lambda s: content.delete_rule(s, ReminderRow, reminder_id),
                   lambda _: {"id": reminder_id, "deleted": True})


# --- overrides --------------------------------------------------------------------------------------------

@endpoint("/overrides", "GET", "staff", "List emergency overrides", answer=schemas.OverrideOut, many=True)
def list_overrides():
    return _list(OverrideRow, _override_doc, OverrideRow.id)


@endpoint("/overrides", "POST", "staff", "Take over screens now (or from start) until end or for minutes",
          status=201, body=schemas.OverrideCreate, answer=schemas.OverrideOut)
def create_override(body: schemas.OverrideCreate):
    def make(session):
        start = body.start or now()
        end = body.end or start + timedelta(minutes=body.minutes)
        return content.add_override(session, body.content, start=start, end=end, name=body.name, **body.targets())

    return _change("override.create", make, _override_doc, 201)


@endpoint("/overrides/<int:override_id>/end", "POST", "staff", "End an override now; the schedule comes back",
          answer=schemas.Ended, errors=(400, 409))
def end_override(override_id: int):
    return _change("override.end", lambda s: content.end_override(s, override_id, now()),
                   lambda row: {"id": override_id, "ended": True})


# --- screens and groups -----------------------------------------------------------------------------------

@endpoint("/screens", "GET", "staff", "List screens in service", answer=schemas.ScreenOut, many=True)
def list_screens():
    rows = get_session().scalars(select(Screen).where(Screen.retired_at.is_(None)).order_by(Screen.id))
    return jsonify([_screen_doc(row) for row in rows])


@endpoint("/screens/<screen_id>", "DELETE", "admin", "Retire a screen: its token stops working and it leaves the "
          "network; its history stays and its id is not given out again", answer=schemas.ScreenRetired,
          errors=(404,))
def retire_screen_api(screen_id: str):
    def make(session):
        screen = session.get(Screen, screen_id)
        if screen is None or screen.retired_at is not None:
            raise ContentNotFound("there is no screen %(id)s", code="screen.unknown", field="id", id=screen_id[:64])
        return retire_screen(session, screen_id, now())

    return _change("screen.retire", make, lambda screen: {"id": screen.id, "retired": True})


@endpoint("/screens", "POST", "admin", "Register a screen; the answer carries its device token, shown once",
          status=201, body=schemas.ScreenCreate, answer=schemas.ScreenCreated)
def create_screen(body: schemas.ScreenCreate):
    holder = {}

    def make(session):
        holder["token"] = add_screen(session, body.id, body.profile, now(), name=body.name, site=body.site,
                                     district=body.district, tz=body.tz, groups=body.groups)
        return session.get(Screen, body.id)

    response = _change("screen.create", make, _screen_doc, 201, screens=[body.id])
    if response[1] == 201:
        response[0].set_data(json.dumps(response[0].get_json() | {"token": holder["token"]}, ensure_ascii=False))
        response[0].headers["Cache-Control"] = "no-store"  # a secret: no cache may keep it
    return response


@endpoint("/groups", "GET", "staff", "List groups with their screens", answer=schemas.GroupOut, many=True)
def list_groups():
    rows = get_session().scalars(select(Group).order_by(Group.name))
    return jsonify([_group_doc(g) for g in rows])


def _group_doc(group: Group) -> dict:
    return {"name": group.name, "label_vi": group.label_vi, "label_en": group.label_en,
            "screens": sorted(s.id for s in group.screens if s.retired_at is None)}


@endpoint("/groups/<name>", "PUT", "staff", "Set a group's display names in Vietnamese and English",
          body=schemas.GroupLabels, answer=schemas.GroupOut, errors=(404,))
def set_group_labels(name: str, body: schemas.GroupLabels):
    def make(session):
        group = session.scalar(select(Group).where(Group.name == name))
        if group is None:
            raise ContentNotFound("there is no group %(names)s", code="group.unknown", field="name", names=name[:64])
        return save_group(session, group, group.name, body.label_vi, body.label_en)

    return _change("group.labels", make, _group_doc)


# --- the document -----------------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of the whole JSON API (public: it says what exists, not what is in it)."""
    return jsonify(document(ROUTES))
