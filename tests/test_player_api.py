"""Player endpoints: device-token auth, heartbeats, proof of play, media."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from playlists import content
from playlists.db import upgrade
from playlists.models import Play, ScreenStatus
from playlists.screens import add_screen
from server import create_app
from server.db import get_engine, get_session, get_store
from server.writer import ReportWriter

# 16:30 in Huế: the stations' 25 s loop (poster 1 for 15 s, poster 2 for 10 s) starts a round at this instant.
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["in-request", "writer"])
def app(instance, request):
    """The app writing reports in the request (tests, commands), or through a writer thread (`signage serve`)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.tokens = {sid: add_screen(session, sid, "led-p10", NOW, groups=["stations"])
                      for sid in ("bx-bac-1", "bx-nam-1")}
        session.commit()
        if request.param == "writer":
            executor = ThreadPoolExecutor(max_workers=1)
            app.extensions["signage.writer"] = ReportWriter(get_engine(), executor)
    yield app
    if request.param == "writer":
        executor.shutdown()


def settled(app):
    """Wait for the writer thread, if any, to write what it was given."""
    writer = app.extensions.get("signage.writer")
    if writer is not None:
        writer.drain()


@pytest.fixture
def scheduled(app):
    """The stations' loop, rendered (a play is accepted only if the schedule had it on screen)."""
    with app.app_context():
        session = get_session()
        a = content.add_poster(session, {"lang": "vi", "headline": "Cài Bluezone"}, NOW)
        b = content.add_poster(session, {"lang": "en", "headline": "Get Bluezone"}, NOW)
        playlist = content.add_playlist(session, "stations", [(f"poster:{a.id}", 15), (f"poster:{b.id}", 10)])
        content.add_schedule(session, playlist.id, groups=["stations"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        assert (a.id, b.id) == (1, 2)
    return app


def auth(app, sid):
    return {"Authorization": f"Bearer {app.tokens[sid]}"}


def count(app, model, **where):
    settled(app)
    with app.app_context():
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return get_session().scalar(q)


def test_heartbeat_is_stored(app, client):
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", json={"version": "1.0.3", "item": "poster:1"},
                    headers=auth(app, "bx-bac-1"))
    assert r.status_code == 204 and r.data == b""
    settled(app)
    with app.app_context():
        row = get_session().get(ScreenStatus, "bx-bac-1")
        assert (row.player_version, row.item) == ("1.0.3", "poster:1")
        assert row.last_seen_at.replace(tzinfo=UTC) == NOW


def test_heartbeats_gathered_by_the_writer_keep_each_screens_latest(app, client):
    for n in range(30):
        for sid in ("bx-bac-1", "bx-nam-1"):
            r = client.post(f"/api/v1/screens/{sid}/heartbeat", json={"version": f"1.0.{n}"}, headers=auth(app, sid))
            assert r.status_code == 204
    settled(app)
    with app.app_context():
        versions = {s.screen_id: s.player_version for s in get_session().scalars(select(ScreenStatus))}
    assert versions == {"bx-bac-1": "1.0.29", "bx-nam-1": "1.0.29"}
    writer = app.extensions.get("signage.writer")
    if writer is not None:
        assert 2 <= writer.written <= 60


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [({}, 'Bearer realm="screens"'), ({"Authorization": "Basic abc"}, 'Bearer realm="screens"'),
     ({"Authorization": "Bearer "}, 'Bearer realm="screens"'),
     ({"Authorization": "Bearer wrong"}, 'Bearer error="invalid_token", realm="screens"')],
)
def test_missing_or_wrong_token_gets_401_with_the_rfc_6750_challenge(app, client, headers, challenge):
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", json={}, headers=headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == challenge
    assert set(r.get_json()) == {"error", "message", "code"} and r.get_json()["error"] == "Unauthorized"
    assert count(app, ScreenStatus) == 0


ROUTES = [("GET", "manifest"), ("GET", "now.png"), ("POST", "heartbeat"), ("POST", "plays")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_token_opens_only_its_own_screen_and_hides_which_exist(app, client, method, path):
    """Another screen's token, a revoked one and an unknown screen get one and the same 401 on every player route."""
    answers = [client.open(f"/api/v1/screens/{sid}/{path}", method=method, json={}, headers=headers)
               for sid, headers in (("bx-nam-1", auth(app, "bx-bac-1")), ("ghost", auth(app, "bx-bac-1")),
                                    ("bx-bac-1", {"Authorization": "Bearer " + "x" * 43}))]
    assert {r.status_code for r in answers} == {401}
    assert len({(r.data, r.headers["WWW-Authenticate"]) for r in answers}) == 1
    assert answers[0].headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert count(app, ScreenStatus) == count(app, Play) == 0


def play(rid, **extra):
    """Poster 1 from 16:30:00 in Huế for its whole slot: what the timeline says was on screen."""
    return {"id": rid, "item": "poster:1", "sha256": "a" * 64, "started_at": "2026-11-27T16:30:00+07:00",
            "duration_s": 15, **extra}


def test_plays_are_counted_once_when_a_batch_is_retried(scheduled, client):
    app = scheduled
    batch = {"plays": [play("r1"), play("r2", started_at="2026-11-27T16:30:25+07:00"), play("r2")]}
    first = client.post("/api/v1/screens/bx-bac-1/plays", json=batch, headers=auth(app, "bx-bac-1"))
    again = client.post("/api/v1/screens/bx-bac-1/plays", json=batch, headers=auth(app, "bx-bac-1"))
    assert first.status_code == 202
    assert first.get_json() == {"accepted": 2, "duplicates": 1, "refused": 0, "refused_by_reason": {},
                                "refused_ids": {}}
    assert (again.status_code, again.get_json()["accepted"], again.get_json()["duplicates"]) == (202, 0, 3)
    assert count(app, Play, screen_id="bx-bac-1") == 2
    # The same record id from another screen is another play.
    other = client.post("/api/v1/screens/bx-nam-1/plays", json={"plays": [play("r1")]}, headers=auth(app, "bx-nam-1"))
    assert other.get_json()["accepted"] == 1


def test_an_instant_with_an_offset_is_stored_as_the_same_instant_in_utc(scheduled, client):
    app = scheduled
    client.post("/api/v1/screens/bx-bac-1/plays", json={"plays": [play("r1")]}, headers=auth(app, "bx-bac-1"))
    with app.app_context():
        stored = get_session().get(Play, ("bx-bac-1", "r1")).started_at
    # The wall time kept is UTC's (SQLite keeps no offset: it would otherwise read as 16:30 UTC).
    assert stored.replace(tzinfo=None) == NOW.replace(tzinfo=None) and stored.utcoffset() in (None, timedelta(0))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"plays": [play("ok"), play("bad id!")]}, "plays[1].id"),
        ({"plays": [play("ok", duration_s=-1)]}, "duration_s"),
        ({"plays": [play("ok", duration_s=True)]}, "duration_s"),
        ({"plays": [play("ok", started_at="yesterday")]}, "started_at"),
        ({"plays": [play("ok", started_at="2026-11-27T09:00:00")]}, "UTC offset"),
        ({"plays": [play("ok", started_at="0001-01-01T00:00:00+07:00")]}, "year 1"),
        ({"plays": [play("ok", started_at="9999-12-31T23:59:59-07:00")]}, "year 9999"),
        ({"plays": [play("ok", started_at="2026-11-27T16:30:00+07:00" + " " * 40)]}, "started_at"),
        ({"plays": [play("ok", sha256="xyz")]}, "sha256"),
        ({"plays": [play("ok", item="poster:1\u0000")]}, "U+0000"),
        ({"plays": [play("ok", item="\ud800")]}, "U+D800"),
        ({"plays": [play("ok", item="p" * 201)]}, "item"),
        ({"plays": [play("ok", item=["poster:1"])]}, "item"),
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
    deep = client.post("/api/v1/screens/bx-bac-1/plays", data="[" * 100_000, content_type="application/json",
                       headers=auth(app, "bx-bac-1"))
    assert deep.status_code == 400 and deep.get_json()["message"] == "malformed JSON body"
    assert count(app, ScreenStatus) == 0


def test_a_heartbeat_keeps_only_the_known_fields(app, client):
    beat = {"version": "1.0.3", "item": "poster:1", "manifest_etag": '"abc"', "clock_offset_ms": -12.6,
            "pending_plays": 4, "offline_ready": True, "window": "1920x1080@1",
            "evil": "x" * 100_000, "nested": {"a": [1, 2, 3]}}
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", json=beat, headers=auth(app, "bx-bac-1"))
    assert r.status_code == 204
    settled(app)
    with app.app_context():
        stored = json.loads(get_session().get(ScreenStatus, "bx-bac-1").status_json)
    assert stored == {"version": "1.0.3", "item": "poster:1", "manifest_etag": '"abc"', "clock_offset_ms": -13,
                      "pending_plays": 4, "offline_ready": True, "window": "1920x1080@1"}


@pytest.mark.parametrize(
    ("beat", "message"),
    [({"version": "1.0\u0007"}, "U+0007"), ({"version": "v" * 65}, "version"), ({"item": 5}, "item"),
     ({"item": "\ud83d"}, "U+D83D"), ({"window": "1x1\u202e"}, "U+202E"), ({"clock_offset_ms": "5"}, "clock_offset_ms"),
     ({"clock_offset_ms": 1e300}, "clock_offset_ms"), ({"pending_plays": -1}, "pending_plays"),
     ({"pending_plays": True}, "pending_plays"), ({"offline_ready": "yes"}, "offline_ready")],
)
def test_a_heartbeat_with_a_bad_field_is_refused(app, client, beat, message):
    r = client.post("/api/v1/screens/bx-bac-1/heartbeat", data=json.dumps(beat), content_type="application/json",
                    headers=auth(app, "bx-bac-1"))
    assert r.status_code == 400 and message in r.get_json()["message"], r.get_json()
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
