"""Writing what screens show: posters, playlists, schedules, reminders and overrides, and their media per profile.

Every function checks its input before touching the session and raises ContentError saying what was wrong, so
the caller can roll back and nothing is half-stored. Media for a screen's exact size are made here, when
content is saved (sync_renditions), never when a player polls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time

from PIL import Image
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assets.derive import FITS, fit_image
from assets.ingest import Ingested
from assets.store import MediaStore
from renderer import PosterSpec, RenderError, encode, get_profile, render_poster
from renderer.errors import N_, Term
from renderer.spec import bad_character, has_visible

from .models import (
    Group,
    Media,
    OverrideRow,
    PlaylistItem,
    PlaylistRow,
    Poster,
    ReminderRow,
    Rendition,
    ScheduleRow,
    Screen,
)
from .network import as_utc, needed_renditions, rendered
from .rules import (
    ALL_WEEKDAYS,
    Item,
    Override,
    Playlist,
    Reminder,
    RuleError,
    Schedule,
    check_aware,
    check_year,
)

_POSTER = re.compile(r"^poster:(\d{1,9})$")
_ASSET = re.compile(r"^asset:([0-9a-f]{64})(?::(contain|cover))?$")
MAX_ITEMS = 500
# Names of posters, playlists and rules (the database keeps 200 characters).
MAX_NAME = 200
# An item plays at most a day; the database keeps 32-bit integers, so every number has a bound.
MAX_DURATION_S = 24 * 3600
MAX_PRIORITY = 1000
MAX_ID = 2**31 - 1
# Screens and groups one rule may name.
MAX_TARGETS = 1000


class ContentError(RuleError):
    """Content or a rule that cannot be saved; the message says what was got and what was expected."""


class ContentNotFound(ContentError):
    """The record a change names does not exist."""


def _check(build) -> None:
    """Run a rules constructor purely to validate, turning its RuleError into a ContentError."""
    try:
        build()
    except RuleError as exc:
        raise ContentError(exc.text, exc.code, exc.field, **exc.params) from None


def check_name(what: str, value: object, *, required: bool = True, max_length: int = MAX_NAME,
               field: str | None = None) -> str:
    """Return a one-line name stripped of outer spaces; refuse non-text, control characters, lone surrogates,
    more than max_length characters, and (when required, or when given at all) no visible character."""
    if not isinstance(value, str):
        raise ContentError("%(what)s: got %(value)s, expected text", code="text.type", field=field, what=Term(what),
                           value=f"{value!r:.60}")
    if len(value) > max_length:
        raise ContentError("%(what)s: got %(length)s characters, expected at most %(limit)s; shorten it",
                           code="text.too_long", field=field, what=Term(what), length=len(value), limit=max_length)
    if bad := bad_character(value, keep=""):
        raise ContentError("%(what)s: got %(bad)s, expected one line of printable text", code="text.bad_character",
                           field=field, what=Term(what), bad=bad)
    name = value.strip()
    if (required or name) and not has_visible(name):
        raise ContentError("%(what)s: got %(value)s, expected at least one visible character", code="text.empty",
                           field=field, what=Term(what), value=f"{value!r:.60}")
    return name


def check_id(what: str, value: object, field: str | None = None) -> int:
    """Return value if it can be a record id (1 to 2**31 - 1); refuse anything else, bools included."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ContentError("%(what)s: got %(value)s, expected a record id from 1 to %(max)s", code="record.id",
                           field=field, what=Term(what), value=f"{value!r:.60}", max=MAX_ID)
    return value


def _check_int(what: str, value: object, low: int, high: int, field: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ContentError("%(what)s: got %(value)s, expected an integer from %(low)s to %(high)s",
                           code="number.out_of_range", field=field, what=Term(what), value=f"{value!r:.60}",
                           low=low, high=high)
    return value


def check_content(session: Session, content: str) -> None:
    """Refuse a content reference that is malformed or names no poster or image: 'poster:<id>',
    'asset:<sha256>' (letterboxed) or 'asset:<sha256>:cover' (cropped to fill)."""
    if not isinstance(content, str):
        raise ContentError("content: got %(content)s, expected 'poster:<id>' or 'asset:<sha256>[:cover]'",
                           code="content.malformed", field="content", content=repr(content))
    if m := _POSTER.match(content):
        if session.get(Poster, int(m.group(1))) is None:
            raise ContentError("There is no poster %(id)s (content %(content)s): choose a poster from the list",
                               code="content.no_poster", field="content", id=m.group(1), content=repr(content))
        return
    if m := _ASSET.match(content):
        media = session.get(Media, m.group(1))
        if media is None or media.kind != "image":
            raise ContentError("content: got %(content)s, but no uploaded image has that sha256; upload the image "
                               "first or choose another", code="content.no_image", field="content",
                               content=repr(content))
        return
    raise ContentError("content: got %(content)s, expected 'poster:<id>' or 'asset:<sha256>[:cover]'",
                       code="content.malformed", field="content", content=repr(content))


def _spec(spec: PosterSpec | dict) -> PosterSpec:
    try:
        spec = spec if isinstance(spec, PosterSpec) else PosterSpec.from_dict(spec)
        spec.resolved()
    except RenderError as exc:
        raise ContentError(exc.text, exc.code, exc.field, **exc.params) from None
    return spec


def add_poster(session: Session, spec: PosterSpec | dict, now: datetime, *, name: str = "",
               is_default: bool = False) -> Poster:
    """Store a poster spec (checked, not yet rendered: see sync_renditions)."""
    spec = _spec(spec)
    name = check_name(N_("poster name"), name, required=False, field="name")
    poster = Poster(name=name or spec.resolved().headline[:MAX_NAME], spec_json=json.dumps(spec.to_dict()),
                    is_default=is_default, created_at=now, updated_at=now)
    session.add(poster)
    session.flush()
    return poster


def update_poster(session: Session, poster_id: int, spec: PosterSpec | dict, now: datetime) -> Poster:
    """Change what a poster says; its old images stay in the store but no longer play."""
    poster = session.get(Poster, check_id(N_("poster id"), poster_id))
    if poster is None:
        raise ContentNotFound("poster: got id %(id)s, but there is no such poster", code="poster.not_found",
                              id=repr(poster_id))
    poster.spec_json, poster.updated_at = json.dumps(_spec(spec).to_dict()), now
    session.execute(delete(Rendition).where(Rendition.content == f"poster:{poster_id}"))
    return poster


def default_poster(session: Session, now: datetime) -> Poster:
    """The poster shown when nothing is scheduled (the official Bluezone install poster), created on first use."""
    poster = session.scalar(select(Poster).where(Poster.is_default).order_by(Poster.id).limit(1))
    if poster is None:
        poster = add_poster(session, PosterSpec(lang="vi-en"), now, name="Bluezone (default)", is_default=True)
    return poster


def _items(session: Session, items: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    if not items:
        raise ContentError("The playlist is empty: expected at least one item (content and seconds); add an item",
                           code="playlist.empty", field="items")
    if len(items) > MAX_ITEMS:
        raise ContentError("playlist items: got %(count)s, expected at most %(max)s", code="playlist.too_many",
                           field="items", count=len(items), max=MAX_ITEMS)
    checked = []
    for entry in items:
        try:
            content, duration_s = entry
        except (TypeError, ValueError):
            raise ContentError("playlist item: got %(entry)s, expected (content, duration_s)",
                               code="playlist.item", field="items", entry=repr(entry)) from None
        check_content(session, content)
        _check_int(f"item {content} duration_s", duration_s, 1, MAX_DURATION_S, field="duration")
        checked.append((content, duration_s))
    return checked


def add_playlist(session: Session, name: str, items: Sequence[tuple[str, int]]) -> PlaylistRow:
    """A named playlist of (content, duration_s) items, played in order."""
    name = check_name(N_("playlist name"), name, field="name")
    if session.scalar(select(PlaylistRow.id).where(PlaylistRow.name == name)) is not None:
        raise ContentError("A playlist named %(name)s exists already: choose another name",
                           code="playlist.name_taken", field="name", name=repr(name))
    checked = _items(session, items)
    playlist = PlaylistRow(name=name, items=[
        PlaylistItem(position=i, content=c, duration_s=d) for i, (c, d) in enumerate(checked)
    ])
    session.add(playlist)
    session.flush()
    return playlist


def set_playlist_items(session: Session, playlist_id: int, items: Sequence[tuple[str, int]]) -> PlaylistRow:
    """Replace a playlist's items."""
    playlist = session.get(PlaylistRow, check_id(N_("playlist id"), playlist_id))
    if playlist is None:
        raise ContentNotFound("playlist: got id %(id)s, but there is no such playlist", code="playlist.not_found",
                              id=repr(playlist_id))
    checked = _items(session, items)
    playlist.items = [PlaylistItem(position=i, content=c, duration_s=d) for i, (c, d) in enumerate(checked)]
    session.flush()
    return playlist


def delete_playlist(session: Session, playlist_id: int) -> None:
    """Remove a playlist; refuses one that a schedule still plays."""
    playlist = session.get(PlaylistRow, check_id(N_("playlist id"), playlist_id))
    if playlist is None:
        raise ContentNotFound("playlist: got id %(id)s, but there is no such playlist", code="playlist.not_found",
                              id=repr(playlist_id))
    used = session.scalars(select(ScheduleRow.id).where(ScheduleRow.playlist_id == playlist_id)).all()
    if used:
        raise ContentError("Playlist %(id)s is played by schedule(s) %(schedules)s: delete those schedules first",
                           code="playlist.in_use", id=playlist_id, schedules=[str(u) for u in used])
    session.delete(playlist)


def delete_rule(session: Session, kind: type, rule_id: int) -> None:
    """Remove a schedule or reminder (ScheduleRow or ReminderRow) by id."""
    row = session.get(kind, check_id(f"{kind.__tablename__[:-1]} id", rule_id))
    if row is None:
        raise ContentNotFound("%(what)s: got id %(id)s, but there is none", code="rule.not_found",
                              what=Term(kind.__tablename__[:-1]), id=repr(rule_id))
    session.delete(row)


def _targets(session: Session, rule, screens: Iterable[str], groups: Iterable[str], everywhere: bool) -> None:
    screens, groups = _names("screens", screens), _names("groups", groups)
    if not isinstance(everywhere, bool):
        raise ContentError("everywhere: got %(value)s, expected true or false", code="targets.everywhere",
                           field="everywhere", value=repr(everywhere))
    if not (screens or groups or everywhere):
        raise ContentError("Choose where it plays: got no screens, no groups and not everywhere, expected at least "
                           "one target", code="targets.none", field="targets")
    # A retired screen is out of service: naming it is naming an unknown screen.
    found = {s.id: s for s in session.scalars(select(Screen).where(Screen.id.in_(screens),
                                                                   Screen.retired_at.is_(None)))}
    if missing := [s for s in screens if s not in found]:
        raise ContentError("screens: got unknown %(names)s; choose screens from the list", code="targets.screens",
                           field="screens", names=[repr(m) for m in missing])
    named = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(groups)))}
    if missing := [g for g in groups if g not in named]:
        raise ContentError("groups: got unknown %(names)s; choose groups from the list", code="targets.groups",
                           field="groups", names=[repr(m) for m in missing])
    rule.screens = [found[s] for s in screens]
    rule.groups = [named[g] for g in groups]
    rule.everywhere = everywhere


def _names(what: str, values: Iterable[str]) -> list[str]:
    """Screen ids or group names, each once, checked as text before they reach a query."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ContentError("%(what)s: got %(value)s, expected a list of names", code="targets.not_list", field=what,
                           what=what, value=f"{values!r:.60}")
    values = list(dict.fromkeys(values))
    if len(values) > MAX_TARGETS:
        raise ContentError("%(what)s: got %(count)s, expected at most %(max)s", code="targets.too_many", field=what,
                           what=what, count=len(values), max=MAX_TARGETS)
    return [check_name(f"{what} entry", v, max_length=64, field=what) for v in values]


def add_schedule(session: Session, playlist_id: int, *, name: str = "", priority: int = 0,
                 start_date: date | None = None, end_date: date | None = None,
                 weekdays: Iterable[int] = ALL_WEEKDAYS, start_time: time | None = None,
                 end_time: time | None = None, screens: Iterable[str] = (), groups: Iterable[str] = (),
                 everywhere: bool = False) -> ScheduleRow:
    """Show a playlist on its targets; the rule's fields are checked as the resolver will read them."""
    playlist = session.get(PlaylistRow, check_id("playlist_id", playlist_id, field="playlist"))
    if playlist is None:
        raise ContentError("playlist: got %(id)s, but there is no such playlist; choose one from the list",
                           code="playlist.not_found", field="playlist", id=repr(playlist_id))
    name = check_name(N_("schedule name"), name, required=False, field="name")
    _check_int("priority", priority, -MAX_PRIORITY, MAX_PRIORITY, field="priority")
    probe = Playlist(0, (Item("probe", 1),))
    _check(lambda: Schedule(0, probe, priority, start_date, end_date, weekdays, start_time, end_time))
    _check(lambda: check_year("start_date", start_date))
    _check(lambda: check_year("end_date", end_date))
    row = ScheduleRow(name=name, playlist_id=playlist.id, priority=priority, start_date=start_date,
                      end_date=end_date, weekdays="".join(str(d) for d in sorted(set(weekdays))),
                      start_time=start_time, end_time=end_time)
    _targets(session, row, screens, groups, everywhere)
    session.add(row)
    session.flush()
    return row


def add_reminder(session: Session, content: str, *, duration_s: int, every_min: int, name: str = "",
                 start_time: time | None = None, end_time: time | None = None, screens: Iterable[str] = (),
                 groups: Iterable[str] = (), everywhere: bool = False) -> ReminderRow:
    """Show content for duration_s seconds every every_min minutes (from local midnight) on its targets."""
    check_content(session, content)
    name = check_name(N_("reminder name"), name, required=False, field="name")
    _check_int("duration_s", duration_s, 1, MAX_DURATION_S, field="duration")
    _check(lambda: Reminder(0, Item(content, duration_s), every_min, start_time, end_time))
    row = ReminderRow(name=name, content=content, duration_s=duration_s, every_min=every_min,
                      start_time=start_time, end_time=end_time)
    _targets(session, row, screens, groups, everywhere)
    session.add(row)
    session.flush()
    return row


def add_override(session: Session, content: str, *, start: datetime, end: datetime, name: str = "",
                 screens: Iterable[str] = (), groups: Iterable[str] = (), everywhere: bool = False) -> OverrideRow:
    """Take over the targets with content from start to end, above every schedule and reminder."""
    check_content(session, content)
    _check(lambda: check_aware("override start", start))
    _check(lambda: check_aware("override end", end))
    _check(lambda: check_year("override start", start))
    _check(lambda: check_year("override end", end))
    name = check_name(N_("override name"), name, required=False, field="name")
    _check(lambda: Override(0, Item(content, 1), start, end))
    # Stored in UTC: SQLite keeps no offset, so any other zone would come back shifted.
    row = OverrideRow(name=name, content=content, start=start.astimezone(UTC), end=end.astimezone(UTC))
    _targets(session, row, screens, groups, everywhere)
    session.add(row)
    session.flush()
    return row


def end_override(session: Session, override_id: int, now: datetime) -> OverrideRow:
    """Stop an override now (or drop it, if it has not started); ending an ended one changes nothing."""
    row = session.get(OverrideRow, check_id(N_("override id"), override_id))
    if row is None:
        raise ContentNotFound("override: got id %(id)s, but there is no such override", code="override.not_found",
                              id=repr(override_id))
    _check(lambda: check_aware("now", now))
    if now <= as_utc(row.start):
        session.delete(row)
    elif now < as_utc(row.end):
        row.end = now.astimezone(UTC)
    return row


def _render(session: Session, store: MediaStore, content: str, profile_name: str) -> tuple[bytes, dict]:
    profile = get_profile(profile_name)
    if m := _POSTER.match(content):
        poster = session.get(Poster, int(m.group(1)))
        spec = PosterSpec.from_dict(json.loads(poster.spec_json))
        try:
            rendered = render_poster(spec, profile)
        except RenderError as exc:
            raise ContentError("poster %(id)s (%(name)s) on %(profile)s: %(why)s", code=exc.code, field=exc.field,
                               id=poster.id, name=poster.name, profile=profile_name, why=exc) from None
        report = {"text": rendered.report(), "qr_ok": rendered.qr is not None,
                  "scan_m": rendered.qr.scan_m if rendered.qr else None, "dropped": list(rendered.dropped)}
        return encode(rendered.image, "PNG", profile), report
    m = _ASSET.match(content)
    media = session.get(Media, m.group(1))
    with store.open(media.sha256, media.ext) as fh, Image.open(fh) as image:
        fitted = fit_image(image, profile.size, m.group(2) or FITS[0])
    return encode(fitted, "PNG", profile), {"fit": m.group(2) or FITS[0]}


def sync_renditions(session: Session, store: MediaStore, now: datetime, screens: list[str] | None = None
                    ) -> list[tuple[str, str]]:
    """Make the media every screen (of `screens`, default all) needs at its exact size and return the
    (content, profile) pairs made.

    Ensures the default poster exists first. Refuses (ContentError) content that cannot be shown on a
    profile, such as a poster whose text cannot fit; the caller rolls back and nothing is recorded.
    """
    default_poster(session, now)
    session.flush()
    made = []
    needed = needed_renditions(session, screens)
    for content, profile in sorted(needed - rendered(session, needed)):
        data, report = _render(session, store, content, profile)
        sha = store.put(data, "png")
        if session.get(Media, sha) is None:
            size = get_profile(profile).size
            session.add(Media(sha256=sha, ext="png", kind="rendition", width=size[0], height=size[1],
                              bytes=len(data), label=f"{content} @ {profile}", created_at=now))
        session.add(Rendition(content=content, profile=profile, sha256=sha, report_json=json.dumps(report)))
        made.append((content, profile))
    session.flush()
    return made


def store_ingested(session: Session, store: MediaStore, ingested: Ingested, now: datetime) -> tuple[Media, bool]:
    """Store a cleaned upload and record it as an uploaded image; returns (media row, created).

    The same bytes again return the existing row with created False. The caller commits; call this only
    with the result of ingest(), so that a refused upload never reaches the store or the database."""
    store.put(ingested.data, ingested.ext)  # also restores the file should an existing row have lost it
    media = session.get(Media, ingested.sha256)
    if media is not None:
        if media.kind == "rendition":
            # Someone uploaded a poster rendition they had downloaded: the same bytes, now also an asset
            # that playlists may name ("asset:<sha256>" wants kind "image").
            media.kind, media.label = "image", ingested.label
        return media, False
    media = Media(sha256=ingested.sha256, ext=ingested.ext, kind=ingested.kind, width=ingested.width,
                  height=ingested.height, bytes=len(ingested.data), label=ingested.label, created_at=now)
    session.add(media)
    session.flush()
    return media, True
