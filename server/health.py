"""Operations endpoints: /healthz."""

from __future__ import annotations

import os
import tempfile

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .db import get_session

bp = Blueprint("health", __name__)


def _storage_ok(path: str) -> str | None:
    """None when the folder takes a write, else what failed."""
    try:
        with tempfile.TemporaryFile(dir=path) as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return f"instance folder {path} is not writable: {exc.strerror}"
    return None


def _database_ok() -> str | None:
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return None


@bp.get("/healthz")
def healthz():
    """200 {"status": "ok"} when the database answers and storage takes a write; 503 naming what failed."""
    checks = {"database": _database_ok(), "storage": _storage_ok(current_app.instance_path)}
    if any(checks.values()):
        return jsonify(status="error", checks={k: v or "ok" for k, v in checks.items()}), 503
    return jsonify(status="ok", checks={k: "ok" for k in checks})
