"""The staff JSON API: posters, assets, playlists, schedules, reminders, overrides, screens and groups.

Each route is declared once with `endpoint(...)`, which registers it, guards it with its role and records it
for the OpenAPI document, so the document cannot forget a route. Every change runs in one transaction with
its audit entry and the media it needs (sync_renditions); a refused change leaves nothing behind.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assets.ingest import IngestError, ingest, store_ingested
from playlists import content
from playlists.content import ContentError, ContentNotFound, sync_renditions
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
from playlists.screens import ScreenError, add_screen
from playlists.users import audit
from renderer import CATALOG, PosterSpec, RenderError, encode, get_profile, render_poster

from .auth import actor, require
from .db import get_session, get_store
from .errors import error_response
from .player import now

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ROUTES: list[dict] = []  # what the OpenAPI document describes
MAX_PREVIEWS = 6


class BadRequest(ValueError):
    """A request body that is not what the route takes."""


def endpoint(rule: str, method: str, role: str, summary: str, body: dict | None = None, status: int = 200):
    """Register a route of this API: its role, and its line in the OpenAPI document."""

    def decorator(view: Callable):
        @functools.wraps(view)
        def answering(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except BadRequest as exc:
                return error_response(400, str(exc))

        guarded = require(role)(answering)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
        ROUTES.append({"rule": rule, "method": method.lower(), "role": role, "summary": summary, "body": body,
                       "status": status})
        return guarded

    return decorator


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object body (Content-Type: application/json)")
    return data


def _change(action: str, make: Callable, describe: Callable, status: int = 200):
    """Run make(session) with its audit entry and media in one transaction; answer describe(result) as JSON."""
    session = get_session()
    try:
        result = make(session)
        session.flush()
        sync_renditions(session, get_store(), now())
        doc = describe(result)
        audit(session, actor(), action, _target(action, doc), now(), after=doc)
        session.commit()
    except ContentNotFound as exc:
        session.rollback()
        return error_response(404, str(exc))
    except (BadRequest, ContentError, ScreenError, RenderError) as exc:
        session.rollback()
        return error_response(400, str(exc))
    except IntegrityError:
        session.rollback()
        return error_response(409, "that conflicts with an existing record")
    return jsonify(doc), status


def _target(action: str, doc: object) -> str:
    kind = action.split(".")[0]
    ident = doc.get("id") if isinstance(doc, dict) else None
    return f"{kind}:{ident}" if ident is not None else kind


# --- parsing ----------------------------------------------------------------------------------------------

def _opt(data: dict, key: str, parse: Callable, what: str):
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{key}: got {value!r:.60}, expected {what}") from None


def _date(value: str) -> date:
    return date.fromisoformat(value)


def _time(value: str) -> time:
    return time.fromisoformat(value)


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive")
    return moment


def _targets(data: dict) -> dict:
    screens, groups = data.get("screens", []), data.get("groups", [])
    if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in (screens, groups)):
        raise BadRequest("screens and groups: expected lists of ids and group names")
    everywhere = data.get("everywhere", False)
    if not isinstance(everywhere, bool):
        raise BadRequest(f"everywhere: got {everywhere!r}, expected true or false")
    return {"screens": screens, "groups": groups, "everywhere": everywhere}


def _items(data: dict) -> list[tuple[str, int]]:
    items = data.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequest('items: expected a list of {"content": "poster:1", "duration_s": 15}')
    return [(i.get("content"), i.get("duration_s")) for i in items]


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
        return error_response(404, f"no {model.__tablename__[:-1]} {ident}")
    return jsonify(describe(row))


# --- posters ----------------------------------------------------------------------------------------------

@endpoint("/posters", "GET", "staff", "List posters with their renditions and QR reports")
def list_posters():
    return _list(Poster, _poster_doc, Poster.id)


@endpoint("/posters", "POST", "staff", "Create a poster; it is rendered for every profile that shows it",
          body={"name": "string", "spec": "PosterSpec"}, status=201)
def create_poster():
    data = _body()
    return _change("poster.create", lambda s: content.add_poster(s, data.get("spec", {}), now(),
                                                                  name=data.get("name") or ""), _poster_doc, 201)


@endpoint("/posters/<int:poster_id>", "GET", "staff", "One poster")
def get_poster(poster_id: int):
    return _one(Poster, poster_id, _poster_doc)


@endpoint("/posters/<int:poster_id>", "PUT", "staff", "Change what a poster says; it is rendered again",
          body={"spec": "PosterSpec"})
def update_poster(poster_id: int):
    data = _body()
    return _change("poster.update", lambda s: content.update_poster(s, poster_id, data.get("spec", {}), now()),
                   _poster_doc)


@endpoint("/posters/preview", "POST", "staff", "Render a spec on some profiles without saving: PNG data URLs "
          "and QR reports", body={"spec": "PosterSpec", "profiles": ["profile name"]})
def preview_poster():
    try:
        data = _body()
        spec = PosterSpec.from_dict(data.get("spec", {}))
        names = data.get("profiles") or ["tv-1080p"]
        if not isinstance(names, list) or not 0 < len(names) <= MAX_PREVIEWS or any(n not in CATALOG for n in names):
            raise BadRequest(f"profiles: expected 1 to {MAX_PREVIEWS} of {', '.join(CATALOG)}")
        spec.resolved()
    except (BadRequest, RenderError) as exc:
        return error_response(400, str(exc))
    return jsonify({"previews": [_preview(spec, name) for name in names]})


def _preview(spec: PosterSpec, name: str) -> dict:
    profile = get_profile(name)
    try:
        poster = render_poster(spec, profile)
    except RenderError as exc:
        return {"profile": name, "error": str(exc)}
    png = base64.b64encode(encode(poster.image, "PNG", profile)).decode("ascii")
    return {"profile": name, "width": profile.width, "height": profile.height, "qr_ok": poster.qr is not None,
            "scan_m": poster.qr.scan_m if poster.qr else None, "report": poster.report(),
            "image": f"data:image/png;base64,{png}"}


# --- assets -----------------------------------------------------------------------------------------------

@endpoint("/assets", "GET", "staff", "List uploaded images")
def list_assets():
    rows = get_session().scalars(select(Media).where(Media.kind == "image").order_by(Media.created_at.desc()))
    return jsonify([_media_doc(m) for m in rows])


@endpoint("/assets", "POST", "staff", "Upload an image (multipart field `file`): checked, cleaned, stored once",
          body={"file": "binary"}, status=201)
def upload_asset():
    upload = request.files.get("file")
    if upload is None:
        return error_response(400, "expected a multipart/form-data body with the image in the field `file`")
    try:
        cleaned = ingest(upload.read(), upload.filename or "", max_bytes=current_app.config["UPLOAD_MAX_BYTES"])
    except IngestError as exc:
        return error_response(exc.status, exc.message)
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


# --- playlists --------------------------------------------------------------------------------------------

@endpoint("/playlists", "GET", "staff", "List playlists")
def list_playlists():
    return _list(PlaylistRow, _playlist_doc, PlaylistRow.id)


@endpoint("/playlists", "POST", "staff", "Create a playlist", status=201,
          body={"name": "string", "items": [{"content": "poster:1 | asset:<sha256>[:cover]", "duration_s": 15}]})
def create_playlist():
    data = _body()
    return _change("playlist.create", lambda s: content.add_playlist(s, data.get("name"), _items(data)),
                   _playlist_doc, 201)


@endpoint("/playlists/<int:playlist_id>", "GET", "staff", "One playlist")
def get_playlist(playlist_id: int):
    return _one(PlaylistRow, playlist_id, _playlist_doc)


@endpoint("/playlists/<int:playlist_id>", "PUT", "staff", "Replace a playlist's items",
          body={"items": [{"content": "string", "duration_s": 15}]})
def update_playlist(playlist_id: int):
    data = _body()
    return _change("playlist.update", lambda s: content.set_playlist_items(s, playlist_id, _items(data)),
                   _playlist_doc)


@endpoint("/playlists/<int:playlist_id>", "DELETE", "staff", "Delete a playlist no schedule plays")
def delete_playlist(playlist_id: int):
    return _change("playlist.delete", lambda s: content.delete_playlist(s, playlist_id),
                   lambda _: {"id": playlist_id, "deleted": True})


# --- schedules and reminders ------------------------------------------------------------------------------

@endpoint("/schedules", "GET", "staff", "List schedules")
def list_schedules():
    return _list(ScheduleRow, _schedule_doc, ScheduleRow.id)


@endpoint("/schedules", "POST", "staff", "Schedule a playlist on screens and groups", status=201, body={
    "playlist_id": 1, "name": "string", "priority": 0, "start_date": "YYYY-MM-DD", "end_date": "YYYY-MM-DD",
    "weekdays": [0, 1, 2, 3, 4, 5, 6], "start_time": "HH:MM", "end_time": "HH:MM", "screens": ["id"],
    "groups": ["name"], "everywhere": False})
def create_schedule():
    def make(session):
        data = _body()
        return content.add_schedule(
            session, data.get("playlist_id"), name=str(data.get("name") or ""), priority=data.get("priority", 0),
            start_date=_opt(data, "start_date", _date, "a date YYYY-MM-DD"),
            end_date=_opt(data, "end_date", _date, "a date YYYY-MM-DD"),
            weekdays=data.get("weekdays", list(range(7))),
            start_time=_opt(data, "start_time", _time, "a time HH:MM"),
            end_time=_opt(data, "end_time", _time, "a time HH:MM"), **_targets(data))

    return _change("schedule.create", make, _schedule_doc, 201)


@endpoint("/schedules/<int:schedule_id>", "DELETE", "staff", "Delete a schedule")
def delete_schedule(schedule_id: int):
    return _change("schedule.delete", lambda s: content.delete_rule(s, ScheduleRow, schedule_id),
                   lambda _: {"id": schedule_id, "deleted": True})


@endpoint("/reminders", "GET", "staff", "List reminder slots")
def list_reminders():
    return _list(ReminderRow, _reminder_doc, ReminderRow.id)


@endpoint("/reminders", "POST", "staff", "Show content every N minutes for D seconds", status=201, body={
    "content": "poster:1", "duration_s": 20, "every_min": 15, "start_time": "HH:MM", "end_time": "HH:MM",
    "screens": ["id"], "groups": ["name"], "everywhere": False})
def create_reminder():
    def make(session):
        data = _body()
        return content.add_reminder(
            session, data.get("content"), duration_s=data.get("duration_s"), every_min=data.get("every_min"),
            name=str(data.get("name") or ""), start_time=_opt(data, "start_time", _time, "a time HH:MM"),
            end_time=_opt(data, "end_time", _time, "a time HH:MM"), **_targets(data))

    return _change("reminder.create", make, _reminder_doc, 201)


@endpoint("/reminders/<int:reminder_id>", "DELETE", "staff", "Delete a reminder slot")
def delete_reminder(reminder_id: int):
    return _change("reminder.delete", lambda s: content.delete_rule(s, ReminderRow, reminder_id),
                   lambda _: {"id": reminder_id, "deleted": True})


# --- overrides --------------------------------------------------------------------------------------------

@endpoint("/overrides", "GET", "staff", "List emergency overrides")
def list_overrides():
    return _list(OverrideRow, _override_doc, OverrideRow.id)


@endpoint("/overrides", "POST", "staff", "Take over screens now (or from start) until end or for minutes",
          status=201, body={"content": "poster:1", "start": "ISO 8601 with offset (default now)",
                            "end": "ISO 8601 with offset", "minutes": 60, "screens": ["id"], "groups": ["name"],
                            "everywhere": False})
def create_override():
    def make(session):
        data = _body()
        start = _opt(data, "start", _instant, "an ISO 8601 time with a UTC offset") or now()
        end = _opt(data, "end", _instant, "an ISO 8601 time with a UTC offset")
        minutes = data.get("minutes")
        if end is None:
            if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= 7 * 24 * 60:
                raise BadRequest("give end, or minutes from 1 to 10080")
            end = start + timedelta(minutes=minutes)
        return content.add_override(session, data.get("content"), start=start, end=end,
                                    name=str(data.get("name") or ""), **_targets(data))

    return _change("override.create", make, _override_doc, 201)


@endpoint("/overrides/<int:override_id>/end", "POST", "staff", "End an override now; the schedule comes back")
def end_override(override_id: int):
    return _change("override.end", lambda s: content.end_override(s, override_id, now()),
                   lambda row: {"id": override_id, "ended": True})


# --- screens and groups -----------------------------------------------------------------------------------

@endpoint("/screens", "GET", "staff", "List screens")
def list_screens():
    return _list(Screen, _screen_doc, Screen.id)


@endpoint("/screens", "POST", "admin", "Register a screen; the answer carries its device token, shown once",
          status=201, body={"id": "string", "profile": "profile name", "name": "string", "site": "string",
                            "district": "string", "tz": "Asia/Ho_Chi_Minh", "groups": ["name"]})
def create_screen():
    holder = {}

    def make(session):
        data = _body()
        groups = data.get("groups", [])
        if not isinstance(groups, list):
            raise BadRequest("groups: expected a list of names")
        holder["token"] = add_screen(session, str(data.get("id", "")), str(data.get("profile", "")), now(),
                                     name=str(data.get("name") or ""), site=str(data.get("site") or ""),
                                     district=str(data.get("district") or ""),
                                     tz=str(data.get("tz") or "Asia/Ho_Chi_Minh"), groups=groups)
        return session.get(Screen, str(data.get("id")))

    response = _change("screen.create", make, _screen_doc, 201)
    if response[1] == 201:
        response[0].set_data(json.dumps(response[0].get_json() | {"token": holder["token"]}, ensure_ascii=False))
    return response


@endpoint("/groups", "GET", "staff", "List groups with their screens")
def list_groups():
    rows = get_session().scalars(select(Group).order_by(Group.name))
    return jsonify([{"name": g.name, "screens": sorted(s.id for s in g.screens)} for g in rows])


# --- the document -----------------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API (public: it says what exists, not what is in it)."""
    paths: dict = {}
    for route in ROUTES:
        path = route["rule"].replace("<int:", "{").replace(">", "}")
        params = [{"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "integer"}}
                  for p in path.split("/") if p.startswith("{")]
        op = {"summary": route["summary"], "x-required-role": route["role"], "parameters": params,
              "security": [{"session": []}, {"apiToken": []}],
              "responses": {str(route["status"]): {"description": "OK"},
                            "400": {"$ref": "#/components/responses/Error"},
                            "401": {"$ref": "#/components/responses/Error"},
                            "403": {"$ref": "#/components/responses/Error"}}}
        if route["body"] is not None:
            kind = "multipart/form-data" if "file" in route["body"] else "application/json"
            op["requestBody"] = {"required": True, "content": {kind: {"example": route["body"]}}}
        paths.setdefault(f"/api/v1{path}", {})[route["method"]] = op
    return jsonify({
        "openapi": "3.1.0",
        "info": {"title": "Bluezone signage staff API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "description": "signage token create NAME"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "console login; unsafe methods also need the X-CSRFToken header"},
            },
            "responses": {"Error": {"description": "what was wrong", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"},
                                                            "message": {"type": "string"}}}}}}},
        },
    })
