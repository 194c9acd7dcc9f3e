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


def run(host: str, port: int, workers: int) -> None:
    """Serve until interrupted; gthread workers because players make many short, mostly idle requests."""
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
    _Gunicorn(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "accesslog": "-",
        "graceful_timeout": 10,
    }).run()
