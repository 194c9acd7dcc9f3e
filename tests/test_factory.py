"""The app factory, configuration layers, /healthz and the error formats."""

import pytest

from server import create_app


def test_config_layers(instance, monkeypatch):
    instance.mkdir(parents=True)
    (instance / "config.py").write_text("SECRET_KEY = 'from-file'\nPOLL_AFTER_S = 20\n", encoding="utf-8")
    assert create_app().config["POLL_AFTER_S"] == 20  # the file beats the default
    monkeypatch.setenv("SIGNAGE_POLL_AFTER_S", "45")
    app = create_app()
    assert app.instance_path == str(instance)
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["POLL_AFTER_S"] == 45  # the environment beats the file
    assert create_app({"TESTING": True}).config["POLL_AFTER_S"] == 30  # tests see only the defaults


def test_testing_config(app):
    assert app.testing


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_healthz_reports_unwritable_storage(app, client, tmp_path):
    app.instance_path = str(tmp_path / "gone")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and "not writable" in body["checks"]["storage"]


def test_api_errors_are_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not Found", "message": response.get_json()["message"],
                                   "code": "http.404"}
    assert response.get_json()["message"]


def test_api_method_not_allowed_is_json(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["error"] == "Method Not Allowed"


def test_pages_get_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_unexpected_api_error_is_json_500(app, client):
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("internal detail")

    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json()["error"] == "Internal Server Error"
    assert "internal detail" not in response.get_data(as_text=True)


def test_factory_refuses_without_raqm(monkeypatch, instance):
    from PIL import features

    monkeypatch.setattr(features, "check_feature", lambda name: False)
    with pytest.raises(RuntimeError, match="libfribidi0"):
        create_app({"TESTING": True})


def test_metrics_in_prometheus_text_format(instance):
    from datetime import UTC, datetime

    from playlists.db import upgrade
    from playlists.reports import record_heartbeat
    from playlists.screens import add_screen
    from server.db import get_engine, get_session

    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": lambda: now})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        add_screen(session, "a", "led-p10", now)
        add_screen(session, "b", "led-p10", now)
        record_heartbeat(session, "a", {"version": "1"}, now)
        session.commit()
    r = app.test_client().get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    lines = r.get_data(as_text=True).splitlines()
    assert 'signage_screens{state="online"} 1' in lines and 'signage_screens{state="never"} 1' in lines
    assert "# TYPE signage_plays counter" in lines and "signage_plays 0" in lines
    assert any(line.startswith('signage_manifest_builds{pid="') for line in lines)


def test_healthz_probes_storage_at_most_once_a_window(app, client, monkeypatch):
    """Anyone may call /healthz: its fsync must not follow the callers' rate."""
    import server.health as health

    probes = []
    real = health._storage_ok
    monkeypatch.setattr(health, "_storage_ok", lambda path: probes.append(path) or real(path))
    ticks = iter([100.0, 101.0, 104.9, 105.1])
    monkeypatch.setattr(health, "monotonic", lambda: next(ticks))
    assert [client.get("/healthz").status_code for _ in range(4)] == [200] * 4
    assert len(probes) == 2  # at 100 s and at 105.1 s: the window is STORAGE_CHECK_S (5 s)
