"""Running the app under gunicorn from `signage serve`."""

from __future__ import annotations

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


def run(host: str, port: int, workers: int, access_log: bool = False) -> None:
    """Serve until interrupted."""
    from playlists.db import upgrade

    from .db import get_engine

    app = create_app()
    with app.app_context():
        engine = get_engine()
        upgrade(engine)
        # Workers are forked from this process: no pooled connection may cross the fork.
        engine.dispose()
    print(f"Serving on http://{host}:{port}/ (instance: {instance_dir()}); health: http://{host}:{port}/healthz",
          flush=True)
    _Gunicorn(app, gunicorn_options(host, port, workers, access_log)).run()
