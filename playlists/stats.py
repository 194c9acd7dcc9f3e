"""What the campaign achieved: plays per content, site and day; QR scans per poster and site; scan codes.

No Flask here. Days are local days of the campaign's time zone (Huế, UTC+7 all year, so every local day is 24
whole UTC hours of the scheduler's hourly totals), each counted by two indexed range queries (hourly totals and
plays not rolled up yet), so a report over months costs a few small queries a day whatever the number of plays.

Scan attribution: a poster that opts in gets a short code, and its QR then reads <public base URL>/go/<code>
instead of its own URL (which stays the default, and is where computers are sent). Screens can have codes of
their own for that poster (code_for), so a scan names the poster and the screen. A scan stores a count per
code, day and kind of phone: no address, no user agent, nothing about the person. To count a phone once per
code within a window (so a loop cannot inflate a site's figures), a keyed hash of its address and user agent is
kept with the code for that window only (ScanSeen), then removed.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from renderer import PosterSpec
from renderer.errors import Problem

from . import content
from .models import Media, Play, PlayHour, Poster, ScanCode, ScanCount, ScanSeen
from .network import ScreenEntry

CAMPAIGN_TZ = "Asia/Ho_Chi_Minh"
MAX_DAYS = 366
CSV_COLUMNS = ("date", "district", "site", "content", "content_name", "plays", "seconds_shown")
PLATFORMS = ("ios", "android", "web")
# No 0/O, 1/I/L: people read codes aloud and type them from printed posters.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
_CODE = re.compile(rf"^[{_CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


class StatsError(Problem):
    """A report or scan-code request that cannot be met; the message says what was got and expected."""


def check_period(start: date, end: date) -> None:
    """Refuse an end before the start, or a period longer than MAX_DAYS days."""
    if end < start:
        raise StatsError("The end date must not be before the start date (%(end)s is before %(start)s): choose an "
                         "end on or after the start", code="period.end_before_start", field="end", start=start,
                         end=end)
    if (end - start).days + 1 > MAX_DAYS:
        raise StatsError("period: got %(days)s days, expected at most %(max)s; choose a shorter period",
                         code="period.too_long", field="end", days=(end - start).days + 1, max=MAX_DAYS)


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


# --- proof of play --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PlayRow:
    """Plays of one content at one site on one day."""

    day: date
    district: str
    site: str
    content: str
    plays: int
    seconds: float


@dataclass
class PlayReport:
    """Rows per (day, site, content), with totals per content, site and day; names of the contents."""

    start: date
    end: date
    rows: list[PlayRow]
    names: dict[str, str] = field(default_factory=dict)

    def _total(self, key) -> dict:
        out: dict = defaultdict(int)
        for row in self.rows:
            out[key(row)] += row.plays
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], str(kv[0]))))

    def by_content(self) -> dict[str, int]:
        return self._total(lambda r: r.content)

    def by_site(self) -> dict[tuple[str, str], int]:
        """Plays per (district, site), most first."""
        return self._total(lambda r: (r.district, r.site))

    def by_day(self) -> dict[date, int]:
        """Plays on every day of the period, in date order (days without plays count 0)."""
        totals = defaultdict(int, {d: 0 for d in _days(self.start, self.end)})
        for row in self.rows:
            totals[row.day] += row.plays
        return dict(sorted(totals.items()))

    @property
    def total(self) -> int:
        return sum(row.plays for row in self.rows)

    def csv_rows(self) -> Iterator[tuple]:
        """The header (CSV_COLUMNS), then one line per row, by date, district, site and content."""
        yield CSV_COLUMNS
        for r in sorted(self.rows, key=lambda r: (r.day, r.district, r.site, r.content)):
            yield (r.day.isoformat(), r.district, r.site, r.content, self.names.get(r.content, r.content), r.plays,
                   round(r.seconds, 1))


def play_report(session: Session, screens: Iterable[ScreenEntry], start: date, end: date,
                tz: str = CAMPAIGN_TZ) -> PlayReport:
    """Plays of these screens from start to end (local days in tz, both included); refuses a bad period."""
    check_period(start, end)
    zone = ZoneInfo(tz)
    where = {s.id: s for s in screens}
    rows: dict[tuple, list] = {}
    for day in _days(start, end):
        lo, hi = _day_bounds(day, zone)
        # The scheduler counts raw plays into hourly totals (PlayHour) and marks them rolled before pruning
        # them, so a play is in exactly one of the two: the totals, or the raw records not yet rolled.
        raw = (select(Play.screen_id, Play.item, func.count(), func.sum(Play.duration_s))
               .where(Play.started_at >= lo, Play.started_at < hi, Play.rolled.is_(False))
               .group_by(Play.screen_id, Play.item))
        hours = (select(PlayHour.screen_id, PlayHour.item, func.sum(PlayHour.plays), func.sum(PlayHour.seconds))
                 .where(PlayHour.hour >= lo, PlayHour.hour < hi).group_by(PlayHour.screen_id, PlayHour.item))
        for screen_id, item, plays, seconds in (*session.execute(raw), *session.execute(hours)):
            screen = where.get(screen_id)
            if screen is None:
                continue  # not a screen this person may see
            acc = rows.setdefault((day, screen.district, screen.site, item), [0, 0.0])
            acc[0] += plays
            acc[1] += seconds or 0.0
    report = PlayReport(start, end, [PlayRow(*key, plays, seconds) for key, (plays, seconds) in rows.items()])
    report.names = content_names(session, {r.content for r in report.rows})
    return report


def content_names(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """A name people know for each content key ("poster:3" -> the poster's name, an image -> its label)."""
    keys = set(keys)
    poster_ids = {int(k.split(":")[1]): k for k in keys if re.fullmatch(r"poster:\d+", k)}
    names = {}
    if poster_ids:
        for pid, name in session.execute(select(Poster.id, Poster.name).where(Poster.id.in_(poster_ids))):
            names[poster_ids[pid]] = name
    shas = {k.split(":")[1]: k for k in keys if k.startswith("asset:")}
    if shas:
        for sha, label in session.execute(select(Media.sha256, Media.label).where(Media.sha256.in_(shas))):
            names[shas[sha]] = label or shas[sha]
    return names


# --- QR scan attribution --------------------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def scan_url(base_url: str, code: str) -> str:
    """The address a QR code carries for a code: <base>/go/<code>."""
    return f"{base_url.rstrip('/')}/go/{code}"


def poster_code(session: Session, poster_id: int) -> ScanCode | None:
    """The poster's own active code (no screen), or None when the poster shows its direct URL."""
    return session.scalar(select(ScanCode).where(ScanCode.poster_id == poster_id, ScanCode.screen_id.is_(None),
                                                 ScanCode.active))


def _add_code(session: Session, poster_id: int, screen_id: str | None, website_url: str, now: datetime) -> ScanCode:
    # About 40 bits: a collision is very unlikely, and the nested transaction makes one harmless.
    for _ in range(5):
        row = ScanCode(code=new_code(), poster_id=poster_id, screen_id=screen_id, website_url=website_url,
                       active=True, created_at=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return row
    raise StatsError("could not find a free scan code after 5 tries", code="scan.no_free_code")  # pragma: no cover


def enable_attribution(session: Session, poster_id: int, base_url: str, now: datetime) -> ScanCode:
    """Make the poster's QR point at <base_url>/go/<code> and return its code (the same one if already on).

    The poster's own URL is kept on the code: computers are sent there, and opting out restores it. Refuses
    (StatsError) an unknown poster or a base URL that is not http(s); the caller re-renders (sync_renditions).
    """
    if not re.match(r"^https?://[^/\s]+", base_url or ""):
        raise StatsError("PUBLIC_BASE_URL: got %(got)s, expected the server's public http(s) address; ask the "
                         "administrator to set it", code="scan.base_url", got=repr(base_url))
    poster = session.get(Poster, poster_id)
    if poster is None:
        raise StatsError("poster: got id %(id)s, but there is no such poster", code="poster.not_found",
                         id=repr(poster_id))
    existing = poster_code(session, poster_id)
    if existing is not None:
        return existing
    spec = PosterSpec.from_dict(json.loads(poster.spec_json))
    # A poster that was on before keeps its code, so the QR codes already printed go on counting.
    row = session.scalar(select(ScanCode).where(ScanCode.poster_id == poster_id, ScanCode.screen_id.is_(None)))
    if row is None:
        row = _add_code(session, poster_id, None, spec.url, now)
    row.active, row.website_url = True, spec.url
    content.update_poster(session, poster_id, spec.to_dict() | {"url": scan_url(base_url, row.code)}, now)
    return row


def disable_attribution(session: Session, poster_id: int, now: datetime) -> None:
    """Give the poster its direct URL back; its codes keep redirecting (printed copies) but it shows none."""
    row = poster_code(session, poster_id)
    if row is None:
        return
    spec = PosterSpec.from_dict(json.loads(session.get(Poster, poster_id).spec_json))
    content.update_poster(session, poster_id, spec.to_dict() | {"url": row.website_url}, now)
    row.active = False


def code_for(session: Session, poster_id: int, screen_id: str, now: datetime) -> ScanCode:
    """The code of this poster on this screen (made on first use), for outputs made per screen (USB exports)."""
    row = session.scalar(select(ScanCode).where(ScanCode.poster_id == poster_id, ScanCode.screen_id == screen_id))
    if row is not None:
        return row
    own = session.scalar(select(ScanCode).where(ScanCode.poster_id == poster_id, ScanCode.screen_id.is_(None)))
    if own is None:
        raise StatsError("poster %(id)s has no scan attribution: turn it on first", code="scan.not_on",
                         id=poster_id)
    return _add_code(session, poster_id, screen_id, own.website_url, now)


def platform(user_agent: str) -> str:
    """"ios" for iPhones and iPads that say so, "android", or "web" for everything else."""
    ua = user_agent or ""
    if re.search(r"iPhone|iPad|iPod", ua):
        return "ios"
    if "Android" in ua:
        return "android"
    return "web"


SCAN_WINDOW = timedelta(minutes=30)


def _first_in_window(session: Session, code: str, client: str, now: datetime, window: timedelta) -> bool:
    """True (and the client's mark set to now) unless this client had a scan of code counted within window.

    One statement decides, so two scans from one phone at once count once; marks older than window are removed.
    """
    now = now.astimezone(UTC)
    since = now - window
    session.execute(delete(ScanSeen).where(ScanSeen.at <= since))
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(ScanSeen)
        # The row was just pruned if its mark is old, so any conflict means a scan inside the window.
        inserted = session.execute(insert.values(code=code, client=client, at=now).on_conflict_do_nothing()
                                   .returning(ScanSeen.code)).first()
        return inserted is not None
    if session.get(ScanSeen, (code, client)) is not None:
        return False
    session.add(ScanSeen(code=code, client=client, at=now))
    return True


def record_scan(session: Session, code: str, user_agent: str, now: datetime, tz: str = CAMPAIGN_TZ,
                client: str | None = None, window: timedelta = SCAN_WINDOW) -> tuple[ScanCode, str] | None:
    """Count one scan of code and return (the code, the platform); None for an unknown code (nothing counted).

    With client (a keyed hash of the phone's address and user agent, never the address), a scan of the same code
    by the same client within window is not counted again, but still returns the code (the phone is redirected).
    """
    if not isinstance(code, str) or not _CODE.match(code.upper()):
        return None
    row = session.get(ScanCode, code.upper())
    if row is None:
        return None
    kind = platform(user_agent)
    if client is not None and not _first_in_window(session, row.code, client, now, window):
        return row, kind
    day = now.astimezone(ZoneInfo(tz)).date()
    # Counted in the database, so simultaneous scans never lose one.
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(ScanCount)
        session.execute(insert.values(code=row.code, day=day, platform=kind, count=1).on_conflict_do_update(
            index_elements=["code", "day", "platform"], set_={"count": ScanCount.count + 1}))
    elif not session.execute(update(ScanCount).where(ScanCount.code == row.code, ScanCount.day == day,
                                                     ScanCount.platform == kind)
                             .values(count=ScanCount.count + 1)).rowcount:
        session.add(ScanCount(code=row.code, day=day, platform=kind, count=1))
    return row, kind


@dataclass(frozen=True, slots=True)
class ScanRow:
    """Scans of one poster at one site (site "" when the code names no screen) from one kind of phone."""

    poster_id: int
    district: str
    site: str
    platform: str
    scans: int


def scan_report(session: Session, screens: Iterable[ScreenEntry], start: date, end: date,
                include_unattributed: bool) -> list[ScanRow]:
    """Scans from start to end (both included) at these screens' sites, most first.

    Scans of a poster's own code name no screen; they are included (site "") only when include_unattributed,
    which a caller allows for people who see every screen.
    """
    check_period(start, end)
    where = {s.id: s for s in screens}
    query = (select(ScanCode.poster_id, ScanCode.screen_id, ScanCount.platform, func.sum(ScanCount.count))
             .join(ScanCount, ScanCount.code == ScanCode.code)
             .where(ScanCount.day >= start, ScanCount.day <= end)
             .group_by(ScanCode.poster_id, ScanCode.screen_id, ScanCount.platform))
    totals: dict[tuple, int] = defaultdict(int)
    for poster_id, screen_id, kind, scans in session.execute(query):
        if screen_id is None:
            if include_unattributed:
                totals[(poster_id, "", "", kind)] += scans
        elif screen_id in where:
            screen = where[screen_id]
            totals[(poster_id, screen.district, screen.site, kind)] += scans
    rows = [ScanRow(*key, scans) for key, scans in totals.items()]
    return sorted(rows, key=lambda r: (-r.scans, r.district, r.site, r.poster_id, r.platform))
