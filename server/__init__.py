"""The Flask application: the only HTTP adapter of the domain packages."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from renderer import require_raqm


def instance_dir() -> str:
    """The instance folder: $SIGNAGE_INSTANCE, or ./instance."""
    return os.path.abspath(os.environ.get("SIGNAGE_INSTANCE") or "instance")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then SIGNAGE_* variables, then test_config."""
    require_raqm()
    app = Flask(__name__, instance_path=instance_dir(), instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        # Largest upload accepted (bytes); request bodies may be 1 MiB more for the multipart envelope.
        UPLOAD_MAX_BYTES=25 * 1024 * 1024,
        # Largest image accepted (width x height, as the file declares it): refused with 413 above. Decoding at most
        # this many pixels keeps a worker's memory growth under 300 MB (tests/test_memory.py).
        IMAGE_MAX_PIXELS=50_000_000,
        # Slow clients (server/worker.py): a request's line and headers must arrive within HEADER_TIMEOUT_S of its
        # first byte; each read of a body must get data within BODY_TIMEOUT_S; a worker holds at most
        # WORKER_CONNECTIONS connections; it is replaced after about WORKER_MAX_REQUESTS requests (+ jitter): about
        # every 20 minutes per worker with 10,000 screens polling every 30 s on two workers.
        HEADER_TIMEOUT_S=10,
        BODY_TIMEOUT_S=30,
        WORKER_CONNECTIONS=4000,
        WORKER_MAX_REQUESTS=200000,
        WORKER_MAX_REQUESTS_JITTER=20000,
        # JSON request bodies of the API (server/schemas.py): larger ones get 413; deeper nesting gets 400.
        JSON_MAX_BYTES=256 * 1024,
        JSON_MAX_DEPTH=32,
        JSON_SORT_KEYS=False,
        # Console sessions: the cookie is not sent on cross-site subrequests or posts.
        SESSION_COOKIE_SAMESITE="Lax",
        # Players poll the manifest this often (seconds); they add their own random jitter.
        POLL_AFTER_S=30,
        # Built manifests kept per worker (gzip, 1-2 KB each); screens under the same rules share one.
        MANIFEST_CACHE_SIZE=4096,
        # How often (seconds) a worker asks the database whether content changed; 0 asks on every poll.
        # One second keeps the poll path free of queries under load, and a change (or a revoked token)
        # reaches every worker within that second.
        REVISION_CHECK_S=1.0,
        # Under signage serve, player requests get 503 + Retry-After (up to POLL_AFTER_S) while the worker's event
        # loop runs later than this (seconds) instead of queueing (server/shedding.py); 0 never sheds.
        SHED_LAG_S=2.0,
        # The scheduler's build-manifests job builds for at most this long (seconds) a run, every second.
        PREBUILD_BUDGET_S=10,
        # Proof of play (playlists/reports.py): a record must fit the screen's schedule within PLAYS_EDGE_S seconds
        # at segment edges and overlaps, end no later than PLAYS_CLOCK_SKEW_S after the server's now, start within
        # PLAYS_KEEP_DAYS; a batch holds at most PLAYS_MAX_BATCH records.
        PLAYS_EDGE_S=5,
        PLAYS_CLOCK_SKEW_S=300,
        PLAYS_MAX_BATCH=500,
        # Pairing (playlists/pairing.py): codes live PAIRING_LIFETIME_S; at most PAIRING_MAX_OPEN open at once and
        # PAIRING_MAX_PER_CLIENT per client address; PAIRING_CLAIM_FAILURES wrong claims per address per lifetime.
        PAIRING_LIFETIME_S=900,
        PAIRING_MAX_OPEN=1000,
        PAIRING_MAX_PER_CLIENT=10,
        PAIRING_CLAIM_FAILURES=20,
        # /go/<code>: one scan counted per client (address and user agent) and code in this window.
        SCAN_WINDOW_MIN=30,
        # Scheduler: overrides are removed this long after they end; raw proof-of-play records are kept this
        # many days once counted into hourly totals; SQLite backups kept.
        OVERRIDE_KEEP_HOURS=24,
        PLAYS_KEEP_DAYS=90,
        BACKUP_KEEP=7,
        # Console sessions end after this long without a request, and this long after the login at most.
        SESSION_IDLE_MINUTES=60,
        SESSION_MAX_HOURS=12,
        # How long an admin's password reset link works (it also stops once used: the password changed).
        RESET_LINK_HOURS=24,
        # Failed logins: after LOGIN_FREE_FAILURES of one (address, name) pair, or LOGIN_ADDRESS_FREE_FAILURES of
        # one address across names, each next attempt waits 2, 4, 8 ... s up to LOGIN_MAX_DELAY_S; a pair or
        # address with no attempt for LOGIN_FORGET_MINUTES starts again. Never a lock on the account itself.
        LOGIN_FREE_FAILURES=3,
        LOGIN_ADDRESS_FREE_FAILURES=20,
        LOGIN_MAX_DELAY_S=900,
        LOGIN_FORGET_MINUTES=60,
        # Reverse proxies in front that set X-Forwarded-For and -Proto; 0 (default) trusts no such header.
        TRUSTED_PROXIES=0,
        # Strict-Transport-Security max-age (seconds) on answers to HTTPS requests; 0 sends none.
        HSTS_MAX_AGE=31536000,
        # /metrics answers loopback clients, and others sending Authorization: Bearer <METRICS_TOKEN> if set.
        METRICS_TOKEN=None,
        # /healthz probes storage with a write and an fsync at most this often (seconds) per worker.
        STORAGE_CHECK_S=5,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("SIGNAGE")
    else:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["UPLOAD_MAX_BYTES"]) + 1024 * 1024
    # Owner-only: the database, the secret key and config.py live here.
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)

    from . import (
        api,
        auth,
        console,
        console_people,  # noqa: F401 - registers the Users pages and the reset links on console.bp
        console_screens,  # noqa: F401 - registers the Screens, Groups, Sites and pairing pages on console.bp
        dashboard,  # noqa: F401 - registers the console's home page on console.bp
        db,
        errors,
        fastpoll,
        health,
        i18n,
        monitoring,
        pages,
        pairing,
        player,
        preview,
        reports,
        security,
        webplayer,
    )
    from .exports import bp as exports_bp

    db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    pages.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(player.bp)
    app.register_blueprint(webplayer.bp)
    app.register_blueprint(pairing.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(preview.bp)
    app.register_blueprint(monitoring.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(reports.go)
    app.register_blueprint(exports_bp)
    # The players' poll path, in front of everything else (see server/fastpoll.py).
    app.wsgi_app = fastpoll.PollFastPath(app)
    if proxies := int(app.config["TRUSTED_PROXIES"]):
        # Only when configured: otherwise any client could name its own address in X-Forwarded-For. The Host
        # header is the proxy's to pass on (nginx: proxy_set_header Host), so X-Forwarded-Host is never trusted.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app
