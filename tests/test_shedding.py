"""Load shedding: a late event loop turns players away at once with 503 + Retry-After; staff pages never are."""

import json
import random

from server.shedding import Shedder
from server.worker import LoopWatch


def call(app, path):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return seen["status"], seen["headers"], body


def inner(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"served"]


def test_players_are_told_to_come_back_while_the_loop_is_late_and_served_again_after():
    lag = [0.0]
    shed = Shedder(inner, lambda: lag[0], max_lag_s=2.0, retry_after_s=30, rng=random.Random(1))
    assert call(shed, "/api/v1/screens/s1/manifest")[0] == "200 OK"
    lag[0] = 2.5
    retries = set()
    for _ in range(50):
        status, headers, body = call(shed, "/api/v1/screens/s1/heartbeat")
        assert status.startswith("503") and headers["Cache-Control"] == "no-store"
        assert json.loads(body)["message"].startswith("the server is busy")
        retries.add(int(headers["Retry-After"]))
    assert min(retries) >= 15 and max(retries) <= 30 and len(retries) > 5  # spread, so they do not return at once
    assert shed.shed == 50
    for path in ("/staff/", "/healthz", "/api/v1/posters", "/media/abc.png"):
        assert call(shed, path)[0] == "200 OK"  # staff, health checks and media are never shed
    lag[0] = 0.1
    assert call(shed, "/api/v1/screens/s1/manifest")[0] == "200 OK"


def test_no_shedding_when_turned_off():
    shed = Shedder(inner, lambda: 100.0, max_lag_s=0, retry_after_s=30)
    assert call(shed, "/api/v1/screens/s1/manifest")[0] == "200 OK"


def test_the_loop_watch_keeps_the_latest_lateness_and_the_worst_since_last_read():
    watch = LoopWatch()
    for late in (0.01, 0.4, -0.001, 0.02):
        watch.note(late)
    assert watch.lag == 0.02
    assert watch.worst() == 0.4
    assert watch.worst() == 0.0  # reset by reading
    watch.note(0.05)
    assert watch.worst() == 0.05
