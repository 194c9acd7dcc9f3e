"""Running the app under gunicorn from `signage serve`."""

from __future__ import annotations

import subprocess
import sys

from gunicorn.app.base import BaseApplication

from . import create_app, instance_dir


class _Gunicorn(BaseApplication):
    """Gunicorn with its options given here rather than read from the command line."""

    def __init__(self, app, options: dict) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def gunicorn_options(host: str, port: int, workers: int, access_log: bool = False) -> dict:
    """The project's gunicorn settings; the poll benchmark runs its bare-Flask floor on the very same ones."""
    return {
        "bind": f"{host}:{port}",
        # One worker per core is the usual start: each poll is short CPU work and the manifest cache lives
        # per worker, so more workers mean more copies of it without more throughput.
        "workers": workers,
        # gthread: players keep connections alive between polls; threads let one worker hold many idle
        # keep-alive connections and overlap the short waits on the database, with no async rewrite.
        "worker_class": "gthread",
        "threads": 8,
        "keepalive": 75,
        # Off by default: 10,000 screens polling every 30 s would write 330 lines a second; a proxy in
        # front usually logs anyway. Errors are always logged.
        "accesslog": "-" if access_log else None,
        "graceful_timeout": 10,
    }


def run(host: str, port: int, workers: int, access_log: bool = False, demo: bool = True,
        scheduler: bool = True) -> None:
    """Serve until interrupted, with the scheduler as a child process; seed the demo on an empty instance."""
    from playlists.db import upgrade

    from .db import get_engine

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
        _Gunicorn(app, gunicorn_options(host, port, workers, access_log)).run()
    finally:
        if child is not None:
            _stop(child)


def _seed_demo(app) -> tuple[str, dict[str, str]] | None:
    from playlists.demo import is_empty, seed

    from .db import get_session, get_store

    session = get_session()
    if not is_empty(session):
        return None
    print("Empty instance: creating the demo network of Thừa Thiên Huế (rendering its posters)...", flush=True)
    from datetime import UTC, datetime

    password, tokens = seed(session, get_store(), datetime.now(UTC))
    session.commit()
    return password, tokens


def _print_demo(base: str, password: str, tokens: dict[str, str]) -> None:
    print("  players (each link carries its screen's token; it is kept by the browser, not sent in URLs):")
    for screen_id, token in tokens.items():
        print(f"    {base}/player/{screen_id}#token={token}")
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
