"""Schedule rules for one screen: items, playlists, schedules, periodic reminders and emergency overrides.

Every value is frozen and checked when it is built; a bad value raises RuleError ("got X, expected Y").
Dates, weekdays and times of day are the screen's local wall time (its IANA time zone); overrides are
absolute instants (aware datetimes). Which screens a rule targets is decided by the caller: ScreenRules
holds only what already applies to one screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from renderer.errors import Problem

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
ALL_WEEKDAYS = frozenset(range(7))
# Reminder slots restart at every local midnight, so a longer period would behave like one a day.
MAX_EVERY_MIN = 24 * 60
# Years a saved rule may name: a campaign runs now, and a typo such as 0226 or 20026 is refused, not kept.
MIN_YEAR, MAX_YEAR = 2000, 2100


class RuleError(Problem):
    """A rule that cannot be honoured; the message says what was got and what was expected."""


def _check_int(what: str, value: object, minimum: int | None = None, maximum: int | None = None) -> None:
    # bool is an int subclass; True as a duration or an id is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise RuleError("%(what)s: got %(value)s, expected an integer", code="rule.not_integer", what=what,
                        value=repr(value))
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        if maximum is None:
            raise RuleError("%(what)s: got %(value)s, expected an integer >= %(min)s", code="rule.out_of_range",
                            what=what, value=repr(value), min=minimum)
        raise RuleError("%(what)s: got %(value)s, expected an integer from %(min)s to %(max)s",
                        code="rule.out_of_range", what=what, value=repr(value), min=minimum, max=maximum)


def _check_time(what: str, value: object) -> time | None:
    if value is None:
        return None
    if not isinstance(value, time):
        raise RuleError("%(what)s: got %(value)s, expected a datetime.time or None", code="rule.not_time", what=what,
                        value=repr(value))
    if value.tzinfo is not None:
        raise RuleError("%(what)s: got %(value)s with a time zone, expected a local wall time (no tzinfo)",
                        code="rule.time_with_zone", what=what, value=value.isoformat())
    # An ambiguous wall time always means its first occurrence (see resolver), whatever fold says.
    return value.replace(fold=0)


def check_aware(what: str, value: object, error: type[RuleError] = RuleError) -> None:
    """Refuse anything but an aware datetime, raising error."""
    if not isinstance(value, datetime):
        raise error("%(what)s: got %(value)s, expected an aware datetime", code="rule.not_datetime", what=what,
                    value=repr(value))
    if value.tzinfo is None or value.utcoffset() is None:
        raise error("%(what)s: got naive datetime %(value)s, expected an aware datetime (with a time zone)",
                    code="rule.naive_datetime", what=what, value=value.isoformat())


def check_year(what: str, value: date | datetime | None, error: type[RuleError] = RuleError) -> None:
    """Refuse a date or instant outside MIN_YEAR..MAX_YEAR (None passes), raising error."""
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise error("%(what)s: got %(value)s, expected a year from %(min)s to %(max)s", code="rule.year", what=what,
                    value=value.isoformat(), min=MIN_YEAR, max=MAX_YEAR)


def _as_tuple(what: str, value: object, kind: type) -> tuple:
    try:
        items = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise RuleError("%(what)s: got %(value)s, expected a sequence of %(kind)s", code="rule.not_sequence",
                        what=what, value=repr(value), kind=kind.__name__) from None
    for entry in items:
        if not isinstance(entry, kind):
            raise RuleError("%(what)s: got %(value)s, expected %(kind)s", code="rule.wrong_type", what=what,
                            value=repr(entry), kind=kind.__name__)
    return items


def _check_unique_ids(what: str, rules: tuple) -> None:
    seen: set[int] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleError("%(what)s ids: got %(id)s twice, expected each id once (sources name rules by id)",
                            code="rule.duplicate_id", what=what, id=rule.id)
        seen.add(rule.id)


@dataclass(frozen=True, slots=True)
class Item:
    """A piece of content ("poster:3", "asset:<sha256>") played for duration_s seconds."""

    key: str
    duration_s: int

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise RuleError("item key: got %(key)s, expected a non-empty string such as 'poster:3'",
                            code="rule.item_key", key=repr(self.key))
        _check_int(f"item {self.key!r} duration_s", self.duration_s, minimum=1)


@dataclass(frozen=True, slots=True)
class Playlist:
    """Items played in order and looped; at least one item."""

    id: int
    items: tuple[Item, ...]

    def __post_init__(self) -> None:
        _check_int("playlist id", self.id)
        items = _as_tuple(f"playlist {self.id} items", self.items, Item)
        if not items:
            raise RuleError("playlist %(id)s items: got none, expected at least one item", code="playlist.empty",
                            field="items", id=self.id)
        object.__setattr__(self, "items", items)

    @property
    def loop_s(self) -> int:
        """Length of one pass through the playlist, in seconds."""
        return sum(item.duration_s for item in self.items)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A playlist shown on some local dates and weekdays (0 = Monday) inside a daily local window.

    start_time/end_time None mean 00:00 and 24:00; a window whose end <= start crosses midnight and the part
    after midnight belongs to the day it started on. end_date is inclusive.
    """

    id: int
    playlist: Playlist
    priority: int = 0
    start_date: date | None = None
    end_date: date | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS
    start_time: time | None = None
    end_time: time | None = None

    def __post_init__(self) -> None:
        _check_int("schedule id", self.id)
        what = f"schedule {self.id}"
        if not isinstance(self.playlist, Playlist):
            raise RuleError("%(what)s playlist: got %(value)s, expected a Playlist", code="rule.wrong_type",
                            what=what, value=repr(self.playlist))
        _check_int(f"{what} priority", self.priority)
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            # datetime is a date subclass; a datetime here would silently drop its time and zone.
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise RuleError("%(what)s %(name)s: got %(value)s, expected a datetime.date or None",
                                code="rule.not_date", what=what, name=name, value=repr(value))
        if self.start_date is not None and self.end_date is not None and self.end_date < self.start_date:
            raise RuleError("The end date must not be before the start date (%(end)s is before %(start)s): choose "
                            "an end date on or after the start date", code="schedule.end_before_start",
                            field="end_date", start=self.start_date, end=self.end_date)
        try:
            weekdays = frozenset(self.weekdays)
        except TypeError:
            raise RuleError("%(what)s weekdays: got %(value)s, expected a set of 0..6 (0 = Monday)",
                            code="schedule.weekdays", field="weekdays", what=what,
                            value=repr(self.weekdays)) from None
        valid = all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 6 for w in weekdays)
        if not valid or not weekdays:
            raise RuleError("%(what)s weekdays: got %(value)s, expected a non-empty subset of 0..6",
                            code="schedule.weekdays", field="weekdays", what=what,
                            value=repr(sorted(weekdays, key=repr)))
        object.__setattr__(self, "weekdays", weekdays)
        object.__setattr__(self, "start_time", _check_time(f"{what} start_time", self.start_time))
        object.__setattr__(self, "end_time", _check_time(f"{what} end_time", self.end_time))

    def applies_on(self, day: date) -> bool:
        """True when a window opening on local date `day` is allowed by the date range and weekdays."""
        if self.start_date is not None and day < self.start_date:
            return False
        if self.end_date is not None and day > self.end_date:
            return False
        return day.weekday() in self.weekdays


@dataclass(frozen=True, slots=True)
class Reminder:
    """An item shown at local midnight + k * every_min minutes (inside the optional daily window), over schedules.

    Refuses a period outside 1..1440 minutes and an item as long as, or longer than, the period.
    """

    id: int
    item: Item
    every_min: int
    start_time: time | None = None
    end_time: time | None = None

    def __post_init__(self) -> None:
        _check_int("reminder id", self.id)
        what = f"reminder {self.id}"
        if not isinstance(self.item, Item):
            raise RuleError("%(what)s item: got %(value)s, expected an Item", code="rule.wrong_type", what=what,
                            value=repr(self.item))
        _check_int(f"{what} every_min", self.every_min, minimum=1, maximum=MAX_EVERY_MIN)
        if self.item.duration_s >= self.every_min * 60:
            raise RuleError("The reminder lasts too long for how often it comes: got %(duration)s s, expected less "
                            "than its period of %(period)s s (every %(every)s min); show it for less time or less "
                            "often", code="reminder.longer_than_period", field="duration",
                            duration=self.item.duration_s, period=self.every_min * 60, every=self.every_min)
        object.__setattr__(self, "start_time", _check_time(f"{what} start_time", self.start_time))
        object.__setattr__(self, "end_time", _check_time(f"{what} end_time", self.end_time))


@dataclass(frozen=True, slots=True)
class Override:
    """An emergency message held on screen from start (inclusive) to end (exclusive), above everything else."""

    id: int
    item: Item
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _check_int("override id", self.id)
        what = f"override {self.id}"
        if not isinstance(self.item, Item):
            raise RuleError("%(what)s item: got %(value)s, expected an Item", code="rule.wrong_type", what=what,
                            value=repr(self.item))
        check_aware(f"{what} start", self.start)
        check_aware(f"{what} end", self.end)
        # Compared in UTC: two datetimes of one ZoneInfo zone compare by wall time, wrong across a DST change.
        if not self.start.astimezone(UTC) < self.end.astimezone(UTC):
            raise RuleError("The end must be after the start (%(end)s is not after %(start)s)",
                            code="override.end_before_start", field="end", start=self.start, end=self.end)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreenRules:
    """Everything that applies to one screen: its IANA time zone, default item, schedules, reminders, overrides.

    Keyword arguments only. Refuses an unknown time zone, a missing default item and duplicate ids of one kind.
    """

    tz: str = DEFAULT_TZ
    default: Item
    schedules: tuple[Schedule, ...] = ()
    reminders: tuple[Reminder, ...] = ()
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str) or not self.tz:
            raise RuleError("time zone: got %(tz)s, expected an IANA name such as %(example)s", code="screen.tz",
                            field="tz", tz=repr(self.tz), example=repr(DEFAULT_TZ))
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise RuleError("time zone: got %(tz)s, expected an IANA name such as %(example)s or 'Europe/Berlin'",
                            code="screen.tz", field="tz", tz=repr(self.tz), example=repr(DEFAULT_TZ)) from None
        if not isinstance(self.default, Item):
            raise RuleError("default: got %(value)s, expected an Item (the screen is never blank)",
                            code="rule.wrong_type", value=repr(self.default))
        for name, kind in (("schedules", Schedule), ("reminders", Reminder), ("overrides", Override)):
            rules = _as_tuple(name, getattr(self, name), kind)
            _check_unique_ids(name[:-1], rules)
            object.__setattr__(self, name, rules)

    @property
    def zone(self) -> ZoneInfo:
        """The screen's time zone (zoneinfo caches instances, so this is cheap)."""
        return ZoneInfo(self.tz)
