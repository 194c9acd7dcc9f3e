"""The floor of make bench-poll: a bare Flask app returning a constant, on the project's own gunicorn settings."""

from __future__ import annotations

import sys

from flask import Flask

from server import create_app
from server.serve import _Gunicorn, gunicorn_options


def bare() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def constant():
        return {"status": "ok"}

    return app


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    # The worker limits are settings of the signage app: read them as `signage serve` does.
    _Gunicorn(bare, gunicorn_options("127.0.0.1", port, workers, create_app().config)).run()


if __name__ == "__main__":
    main()
