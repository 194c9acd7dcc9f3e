"""The scheduler process (`signage scheduler`): the periodic jobs, in one process, never in gunicorn workers.

A lock makes sure only one runs per database: a PostgreSQL advisory lock (held by a connection for the life
of the process, so it is released even if the process is killed), or an exclusive file lock next to an SQLite
database. A second scheduler exits with a message, or waits for the lock with --wait.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import Connection, text

from playlists import jobs
from playlists.manifest import Prebuilder

from .db import get_engine, get_session, get_store

log = logging.getLogger(__name__)
# pg_advisory_lock key: any constant shared by every scheduler of one database ("SIGNAGE1" in ASCII).
ADVISORY_KEY = 0x5349474E41474531


@dataclass(frozen=True)
class Job:
    """A periodic job: a stable id, how often it runs, and what it does given the app and `now`."""

    id: str
    every: timedelta
    run: Callable[[Flask, datetime], object]


def _mark_offline(app: Flask, now: datetime):
    return jobs.mark_offline(get_session(), now, float(app.config["POLL_AFTER_S"]))


def _retire_overrides(app: Flask, now: datetime):
    return jobs.retire_overrides(get_session(), now, timedelta(hours=float(app.config["OVERRIDE_KEEP_HOURS"])))


def _render_missing(app: Flask, now: datetime):
    return jobs.render_missing(get_session(), get_store(), now)


def _roll_up_plays(app: Flask, now: datetime):
    session = get_session()
    return jobs.roll_up_plays(session, now, timedelta(days=float(app.config["PLAYS_KEEP_DAYS"])), session.commit)


def _build_manifests(app: Flask, now: datetime):
    prebuilder = app.extensions.get("signage.prebuilder")
    if prebuilder is None:
        prebuilder = app.extensions["signage.prebuilder"] = Prebuilder(
            get_engine(), int(app.config["POLL_AFTER_S"]), int(app.config["MANIFEST_CACHE_SIZE"]))
    return prebuilder.run(now, budget_s=float(app.config["PREBUILD_BUDGET_S"]))


def _prune_manifests(app: Flask, now: datetime):
    session = get_session()
    return jobs.prune_manifests(session, now, session.commit)


def _verify_media(app: Flask, now: datetime):
    return jobs.verify_media(get_session(), get_store())


def _backup(app: Flask, now: datetime):
    folder = Path(app.instance_path) / "backups"
    return jobs.backup_sqlite(get_engine(), folder, now, int(app.config["BACKUP_KEEP"]))


JOBS = (
    # Every screen's manifest, built once into the shared store when content changes and ahead of each hour;
    # the workers only fetch them (playlists/manifest.py).
    Job("build-manifests", timedelta(seconds=1), _build_manifests),
    Job("mark-offline", timedelta(seconds=30), _mark_offline),
    Job("retire-overrides", timedelta(minutes=5), _retire_overrides),
    Job("render-missing", timedelta(minutes=1), _render_missing),
    Job("roll-up-plays", timedelta(minutes=10), _roll_up_plays),
    Job("prune-manifests", timedelta(minutes=10), _prune_manifests),
    Job("verify-media", timedelta(days=1), _verify_media),
    Job("backup-sqlite", timedelta(days=1), _backup),
)


def run_job(app: Flask, job: Job, now: datetime | None = None) -> object:
    """Run one job in its own transaction; a failure is logged and rolled back, and the next run tries again."""
    with app.app_context():
        session = get_session()
        moment = now or _clock(app)
        try:
            result = job.run(app, moment)
            session.commit()
        except Exception:
            session.rollback()  # the scheduler logs the error; the next run starts clean
            raise
        # A run that found nothing to do (build-manifests, every second) is not worth a line at INFO.
        log.log(logging.DEBUG if result in (0, None, [], (0, 0)) else logging.INFO, "job %s: %s", job.id,
                summary(result))
        return result


def _clock(app: Flask) -> datetime:
    clock = app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def summary(result: object) -> str:
    if isinstance(result, list | tuple) and len(result) > 5:
        return f"{len(result)} items"
    return repr(result)


class AlreadyRunning(RuntimeError):
    """Another scheduler holds the lock for this database."""


class SchedulerLock:
    """One scheduler per database: an advisory lock on PostgreSQL, a file lock beside SQLite."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._conn: Connection | None = None
        self._fd: int | None = None

    def acquire(self, wait: bool, poll_s: float = 1.0) -> None:
        """Take the lock; raises AlreadyRunning unless wait, in which case it retries until it gets it."""
        while not self._try():
            if not wait:
                raise AlreadyRunning(f"another scheduler is running for this database ({self.describe()}); "
                                     "only one may run. Stop it first, or start this one with --wait.")
            time.sleep(poll_s)

    def describe(self) -> str:
        with self.app.app_context():
            engine = get_engine()
        if engine.dialect.name == "postgresql":
            return f"PostgreSQL advisory lock {ADVISORY_KEY:#x}"
        return f"file lock {self._path()}"

    def _path(self) -> str:
        return os.path.join(self.app.instance_path, "scheduler.lock")

    def _try(self) -> bool:
        with self.app.app_context():
            engine = get_engine()
        if engine.dialect.name == "postgresql":
            conn = self._conn or engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
            conn.commit()
            if got:
                self._conn = conn
            elif self._conn is None:
                conn.close()
            return bool(got)
        fd = os.open(self._path(), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def run(app: Flask, wait: bool = False) -> None:
    """Hold the lock and run every job on its timetable until SIGTERM or Ctrl-C."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    lock = SchedulerLock(app)
    lock.acquire(wait)
    scheduler = BlockingScheduler(timezone=UTC)
    start = datetime.now(UTC)
    for index, job in enumerate(JOBS):
        # The quick jobs run at once; the daily ones a few minutes after start, not in the boot rush.
        first = start + (timedelta(minutes=5) if job.every >= timedelta(hours=1) else timedelta(seconds=index))
        scheduler.add_job(run_job, "interval", args=(app, job), id=job.id, seconds=job.every.total_seconds(),
                          next_run_time=first, max_instances=1, coalesce=True, misfire_grace_time=60)

    def stop(_signum, _frame):
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"scheduler running ({lock.describe()}): {', '.join(job.id for job in JOBS)}", flush=True)
    try:
        scheduler.start()
    finally:
        lock.release()
    # Stopped. A job still running is one database transaction: leaving now rolls it back, whereas waiting
    # for its thread could hold up a restart for as long as the job blocks (an SQLite lock wait, a render).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
