"""Operations endpoints: /healthz."""

from __future__ import annotations

import os
import tempfile

from flask import Blueprint, current_app, jsonify

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


@bp.get("/healthz")
def healthz():
    """200 {"status": "ok"} when storage takes a write; 503 with the failed checks otherwise."""
    problem = _storage_ok(current_app.instance_path)
    if problem:
        return jsonify(status="error", checks={"storage": problem}), 503
    return jsonify(status="ok", checks={"storage": "ok"})
