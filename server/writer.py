"""Heartbeats and proof of play, written to the database by one background thread of each worker.

Under `signage serve` a worker answers every connection from one event loop, and a database write can wait:
for SQLite's single writer (the scheduler, the other worker), for an fsync, for PostgreSQL. Done on the loop,
that wait would hold every poll of the worker too. So the writes go to a thread:
- heartbeats are checked in the request and answered 204 at once; the thread keeps the latest of each screen
  and writes whatever has gathered in one statement (group commit), so 10,000 screens beating every minute
  cost a few small transactions a second. A heartbeat acknowledged but not yet written when the process dies
  is lost; the screen's next one, a minute later, says the same.
- a batch of plays is judged and stored in the thread while its request waits (the answer says what became
  of each record), so the loop goes on serving others meanwhile.
Without a writer (tests, commands, the development server) player.py writes in the request, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from playlists.reports import store_heartbeats

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReportWriter:
    """The writes of one process's player reports, in the executor's one thread."""

    def __init__(self, engine: Engine, executor: Executor) -> None:
        self.engine, self.executor = engine, executor
        self._beats: dict[str, dict] = {}
        self._queued = False
        self.written = 0  # heartbeats written (for tests and metrics)

    def heartbeat(self, values: dict) -> None:
        """Keep a checked heartbeat (playlists.reports.heartbeat_values) to be written shortly."""
        self._beats[values["screen_id"]] = values
        if not self._queued:
            self._queued = True
            self.executor.submit(self._flush)

    def _flush(self) -> None:
        # Cleared before taking the batch: a beat added after this point queues the next flush itself.
        self._queued = False
        batch, self._beats = self._beats, {}
        if not batch:
            return
        try:
            with Session(self.engine) as session:
                store_heartbeats(session, list(batch.values()))
                session.commit()
            self.written += len(batch)
        except Exception:  # the next beat of each screen, a minute later, tries again
            log.exception("could not write %d heartbeats", len(batch))

    def run(self, fn: Callable[[Session], T]) -> T:
        """fn(session) in the writer's thread, committed; returns its result or raises what it raised (rolled back)."""
        return self.executor.submit(self._in_session, fn).result()

    def _in_session(self, fn: Callable[[Session], Any]) -> Any:
        with Session(self.engine) as session:
            result = fn(session)
            session.commit()
            return result

    def drain(self) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        self.executor.submit(lambda: None).result()
