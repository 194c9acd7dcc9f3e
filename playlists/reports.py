"""What players report: heartbeats and proof-of-play batches, validated before anything is stored.

A proof-of-play record is kept only if it could have happened (PlayChecks): the item was on that screen, by the
one resolver, at the instant the play started (give or take `edge`), the play ends within that showing of the
item (give or take `edge`), no other play of the screen already counts for that showing or overlaps it by more
than `edge`, it is not in the future (beyond `clock_skew`) and not older than the retention window (`keep`).
A batch that is not the right shape is refused whole (ReportError); well-formed records are judged one by one,
and the outcome says how many were accepted, were already known, and were refused for which reason.

The resolver knows today's rules only: a play reported after its schedule was changed or its override removed
is judged against what the screen shows now for that instant, and refused if that differs.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from bisect import bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from renderer.errors import Problem

from .models import Play, PlayRefusal, ScreenStatus
from .network import as_utc
from .resolver import Segment, resolve
from .resolver import now as covering
from .rules import ScreenRules

MAX_BATCH = 500
MAX_PLAY_S = 86400
# Years a report may name: anything else is a broken clock, and would overflow date arithmetic.
MIN_YEAR, MAX_YEAR = 2000, 9000
REASONS = ("not_scheduled", "too_long", "overlap", "future", "too_old")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
# A batch is judged in stretches of at most this span, each resolved once (the resolver takes 8 days at most).
_STRETCH = timedelta(days=1)
# Directional formatting characters: invisible, and able to make a name read as another in the console.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class ReportError(Problem):
    """A heartbeat or batch that is not what a player should send; nothing of it was stored."""


def clean_text(value: object, limit: int, where: str) -> str:
    """value if it is text of at most limit characters without control characters, lone surrogates or
    directional formatting; ReportError otherwise. None reads as ""."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ReportError("%(where)s: got %(value)s, expected text of at most %(limit)s characters",
                          code="report.text", field=where, where=where, value=f"{value!r:.80}", limit=limit)
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI:
            raise ReportError("%(where)s: got the character %(char)s in %(value)s, expected printable text without "
                              "control characters", code="report.text", field=where, where=where,
                              char=f"U+{ord(char):04X}", value=f"{value!r:.80}")
    return value


# --- heartbeats -----------------------------------------------------------------------------------------------

# The fields a heartbeat may carry (what server/static/player/player.js sends) and how each is checked; any other
# field is dropped, so what is stored is bounded and made only of these.
_TEXT_FIELDS = {"version": 64, "item": 200, "manifest_etag": 100, "window": 40}
_INT_FIELDS = {"clock_offset_ms": 10**12, "pending_plays": 10**9}
_BOOL_FIELDS = ("offline_ready",)


def _heartbeat_fields(status: dict) -> dict:
    kept: dict = {}
    for key, limit in _TEXT_FIELDS.items():
        if key in status:
            kept[key] = clean_text(status[key], limit, key)
    for key, bound in _INT_FIELDS.items():
        value = status.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or abs(value) > bound:
            raise ReportError("%(where)s: got %(value)s, expected a number from %(low)s to %(high)s",
                              code="report.number", field=key, where=key, value=f"{value!r:.80}", low=-bound,
                              high=bound)
        kept[key] = round(value)
    for key in _BOOL_FIELDS:
        value = status.get(key)
        if value is not None and not isinstance(value, bool):
            raise ReportError("%(where)s: got %(value)s, expected true or false", code="report.boolean", field=key,
                              where=key, value=f"{value!r:.80}")
        if value is not None:
            kept[key] = value
    if kept.get("pending_plays", 0) < 0:
        raise ReportError("pending_plays: got %(value)s, expected a count of 0 or more", code="report.number",
                          field="pending_plays", value=kept["pending_plays"])
    return kept


def record_heartbeat(session: Session, screen_id: str, status: object, now: datetime) -> None:
    """Keep the latest status of a screen: only the known fields, checked; refuse a body that is not a JSON object
    or a known field of the wrong type, too long, or with control characters."""
    store_heartbeats(session, [heartbeat_values(screen_id, status, now)])


def heartbeat_values(screen_id: str, status: object, now: datetime) -> dict:
    """The row a heartbeat keeps (see record_heartbeat), checked; ReportError for a body it refuses."""
    if not isinstance(status, dict):
        raise ReportError("heartbeat must be a JSON object: got %(got)s", code="report.not_object",
                          got=type(status).__name__)
    kept = _heartbeat_fields(status)
    return {"screen_id": screen_id, "last_seen_at": now, "player_version": kept.get("version", ""),
            "item": kept.get("item", ""), "status_json": json.dumps(kept, ensure_ascii=False, sort_keys=True)}


def store_heartbeats(session: Session, rows: list[dict]) -> None:
    """Keep each row of heartbeat_values as its screen's latest status, in one statement for the lot."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        for values in rows:
            row = session.get(ScreenStatus, values["screen_id"]) or ScreenStatus(screen_id=values["screen_id"])
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)
        return
    # One statement, so the write lock is held as briefly as possible: thousands of screens beat every minute.
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(ScreenStatus)
    session.execute(statement.on_conflict_do_update(
        index_elements=[ScreenStatus.screen_id],
        set_={key: statement.excluded[key] for key in rows[0] if key != "screen_id"}), rows)


# --- proof of play --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlayChecks:
    """What a play must fit: the screen's rules, and the tolerances (see the module docstring)."""

    rules: ScreenRules
    keep: timedelta = timedelta(days=90)
    clock_skew: timedelta = timedelta(minutes=5)
    edge: timedelta = timedelta(seconds=5)


@dataclass
class PlayOutcome:
    """What became of a batch: records stored, records already known (a retry), records refused by reason."""

    accepted: int = 0
    duplicates: int = 0
    refused: dict[str, list[str]] = field(default_factory=dict)

    def refuse(self, reason: str, record_id: str) -> None:
        self.refused.setdefault(reason, []).append(record_id)

    def as_json(self) -> dict:
        """The 202 answer: counts, refused counts by reason, and the refused record ids by reason."""
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "refused": sum(len(ids) for ids in self.refused.values()),
                "refused_by_reason": {reason: len(ids) for reason, ids in sorted(self.refused.items())},
                "refused_ids": dict(sorted(self.refused.items()))}


def _parse_started(value: object, where: str) -> datetime:
    started_at = None
    if isinstance(value, str) and len(value) <= 40:
        try:
            started_at = datetime.fromisoformat(value)
        except ValueError:
            started_at = None
    if started_at is None or started_at.tzinfo is None:
        raise ReportError("%(where)sstarted_at: got %(value)s, expected an ISO 8601 time with a UTC offset",
                          code="report.time", field="started_at", where=where, value=f"{value!r:.80}")
    if not MIN_YEAR <= started_at.year <= MAX_YEAR:
        raise ReportError("%(where)sstarted_at: got year %(year)s, expected %(min)s to %(max)s", code="report.year",
                          field="started_at", where=where, year=started_at.year, min=MIN_YEAR, max=MAX_YEAR)
    # Stored as the same instant in UTC (SQLite would otherwise keep the wall time and drop the offset).
    return started_at.astimezone(UTC)


def _parse_record(rec: object, index: int) -> dict:
    where = f"plays[{index}]."
    if not isinstance(rec, dict):
        raise ReportError("plays[%(index)s]: got %(got)s, expected an object", code="report.not_object",
                          index=index, got=type(rec).__name__)
    record_id = rec.get("id")
    if not isinstance(record_id, str) or not _RECORD_ID.match(record_id):
        raise ReportError("%(where)sid: got %(value)s, expected 1-64 letters, digits or _.:-", code="report.id",
                          field="id", where=where, value=f"{record_id!r:.80}")
    sha = clean_text(rec.get("sha256"), 64, f"{where}sha256")
    if sha and not _SHA.match(sha):
        raise ReportError("%(where)ssha256: got %(value)s, expected 64 lowercase hex digits", code="report.sha256",
                          field="sha256", where=where, value=repr(sha))
    started_at = _parse_started(rec.get("started_at"), where)
    duration = rec.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration) \
            or not 0 < duration <= MAX_PLAY_S:
        raise ReportError("%(where)sduration_s: got %(value)s, expected a number of seconds in (0, %(max)s]",
                          code="report.duration", field="duration_s", where=where, value=f"{duration!r:.80}",
                          max=MAX_PLAY_S)
    item = clean_text(rec.get("item"), 200, f"{where}item")
    return {"record_id": record_id, "item": item, "sha256": sha, "started_at": started_at,
            "duration_s": float(duration)}


def parse_batch(batch: object, max_batch: int = MAX_BATCH) -> list[dict]:
    """The records of a {"plays": [...]} batch, checked for form; ReportError naming the first bad field."""
    records = batch.get("plays") if isinstance(batch, dict) else None
    if not isinstance(records, list):
        raise ReportError('plays batch must be a JSON object {"plays": [...]}', code="report.not_object")
    if len(records) > max_batch:
        raise ReportError("plays batch too large: got %(count)s records, expected at most %(max)s",
                          code="report.too_many", count=len(records), max=max_batch)
    return [_parse_record(rec, index) for index, rec in enumerate(records)]


def record_plays(session: Session, screen_id: str, batch: object, now: datetime,
                 checks: PlayChecks | Callable[[], PlayChecks] | None = None,
                 max_batch: int = MAX_BATCH) -> PlayOutcome:
    """Store the plays of a batch that are new and could have happened; say what became of each.

    Refuses (ReportError, nothing stored) a batch that is not well formed. A record id seen before for this screen
    is a duplicate and ignored. checks may be a function making them, called only once there are new records
    (what it raises goes to the caller). Without checks (trusted imports, tests) every well-formed new record is
    stored; the server always passes them. Refusals are added to the PlayRefusal counters in the same transaction.
    """
    outcome = PlayOutcome()
    rows: dict[str, dict] = {}
    for row in parse_batch(batch, max_batch):
        if row["record_id"] in rows:
            outcome.duplicates += 1
        else:
            rows[row["record_id"]] = row | {"screen_id": screen_id, "received_at": now}
    if not rows:
        return outcome
    known = set(session.scalars(select(Play.record_id).where(Play.screen_id == screen_id,
                                                             Play.record_id.in_(rows))))
    outcome.duplicates += len(known)
    fresh = [row for rid, row in rows.items() if rid not in known]
    if callable(checks):
        checks = checks()
    if checks is not None:
        fresh = _judge(session, screen_id, fresh, now, checks, outcome)
    if fresh:
        session.execute(_insert_ignoring_duplicates(session), fresh)
    outcome.accepted = len(fresh)
    count_refusals(session, {reason: len(ids) for reason, ids in outcome.refused.items()})
    return outcome


def count_refusals(session: Session, counts: dict[str, int]) -> None:
    """Add to the refused-plays counters, atomically (several workers may count at once)."""
    dialect = session.get_bind().dialect.name
    for reason, n in counts.items():
        if not n:
            continue
        if dialect in ("sqlite", "postgresql"):
            statement = (sqlite if dialect == "sqlite" else postgresql).insert(PlayRefusal)
            session.execute(statement.values(reason=reason, count=n).on_conflict_do_update(
                index_elements=[PlayRefusal.reason], set_={"count": PlayRefusal.count + n}))
        elif not session.execute(update(PlayRefusal).where(PlayRefusal.reason == reason)
                                 .values(count=PlayRefusal.count + n)).rowcount:
            session.add(PlayRefusal(reason=reason, count=n))


def refusal_counts(session: Session) -> dict[str, int]:
    """Refused plays so far, by reason (every known reason, 0 when none)."""
    counts = dict.fromkeys(REASONS, 0)
    counts.update(session.execute(select(PlayRefusal.reason, PlayRefusal.count)).all())
    return counts


def _end(row: dict) -> datetime:
    return row["started_at"] + timedelta(seconds=row["duration_s"])


def _judge(session: Session, screen_id: str, rows: list[dict], now: datetime, checks: PlayChecks,
           outcome: PlayOutcome) -> list[dict]:
    """The rows that could have happened, in order of start; the others are refused in outcome."""
    in_time = []
    # By start; records starting together keep the batch's order, so the first one sent is the one kept.
    for row in sorted(rows, key=lambda r: r["started_at"]):
        if row["started_at"] > now + checks.clock_skew or _end(row) > now + checks.clock_skew:
            outcome.refuse("future", row["record_id"])
        elif row["started_at"] < now - checks.keep:
            outcome.refuse("too_old", row["record_id"])
        else:
            in_time.append(row)
    accepted: list[dict] = []
    stretch: list[dict] = []
    for row in in_time:
        if stretch and _end(row) - stretch[0]["started_at"] > _STRETCH:
            accepted += _judge_stretch(session, screen_id, stretch, checks, outcome)
            stretch = []
        stretch.append(row)
    if stretch:
        accepted += _judge_stretch(session, screen_id, stretch, checks, outcome)
    return accepted


class _Timeline:
    """The screen's segments over a stretch, with the showings already counted and the intervals already played."""

    def __init__(self, segments: list[Segment], edge: timedelta) -> None:
        self.segments, self.edge = segments, edge
        self.starts = [s.start for s in segments]
        self.counted: set[tuple] = set()
        self.busy: list[tuple[datetime, datetime]] = []
        self.longest = timedelta(0)

    def showing(self, item: str, start: datetime, end: datetime) -> tuple[str | None, Segment | None]:
        """(None, the segment this play is of) or (reason, None): the item must be on screen within edge of the
        start, and the play must end within edge of that segment's end, in a showing not counted yet."""
        edge = self.edge
        i = bisect_right(self.starts, start + edge) - 1
        found, fits = False, []
        while i >= 0 and self.segments[i].end > start - edge:
            seg = self.segments[i]
            if seg.item.key == item:
                found = True
                if end <= seg.end + edge:
                    fits.append(seg)
            i -= 1
        if not found:
            return "not_scheduled", None
        if not fits:
            return "too_long", None
        free = [s for s in fits if _showing_key(s) not in self.counted]
        if not free:
            return "overlap", None
        return None, min(free, key=lambda s: abs(s.start - start))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when [start, end) overlaps a play already counted by more than edge."""
        i = bisect_right(self.busy, (end,))
        while i > 0:
            i -= 1
            s, e = self.busy[i]
            if s < start - self.longest:
                break
            if min(e, end) - max(s, start) > self.edge:
                return True
        return False

    def count(self, seg: Segment | None, start: datetime, end: datetime) -> None:
        if seg is not None:
            self.counted.add(_showing_key(seg))
        insort(self.busy, (start, end))
        self.longest = max(self.longest, end - start)


def _showing_key(seg: Segment) -> tuple:
    # A play preempted by a reminder and resumed is two segments of one occurrence, and two plays on a player.
    return (seg.source, seg.occurrence_start, seg.start, seg.item.key)


def _judge_stretch(session: Session, screen_id: str, rows: list[dict], checks: PlayChecks,
                   outcome: PlayOutcome) -> list[dict]:
    edge = checks.edge
    lo, hi = rows[0]["started_at"] - edge, max(_end(r) for r in rows) + edge
    # Start at the segment covering lo, so plays stored earlier that may still be on screen at lo are found too.
    lo = covering(checks.rules, lo).start - edge
    timeline = _Timeline(resolve(checks.rules, lo, hi), edge)
    stored = session.execute(select(Play.item, Play.started_at, Play.duration_s).where(
        Play.screen_id == screen_id, Play.started_at >= lo, Play.started_at < hi).order_by(Play.started_at))
    for item, started_at, duration_s in stored:
        start = as_utc(started_at)
        end = start + timedelta(seconds=duration_s)
        _reason, seg = timeline.showing(item, start, end)
        timeline.count(seg, start, end)
    accepted = []
    for row in rows:
        start, end = row["started_at"], _end(row)
        reason, seg = timeline.showing(row["item"], start, end)
        if reason is None and timeline.overlaps(start, end):
            reason = "overlap"
        if reason is not None:
            outcome.refuse(reason, row["record_id"])
            continue
        timeline.count(seg, start, end)
        accepted.append(row)
    return accepted


def _insert_ignoring_duplicates(session: Session):
    # Two copies of one batch can arrive at once (a retry racing the original); the database,
    # not a check beforehand, is what makes the second one harmless.
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(Play).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(Play).on_conflict_do_nothing()
    return insert(Play)
