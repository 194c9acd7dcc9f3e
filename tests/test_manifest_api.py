"""The manifest and now.png: what each screen plays, its ETag, 304s, and agreement with the resolver."""

import gzip
import io
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from PIL import Image

from playlists import content
from playlists.db import upgrade
from playlists.manifest import WINDOW
from playlists.network import load_network
from playlists.resolver import now as resolve_now
from playlists.resolver import resolve
from playlists.screens import add_screen, reissue_token
from server import create_app
from server.db import get_engine, get_manifests, get_session, get_store
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 1, 20, 5, tzinfo=UTC)  # 08:20:05 in Huế


@pytest.fixture
def app(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": clock})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.tokens = {
            "bx-bac-1": add_screen(session, "bx-bac-1", "led-p10", NOW, groups=["stations"]),
            "bx-nam-1": add_screen(session, "bx-nam-1", "led-p10", NOW, groups=["stations"]),
            "hue-led-1": add_screen(session, "hue-led-1", "led-p10", NOW, groups=["city"]),
            "bv-tw-1": add_screen(session, "bv-tw-1", "led-p5-small", NOW, tz="Europe/Berlin", groups=["hospital"]),
        }
        a = f"poster:{content.add_poster(session, {'lang': 'vi', 'headline': 'Cài Bluezone'}, NOW).id}"
        b = f"poster:{content.add_poster(session, {'lang': 'en', 'headline': 'Get Bluezone'}, NOW).id}"
        r = f"poster:{content.add_poster(session, {'template': 'reminder', 'lang': 'vi'}, NOW).id}"
        playlist = content.add_playlist(session, "stations", [(a, 15), (b, 10)])
        content.add_schedule(session, playlist.id, groups=["stations"], start_time=time(6), end_time=time(22))
        content.add_reminder(session, r, duration_s=20, every_min=15, groups=["stations", "city"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        app.keys = {"a": a, "b": b, "r": r}
    return app


def auth(app, sid):
    return {"Authorization": f"Bearer {app.tokens[sid]}"}


def get_manifest(app, client, sid, **headers):
    r = client.get(f"/api/v1/screens/{sid}/manifest", headers={**auth(app, sid), **headers})
    return r, (json.loads(r.data) if r.status_code == 200 else None)


def entries(manifest):
    """(start, end, item, source) of every timeline entry, as a player reads them: back to back from "from"."""
    start = datetime.fromisoformat(manifest["from"])
    out = []
    for duration_ms, item, source in manifest["timeline"]:
        end = start + timedelta(milliseconds=duration_ms)
        out.append((start, end, manifest["items"][item], manifest["sources"][source]))
        start = end
    return out


def at(manifest, moment):
    """The item key the manifest says is on screen at moment."""
    for start, end, item, _source in entries(manifest):
        if start <= moment < end:
            return item["key"]
    raise AssertionError(f"{moment} is outside the manifest")


def test_manifest_has_the_profile_items_and_48_hours_of_timeline(app, client):
    r, m = get_manifest(app, client, "bx-bac-1")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Cache-Control"] == "no-cache"
    assert int(r.headers["X-Server-Time"]) == int(NOW.timestamp() * 1000)
    assert r.headers["ETag"].startswith('"') and not r.headers["ETag"].startswith('W/')
    assert m["profile"] == {"name": "led-p10", "width": 192, "height": 96}
    assert m["poll_after_s"] == 30 and m["tz"] == "Asia/Ho_Chi_Minh"
    start, until = datetime.fromisoformat(m["from"]), datetime.fromisoformat(m["until"])
    assert start <= NOW and until - NOW >= timedelta(hours=48)
    assert all(isinstance(ms, int) and ms > 0 for ms, _, _ in m["timeline"])
    assert sum(ms for ms, _, _ in m["timeline"]) == (until - start) / timedelta(milliseconds=1)  # covers it all
    keys = {i["key"] for i in m["items"]}
    assert set(app.keys.values()) <= keys and len(keys - set(app.keys.values())) == 1  # and the default poster
    for item in m["items"]:
        media = fetch(client, item["url"])
        assert media.status_code == 200 and len(media.data) == item["bytes"]
        assert Image.open(io.BytesIO(media.data)).size == (item["width"], item["height"]) == (192, 96)
    assert {source.split(":")[0] for *_, source in entries(m)} == {"schedule", "reminder", "default"}


def test_manifest_matches_the_resolver_entry_by_entry(app, client):
    _, m = get_manifest(app, client, "bx-bac-1")
    with app.app_context():
        net = load_network(get_session())
        start = datetime.fromisoformat(m["from"])
        segments = resolve(net.rules_for(net.screens["bx-bac-1"]), start, start + WINDOW)
    assert len(segments) == len(m["timeline"])
    for seg, (s, e, item, source) in zip(segments, entries(m), strict=True):
        assert (seg.start, seg.end, seg.source) == (s, e, source)
        assert (seg.item.key, seg.item.duration_s) == (item["key"], item["duration_s"])


def test_reminder_every_15_minutes_and_schedule_by_day_default_at_night(app, client):
    _, m = get_manifest(app, client, "bx-bac-1")
    local = timedelta(hours=7)
    day = datetime(2026, 11, 27, tzinfo=UTC) - local  # local midnight
    assert at(m, day + timedelta(hours=8, minutes=15, seconds=5)) == app.keys["r"]
    assert at(m, day + timedelta(hours=8, minutes=15, seconds=25)) in (app.keys["a"], app.keys["b"])
    night = at(m, day + timedelta(hours=23, minutes=5))
    assert night not in app.keys.values()  # the default Bluezone poster, never black
    _, city = get_manifest(app, client, "hue-led-1")
    assert at(city, day + timedelta(hours=10, minutes=30, seconds=1)) == app.keys["r"]
    assert at(city, day + timedelta(hours=10, minutes=31)) not in app.keys.values()


def test_screens_of_a_group_share_one_manifest_and_the_same_second(app, client):
    r1, m1 = get_manifest(app, client, "bx-bac-1")
    r2, m2 = get_manifest(app, client, "bx-nam-1")
    assert r1.data == r2.data and r1.headers["ETag"] == r2.headers["ETag"]
    with app.app_context():
        assert get_manifests().builds == 1
    moment = NOW + timedelta(hours=3, seconds=7)
    assert at(m1, moment) == at(m2, moment)


def test_if_none_match_gets_304_without_building(app, client):
    r, _ = get_manifest(app, client, "bx-bac-1")
    etag = r.headers["ETag"]
    with app.app_context():
        builds = get_manifests().builds
    again = client.get("/api/v1/screens/bx-bac-1/manifest", headers={**auth(app, "bx-bac-1"), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    app.clock.at = NOW + timedelta(minutes=20)  # same hour: same window, same bytes
    assert client.get("/api/v1/screens/bx-bac-1/manifest",
                      headers={**auth(app, "bx-bac-1"), "If-None-Match": etag}).status_code == 304
    with app.app_context():
        assert get_manifests().builds == builds


def test_etag_changes_when_content_does_and_only_then(app, client):
    r, _ = get_manifest(app, client, "bx-bac-1")
    etag = r.headers["ETag"]
    with app.app_context():  # a change elsewhere in the network: the revision moves, this screen's bytes do not
        session = get_session()
        add_screen(session, "other", "led-p10", NOW)
        session.commit()
    r2, _ = get_manifest(app, client, "bx-bac-1", **{"If-None-Match": etag})
    assert r2.status_code == 304
    with app.app_context():
        session = get_session()
        alert = content.add_poster(session, {"lang": "vi", "headline": "Khẩn cấp"}, NOW)
        content.add_override(session, f"poster:{alert.id}", start=NOW, end=NOW + timedelta(hours=1),
                             groups=["stations"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
    r3, m3 = get_manifest(app, client, "bx-bac-1", **{"If-None-Match": etag})
    assert r3.status_code == 200 and r3.headers["ETag"] != etag
    assert at(m3, NOW + timedelta(minutes=15, seconds=5)) == f"poster:{alert.id}"  # above the reminder
    assert at(m3, NOW + timedelta(hours=1, minutes=1)) != f"poster:{alert.id}"


def test_the_window_moves_on_the_hour(app, client):
    r, m = get_manifest(app, client, "bx-bac-1")
    app.clock.at = NOW + timedelta(hours=1)
    r2, m2 = get_manifest(app, client, "bx-bac-1", **{"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 200
    assert datetime.fromisoformat(m2["from"]) - datetime.fromisoformat(m["from"]) == timedelta(hours=1)


def test_gzip_when_asked_with_its_own_tag(app, client):
    plain, _ = get_manifest(app, client, "bx-bac-1")
    zipped = client.get("/api/v1/screens/bx-bac-1/manifest",
                        headers={**auth(app, "bx-bac-1"), "Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 10 and len(zipped.data) < 4096
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        assert client.get("/api/v1/screens/bx-bac-1/manifest", headers={
            **auth(app, "bx-bac-1"), "Accept-Encoding": "gzip", "If-None-Match": etag}).status_code == 304


def test_now_png_is_what_the_resolver_says_is_on_screen(app, client):
    for moment, expected in [(NOW, "a_or_b"), (datetime(2026, 11, 27, 1, 30, 3, tzinfo=UTC), "r"),
                             (datetime(2026, 11, 27, 16, 5, 1, tzinfo=UTC), "default")]:
        app.clock.at = moment
        r = fetch(client, "/api/v1/screens/bx-bac-1/now.png", headers=auth(app, "bx-bac-1"))
        assert r.status_code == 200 and r.mimetype == "image/png" and r.headers["Cache-Control"] == "no-cache"
        assert Image.open(io.BytesIO(r.data)).size == (192, 96)
        with app.app_context():
            net = load_network(get_session())
            segment = resolve_now(net.rules_for(net.screens["bx-bac-1"]), moment)
            media = net.media_for(segment.item, "led-p10")
        assert r.headers["X-Signage-Item"] == segment.item.key
        assert r.headers["ETag"] == f'"{media.sha256}"'
        with get_store_file(app, media) as fh:
            assert fh.read() == r.data
        if expected == "default":
            assert segment.source == "default"
        elif expected == "r":
            assert segment.item.key == app.keys["r"]


def fetch(client, url, **kwargs):
    """GET url, read the whole body and close the response (file responses hold their file open)."""
    with client.get(url, **kwargs) as response:
        response.get_data()
        return response


def get_store_file(app, media):
    with app.app_context():
        return get_store().open(media.sha256, media.ext)


def test_a_screen_in_another_time_zone_runs_on_its_own_clock(app, client):
    _, m = get_manifest(app, client, "bv-tw-1")
    assert m["tz"] == "Europe/Berlin" and m["profile"]["name"] == "led-p5-small"
    assert {source for *_, source in entries(m)} == {"default"}
    starts = [start for start, *_ in entries(m)]
    # Default plays restart at local (Berlin) midnight: 23:00 UTC in winter.
    assert datetime(2026, 11, 27, 23, 0, tzinfo=UTC) in starts


def test_a_screen_only_sees_its_own_manifest(app, client):
    r = client.get("/api/v1/screens/bx-nam-1/manifest", headers=auth(app, "bx-bac-1"))
    unknown = client.get("/api/v1/screens/nowhere/manifest", headers=auth(app, "bx-bac-1"))
    # 401 with RFC 6750's invalid_token, the same whether the screen exists or not: the player pairs again.
    assert r.status_code == unknown.status_code == 401 and r.get_json() == unknown.get_json()
    assert r.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert client.get("/api/v1/screens/bx-bac-1/manifest").status_code == 401
    assert client.get("/api/v1/screens/bx-nam-1/now.png", headers=auth(app, "bx-bac-1")).status_code == 401


def test_a_reissued_token_stops_the_old_one_at_once(app, client):
    old = auth(app, "bx-bac-1")
    assert client.get("/api/v1/screens/bx-bac-1/manifest", headers=old).status_code == 200
    with app.app_context():
        session = get_session()
        new = reissue_token(session, "bx-bac-1", NOW)
        session.commit()
    assert client.get("/api/v1/screens/bx-bac-1/manifest", headers=old).status_code == 401
    assert client.get("/api/v1/screens/bx-bac-1/manifest",
                      headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_a_screen_whose_media_are_not_ready_gets_503_not_a_crash(app, client):
    with app.app_context():
        session = get_session()
        token = add_screen(session, "kiosk-new", "kiosk-portrait", NOW)  # added without making its media
        session.commit()
    for path in ("manifest", "now.png"):
        r = client.get(f"/api/v1/screens/kiosk-new/{path}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "30"
        assert r.get_json()["error"] == "Service Unavailable"


def test_the_fast_path_and_the_flask_view_give_the_same_answers(app, client):
    from werkzeug.test import Client

    flask_only = Client(app.wsgi_app.next)  # the app without the poll fast path in front
    first = client.get("/api/v1/screens/bx-bac-1/manifest", headers=auth(app, "bx-bac-1"))
    cases = [{}, {"Accept-Encoding": "gzip"}, {"If-None-Match": first.headers["ETag"]},
             {"Accept-Encoding": "gzip;q=0, deflate"}, {"If-None-Match": "*"}]
    for extra in cases:
        fast = client.get("/api/v1/screens/bx-bac-1/manifest", headers={**auth(app, "bx-bac-1"), **extra})
        slow = flask_only.get("/api/v1/screens/bx-bac-1/manifest", headers={**auth(app, "bx-bac-1"), **extra})
        assert (fast.status_code, fast.data) == (slow.status_code, slow.data), extra
        if fast.status_code == 200:
            assert fast.headers["X-Content-Type-Options"] == "nosniff"
        for name in ("ETag", "Cache-Control", "Vary", "Content-Encoding", "Content-Type", "X-Server-Time",
                     "X-Content-Type-Options"):
            assert fast.headers.get(name) == slow.headers.get(name), (extra, name)
    # Whatever the fast path does not answer, the app does, with the contract's errors.
    assert client.get("/api/v1/screens/bx-bac-1/manifest").status_code == 401
    assert client.get("/api/v1/screens/bx-bac-1/manifest", headers=auth(app, "bx-nam-1")).status_code == 401
