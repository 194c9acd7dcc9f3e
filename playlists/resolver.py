"""The one resolver: what a screen shows at every instant, from its ScreenRules. Pure and deterministic.

The answer at an instant depends only on the rules and that instant, never on where a query starts; that
is what lets every screen, the manifest, now.png and the operator preview agree to the second.

- Precedence: an active override (latest start wins, then the highest id); else a reminder play (latest
  slot wins, then the lowest id); else the highest-priority schedule whose window is open (then the lowest
  id); else the default item. The screen is never blank.
- Local days: day D runs from the instant of local midnight of D to that of D + 1 (23 or 25 hours on DST
  days). A schedule window belongs to the day it opens on, even the part after midnight.
- Anchoring: a schedule's loop position at instant t is (t - anchor) mod loop length, with anchor the
  local midnight of the day its window opened on (so a window crossing midnight keeps one unbroken loop).
  When a window opens mid-loop, its first item is clipped. The default item is anchored the same way on
  each local day: its plays start every duration_s seconds from local midnight.
- Reminders: slots at local midnight + k * every_min minutes of real elapsed time, kept when they fall in
  the reminder's daily window; each shows the item for its duration. The loop underneath keeps running by
  the clock, so after a reminder the schedule resumes at its anchored position.
- Overrides: one play held from the override's start to its end (players loop held media themselves).
- Wall times and DST: a local wall time that does not exist (spring forward) means the instant the clock
  jumps, so a 02:30 start on that day opens at 03:00 summer time and a window lying wholly in the gap is
  empty that day; a wall time that happens twice (fall back) means its first occurrence. Both keep the
  map from wall time to instant non-decreasing, so windows never invert and days tile the timeline.
- Segments: maximal runs of one play (same item, source and occurrence_start). A play cut by the range
  edge or by something preempting it keeps its natural occurrence_start, so pieces can be joined.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from .rules import Item, RuleError, ScreenRules, check_aware

MAX_RANGE = timedelta(days=8)
# Far enough from datetime.min/max that the day arithmetic around a query can never overflow.
_MIN_YEAR, _MAX_YEAR = 1900, 9000

_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_MIDNIGHT = time(0)
# now() widens the covering play by at most this much on each side (an override can last weeks).
_NOW_REACH = 86_400 * _US


class ResolveError(RuleError):
    """A query the resolver refuses (naive datetimes, empty or too long a range)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of the timeline: item shown from start to end (aware UTC), by source.

    source is "override:<id>", "reminder:<id>", "schedule:<id>" or "default"; occurrence_start is the natural,
    unclipped start of this play of the item.
    """

    start: datetime
    end: datetime
    item: Item
    source: str
    occurrence_start: datetime


def resolve(rules: ScreenRules, start: datetime, end: datetime) -> list[Segment]:
    """The timeline of [start, end): ordered, contiguous segments covering it exactly, never a gap.

    Refuses rules that are not ScreenRules, naive datetimes, start >= end and ranges longer than 8 days.
    """
    segments = []
    prev_end, prev_end_dt = None, None
    for start_us, end_us, item, source, occ, _ in _resolve(rules, *_check_range(rules, start, end)):
        # Converting to datetime dominates the cost; contiguous segments share their edges, so reuse them.
        start_dt = prev_end_dt if start_us == prev_end else _to_dt(start_us)
        end_dt = _to_dt(end_us)
        segments.append(Segment(start_dt, end_dt, item, source, start_dt if occ == start_us else _to_dt(occ)))
        prev_end, prev_end_dt = end_us, end_dt
    return segments


def plays(rules: ScreenRules, start: datetime, end: datetime) -> list[list]:
    """resolve's timeline as lists starting [start, end, item, source], instants in microseconds since the epoch.

    The same segments as resolve, for callers that need numbers rather than datetimes (the manifest): making
    thousands of datetimes is most of the cost of a 48-hour timeline. Refuses what resolve refuses.
    """
    return _resolve(rules, *_check_range(rules, start, end))


def _check_range(rules: object, start: datetime, end: datetime) -> tuple[int, int]:
    _check_rules(rules)
    lo, hi = _check_instant("start", start), _check_instant("end", end)
    if lo >= hi:
        raise ResolveError("The end must be after the start (%(end)s is not after %(start)s)",
                           code="range.end_before_start", field="end", start=start, end=end)
    if hi - lo > MAX_RANGE // _ONE_US:
        raise ResolveError("range: got %(length)s, expected at most %(days)s days; choose a shorter range",
                           code="range.too_long", length=str(timedelta(microseconds=hi - lo)), days=MAX_RANGE.days)
    return lo, hi


def now(rules: ScreenRules, at: datetime) -> Segment:
    """The segment covering instant `at`: its whole play, but reaching at most one day either side of `at`.

    Refuses what resolve refuses (a naive `at`).
    """
    _check_rules(rules)
    t = _check_instant("at", at)
    [(_, _, _, _, occ, natural_end)] = _resolve(rules, t, t + 1)
    # A play never runs outside [occurrence_start, natural end), so resolving just that span is exact.
    lo, hi = max(occ, t - _NOW_REACH), min(natural_end, t + _NOW_REACH)
    for raw in _resolve(rules, lo, hi):
        if raw[0] <= t < raw[1]:
            return _segment(raw)
    raise AssertionError(f"no segment covers {at.isoformat()}")  # pragma: no cover - the timeline has no gaps


def _check_rules(rules: object) -> None:
    if not isinstance(rules, ScreenRules):
        raise ResolveError("rules: got %(got)s, expected ScreenRules", code="rule.wrong_type",
                           got=type(rules).__name__)


def _check_instant(name: str, value: object) -> int:
    check_aware(name, value, ResolveError)
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise ResolveError("%(what)s: got year %(year)s, expected a year from %(min)s to %(max)s", code="rule.year",
                           field=name, what=name, year=value.year, min=_MIN_YEAR, max=_MAX_YEAR)
    return _to_us(value)


def _to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_US


def _to_dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _segment(raw: list) -> Segment:
    start, end, item, source, occ, _ = raw
    return Segment(_to_dt(start), _to_dt(end), item, source, _to_dt(occ))


def _wall(us: int, zone: ZoneInfo) -> datetime:
    return _to_dt(us).astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=8192)
def _local_instant(day: date, at: time, zone: ZoneInfo) -> int:
    naive = datetime.combine(day, at)
    first = _to_us(naive.replace(tzinfo=zone, fold=0))
    if _wall(first, zone) == naive:
        return first  # exists; if it happens twice, fold=0 is its first occurrence
    # In a gap: fold=0 and fold=1 land on either side of the jump. Find the jump: the first whole second
    # whose wall time is at or after `naive` (zone transitions fall on whole seconds).
    second = _to_us(naive.replace(tzinfo=zone, fold=1))
    lo, hi = min(first, second) // _US, -(-max(first, second) // _US)
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall(mid * _US, zone) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return lo * _US


def _local_date(us: int, zone: ZoneInfo) -> date:
    return _to_dt(us).astimezone(zone).date()


def _resolve(rules: ScreenRules, lo: int, hi: int) -> list[list]:
    """Raw segments [start, end, item, source, occurrence_start, natural_end] (microseconds) covering [lo, hi)."""
    zone = rules.zone
    # Two days of margin: a window or reminder play that opened up to a day before lo can still be running.
    first_day = _local_date(lo, zone) - timedelta(days=2)
    n_days = (_local_date(hi, zone) - first_day).days + 3
    dates = [first_day + timedelta(days=i) for i in range(n_days)]
    anchors = [_local_instant(d, _MIDNIGHT, zone) for d in dates]

    def window(i: int, start_t: time | None, end_t: time | None) -> tuple[int, int]:
        opens = _MIDNIGHT if start_t is None else start_t
        ws = _local_instant(dates[i], opens, zone)
        if end_t is None:
            we = anchors[i + 1]
        elif end_t <= opens:
            we = _local_instant(dates[i + 1], end_t, zone)
        else:
            we = _local_instant(dates[i], end_t, zone)
        return ws, we

    points = {lo, hi}
    points.update(a for a in anchors if lo < a < hi)

    overrides = []
    for o in rules.overrides:
        s, e = _to_us(o.start), _to_us(o.end)
        if e > lo and s < hi:
            overrides.append((s, e, o.id, o.item, f"override:{o.id}"))
            points.update(x for x in (s, e) if lo < x < hi)

    reminders = []
    for r in rules.reminders:
        dur, step = r.item.duration_s * _US, r.every_min * 60 * _US
        spans = [w for i in range(n_days - 1) if (w := window(i, r.start_time, r.end_time))[0] < w[1]]
        span_starts = [w[0] for w in spans]
        slots = []
        for i in range(n_days - 1):
            day_start, day_end = anchors[i], anchors[i + 1]
            k = max(0, -(-(lo - dur - day_start) // step))
            while (s := day_start + k * step) < day_end and s < hi:
                j = bisect_right(span_starts, s) - 1
                if s + dur > lo and j >= 0 and s < spans[j][1]:
                    slots.append(s)
                    points.update(x for x in (s, s + dur) if lo < x < hi)
                k += 1
        if slots:
            slots.sort()  # a play spilling past midnight may follow the next day's first slot
            reminders.append((slots, dur, r.id, r.item, f"reminder:{r.id}"))

    schedules = []
    for sc in sorted(rules.schedules, key=lambda sc: (-sc.priority, sc.id)):
        spans = []
        for i in range(n_days - 1):
            if not sc.applies_on(dates[i]):
                continue
            ws, we = window(i, sc.start_time, sc.end_time)
            if ws < we and we > lo and ws < hi:
                spans.append((ws, we, anchors[i]))
                points.update(x for x in (ws, we) if lo < x < hi)
        if spans:
            items = sc.playlist.items
            schedules.append(([w[0] for w in spans], spans, _loop(items), f"schedule:{sc.id}"))

    default_loop = _loop((rules.default,))
    out: list[list] = []
    for a, b in pairwise(sorted(points)):
        # Every edge is a point, so whoever wins at a wins on all of [a, b).
        best = None
        for s, e, oid, item, source in overrides:
            if s <= a < e and (best is None or (s, oid) > best[0]):
                best = ((s, oid), item, source, s, e)
        if best is None:
            for slots, dur, rid, item, source in reminders:
                j = bisect_right(slots, a) - 1
                if j >= 0 and a < slots[j] + dur:
                    s = slots[j]
                    if best is None or (s, -rid) > best[0]:
                        best = ((s, -rid), item, source, s, s + dur)
        if best is not None:
            _push(out, a, b, best[1], best[2], best[3], best[4])
            continue
        for starts, spans, loop, source in schedules:
            j = bisect_right(starts, a) - 1
            if j >= 0 and a < spans[j][1]:
                _emit_loop(out, a, b, spans[j][2], loop, source)
                break
        else:
            _emit_loop(out, a, b, anchors[bisect_right(anchors, a) - 1], default_loop, "default")
    return out


def _loop(items: tuple[Item, ...]) -> tuple[tuple[Item, ...], list[int], list[int], int]:
    durations = [item.duration_s * _US for item in items]
    offsets = [0]
    for d in durations[:-1]:
        offsets.append(offsets[-1] + d)
    return items, offsets, durations, sum(durations)


def _emit_loop(out: list[list], a: int, b: int, anchor: int, loop: tuple, source: str) -> None:
    items, offsets, durations, length = loop
    position = (a - anchor) % length
    i = bisect_right(offsets, position) - 1
    occ = a - (position - offsets[i])
    last = len(items) - 1
    while occ < b:
        natural_end = occ + durations[i]
        _push(out, max(occ, a), min(natural_end, b), items[i], source, occ, natural_end)
        occ = natural_end
        i = 0 if i == last else i + 1


def _push(out: list[list], start: int, end: int, item: Item, source: str, occ: int, natural_end: int) -> None:
    if out:
        prev = out[-1]
        if prev[1] == start and prev[4] == occ and prev[3] == source and prev[2] == item:
            prev[1] = end  # the same play continuing across an edge where nothing changed
            return
    out.append([start, end, item, source, occ, natural_end])
