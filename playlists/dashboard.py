"""The console's home page as data: is the campaign on air? No Flask here; everything takes the session, the
network snapshot, the viewer's Scope and `now`.

What it gathers, each in a few aggregate queries (never one query per screen):
- every visible screen's status (monitoring's states, with "out of step" for a screen that is otherwise online)
  and those that need attention, trouble first;
- what plays now on each group, from the one resolver (one resolution per distinct rule set, not per screen);
- the takeovers in force or about to start that reach the viewer's screens, and when they end;
- yesterday's plays and scans against the day before (local days of the campaign's time zone);
- uploads of the last days (people who see everything) and renditions some visible screen needs but lacks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Group, Media, OverrideRow, PlaylistItem, ReminderRow, Screen, override_groups, override_screens
from .monitoring import Scope, ScreenState, Thresholds, screen_states
from .network import Network, ScreenEntry, as_utc, needed_renditions, rendered
from .resolver import Segment
from .resolver import now as resolve_now
from .rules import RuleError
from .stats import CAMPAIGN_TZ, content_names, play_report, scan_report

# A screen's one status on the dashboard, trouble first; "out_of_step" is an online screen showing the wrong item.
STATUSES = ("offline", "never", "late", "out_of_step", "online")
ATTENTION_LIMIT = 50
UPLOADS_DAYS = 7
UPLOADS_LIMIT = 6
# Takeovers that start within this long are listed with those in force.
TAKEOVER_AHEAD = timedelta(hours=24)
NO_GROUP = ""


@dataclass(frozen=True, slots=True)
class Attention:
    """A screen that needs someone to look: its status, since when, and its last heartbeat (None: never)."""

    screen: ScreenEntry
    status: str
    since: datetime | None
    last_seen: datetime | None
    out_of_step: bool


@dataclass(frozen=True, slots=True)
class Showing:
    """One item on air in a group: how many of the group's screens show it, from which source, until when."""

    item: str
    sha256: str | None  # a rendition of it, for a thumbnail
    screens: int
    sources: tuple[str, ...]
    until: datetime


@dataclass(frozen=True, slots=True)
class GroupNow:
    """What a group's visible screens show now: one Showing when they agree, several (most screens first)
    when they differ; `not_ready` counts screens with nothing rendered yet."""

    name: str
    screens: int
    showing: tuple[Showing, ...]
    not_ready: int

    @property
    def agree(self) -> bool:
        return len(self.showing) == 1 and not self.not_ready


@dataclass(frozen=True, slots=True)
class Takeover:
    """An emergency takeover that reaches some visible screen."""

    id: int
    name: str
    content: str
    start: datetime
    end: datetime
    everywhere: bool
    groups: tuple[str, ...]
    screens: int  # visible screens it reaches
    started: bool  # in force now (else it starts later)


@dataclass(frozen=True, slots=True)
class Activity:
    """Plays and scans of two consecutive local days."""

    yesterday: date
    day_before: date
    plays: tuple[int, int]  # (yesterday, the day before)
    scans: tuple[int, int]
    top: tuple[tuple[str, int], ...]  # yesterday's most played content names


@dataclass(frozen=True, slots=True)
class Upload:
    sha256: str
    kind: str
    label: str
    created_at: datetime
    used: bool


@dataclass(frozen=True, slots=True)
class Waiting:
    """A (content, profile) rendition some visible screen needs that does not exist yet."""

    content: str
    name: str
    profile: str
    screens: int


@dataclass
class Dashboard:
    at: datetime
    total: int
    counts: dict[str, int]
    attention: list[Attention]
    attention_more: int
    groups: list[GroupNow]
    takeovers: list[Takeover]
    activity: Activity
    uploads: list[Upload] | None  # None: not shown to this viewer (uploads are not tied to screens)
    uploads_total: int
    waiting: list[Waiting]
    names: dict[str, str] = field(default_factory=dict)


def status_of(state: ScreenState) -> str:
    """The screen's one status: monitoring's state, or "out_of_step" for an online screen in the wrong place."""
    return "out_of_step" if state.state == "online" and state.out_of_step else state.state


def _since(state: ScreenState, status: str, created: dict[str, datetime], limits: Thresholds) -> datetime | None:
    if status == "offline":
        return state.last_seen + limits.offline_after  # when the silence crossed the threshold
    if status == "late":
        return state.last_seen + limits.late_after
    if status == "never":
        return created.get(state.screen.id)  # registered, and silent ever since
    return state.last_seen  # out of step: as of its last heartbeat


def screen_health(session: Session, network: Network, screens: list[ScreenEntry], now: datetime,
                  limits: Thresholds) -> tuple[dict[str, int], list[Attention]]:
    """Counts per status (every status present, 0 when none) and the screens that are not online, trouble first
    (offline longest silent first, then never seen, late, out of step)."""
    states = screen_states(session, network, screens, now, limits)
    counts = dict.fromkeys(STATUSES, 0)
    troubled = []
    for state in states:
        status = status_of(state)
        counts[status] += 1
        if status != "online":
            troubled.append((state, status))
    created = {}
    if any(status == "never" for _, status in troubled):
        created = {sid: as_utc(at) for sid, at in session.execute(
            select(Screen.id, Screen.created_at).where(Screen.id.in_(
                [s.screen.id for s, status in troubled if status == "never"])))}
    troubled.sort(key=lambda p: (STATUSES.index(p[1]), p[0].last_seen.timestamp() if p[0].last_seen
                                 else float("inf"), p[0].screen.id))
    attention = [Attention(s.screen, status, _since(s, status, created, limits), s.last_seen,
                           s.out_of_step) for s, status in troubled]
    return counts, attention


def now_playing(network: Network, screens: list[ScreenEntry], now: datetime) -> list[GroupNow]:
    """Each group of the visible screens (and NO_GROUP for screens in none) with what its screens show at now,
    by name. The resolver runs once per distinct rule set: screens under the same rules show the same."""
    current: dict[tuple, Segment | None] = {}
    members: dict[str, list[ScreenEntry]] = defaultdict(list)
    for screen in screens:
        for group in screen.groups or (NO_GROUP,):
            members[group].append(screen)
        key = screen.rules_key
        if key not in current:
            try:
                current[key] = resolve_now(network.rules_for(screen), now)
            except RuleError:
                current[key] = None
    out = []
    for group in sorted(members, key=lambda g: (g == NO_GROUP, g)):
        by_item: dict[str, list] = defaultdict(list)
        not_ready = 0
        for screen in members[group]:
            seg = current[screen.rules_key]
            if seg is None:
                not_ready += 1
            else:
                by_item[seg.item.key].append((screen, seg))
        showing = []
        for key, shown in by_item.items():
            profile = Counter(s.profile for s, _ in shown).most_common(1)[0][0]
            ref = network.renditions.get((key, profile))
            showing.append(Showing(key, ref.sha256 if ref else None, len(shown),
                                   tuple(sorted({seg.source for _, seg in shown})), min(seg.end for _, seg in shown)))
        showing.sort(key=lambda s: (-s.screens, s.item))
        out.append(GroupNow(group, len(members[group]), tuple(showing), not_ready))
    return out


def takeovers(session: Session, scope: Scope, screens: list[ScreenEntry], now: datetime) -> list[Takeover]:
    """Takeovers in force at now, or starting within TAKEOVER_AHEAD, that reach a visible screen; soonest end
    first. Read from the database (not the snapshot), so one started a moment ago is already here."""
    utc = now.astimezone(UTC)
    rows = session.scalars(select(OverrideRow).where(OverrideRow.end > utc, OverrideRow.start < utc + TAKEOVER_AHEAD)
                           .order_by(OverrideRow.end, OverrideRow.id)).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    by_screen: dict[int, set[str]] = defaultdict(set)
    for oid, sid in session.execute(select(override_screens.c.override_id, override_screens.c.screen_id)
                                    .where(override_screens.c.override_id.in_(ids))):
        by_screen[oid].add(sid)
    by_group: dict[int, set[str]] = defaultdict(set)
    for oid, name in session.execute(select(override_groups.c.override_id, Group.name)
                                      .join(Group, Group.id == override_groups.c.group_id)
                                      .where(override_groups.c.override_id.in_(ids))):
        by_group[oid].add(name)
    out = []
    for row in rows:
        groups = by_group.get(row.id, set())
        reached = sum(1 for s in screens if row.everywhere or s.id in by_screen.get(row.id, ())
                      or not groups.isdisjoint(s.groups))
        if reached or scope.everything:
            start = as_utc(row.start)
            out.append(Takeover(row.id, row.name, row.content, start, as_utc(row.end), row.everywhere,
                                tuple(sorted(groups)), reached, start <= now))
    return out


def activity(session: Session, scope: Scope, screens: list[ScreenEntry], now: datetime,
             tz: str = CAMPAIGN_TZ) -> Activity:
    """Plays and scans of the visible screens yesterday and the day before (local days in tz); scans of a poster's
    own code (no screen) count only for people who see everything."""
    today = now.astimezone(ZoneInfo(tz)).date()
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    report = play_report(session, screens, before, yesterday, tz)
    per_day = report.by_day()
    scans = [sum(r.scans for r in scan_report(session, screens, day, day, scope.everything))
             for day in (yesterday, before)]
    top = Counter()
    for row in report.rows:
        if row.day == yesterday:
            top[report.names.get(row.content, row.content)] += row.plays
    return Activity(yesterday, before, (per_day[yesterday], per_day[before]), (scans[0], scans[1]),
                    tuple(top.most_common(3)))


def uploads(session: Session, now: datetime) -> tuple[list[Upload], int]:
    """Files uploaded in the last UPLOADS_DAYS days (newest first, at most UPLOADS_LIMIT) and how many there were;
    each says whether a playlist, reminder or takeover uses it yet."""
    since = now.astimezone(UTC) - timedelta(days=UPLOADS_DAYS)
    recent = (Media.kind != "rendition", Media.created_at >= since)
    total = session.scalar(select(func.count()).select_from(Media).where(*recent))
    rows = session.execute(select(Media.sha256, Media.kind, Media.label, Media.created_at).where(*recent)
                           .order_by(Media.created_at.desc(), Media.sha256).limit(UPLOADS_LIMIT)).all()
    if not rows:
        return [], total
    used = set()
    for model in (PlaylistItem, ReminderRow, OverrideRow):
        for (key,) in session.execute(select(model.content).where(model.content.like("asset:%")).distinct()):
            used.add(key.split(":")[1])
    return [Upload(sha, kind, label, as_utc(at), sha in used) for sha, kind, label, at in rows], total


def waiting_renditions(session: Session, scope: Scope, screens: list[ScreenEntry]) -> list[Waiting]:
    """Renditions a visible screen needs that are not made yet (the scheduler retries them every minute; a
    poster that cannot fit a screen's size stays here until it is changed), by content then profile."""
    needed = needed_renditions(session, None if scope.everything else [s.id for s in screens])
    missing = needed - rendered(session, needed)
    if not missing:
        return []
    per_profile = Counter(s.profile for s in screens)
    names = content_names(session, {c for c, _ in missing})
    return [Waiting(c, names.get(c, c), p, per_profile[p]) for c, p in sorted(missing)]


def gather(session: Session, network: Network, scope: Scope, now: datetime, limits: Thresholds,
           tz: str = CAMPAIGN_TZ) -> Dashboard:
    """Everything the home page shows, for what scope may see at now."""
    screens = scope.screens(network)
    counts, attention = screen_health(session, network, screens, now, limits)
    groups = now_playing(network, screens, now)
    running = takeovers(session, scope, screens, now)
    recent, recent_total = uploads(session, now) if scope.everything else (None, 0)
    dash = Dashboard(now, len(screens), counts, attention[:ATTENTION_LIMIT], max(0, len(attention) - ATTENTION_LIMIT),
                     groups, running, activity(session, scope, screens, now, tz), recent, recent_total,
                     waiting_renditions(session, scope, screens))
    keys = {s.item for g in groups for s in g.showing} | {t.content for t in running}
    dash.names = content_names(session, keys)
    return dash

