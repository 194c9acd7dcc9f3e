"""Whether screens are alive and in step: states from heartbeats, who may see which screen, online/offline events.

No Flask here: every function takes the session, the network snapshot and `now` explicitly.

States, from the last heartbeat (players send one every HEARTBEAT_S seconds and poll every poll_after_s plus up
to a fifth of it): the expected gap between two signs of life is the longer of the two; "online" within two
gaps (one lost heartbeat is normal on a flaky mobile link), "late" up to five gaps, "offline" after that, and
"never" for a screen that has not sent any heartbeat yet.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Group, Screen, ScreenEvent, ScreenPresence, ScreenStatus
from .network import Network, ScreenEntry, as_utc
from .resolver import Segment, resolve
from .resolver import now as resolve_now
from .rules import RuleError, ScreenRules

# The web player's heartbeat period (server/static/player/player.js, docs/PLAYERS.md).
HEARTBEAT_S = 60
LATE_AFTER_GAPS = 2
OFFLINE_AFTER_GAPS = 5
# A heartbeat sent as the item changes may name either neighbour; this much either side is not "out of step".
STEP_TOLERANCE = timedelta(seconds=2)
# Heartbeats of screens under the same rules this close together are checked against one resolved timeline.
_BEAT_STRETCH = timedelta(minutes=10)
_ONE_US = timedelta(microseconds=1)
STATES = ("offline", "never", "late", "online")  # the order dashboards list them in: trouble first


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long after its last heartbeat a screen becomes late, then offline."""

    late_after: timedelta
    offline_after: timedelta


def thresholds(poll_after_s: float) -> Thresholds:
    """The thresholds for players polling every poll_after_s seconds; refuses a non-positive interval."""
    if not poll_after_s > 0:
        raise ValueError(f"poll_after_s: got {poll_after_s!r}, expected a positive number of seconds")
    gap = max(HEARTBEAT_S, poll_after_s * 1.2)
    return Thresholds(timedelta(seconds=gap * LATE_AFTER_GAPS), timedelta(seconds=gap * OFFLINE_AFTER_GAPS))


def state_at(last_seen: datetime | None, now: datetime, limits: Thresholds) -> str:
    """"online", "late", "offline" or "never" (no heartbeat yet) for a screen last seen at last_seen."""
    if last_seen is None:
        return "never"
    silent = now - as_utc(last_seen)
    if silent < limits.late_after:
        return "online"
    return "late" if silent < limits.offline_after else "offline"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which screens a person may see: everything (staff, admins), or an operator's sites and groups."""

    everything: bool
    sites: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def allows(self, screen: ScreenEntry) -> bool:
        return self.everything or screen.site in self.sites or not self.groups.isdisjoint(screen.groups)

    def screens(self, network: Network) -> list[ScreenEntry]:
        """The visible screens, by district, site, then id."""
        return sorted((s for s in network.screens.values() if self.allows(s)),
                      key=lambda s: (s.district, s.site, s.id))


def scope_for(session: Session, everything: bool, sites: Iterable[str], group_ids: Iterable[int]) -> Scope:
    """The Scope of a person from their role's reach and their sites and group ids."""
    if everything:
        return Scope(True)
    ids = list(group_ids)
    names = session.scalars(select(Group.name).where(Group.id.in_(ids))) if ids else []
    return Scope(False, frozenset(sites), frozenset(names))


@dataclass(frozen=True, slots=True)
class ScreenState:
    """What monitoring knows of one screen at one instant."""

    screen: ScreenEntry
    state: str
    last_seen: datetime | None
    player_version: str
    reported_item: str
    # What the resolver says was on screen when the heartbeat was sent (None: no heartbeat or nothing rendered).
    expected_item: str | None
    status: dict

    @property
    def out_of_step(self) -> bool:
        """True when the player said it showed something other than what it should have at that moment."""
        return bool(self.reported_item) and self.expected_item is not None \
            and self.reported_item != self.expected_item


def _expected(network: Network, beats: list[tuple[ScreenEntry, str, datetime]]) -> dict[str, str | None]:
    """For each (screen, reported item, heartbeat instant): the item the resolver says was on screen then, or the
    reported one if it was on within STEP_TOLERANCE either side; None when the screen has nothing rendered.

    One timeline is resolved per rule set and stretch of heartbeats (screens under the same rules that were
    seen within _BEAT_STRETCH of each other), not three instants per screen: a thousand screens under a few
    rule sets cost a few resolutions. The answer at an instant never depends on where a query starts."""
    by_rules: dict[tuple, list[tuple[datetime, ScreenEntry, str]]] = defaultdict(list)
    for screen, item, seen in beats:
        by_rules[screen.rules_key].append((seen, screen, item))
    out: dict[str, str | None] = {}
    for group in by_rules.values():
        group.sort(key=lambda beat: beat[0])
        i = 0
        while i < len(group):
            j = i + 1
            while j < len(group) and group[j][0] - group[i][0] <= _BEAT_STRETCH:
                j += 1
            try:
                segments = resolve(network.rules_for(group[i][1]), group[i][0] - STEP_TOLERANCE,
                                   group[j - 1][0] + STEP_TOLERANCE + _ONE_US)
            except RuleError:
                out.update((screen.id, None) for _seen, screen, _item in group[i:j])
                i = j
                continue
            starts = [segment.start for segment in segments]
            for seen, screen, item in group[i:j]:
                keys = [segments[bisect_right(starts, moment) - 1].item.key
                        for moment in (seen, seen - STEP_TOLERANCE, seen + STEP_TOLERANCE)]
                out[screen.id] = item if item in keys else keys[0]
            i = j
    return out


def screen_states(session: Session, network: Network, screens: Iterable[ScreenEntry], now: datetime,
                  limits: Thresholds) -> list[ScreenState]:
    """The state of each screen at now, in the order given."""
    screens = list(screens)
    rows = {r.screen_id: r for r in session.scalars(
        select(ScreenStatus).where(ScreenStatus.screen_id.in_([s.id for s in screens])))}
    expected = _expected(network, [(s, rows[s.id].item, as_utc(rows[s.id].last_seen_at)) for s in screens
                                   if s.id in rows])
    out = []
    for screen in screens:
        row = rows.get(screen.id)
        if row is None:
            out.append(ScreenState(screen, "never", None, "", "", None, {}))
            continue
        seen = as_utc(row.last_seen_at)
        try:
            status = json.loads(row.status_json)
        except ValueError:
            status = {}
        out.append(ScreenState(screen, state_at(seen, now, limits), seen, row.player_version, row.item,
                               expected[screen.id], status))
    return out


@dataclass(frozen=True, slots=True)
class Tally:
    """How many screens of a site (or a district) are in each state."""

    name: str
    counts: Counter

    @property
    def down(self) -> int:
        return self.counts["offline"] + self.counts["never"]


def tallies(states: Iterable[ScreenState]) -> tuple[list[Tally], dict[str, list[Tally]]]:
    """Districts, and the sites of each district, with their counts; the most screens down first."""
    by_district: dict[str, Counter] = defaultdict(Counter)
    by_site: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for s in states:
        by_district[s.screen.district][s.state] += 1
        by_site[s.screen.district][s.screen.site][s.state] += 1

    def ordered(counters: dict[str, Counter]) -> list[Tally]:
        found = [Tally(name, counts) for name, counts in counters.items()]
        return sorted(found, key=lambda t: (-t.down, -t.counts["late"], t.name))

    return ordered(by_district), {d: ordered(sites) for d, sites in by_site.items()}


def trouble_first(states: Iterable[ScreenState]) -> list[ScreenState]:
    """Offline screens first (longest silent first), then never seen, late, online."""
    return sorted(states, key=lambda s: (STATES.index(s.state), s.last_seen.timestamp() if s.last_seen
                                         else float("inf"), s.screen.id))


def observe(session: Session, now: datetime, limits: Thresholds) -> list[ScreenEvent]:
    """Record every screen that went offline or came back since the last observation; return the new events.

    Idempotent: observing twice at one instant records nothing the second time. Going offline is dated when
    the silence crossed the offline threshold; coming back, at the latest heartbeat (observe often, e.g. every
    minute from the scheduler, and that is the first heartbeat after the gap). A screen seen for the first
    time records an event only if it is already offline. Screens that never sent a heartbeat have no state.
    Two observers at once are safe: each change is claimed by a conditional update that only one of them wins.
    """
    presence = {p.screen_id: p.up for p in session.scalars(select(ScreenPresence))}
    events = []
    in_service = select(ScreenStatus.screen_id, ScreenStatus.last_seen_at).join(
        Screen, Screen.id == ScreenStatus.screen_id).where(Screen.retired_at.is_(None))
    for screen_id, last_seen in session.execute(in_service):
        seen = as_utc(last_seen)
        up = state_at(seen, now, limits) != "offline"
        happened = seen if up else seen + limits.offline_after
        was = presence.get(screen_id)
        if was == up or not _claim(session, screen_id, was, up, happened) or (was is None and up):
            continue
        event = ScreenEvent(screen_id=screen_id, kind="online" if up else "offline", at=happened, observed_at=now)
        session.add(event)
        events.append(event)
    session.flush()
    return events


def _claim(session: Session, screen_id: str, was: bool | None, up: bool, since: datetime) -> bool:
    """Move the screen's presence from was to up; False when another observer got there first."""
    if was is None:
        # Whether the row went in is read back with RETURNING: an ORM insert's rowcount is not the cursor's
        # on PostgreSQL (psycopg gives -1), which made every first observation look lost there.
        statement = _insert_new_presence(session).values(screen_id=screen_id, up=up, since=since)
        return session.execute(statement.returning(ScreenPresence.screen_id)).first() is not None
    statement = update(ScreenPresence).where(ScreenPresence.screen_id == screen_id,
                                             ScreenPresence.up == was).values(up=up, since=since)
    return session.execute(statement).rowcount == 1


def _insert_new_presence(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(ScreenPresence).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(ScreenPresence).on_conflict_do_nothing()
    return insert(ScreenPresence)


def recent_events(session: Session, screen_ids: Iterable[str], limit: int = 50) -> list[ScreenEvent]:
    """The latest events of these screens, newest first."""
    ids = list(screen_ids)
    if not ids:
        return []
    return list(session.scalars(select(ScreenEvent).where(ScreenEvent.screen_id.in_(ids))
                                .order_by(ScreenEvent.at.desc(), ScreenEvent.id.desc()).limit(limit)))


# --- what a screen shows over a day, for the operator preview -------------------------------------------------

@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive plays from one source (a schedule's loop, one reminder play, an override, the default)."""

    start: datetime
    end: datetime
    source: str
    items: tuple[str, ...]  # the item keys shown, in order of first appearance


@dataclass(frozen=True, slots=True)
class DayView:
    """A screen's local day around an instant: its bounds, what is on at the instant, and the day as runs."""

    day_start: datetime
    day_end: datetime
    at: datetime
    current: Segment
    runs: tuple[Run, ...]

    def upcoming(self, limit: int = 8) -> list[Run]:
        """The next changes after `at`: runs that start later, soonest first."""
        return [run for run in self.runs if run.start > self.at][:limit]


def day_view(rules: ScreenRules, at: datetime) -> DayView:
    """The local day (screen's time zone) holding instant at, from the one resolver; refuses a naive `at`."""
    zone = rules.zone
    local = at.astimezone(zone)
    day_start = _local_midnight(local.date(), zone)
    day_end = _local_midnight(local.date() + timedelta(days=1), zone)
    runs: list[Run] = []
    for seg in resolve(rules, day_start, day_end):
        last = runs[-1] if runs else None
        # A reminder play is a run of its own; a loop's plays (and the default's) join into one run.
        if last is not None and last.source == seg.source and not seg.source.startswith("reminder:"):
            items = last.items if seg.item.key in last.items else (*last.items, seg.item.key)
            runs[-1] = Run(last.start, seg.end, last.source, items)
        else:
            runs.append(Run(seg.start, seg.end, seg.source, (seg.item.key,)))
    return DayView(day_start, day_end, at, resolve_now(rules, at), tuple(runs))


def _local_midnight(day, zone) -> datetime:
    # Where a DST jump skips midnight, fold=0 maps it to the instant of the jump: where the resolver's day starts.
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
