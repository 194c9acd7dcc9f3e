"""Load shedding: when a worker's loop runs late, players are told to come back later instead of waiting.

A worker that gets more requests than it can answer (a province's screens all booting after a power cut, or a
machine too small) would otherwise queue them: every answer grows late, players time out and ask again, and
the server goes on working for clients that have given up, so it never catches up. Instead, while the worker's
event loop is late by more than SHED_LAG_S (server.worker.LoopWatch), a player request gets an immediate 503
with Retry-After: a few bytes, no database, no manifest. Players keep showing what they have and ask again
after that delay (the web player honours it), so the load falls and the worker is back to normal within one
poll period of the overload ending. Staff pages and health checks are never shed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

PLAYER_PREFIX = "/api/v1/screens/"


class Shedder:
    """WSGI middleware refusing player requests with 503 while lag() exceeds max_lag_s."""

    def __init__(self, app: Callable, lag: Callable[[], float], max_lag_s: float, retry_after_s: int,
                 rng: random.Random | None = None) -> None:
        self.app, self.lag, self.max_lag_s, self.retry_after_s = app, lag, max_lag_s, retry_after_s
        self.rng = rng or random.Random()
        self.shed = 0  # requests refused so far (for /metrics)

    def __call__(self, environ, start_response):
        if self.max_lag_s > 0 and environ.get("PATH_INFO", "").startswith(PLAYER_PREFIX) \
                and self.lag() > self.max_lag_s:
            self.shed += 1
            # Spread the retries, so the screens that were turned away do not all come back at one instant.
            retry = self.rng.randint(max(1, self.retry_after_s // 2), self.retry_after_s)
            body = json.dumps({"error": "Service Unavailable",
                               "message": f"the server is busy: try again in {retry} s",
                               "code": "server.busy"}).encode()
            start_response("503 SERVICE UNAVAILABLE", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("Retry-After", str(retry)), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
            return [body]
        return self.app(environ, start_response)
