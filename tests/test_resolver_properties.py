"""Any rules, any range, any of three time zones (two with DST): a timeline without gaps that respects precedence."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playlists import Item, Override, Playlist, Reminder, Schedule, ScreenRules, Segment, now, resolve

ZONES = ["Asia/Ho_Chi_Minh", "Europe/Berlin", "America/New_York"]
# DST changes in Berlin and New York, plus ordinary days.
DAYS = [date(2024, 3, 10), date(2024, 3, 31), date(2024, 10, 27), date(2024, 11, 3), date(2024, 6, 3)]

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

items = st.builds(Item, key=st.sampled_from(["poster:1", "poster:2", "asset:a", "asset:b"]),
                  duration_s=st.integers(10, 4000))
wall_times = st.none() | st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))


def maybe_days_from(day: date) -> st.SearchStrategy[date | None]:
    return st.none() | st.integers(0, 4).map(lambda n: day + timedelta(days=n))


@st.composite
def screen_rules(draw):
    tz = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS) | st.dates(date(2024, 1, 1), date(2025, 12, 31)))
    zone = ZoneInfo(tz)
    # In UTC, so that adding a timedelta adds real time (in a ZoneInfo zone it adds wall time).
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)
    start = midnight + timedelta(seconds=draw(st.integers(-6 * 3600, 30 * 3600)))
    start += timedelta(microseconds=draw(st.sampled_from([0, 0, 0, 1, 500_000, 999_999])))
    end = start + timedelta(seconds=draw(st.integers(1, 26 * 3600)))

    schedules = []
    for i in range(draw(st.integers(0, 3))):
        first = draw(maybe_days_from(day - timedelta(days=2)))
        last = draw(maybe_days_from(first or day - timedelta(days=2)))
        schedules.append(Schedule(
            i + 1, Playlist(i + 1, tuple(draw(st.lists(items, min_size=1, max_size=4)))),
            priority=draw(st.integers(0, 3)), start_date=first, end_date=last,
            weekdays=draw(st.frozensets(st.integers(0, 6), min_size=1)),
            start_time=draw(wall_times), end_time=draw(wall_times),
        ))
    reminders = []
    for i in range(draw(st.integers(0, 2))):
        every = draw(st.integers(1, 240))
        item = Item(f"reminder:{i}", draw(st.integers(1, min(every * 60 - 1, 600))))
        reminders.append(Reminder(i + 1, item, every, start_time=draw(wall_times), end_time=draw(wall_times)))
    overrides = []
    for i in range(draw(st.integers(0, 2))):
        begins = start + timedelta(seconds=draw(st.integers(-2 * 3600, 32 * 3600)))
        overrides.append(Override(i + 1, Item(f"alert:{i}", 60), begins,
                                  begins + timedelta(seconds=draw(st.integers(1, 10 * 3600)))))
    rules = ScreenRules(tz=tz, default=draw(items), schedules=tuple(schedules), reminders=tuple(reminders),
                        overrides=tuple(overrides))
    return rules, start, end


def play(segment: Segment) -> tuple:
    return segment.item, segment.source, segment.occurrence_start


def covering(timeline: list[Segment], t: datetime) -> Segment:
    [segment] = [s for s in timeline if s.start <= t < s.end]
    return segment


def join(left: list[Segment], right: list[Segment]) -> list[Segment]:
    if play(left[-1]) == play(right[0]):
        joined = Segment(left[-1].start, right[0].end, right[0].item, right[0].source, right[0].occurrence_start)
        return [*left[:-1], joined, *right[1:]]
    return left + right


def winning_override(rules: ScreenRules, t: datetime) -> Override | None:
    active = [o for o in rules.overrides if o.start <= t < o.end]
    return max(active, key=lambda o: (o.start, o.id), default=None)


def in_window(reminder: Reminder, wall: time) -> bool:
    opens = reminder.start_time or time(0)
    if reminder.end_time is None:
        return opens <= wall
    if reminder.end_time <= opens:
        return wall >= opens or wall < reminder.end_time
    return opens <= wall < reminder.end_time


def is_ambiguous(t: datetime, zone: ZoneInfo) -> bool:
    local = t.astimezone(zone)
    return local.utcoffset() != local.replace(fold=1 - local.fold).utcoffset()


def reminder_slots(rules: ScreenRules, start: datetime, end: datetime) -> dict[datetime, list[int]]:
    """Slots in [start, end) by instant, computed independently: local midnight + k * period, kept in the window."""
    zone, slots = rules.zone, {}
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        midnight = datetime.combine(day, time(0), zone).astimezone(UTC)  # midnight is never skipped in these zones
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        for r in rules.reminders:
            slot = midnight
            while slot < next_midnight:
                if start <= slot < end and in_window(r, slot.astimezone(zone).time()):
                    slots.setdefault(slot, []).append(r.id)
                slot += timedelta(minutes=r.every_min)
        day += timedelta(days=1)
    return slots


@FAST
@given(screen_rules())
def test_timeline_covers_the_range_exactly_with_maximal_segments(case):
    rules, start, end = case
    timeline = resolve(rules, start, end)
    assert timeline[0].start == start and timeline[-1].end == end
    for segment in timeline:
        assert segment.start < segment.end
        assert segment.start.tzinfo is UTC and segment.end.tzinfo is UTC
        assert segment.occurrence_start <= segment.start
        if not segment.source.startswith("override:"):
            assert segment.end <= segment.occurrence_start + timedelta(seconds=segment.item.duration_s)
    for before, after in zip(timeline, timeline[1:], strict=False):
        assert before.end == after.start  # no gap, no overlap
        assert play(before) != play(after)  # one play is one segment


@FAST
@given(screen_rules())
def test_the_latest_active_override_always_wins(case):
    rules, start, end = case
    for segment in resolve(rules, start, end):
        winner = winning_override(rules, segment.start)
        if winner is None:
            assert not segment.source.startswith("override:")
        else:
            assert (segment.source, segment.item) == (f"override:{winner.id}", winner.item)
            assert segment.occurrence_start == winner.start
            assert segment.end <= winner.end


@FAST
@given(screen_rules())
def test_a_reminder_shows_at_every_slot_not_under_an_override(case):
    rules, start, end = case
    timeline = resolve(rules, start, end)
    slots = reminder_slots(rules, start, end)
    windowed = any(r.start_time is not None or r.end_time is not None for r in rules.reminders)
    for slot, ids in slots.items():
        if winning_override(rules, slot) is not None or windowed and is_ambiguous(slot, rules.zone):
            continue
        segment = covering(timeline, slot)
        assert (segment.source, segment.occurrence_start) == (f"reminder:{min(ids)}", slot)
    for segment in timeline:
        slot = segment.occurrence_start
        knowable = start <= slot and not (windowed and is_ambiguous(slot, rules.zone))
        if segment.source.startswith("reminder:") and knowable:
            assert int(segment.source.split(":")[1]) in slots[slot]  # every reminder play starts on a slot


@FAST
@given(screen_rules(), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
def test_a_range_is_the_join_of_its_two_halves(case, fraction):
    rules, start, end = case
    middle = start + (end - start) * fraction
    if not start < middle < end:
        middle = start + (end - start) / 2
    if start < middle < end:
        assert resolve(rules, start, end) == join(resolve(rules, start, middle), resolve(rules, middle, end))


@FAST
@given(screen_rules(), st.floats(0.0, 1.0, exclude_max=True))
def test_now_agrees_with_resolve(case, fraction):
    rules, start, end = case
    t = min(start + (end - start) * fraction, end - timedelta(microseconds=1))
    timeline = resolve(rules, start, end)
    in_range = covering(timeline, t)
    current = now(rules, t)
    assert play(current) == play(in_range)
    assert current.start <= t < current.end
    # The same run of the same play; resolve cuts it only at the range edges.
    assert max(current.start, start) == in_range.start and min(current.end, end) == in_range.end
