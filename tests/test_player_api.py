"""Player endpoints: device-token auth, heartbeats, proof of play, media."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from playlists.db import upgrade
from playlists.models import Play, ScreenStatus
from playlists.screens import add_screen
from server import create_app
from server.db import get_engine, get_session, get_store

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.tokens = {sid: add_screen(session, sid, "tv-1080p", NOW) for sid in ("bx-bac-1", "bx-nam-1")}
        session.commit()
    return app


def auth(app, sid):
    return {"Authorization": f"Bearer {app.tokens[sid]}"}


def count(app, model, **where):
    with app.app_context():
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return get_session().scalar(q)


def test_heartbeat_is_stored(app, client):
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", json={"version": "1.0.3", "item": "poster:1"},
                    headers=auth(app, "bx-bac-1"))
    assert r.status_code == 204 and r.data == b""
    with app.app_context():
        row = get_session().get(ScreenStatus, "bx-bac-1")
        assert (row.player_version, row.item) == ("1.0.3", "poster:1")
        assert row.last_seen_at.replace(tzinfo=UTC) == NOW


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Basic abc"}, 401), ({"Authorization": "Bearer wrong"}, 404)],
)
def test_missing_or_wrong_token(app, client, headers, status):
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", json={}, headers=headers)
    assert r.status_code == status
    assert set(r.get_json()) == {"error", "message"}
    assert count(app, ScreenStatus) == 0


def test_a_token_opens_only_its_own_screen_and_hides_which_exist(app, client):
    other = client.post("/api/v1/screens/bx-nam-1/heartbeat", json={}, headers=auth(app, "bx-bac-1"))
    ghost = client.post("/api/v1/screens/ghost/heartbeat", json={}, headers=auth(app, "bx-bac-1"))
    assert other.status_code == ghost.status_code == 404
    assert other.get_json() == ghost.get_json()


def play(rid, **extra):
    return {"id": rid, "item": "poster:1", "sha256": "a" * 64, "started_at": "2026-11-27T09:00:00+07:00",
            "duration_s": 15, **extra}


def test_plays_are_counted_once_when_a_batch_is_retried(app, client):
    batch = {"plays": [play("r1"), play("r2"), play("r2")]}
    first = client.post("/api/v1/screens/bx-bac-1/plays", json=batch, headers=auth(app, "bx-bac-1"))
    again = client.post("/api/v1/screens/bx-bac-1/plays", json=batch, headers=auth(app, "bx-bac-1"))
    assert (first.status_code, first.get_json()) == (202, {"accepted": 2})
    assert (again.status_code, again.get_json()) == (202, {"accepted": 0})
    assert count(app, Play, screen_id="bx-bac-1") == 2
    # The same record id from another screen is another play.
    other = client.post("/api/v1/screens/bx-nam-1/plays", json={"plays": [play("r1")]}, headers=auth(app, "bx-nam-1"))
    assert other.get_json() == {"accepted": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"plays": [play("ok"), play("bad id!")]}, "plays[1].id"),
        ({"plays": [play("ok", duration_s=-1)]}, "duration_s"),
        ({"plays": [play("ok", duration_s=True)]}, "duration_s"),
        ({"plays": [play("ok", started_at="yesterday")]}, "started_at"),
        ({"plays": [play("ok", started_at="2026-11-27T09:00:00")]}, "UTC offset"),
        ({"plays": [play("ok", sha256="xyz")]}, "sha256"),
        ({"plays": "r1"}, "plays batch must be"),
        ([1, 2], "plays batch must be"),
        ({"plays": [play(f"r{i}") for i in range(501)]}, "too large"),
    ],
)
def test_bad_batches_store_nothing(app, client, body, message):
    r = client.post("/api/v1/screens/bx-bac-1/plays", json=body, headers=auth(app, "bx-bac-1"))
    assert r.status_code == 400
    assert r.get_json()["error"] == "Bad Request" and message in r.get_json()["message"]
    assert count(app, Play) == 0


def test_malformed_and_huge_bodies(app, client):
    bad = client.post("/api/v1/screens/bx-bac-1/heartbeat", data="{nope", content_type="application/json",
                      headers=auth(app, "bx-bac-1"))
    assert bad.status_code == 400 and bad.get_json()["message"] == "malformed JSON body"
    huge = client.post("/api/v1/screens/bx-bac-1/heartbeat", data="x" * 300_000, content_type="application/json",
                       headers=auth(app, "bx-bac-1"))
    assert huge.status_code == 413 and huge.get_json()["error"] == "Request Entity Too Large"
    wrong = client.post("/api/v1/screens/bx-bac-1/heartbeat", json=["list"], headers=auth(app, "bx-bac-1"))
    assert wrong.status_code == 400 and "JSON object" in wrong.get_json()["message"]
    assert count(app, ScreenStatus) == 0


def test_media_are_immutable_and_cacheable(app, client):
    with app.app_context():
        sha = get_store().put(b"\x89PNG fake but stored", "png")
    with client.get(f"/media/{sha}.png") as r:
        assert r.status_code == 200 and r.data == b"\x89PNG fake but stored"
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["ETag"] == f'"{sha}"'
    with client.get(f"/media/{sha}.png", headers={"If-None-Match": f'"{sha}"'}) as again:
        assert again.status_code == 304
    assert client.get(f"/media/{'b' * 64}.png").status_code == 404
    assert client.get("/media/..%2F..%2Fetc%2Fpasswd.png").status_code == 404
    assert client.get(f"/media/{sha}.exe").status_code == 404
