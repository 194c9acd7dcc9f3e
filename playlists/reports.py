"""What players report: heartbeats and proof-of-play batches, validated before anything is stored."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Play, ScreenStatus

MAX_BATCH = 500
_RECORD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class ReportError(ValueError):
    """A heartbeat or batch that is not what a player should send; nothing of it was stored."""


def _text(data: dict, key: str, limit: int, where: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ReportError(f"{where}{key}: got {value!r:.80}, expected text of at most {limit} characters")
    return value


def record_heartbeat(session: Session, screen_id: str, status: object, now: datetime) -> None:
    """Keep the latest status of a screen; refuse a body that is not a JSON object."""
    if not isinstance(status, dict):
        raise ReportError(f"heartbeat must be a JSON object: got {type(status).__name__}")
    version = _text(status, "version", 64, "")
    item = _text(status, "item", 200, "")
    values = {"screen_id": screen_id, "last_seen_at": now, "player_version": version, "item": item,
              "status_json": json.dumps(status, ensure_ascii=False, sort_keys=True)}
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        row = session.get(ScreenStatus, screen_id) or ScreenStatus(screen_id=screen_id)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        return
    # One statement, so the write lock is held as briefly as possible: thousands of screens beat every minute.
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(ScreenStatus).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=[ScreenStatus.screen_id],
        set_={key: statement.excluded[key] for key in values if key != "screen_id"}))


def _parse_record(rec: object, index: int) -> dict:
    where = f"plays[{index}]."
    if not isinstance(rec, dict):
        raise ReportError(f"plays[{index}]: got {type(rec).__name__}, expected an object")
    record_id = rec.get("id")
    if not isinstance(record_id, str) or not _RECORD_ID.match(record_id):
        raise ReportError(f"{where}id: got {record_id!r:.80}, expected 1-64 letters, digits or _.:-")
    sha = _text(rec, "sha256", 64, where)
    if sha and not _SHA.match(sha):
        raise ReportError(f"{where}sha256: got {sha!r}, expected 64 lowercase hex digits")
    started = rec.get("started_at")
    try:
        started_at = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        started_at = None
    if started_at is None or started_at.tzinfo is None:
        raise ReportError(f"{where}started_at: got {started!r:.80}, expected an ISO 8601 time with a UTC offset")
    duration = rec.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration) \
            or not 0 < duration <= 86400:
        raise ReportError(f"{where}duration_s: got {duration!r:.80}, expected a number of seconds in (0, 86400]")
    item = _text(rec, "item", 200, where)
    return {"record_id": record_id, "item": item, "sha256": sha, "started_at": started_at,
            "duration_s": float(duration)}


def record_plays(session: Session, screen_id: str, batch: object, now: datetime) -> int:
    """Store a batch of plays and return how many were new; a record seen before is ignored, a bad one refuses all."""
    records = batch.get("plays") if isinstance(batch, dict) else None
    if not isinstance(records, list):
        raise ReportError('plays batch must be a JSON object {"plays": [...]}')
    if len(records) > MAX_BATCH:
        raise ReportError(f"plays batch too large: got {len(records)} records, expected at most {MAX_BATCH}")
    rows = {}
    for index, rec in enumerate(records):
        row = _parse_record(rec, index)
        rows[row["record_id"]] = row | {"screen_id": screen_id, "received_at": now}
    if not rows:
        return 0
    known = set(session.scalars(select(Play.record_id).where(Play.screen_id == screen_id,
                                                             Play.record_id.in_(rows))))
    fresh = [row for rid, row in rows.items() if rid not in known]
    if fresh:
        session.execute(_insert_ignoring_duplicates(session), fresh)
    return len(fresh)


def _insert_ignoring_duplicates(session: Session):
    # Two copies of one batch can arrive at once (a retry racing the original); the database,
    # not a check beforehand, is what makes the second one harmless.
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(Play).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(Play).on_conflict_do_nothing()
    return insert(Play)
