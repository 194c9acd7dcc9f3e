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
        raise ContentError(str(exc)) from None


def check_name(what: str, value: object, *, required: bool = True, max_length: int = MAX_NAME) -> str:
    """Return a one-line name stripped of outer spaces; refuse non-text, control characters, lone surrogates,
    more than max_length characters, and (when required, or when given at all) no visible character."""
    if not isinstance(value, str):
        raise ContentError(f"{what}: got {value!r:.60}, expected text")
    if len(value) > max_length:
        raise ContentError(f"{what}: got {len(value)} characters, expected at most {max_length}")
    if bad := bad_character(value, keep=""):
        raise ContentError(f"{what}: got {bad}, expected one line of printable text")
    name = value.strip()
    if (required or name) and not has_visible(name):
        raise ContentError(f"{what}: got {value!r:.60}, expected at least one visible character")
    return name


def check_id(what: str, value: object) -> int:
    """Return value if it can be a record id (1 to 2**31 - 1); refuse anything else, bools included."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ContentError(f"{what}: got {value!r:.60}, expected a record id from 1 to {MAX_ID}")
    return value


def _check_int(what: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ContentError(f"{what}: got {value!r:.60}, expected an integer from {low} to {high}")
    return value


def check_content(session: Session, content: str) -> None:
    """Refuse a content reference that is malformed or names no poster or image: 'poster:<id>',
    'asset:<sha256>' (letterboxed) or 'asset:<sha256>:cover' (cropped to fill)."""
    if not isinstance(content, str):
        raise ContentError(f"content: got {content!r}, expected 'poster:<id>' or 'asset:<sha256>[:cover]'")
    if m := _POSTER.match(content):
        if session.get(Poster, int(m.group(1))) is None:
            raise ContentError(f"content: got {content!r}, but there is no poster {m.group(1)}")
        return
    if m := _ASSET.match(content):
        media = session.get(Media, m.group(1))
        if media is None or media.kind != "image":
            raise ContentError(f"content: got {content!r}, but no uploaded image has that sha256")
        return
    raise ContentError(f"content: got {content!r}, expected 'poster:<id>' or 'asset:<sha256>[:cover]'")


def _spec(spec: PosterSpec | dict) -> PosterSpec:
    try:
        spec = spec if isinstance(spec, PosterSpec) else PosterSpec.from_dict(spec)
        spec.resolved()
    except RenderError as exc:
        raise ContentError(f"poster: {exc}") from None
    return spec


def add_poster(session: Session, spec: PosterSpec | dict, now: datetime, *, name: str = "",
               is_default: bool = False) -> Poster:
    """Store a poster spec (checked, not yet rendered: see sync_renditions)."""
    spec = _spec(spec)
    name = check_name("poster name", name, required=False)
    poster = Poster(name=name or spec.resolved().headline[:MAX_NAME], spec_json=json.dumps(spec.to_dict()),
                    is_default=is_default, created_at=now, updated_at=now)
    session.add(poster)
    session.flush()
    return poster


def update_poster(session: Session, poster_id: int, spec: PosterSpec | dict, now: datetime) -> Poster:
    """Change what a poster says; its old images stay in the store but no longer play."""
    poster = session.get(Poster, check_id("poster id", poster_id))
    if poster is None:
        raise ContentNotFound(f"poster: got id {poster_id!r}, but there is no such poster")
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
        raise ContentError("playlist items: got none, expected at least one (content, duration_s)")
    if len(items) > MAX_ITEMS:
        raise ContentError(f"playlist items: got {len(items)}, expected at most {MAX_ITEMS}")
    checked = []
    for entry in items:
        try:
            content, duration_s = entry
        except (TypeError, ValueError):
            raise ContentError(f"playlist item: got {entry!r}, expected (content, duration_s)") from None
        check_content(session, content)
        _check_int(f"item {content} duration_s", duration_s, 1, MAX_DURATION_S)
        checked.append((content, duration_s))
    return checked


def add_playlist(session: Session, name: str, items: Sequence[tuple[str, int]]) -> PlaylistRow:
    """A named playlist of (content, duration_s) items, played in order."""
    name = check_name("playlist name", name)
    if session.scalar(select(PlaylistRow.id).where(PlaylistRow.name == name)) is not None:
        raise ContentError(f"playlist name: got {name!r}, but a playlist has that name already")
    checked = _items(session, items)
    playlist = PlaylistRow(name=name, items=[
        PlaylistItem(position=i, content=c, duration_s=d) for i, (c, d) in enumerate(checked)
    ])
    session.add(playlist)
    session.flush()
    return playlist


def set_playlist_items(session: Session, playlist_id: int, items: Sequence[tuple[str, int]]) -> PlaylistRow:
    """Replace a playlist's items."""
    playlist = session.get(PlaylistRow, check_id("playlist id", playlist_id))
    if playlist is None:
        raise ContentNotFound(f"playlist: got id {playlist_id!r}, but there is no such playlist")
    checked = _items(session, items)
    playlist.items = [PlaylistItem(position=i, content=c, duration_s=d) for i, (c, d) in enumerate(checked)]
    session.flush()
    return playlist


def delete_playlist(session: Session, playlist_id: int) -> None:
    """Remove a playlist; refuses one that a schedule still plays."""
    playlist = session.get(PlaylistRow, check_id("playlist id", playlist_id))
    if playlist is None:
        raise ContentNotFound(f"playlist: got id {playlist_id!r}, but there is no such playlist")
    used = session.scalars(select(ScheduleRow.id).where(ScheduleRow.playlist_id == playlist_id)).all()
    if used:
        raise ContentError(f"playlist {playlist_id} is played by schedule(s) {', '.join(map(str, used))}: "
                           "delete those first")
    session.delete(playlist)


def delete_rule(session: Session, kind: type, rule_id: int) -> None:
    """Remove a schedule or reminder (ScheduleRow or ReminderRow) by id."""
    row = session.get(kind, check_id(f"{kind.__tablename__[:-1]} id", rule_id))
    if row is None:
        raise ContentNotFound(f"{kind.__tablename__[:-1]}: got id {rule_id!r}, but there is none")
    session.delete(row)


def _targets(session: Session, rule, screens: Iterable[str], groups: Iterable[str], everywhere: bool) -> None:
    screens, groups = _names("screens", screens), _names("groups", groups)
    if not isinstance(everywhere, bool):
        raise ContentError(f"everywhere: got {everywhere!r}, expected true or false")
    if not (screens or groups or everywhere):
        raise ContentError("targets: got no screens, no groups and everywhere false, expected at least one target")
    found = {s.id: s for s in session.scalars(select(Screen).where(Screen.id.in_(screens)))}
    if missing := [s for s in screens if s not in found]:
        raise ContentError(f"screens: got unknown {', '.join(map(repr, missing))}")
    named = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(groups)))}
    if missing := [g for g in groups if g not in named]:
        raise ContentError(f"groups: got unknown {', '.join(map(repr, missing))}")
    rule.screens = [found[s] for s in screens]
    rule.groups = [named[g] for g in groups]
    rule.everywhere = everywhere


def _names(what: str, values: Iterable[str]) -> list[str]:
    """Screen ids or group names, each once, checked as text before they reach a query."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ContentError(f"{what}: got {values!r:.60}, expected a list of names")
    values = list(dict.fromkeys(values))
    if len(values) > MAX_TARGETS:
        raise ContentError(f"{what}: got {len(values)}, expected at most {MAX_TARGETS}")
    return [check_name(f"{what} entry", v, max_length=64) for v in values]


def add_schedule(session: Session, playlist_id: int, *, name: str = "", priority: int = 0,
                 start_date: date | None = None, end_date: date | None = None,
                 weekdays: Iterable[int] = ALL_WEEKDAYS, start_time: time | None = None,
                 end_time: time | None = None, screens: Iterable[str] = (), groups: Iterable[str] = (),
                 everywhere: bool = False) -> ScheduleRow:
    """Show a playlist on its targets; the rule's fields are checked as the resolver will read them."""
    playlist = session.get(PlaylistRow, check_id("playlist_id", playlist_id))
    if playlist is None:
        raise ContentError(f"playlist: got {playlist_id!r}, but there is no such playlist")
    name = check_name("schedule name", name, required=False)
    _check_int("priority", priority, -MAX_PRIORITY, MAX_PRIORITY)
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
    name = check_name("reminder name", name, required=False)
    _check_int("duration_s", duration_s, 1, MAX_DURATION_S)
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
    name = check_name("override name", name, required=False)
    _check(lambda: Override(0, Item(content, 1), start, end))
    # Stored in UTC: SQLite keeps no offset, so any other zone would come back shifted.
    row = OverrideRow(name=name, content=content, start=start.astimezone(UTC), end=end.astimezone(UTC))
    _targets(session, row, screens, groups, everywhere)
    session.add(row)
    session.flush()
    return row


def end_override(session: Session, override_id: int, now: datetime) -> OverrideRow:
    """Stop an override now (or drop it, if it has not started); ending an ended one changes nothing."""
    row = session.get(OverrideRow, check_id("override id", override_id))
    if row is None:
        raise ContentNotFound(f"override: got id {override_id!r}, but there is no such override")
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
            raise ContentError(f"poster {poster.id} ({poster.name}) on {profile_name}: {exc}") from None
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
