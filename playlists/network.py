"""A snapshot of the whole network read in a few queries: screens, who each rule targets, and media per profile.

It turns database rows into the resolver's ScreenRules, so the manifest, now.png, the preview and the exports
all ask the one resolver the same question. Screens under the same rules share one ScreenRules object.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .models import (
    Group,
    Media,
    OverrideRow,
    PlaylistItem,
    Poster,
    ReminderRow,
    Rendition,
    Revision,
    ScheduleRow,
    Screen,
    override_groups,
    override_screens,
    reminder_groups,
    reminder_screens,
    schedule_groups,
    schedule_screens,
    screen_groups,
)
from .rules import Item, Override, Playlist, Reminder, RuleError, Schedule, ScreenRules

# How long the default Bluezone poster stays up per play when nothing else is scheduled.
DEFAULT_DURATION_S = 30


@dataclass(frozen=True, slots=True)
class MediaRef:
    """One stored media file as a player needs to know it."""

    sha256: str
    ext: str
    bytes: int
    width: int
    height: int

    @property
    def url(self) -> str:
        return f"/media/{self.sha256}.{self.ext}"


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    id: str
    name: str
    site: str
    district: str
    profile: str
    tz: str
    token_hash: str
    groups: tuple[str, ...]
    # Ids of the schedules, reminders and overrides that apply to this screen.
    rule_ids: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    @property
    def rules_key(self) -> tuple:
        """Screens with equal keys show exactly the same timeline."""
        return (self.profile, self.tz, self.rule_ids)


@dataclass(eq=False)
class Network:
    """Everything a poll needs, as of one committed revision."""

    revision: int
    screens: dict[str, ScreenEntry]
    playlists: dict[int, tuple[tuple[str, int], ...]]
    schedules: dict[int, ScheduleRow]
    reminders: dict[int, ReminderRow]
    overrides: dict[int, OverrideRow]
    renditions: dict[tuple[str, str], MediaRef]
    default_content: str | None
    _rules: dict[tuple, ScreenRules] = field(default_factory=dict)
    _digests: dict[tuple, tuple[str, str]] = field(default_factory=dict)

    def rules_for(self, screen: ScreenEntry) -> ScreenRules:
        """The screen's rules, keeping only content that has a media file at the screen's size.

        Refuses (RuleError) a screen for which not even the default poster is rendered yet.
        """
        key = screen.rules_key
        cached = self._rules.get(key)
        if cached is None:
            cached = self._rules[key] = self._build_rules(screen)
        return cached

    def digests(self, screen: ScreenEntry) -> tuple[str, str]:
        """(timeline, media) digests of the screen's rules: equal timeline digests mean equal timelines, and
        equal media digests the same media for every item. Refuses (RuleError) what rules_for refuses."""
        key = screen.rules_key
        cached = self._digests.get(key)
        if cached is None:
            rules = self.rules_for(screen)
            items = {rules.default, *(i for s in rules.schedules for i in s.playlist.items),
                     *(r.item for r in rules.reminders), *(o.item for o in rules.overrides)}
            media = sorted((item.key, repr(self.media_for(item, screen.profile))) for item in items)
            cached = self._digests[key] = (hashlib.sha256(repr(rules).encode()).hexdigest()[:32],
                                           hashlib.sha256(repr(media).encode()).hexdigest()[:32])
        return cached

    def media_for(self, item: Item, profile: str) -> MediaRef:
        return self.renditions[(item.key, profile)]

    def _item(self, content: str, duration_s: int, profile: str) -> Item | None:
        return Item(content, duration_s) if (content, profile) in self.renditions else None

    def _build_rules(self, screen: ScreenEntry) -> ScreenRules:
        profile = screen.profile
        default = self._item(self.default_content, DEFAULT_DURATION_S, profile) if self.default_content else None
        if default is None:
            raise RuleError("screen %(id)s: the default poster is not rendered for profile %(profile)s yet",
                            code="screen.default_not_rendered", id=repr(screen.id), profile=repr(profile))
        schedule_ids, reminder_ids, override_ids = screen.rule_ids
        schedules = []
        for sid in schedule_ids:
            row = self.schedules[sid]
            items = [i for c, d in self.playlists[row.playlist_id] if (i := self._item(c, d, profile))]
            if items:
                schedules.append(Schedule(
                    id=sid, playlist=Playlist(row.playlist_id, tuple(items)), priority=row.priority,
                    start_date=row.start_date, end_date=row.end_date, weekdays=frozenset(map(int, row.weekdays)),
                    start_time=row.start_time, end_time=row.end_time,
                ))
        reminders = []
        for rid in reminder_ids:
            row = self.reminders[rid]
            if item := self._item(row.content, row.duration_s, profile):
                reminders.append(Reminder(rid, item, row.every_min, row.start_time, row.end_time))
        overrides = []
        for oid in override_ids:
            row = self.overrides[oid]
            if item := self._item(row.content, _held_seconds(row), profile):
                overrides.append(Override(oid, item, as_utc(row.start), as_utc(row.end)))
        return ScreenRules(tz=screen.tz, default=default, schedules=tuple(schedules), reminders=tuple(reminders),
                           overrides=tuple(overrides))

    def contents_for(self, screen: ScreenEntry) -> set[str]:
        """Every piece of content this screen may show, whether rendered yet or not."""
        schedule_ids, reminder_ids, override_ids = screen.rule_ids
        wanted = {self.default_content} if self.default_content else set()
        for sid in schedule_ids:
            wanted.update(c for c, _ in self.playlists[self.schedules[sid].playlist_id])
        wanted.update(self.reminders[rid].content for rid in reminder_ids)
        wanted.update(self.overrides[oid].content for oid in override_ids)
        return wanted

    def needed_renditions(self) -> set[tuple[str, str]]:
        """(content, profile) pairs some screen needs, rendered or not."""
        needed: set[tuple[str, str]] = set()
        seen: set[tuple] = set()
        for screen in self.screens.values():
            key = (screen.profile, screen.rule_ids)
            if key not in seen:
                seen.add(key)
                needed.update((content, screen.profile) for content in self.contents_for(screen))
        return needed


def needed_renditions(session: Session, screens: list[str] | None = None) -> set[tuple[str, str]]:
    """(content, profile) pairs some screen (of `screens`, default all) needs, rendered or not: what
    Network.needed_renditions says, asked of the database in a few joins, so that a staff change costs what it
    touches rather than the whole network (and a new screen what concerns that screen)."""

    def only(query, column):
        query = query.where(Screen.retired_at.is_(None))
        return query if screens is None else query.where(column.in_(screens))

    profiles = set(session.scalars(only(select(Screen.profile).distinct(), Screen.id)))
    if not profiles:
        return set()
    needed: set[tuple[str, str]] = set()
    default_id = session.scalar(select(Poster.id).where(Poster.is_default).order_by(Poster.id).limit(1))
    if default_id is not None:
        needed.update((f"poster:{default_id}", profile) for profile in profiles)
    group_profiles: dict[int, set[str]] = defaultdict(set)
    for group_id, profile in session.execute(only(select(screen_groups.c.group_id, Screen.profile).distinct()
                                                  .join(Screen, Screen.id == screen_groups.c.screen_id), Screen.id)):
        group_profiles[group_id].add(profile)
    kinds = ((ScheduleRow, ScheduleRow.playlist_id, schedule_screens, schedule_groups),
             (ReminderRow, ReminderRow.content, reminder_screens, reminder_groups),
             (OverrideRow, OverrideRow.content, override_screens, override_groups))
    playlists_needed: dict[int, set[str]] = defaultdict(set)
    for model, what, by_screen, by_group in kinds:
        reached: dict[int, set[str]] = defaultdict(set)
        for (rule_id,) in session.execute(select(model.id).where(model.everywhere)):
            reached[rule_id] |= profiles
        rule_col = by_screen.c[by_screen.name.split("_")[0] + "_id"]
        for rule_id, profile in session.execute(only(select(rule_col, Screen.profile).distinct()
                                                     .join(Screen, Screen.id == by_screen.c.screen_id), Screen.id)):
            reached[rule_id].add(profile)
        group_rule = by_group.c[rule_col.name]
        for rule_id, group_id in session.execute(select(group_rule, by_group.c.group_id)
                                                 .where(by_group.c.group_id.in_(group_profiles))):
            reached[rule_id] |= group_profiles[group_id]
        for rule_id, content in session.execute(select(model.id, what).where(model.id.in_(reached))):
            if model is ScheduleRow:
                playlists_needed[content] |= reached[rule_id]  # a playlist id: its items below
            else:
                needed.update((content, profile) for profile in reached[rule_id])
    for playlist_id, content in session.execute(select(PlaylistItem.playlist_id, PlaylistItem.content)
                                                .where(PlaylistItem.playlist_id.in_(playlists_needed))):
        needed.update((content, profile) for profile in playlists_needed[playlist_id])
    return needed


def rendered(session: Session, among: set[tuple[str, str]] | None = None) -> set[tuple[str, str]]:
    """(content, profile) pairs that have a rendition (of those `among`, default all)."""
    query = select(Rendition.content, Rendition.profile)
    if among is not None:
        query = query.where(Rendition.content.in_({content for content, _ in among}))
    return {(content, profile) for content, profile in session.execute(query)}


def as_utc(moment: datetime) -> datetime:
    """moment as an aware datetime; naive values from the database are UTC."""
    # SQLite hands back naive datetimes for timezone-aware columns; everything is stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _held_seconds(row: OverrideRow) -> int:
    """The nominal play length of an override, which holds one play from start to end."""
    return max(1, int((as_utc(row.end) - as_utc(row.start)).total_seconds()))


def read_revision(engine: Engine) -> int:
    """The committed revision counter, in one small query.

    Every poll asks this, so it goes straight to the pooled DBAPI connection: the same plain SQL on every
    database, without the statement compilation and result wrapping that would cost more than the query.
    """
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute("SELECT value FROM revision WHERE id = 1")
            (value,) = cursor.fetchone()
        finally:
            cursor.close()
        conn.commit()  # end the read transaction, so the next read sees new commits
    finally:
        conn.close()  # back to the pool
    return value


def load_network(session: Session) -> Network:
    """Read the whole network in one transaction, so every part is of the same revision.

    The rows it keeps are only read for their columns, so the session may be closed afterwards.
    """
    revision = session.execute(select(Revision.value).where(Revision.id == 1)).scalar_one()
    group_names = dict(session.execute(select(Group.id, Group.name)).all())
    groups_of: dict[str, list[int]] = defaultdict(list)
    for screen_id, group_id in session.execute(select(screen_groups.c.screen_id, screen_groups.c.group_id)):
        groups_of[screen_id].append(group_id)

    schedules = {r.id: r for r in session.scalars(select(ScheduleRow))}
    reminders = {r.id: r for r in session.scalars(select(ReminderRow))}
    overrides = {r.id: r for r in session.scalars(select(OverrideRow))}
    playlists: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in session.scalars(select(PlaylistItem).order_by(PlaylistItem.playlist_id, PlaylistItem.position)):
        playlists[row.playlist_id].append((row.content, row.duration_s))

    targeting = [
        _Targets(schedules, schedule_screens, schedule_groups, session),
        _Targets(reminders, reminder_screens, reminder_groups, session),
        _Targets(overrides, override_screens, override_groups, session),
    ]
    screens = {}
    # Retired screens are out of the network: no token, no manifest, no place in any list or alert.
    for s in session.scalars(select(Screen).where(Screen.retired_at.is_(None)).order_by(Screen.id)):
        gids = groups_of.get(s.id, [])
        rule_ids = tuple(t.ids_for(s.id, gids) for t in targeting)
        screens[s.id] = ScreenEntry(s.id, s.name, s.site, s.district, s.profile, s.tz, s.token_hash,
                                    tuple(sorted(group_names[g] for g in gids)), rule_ids)

    renditions = {
        (r.content, r.profile): MediaRef(m.sha256, m.ext, m.bytes, m.width, m.height)
        for r, m in session.execute(select(Rendition, Media).join(Media, Rendition.sha256 == Media.sha256))
    }
    default_id = session.scalar(select(Poster.id).where(Poster.is_default).order_by(Poster.id).limit(1))
    return Network(revision, screens, {k: tuple(v) for k, v in playlists.items()}, schedules, reminders, overrides,
                   renditions, f"poster:{default_id}" if default_id is not None else None)


class _Targets:
    """Which rules of one kind apply to a screen: everywhere, by screen, or through one of its groups."""

    def __init__(self, rows: dict, by_screen, by_group, session: Session) -> None:
        rule_col = by_screen.c[by_screen.name.split("_")[0] + "_id"]
        self.everywhere = {rid for rid, row in rows.items() if row.everywhere}
        self.screen: dict[str, set[int]] = defaultdict(set)
        for rid, screen_id in session.execute(select(rule_col, by_screen.c.screen_id)):
            self.screen[screen_id].add(rid)
        self.group: dict[int, set[int]] = defaultdict(set)
        for rid, group_id in session.execute(select(by_group.c[rule_col.name], by_group.c.group_id)):
            self.group[group_id].add(rid)

    def ids_for(self, screen_id: str, group_ids: list[int]) -> tuple[int, ...]:
        ids = self.everywhere | self.screen.get(screen_id, set())
        for gid in group_ids:
            ids = ids | self.group.get(gid, set())
        return tuple(sorted(ids))
