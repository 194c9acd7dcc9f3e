"""Operations endpoints: /healthz and /metrics."""

from __future__ import annotations

import hmac
import ipaddress
import os
import tempfile
from time import monotonic

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from playlists.models import Media, OverrideRow, Play, PlayHour, Revision, Screen, ScreenStatus
from playlists.monitoring import state_at, thresholds
from playlists.reports import refusal_counts

from .db import get_manifests, get_session
from .errors import error_response
from .player import now
from .worker import LOOP

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


def _storage_ok_lately(path: str) -> str | None:
    """_storage_ok(path), probed at most once every STORAGE_CHECK_S seconds per worker.

    /healthz is anonymous and load balancers call it often: an fsync per call would let anyone turn requests into
    disk flushes, each of which holds the worker's event loop while it lasts."""
    window = float(current_app.config["STORAGE_CHECK_S"])
    last = current_app.extensions.get("signage.storage_probe")
    moment = monotonic()
    if last is not None and last[0] == path and moment - last[1] < window:
        return last[2]
    result = _storage_ok(path)
    current_app.extensions["signage.storage_probe"] = (path, moment, result)
    return result


@bp.get("/healthz")
def healthz():
    """200 {"status": "ok"} when the database answers and storage takes a write; 503 naming what failed."""
    checks = {"database": _database_ok(), "storage": _storage_ok_lately(current_app.instance_path)}
    if any(checks.values()):
        return jsonify(status="error", checks={k: v or "ok" for k, v in checks.items()}), 503
    return jsonify(status="ok", checks={k: "ok" for k in checks})


def _metric(lines: list[str], name: str, kind: str, help_text: str, samples: dict[str, float]) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples.items()]


def _loopback_direct() -> bool:
    """True for a client on this machine that did not come through a proxy (which would forward for someone)."""
    if "Forwarded" in request.headers or "X-Forwarded-For" in request.headers:
        return False
    try:
        return ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _metrics_refusal():
    """None when the caller may read /metrics; else the 401 or 403 answer."""
    configured = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if configured and scheme.lower() == "bearer" and token.strip():
        if hmac.compare_digest(token.strip().encode(), str(configured).encode()):
            return None
        response = error_response(401, "wrong metrics token")
        response[0].headers["WWW-Authenticate"] = 'Bearer realm="metrics", error="invalid_token"'
        return response
    if _loopback_direct():
        return None
    if not configured:
        return error_response(403, "metrics are served to loopback clients only (set METRICS_TOKEN to allow "
                                   "others with Authorization: Bearer <token>)")
    response = error_response(401, "metrics need Authorization: Bearer <METRICS_TOKEN>")
    response[0].headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@bp.get("/metrics")
def metrics():
    """Prometheus text format: screens by state, plays, content revision, and this worker's manifest builds.

    Counts only, nothing personal; answered to loopback clients (not forwarded by a proxy) and to callers with
    the METRICS_TOKEN bearer token; others get 403 (no token configured) or 401.
    """
    refusal = _metrics_refusal()
    if refusal is not None:
        return refusal
    session, moment = get_session(), now()
    limits = thresholds(float(current_app.config["POLL_AFTER_S"]))
    seen = dict(session.execute(select(ScreenStatus.screen_id, ScreenStatus.last_seen_at)).all())
    states = {"online": 0, "late": 0, "offline": 0, "never": 0}
    for screen_id in session.scalars(select(Screen.id).where(Screen.retired_at.is_(None))):
        states[state_at(seen.get(screen_id), moment, limits)] += 1
    active = session.scalar(select(func.count()).select_from(OverrideRow)
                            .where(OverrideRow.start <= moment, OverrideRow.end > moment))
    raw = session.scalar(select(func.count()).select_from(Play).where(Play.rolled.is_(False)))
    rolled = session.scalar(select(func.coalesce(func.sum(PlayHour.plays), 0)))
    lines: list[str] = []
    _metric(lines, "signage_screens", "gauge", "Screens by heartbeat state.",
            {f'{{state="{state}"}}': n for state, n in states.items()})
    _metric(lines, "signage_overrides_active", "gauge", "Emergency overrides on screen now.", {"": active})
    _metric(lines, "signage_plays", "counter", "Proof-of-play records received (rolled up and raw).",
            {"": rolled + raw})
    # Counted in the database, so every worker reports the same figures.
    _metric(lines, "signage_plays_refused", "counter", "Proof-of-play records refused, by reason.",
            {f'{{reason="{reason}"}}': n for reason, n in refusal_counts(session).items()})
    _metric(lines, "signage_media_files", "gauge", "Media files in the store.",
            {"": session.scalar(select(func.count()).select_from(Media))})
    _metric(lines, "signage_content_revision", "gauge", "Changes to what screens show so far.",
            {"": session.scalar(select(Revision.value).where(Revision.id == 1))})
    pid = f'{{pid="{os.getpid()}"}}'
    _metric(lines, "signage_manifest_builds", "counter", "Manifests built by this worker process.",
            {pid: get_manifests().builds})
    _metric(lines, "signage_manifests_shared", "counter",
            "Manifests this worker process took from the shared store instead of building them.",
            {pid: get_manifests().shared})
    shedder = current_app.extensions.get("signage.shedder")
    if shedder is not None:
        _metric(lines, "signage_requests_shed", "counter",
                "Player requests this worker answered 503 because its loop ran late.", {pid: shedder.shed})
        _metric(lines, "signage_loop_lag_seconds", "gauge",
                "The largest lateness of this worker's event loop since the last scrape.", {pid: LOOP.worst()})
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
