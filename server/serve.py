"""Running the app under gunicorn from `signage serve`."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping

from gunicorn.app.base import BaseApplication

from renderer.errors import N_, Problem

from . import create_app, instance_dir


class _Gunicorn(BaseApplication):
    """Gunicorn with its options given here rather than read from the command line.

    `load` makes the WSGI app in each worker, after the gevent worker has patched the standard library, so that
    the app's locks and connection pools are gevent's (a thread lock taken before the patch would block the
    whole worker should a request wait while holding it)."""

    def __init__(self, load: Callable[[], Callable], options: dict) -> None:
        self.loader, self.options = load, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.loader()


def serving_app():
    """The app as each worker serves it: manifests built and stored in a background thread, so a poll never
    waits for a build its screen can do without (playlists/manifest.py), player reports written by another
    (server/writer.py), so no answer waits for the database's writer, and player requests shed while the
    worker's loop runs late (server/shedding.py)."""
    from .db import get_engine
    from .shedding import Shedder
    from .worker import LOOP, background_executor
    from .writer import ReportWriter

    # Background threads (fetching manifests, writing reports, staff changes) share the interpreter lock with
    # the loop; a shorter switch interval than the default 5 ms bounds how long the loop waits to get it back
    # after each socket call (bench-scale: poll p99 down by about half with edits running).
    sys.setswitchinterval(0.001)
    app = create_app()
    manifests = app.extensions["signage.manifests"]
    # The scheduler builds every manifest into the shared store: workers fetch them, and build one themselves
    # only when it is a poll period late (no scheduler running) or the screen has no manifest at all.
    manifests.executor, manifests.prebuilt = background_executor("manifests"), True
    manifests.fallback_s = float(app.config["POLL_AFTER_S"])
    with app.app_context():
        app.extensions["signage.writer"] = ReportWriter(get_engine(), background_executor("reports"))
    shedder = Shedder(app.wsgi_app, lambda: LOOP.lag, float(app.config["SHED_LAG_S"]),
                      int(app.config["POLL_AFTER_S"]))
    app.wsgi_app = app.extensions["signage.shedder"] = shedder
    return app


def gunicorn_options(host: str, port: int, workers: int, config: Mapping, access_log: bool = False) -> dict:
    """The project's gunicorn settings; the poll benchmark runs its bare-Flask floor on the very same ones.

    config is the app's configuration, where the limits below are settings (defaults in create_app)."""
    from .worker import SignageWorker

    return {
        "bind": f"{host}:{port}",
        # One worker per core is the usual start: each poll is short CPU work and the manifest cache lives
        # per worker, so more workers mean more copies of it without more throughput.
        "workers": workers,
        # gevent, not gthread: a gthread worker gives a thread to each connection as soon as its first byte
        # arrives and that thread then blocks until the request is complete, so a few dozen clients sending
        # their headers or bodies a byte at a time held every thread of every worker and stalled all answers
        # for a minute. Under gevent a waiting connection costs a greenlet (a few KB) and a file descriptor,
        # not a thread: with 1,000 slowloris connections open, /healthz and a manifest poll still answer in
        # milliseconds (tests/test_slow_clients.py). Our requests are short CPU work on a cache or a local
        # database, so nothing is lost by one loop per worker; the one long CPU job, decoding an upload, runs
        # in a thread off the loop (server.worker.run_heavy). Request buffering in a proxy (nginx) does the
        # same in front of gthread, but the embedded default has no proxy, so SignageWorker buffers too: a
        # request reaches the app only once its body is in (memory, then a temporary file), so the app never
        # waits on a client while it holds a database transaction (SQLite's lock would otherwise stall every
        # greenlet of the worker). gevent alone does not time out a client that never finishes its headers or
        # body: SignageWorker adds those deadlines (server/worker.py): HEADER_TIMEOUT_S for a request's line
        # and headers, BODY_TIMEOUT_S for each read of a body (and each 64 KiB of an answer), gunicorn's
        # keepalive between requests. The cost: a blocking call (an fsync, a PostgreSQL query: psycopg is
        # imported before the worker patches, so it waits in C) holds the worker's loop while it lasts.
        "worker_class": type("SignageWorker", (SignageWorker,), {
            "header_timeout": float(config["HEADER_TIMEOUT_S"]), "body_timeout": float(config["BODY_TIMEOUT_S"]),
            "max_body": int(config["MAX_CONTENT_LENGTH"])}),
        # Connections a worker holds at once (idle keep-alive and slow ones included); past this it stops
        # accepting until one closes. The worker raises its file-descriptor limit to match.
        "worker_connections": int(config["WORKER_CONNECTIONS"]),
        "keepalive": 75,
        # A worker is replaced (gracefully) after about this many requests, which hands back to the system
        # whatever memory a large upload's decode left fragmented; the jitter keeps workers from restarting
        # together. 0 turns it off.
        "max_requests": int(config["WORKER_MAX_REQUESTS"]),
        "max_requests_jitter": int(config["WORKER_MAX_REQUESTS_JITTER"]),
        # Off by default: 10,000 screens polling every 30 s would write 330 lines a second; a proxy in
        # front usually logs anyway. Errors are always logged.
        "accesslog": "-" if access_log else None,
        "graceful_timeout": 10,
    }


class BindError(Problem, RuntimeError):
    """host:port cannot be listened on; the sentence says what to do instead (a RuntimeError, as the CLI expects of
    run())."""


def check_bind(host: str, port: int) -> None:
    """Refuse (BindError, one sentence for people) when host:port cannot be listened on, so that a busy port is
    found before anything is created: a first run that seeded the demo and printed the admin's password, then
    failed to bind, left a new user with neither a server nor, on the next run, the password."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError):
        raise BindError(N_("cannot listen on %(host)s: it is neither an address of this machine nor a name that "
                        "resolves; choose another with --host"), code="serve.bad_host", field="host",
                        host=host) from None
    family, kind, proto, _name, address = infos[0]
    probe = socket.socket(family, kind, proto)
    other = port + 1 if port < 65535 else 8001
    try:
        # As gunicorn binds: SO_REUSEADDR, so a port left in TIME_WAIT by a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BindError(N_("port %(port)s on %(host)s is in use; choose another with --port (make run "
                            "PORT=%(other)s)"), code="serve.port_in_use", field="port", port=port, host=host,
                            other=other) from None
        if exc.errno == errno.EACCES:
            raise BindError(N_("port %(port)s on %(host)s needs administrator rights; choose one above 1023 with "
                            "--port (make run PORT=%(other)s)"), code="serve.port_forbidden", field="port",
                            port=port, host=host, other=8000 if port != 8000 else other) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise BindError(N_("cannot listen on %(host)s: it is not an address of this machine; choose another "
                            "with --host"), code="serve.bad_host", field="host", host=host) from None
        raise BindError(N_("cannot listen on port %(port)s on %(host)s: %(reason)s"), code="serve.cannot_bind",
                        port=port, host=host, reason=exc.strerror or str(exc)) from None
    finally:
        probe.close()


def run(host: str, port: int, workers: int, access_log: bool = False, demo: bool = True,
        scheduler: bool = True) -> None:
    """Serve until interrupted, with the scheduler as a child process; seed the demo on an empty instance.

    Checks first that host:port can be listened on, and creates nothing (instance, database, demo, admin) when
    it cannot."""
    from playlists.db import upgrade

    from .db import get_engine

    check_bind(host, port)
    app = create_app()
    with app.app_context():
        engine = get_engine()
        upgrade(engine)
        seeded = _seed_demo(app) if demo else None
        # Workers are forked from this process: no pooled connection may cross the fork.
        engine.dispose()
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(f"Serving on {base}/ (instance: {instance_dir()})", flush=True)
    print(f"  console: {base}/staff/   preview: {base}/preview/   health: {base}/healthz", flush=True)
    if seeded:
        _print_demo(base, *seeded)
    child = _start_scheduler() if scheduler else None
    try:
        _Gunicorn(serving_app, gunicorn_options(host, port, workers, app.config, access_log)).run()
    finally:
        if child is not None:
            _stop(child)


def _seed_demo(app) -> tuple[str, dict[str, str]] | None:
    """Seed the demo on an empty instance and return its secrets; on later starts say where they are kept.

    Also warns about secret files of the instance that other users can read."""
    from playlists.demo import first_start_secrets, forget_changed_first_start_secrets, is_empty, seed

    from .db import get_session, get_store
    from .security import warn_readable_secrets

    warn_readable_secrets(app)
    session = get_session()
    if not is_empty(session):
        forgotten = forget_changed_first_start_secrets(session, app.instance_path)
        if forgotten is not None:
            print(f"  the admin's password was changed: deleted {forgotten}", flush=True)
        kept = first_start_secrets(app.instance_path)
        if kept is not None:
            print(f"  first-start secrets (admin password, player links) are in {kept} "
                  "until the admin changes that password", flush=True)
        return None
    print("Empty instance: creating the demo network of Thừa Thiên Huế (rendering its posters)...", flush=True)
    from datetime import UTC, datetime

    password, tokens = seed(session, get_store(), datetime.now(UTC))
    session.commit()
    return password, tokens


def _print_demo(base: str, password: str, tokens: dict[str, str]) -> None:
    """Show the demo's secrets this once, after keeping them in the instance's owner-only file."""
    from playlists.demo import keep_first_start_secrets

    lines = ["  players (each link carries its screen's token; it is kept by the browser, not sent in URLs):"]
    lines += [f"    {base}/player/{screen_id}#token={token}" for screen_id, token in tokens.items()]
    kept = keep_first_start_secrets(instance_dir(), "\n".join(
        lines + ["  log in to the console as admin with this password:", password, ""]))
    print("\n".join(lines))
    print(f"  kept (owner-only) in {kept} until the admin changes the password; later starts print only its path")
    print("  log in to the console as admin with this password (shown once):", flush=True)
    print(password, flush=True)


def _start_scheduler() -> subprocess.Popen:
    # Its own process, never inside a gunicorn worker; --wait makes it a standby if another one holds the lock.
    return subprocess.Popen([sys.executable, "-m", "server", "scheduler", "--wait"])


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
