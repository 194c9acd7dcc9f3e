"""Requests one after another on one kept-alive connection, as players make them, against a real `signage serve`.

Regression: the worker buffers each request body before the app runs and closed that buffer after the answer;
gunicorn then drained the previous body from the closed buffer before reading the next request on the connection,
and answered that request with a 500 (the preview page after a login form's POST, a poll after a heartbeat)."""

from __future__ import annotations

import http.client
import json

from tests.test_slow_clients import seeded_server


def test_requests_after_a_post_on_the_same_connection_are_answered(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(tmp_path / "instance"))
    live, device, _api = seeded_server(tmp_path, {})
    live.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
        auth = {"Authorization": f"Bearer {device}"}
        statuses = []
        for _ in range(3):
            conn.request("POST", "/api/v1/screens/hue-bx-phia-bac/heartbeat", body=json.dumps({"version": "1.0"}),
                         headers={**auth, "Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
            conn.request("GET", "/api/v1/screens/hue-bx-phia-bac/manifest", headers=auth)
            answer = conn.getresponse()
            doc = json.loads(answer.read())
            statuses.append(answer.status)
            assert doc["items"], doc
            # A body the app never reads (a 401 before it looks at it), then another request.
            conn.request("POST", "/api/v1/screens/hue-bx-phia-bac/plays", body=b"x" * 5000,
                         headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
        conn.close()
        assert statuses == [204, 200, 401, 200] * 3
    finally:
        live.stop()
    assert "Error handling request" not in live.output, live.output[-3000:]
