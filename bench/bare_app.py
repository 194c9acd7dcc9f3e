"""The floor of make bench-poll: a bare Flask app returning a constant, on the project's own gunicorn settings."""

from __future__ import annotations

import sys

from flask import Flask

from server.serve import _Gunicorn, gunicorn_options


def main() -> None:
    app = Flask(__name__)

    @app.get("/")
    def constant():
        return {"status": "ok"}

    port, workers = int(sys.argv[1]), int(sys.argv[2])
    _Gunicorn(app, gunicorn_options("127.0.0.1", port, workers)).run()


if __name__ == "__main__":
    main()
