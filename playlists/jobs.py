"""The scheduler's jobs: plain functions taking a session (or engine), the store and `now`, never reading a clock.

Each does its work in the caller's transaction and returns what it did, so running a job twice in a row
changes nothing the second time. `server.scheduler` runs them on a timetable, in a single process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, select, tuple_
from sqlalchemy.orm import Session

from assets.store import FileStore

from .content import sync_renditions
from .manifest import ManifestStore, window_start
from .models import Media, OverrideRow, Play, PlayHour, ScreenEvent
from .monitoring import observe, thresholds
from .network import as_utc
from .users import audit

log = logging.getLogger(__name__)
# Records per transaction when rolling up plays: small, so that screens' reports never wait long for the writer.
ROLL_BATCH = 2_000


def mark_offline(session: Session, now: datetime, poll_after_s: float) -> list[ScreenEvent]:
    """Record each screen that went offline (or came back) since the last look; returns the new events."""
    return observe(session, now, thresholds(poll_after_s))


def retire_overrides(session: Session, now: datetime, keep: timedelta) -> list[int]:
    """Remove overrides that ended more than `keep` ago (they no longer play); each leaves an audit entry."""
    cutoff = now - keep
    ended = [row for row in session.scalars(select(OverrideRow)) if as_utc(row.end) <= cutoff]
    for row in ended:
        audit(session, "scheduler", "override.retire", f"override:{row.id}", now,
              before={"content": row.content, "start": as_utc(row.start).isoformat(),
                      "end": as_utc(row.end).isoformat()})
        session.delete(row)
    return [row.id for row in ended]


def render_missing(session: Session, store: FileStore, now: datetime) -> list[tuple[str, str]]:
    """Make media for screens whose profile gained content or that are new; returns (content, profile) made."""
    return sync_renditions(session, store, now)


def _hour(moment: datetime) -> datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def roll_up_plays(session: Session, now: datetime, keep: timedelta,
                  checkpoint: Callable[[], None] = lambda: None) -> tuple[int, int]:
    """Count raw plays into hourly totals, then delete counted records older than `keep`.

    Returns (plays counted, records pruned). Works in batches of ROLL_BATCH records and calls checkpoint (the
    scheduler commits) after each, so no transaction holds the database's writer for long while screens report.
    Records are marked as counted in the same transaction as the totals, so a crash or a second run never
    counts a play twice; a late batch is simply counted next time.
    """
    counted = 0
    while True:
        rows = session.scalars(select(Play).where(Play.rolled.is_(False)).limit(ROLL_BATCH)).all()
        if not rows:
            break
        buckets: dict[tuple, list] = {}
        for play in rows:
            bucket = buckets.setdefault((play.screen_id, play.item, _hour(play.started_at)), [0, 0.0])
            bucket[0] += 1
            bucket[1] += play.duration_s
            play.rolled = True
        for (screen_id, item, hour), (plays, seconds) in buckets.items():
            total = session.get(PlayHour, (screen_id, item, hour))
            if total is None:
                session.add(PlayHour(screen_id=screen_id, item=item, hour=hour, plays=plays, seconds=seconds))
            else:
                total.plays += plays
                total.seconds += seconds
        session.flush()
        counted += len(rows)
        checkpoint()
    pruned = 0
    while True:
        old = session.execute(select(Play.screen_id, Play.record_id)
                              .where(Play.rolled.is_(True), Play.started_at < now - keep).limit(ROLL_BATCH)).all()
        if not old:
            break
        # No in-memory sync: SQLite hands back naive times that Python cannot compare with `now`.
        session.execute(delete(Play).where(tuple_(Play.screen_id, Play.record_id).in_([tuple(r) for r in old]))
                        .execution_options(synchronize_session=False))
        pruned += len(old)
        checkpoint()
    session.expire_all()
    return counted, pruned


def prune_manifests(session: Session, now: datetime, checkpoint: Callable[[], None] = lambda: None) -> int:
    """Delete shared manifests whose window started over an hour before now, in batches; returns how many."""
    pruned, store = 0, ManifestStore(session.get_bind())
    while removed := store.prune(session, window_start(now) - timedelta(hours=1), batch=ROLL_BATCH // 20):
        pruned += removed
        checkpoint()
    return pruned


@dataclass(frozen=True)
class MediaCheck:
    checked: int
    missing: list[str]
    corrupt: list[str]


def verify_media(session: Session, store: FileStore) -> MediaCheck:
    """Re-hash every stored media file; lists those missing or whose bytes no longer match their name."""
    missing, corrupt, checked = [], [], 0
    for media in session.scalars(select(Media).order_by(Media.sha256)):
        checked += 1
        try:
            ok = store.verify(media.sha256, media.ext)
        except FileNotFoundError:
            missing.append(media.sha256)
            continue
        if not ok:
            corrupt.append(media.sha256)
    for sha in missing + corrupt:
        log.error("media %s is %s", sha, "missing" if sha in missing else "corrupt (its bytes changed)")
    return MediaCheck(checked, missing, corrupt)


def backup_sqlite(engine: Engine, folder: Path, now: datetime, keep: int) -> Path | None:
    """Copy an SQLite database with its online backup API into folder, keeping the newest `keep` copies.

    The copy is consistent even while the server writes. Returns its path, or None for other databases
    (PostgreSQL has its own tools: pg_dump, base backups).
    """
    if engine.dialect.name != "sqlite":
        return None
    source_path = engine.url.database
    # A backup holds everything the database does (password hashes, token digests): owner-only, like it.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"signage-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.db"
    partial = target.with_suffix(".db.partial")
    partial.unlink(missing_ok=True)  # left by a crash; it may predate owner-only modes
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(source_path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    partial.replace(target)  # a half-written backup never carries the final name
    backups = sorted(folder.glob("signage-*.db"))
    for old in backups[:-keep] if keep > 0 else []:
        old.unlink()
    return target

