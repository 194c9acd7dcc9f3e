"""The operator preview: scoping, and "now" agreeing with now.png and the manifest, from the one resolver.

The network built here (build_network) is reused by tests/test_monitoring.py and tests/test_reports.py.
"""

import hashlib
import json
from datetime import UTC, datetime, time, timedelta

import pytest

from playlists import content
from playlists.db import upgrade
from playlists.screens import add_screen
from playlists.users import add_user
from server import create_app
from server.db import get_engine, get_session, get_store
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 1, 20, 5, tzinfo=UTC)  # Friday 08:20:05 in Huế
PASSWORD = "correct horse battery"
NORTH, SOUTH, HOSPITAL, MARKET = "Bến xe phía Bắc", "Bến xe phía Nam", "Bệnh viện Trung ương Huế", "Chợ Phong Điền"


@pytest.fixture
def net(instance):
    return build_network()


def build_network():
    """Four screens at four sites in two districts; a station playlist 06-22, a reminder every 15 minutes, an
    emergency takeover on one screen from 09:20 to 09:50; admin an, staff binh, operators chi (north station)
    and dung (the hospital group)."""
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": clock,
                      "WTF_CSRF_ENABLED": False, "PUBLIC_BASE_URL": "https://signage.example.vn"})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.tokens = {
            "bx-bac-1": add_screen(session, "bx-bac-1", "led-p10", NOW, name="Bắc 1", site=NORTH, district="TP Huế",
                                   groups=["stations"]),
            "bx-nam-1": add_screen(session, "bx-nam-1", "led-p10", NOW, name="Nam 1", site=SOUTH, district="TP Huế",
                                   groups=["stations"]),
            "bv-tw-1": add_screen(session, "bv-tw-1", "led-p5-small", NOW, name="Sảnh", site=HOSPITAL,
                                  district="TP Huế", groups=["hospital"]),
            "pd-led-1": add_screen(session, "pd-led-1", "led-p10", NOW, name="Chợ", site=MARKET,
                                   district="Phong Điền", groups=["led"]),
        }
        a = content.add_poster(session, {"lang": "vi", "headline": "Cài Bluezone"}, NOW, name="Cài Bluezone")
        b = content.add_poster(session, {"lang": "en", "headline": "Get Bluezone"}, NOW, name="Get Bluezone")
        r = content.add_poster(session, {"template": "reminder", "lang": "vi"}, NOW, name="Nhắc nhở")
        alert = content.add_poster(session, {"lang": "vi", "headline": "Khẩn cấp"}, NOW, name="Khẩn cấp")
        playlist = content.add_playlist(session, "stations", [(f"poster:{a.id}", 15), (f"poster:{b.id}", 10)])
        content.add_schedule(session, playlist.id, name="Bến xe", groups=["stations"], start_time=time(6),
                             end_time=time(22))
        content.add_reminder(session, f"poster:{r.id}", name="Nhắc", duration_s=20, every_min=15,
                             groups=["stations", "hospital"])
        content.add_override(session, f"poster:{alert.id}", name="Báo động", start=NOW + timedelta(hours=1),
                             end=NOW + timedelta(hours=1, minutes=30), screens=["bx-bac-1"])
        add_user(session, "an", "admin", NOW, password=PASSWORD)
        add_user(session, "binh", "staff", NOW, password=PASSWORD)
        add_user(session, "chi", "operator", NOW, password=PASSWORD, sites=[NORTH])
        add_user(session, "dung", "operator", NOW, password=PASSWORD, groups=["hospital"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        app.keys = {"a": f"poster:{a.id}", "b": f"poster:{b.id}", "r": f"poster:{r.id}",
                    "alert": f"poster:{alert.id}"}
        app.poster_ids = {"a": a.id, "b": b.id, "r": r.id, "alert": alert.id}
    return app


def login(app, username):
    """A test client signed in as username."""
    client = app.test_client()
    r = client.post("/staff/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def device(app, screen_id):
    return {"Authorization": f"Bearer {app.tokens[screen_id]}"}


def manifest_item_at(manifest, moment):
    """The item key the manifest's timeline has on screen at moment (entries back to back from "from")."""
    start = datetime.fromisoformat(manifest["from"])
    for duration_ms, item, _source in manifest["timeline"]:
        end = start + timedelta(milliseconds=duration_ms)
        if start <= moment < end:
            return manifest["items"][item]["key"]
        start = end
    raise AssertionError(f"{moment} is outside the manifest")


# --- scoping --------------------------------------------------------------------------------------------------

def test_an_operator_sees_only_the_screens_of_their_site(net):
    chi = login(net, "chi")
    page = chi.get("/preview/").get_data(as_text=True)
    assert NORTH in page and "Bắc 1" in page
    for other in (SOUTH, HOSPITAL, MARKET, "Nam 1", "bx-nam-1", "pd-led-1"):
        assert other not in page
    assert chi.get("/preview/screens/bx-bac-1").status_code == 200
    for screen_id in ("bx-nam-1", "bv-tw-1", "pd-led-1", "no-such-screen"):
        for path in ("", "/now.json", "/manifest"):
            assert chi.get(f"/preview/screens/{screen_id}{path}").status_code == 404, (screen_id, path)
    status = chi.get("/monitoring/status.json").get_json()
    assert [s["id"] for s in status["screens"]] == ["bx-bac-1"]
    dashboard = chi.get("/monitoring/").get_data(as_text=True)
    assert "Bắc 1" in dashboard and "Nam 1" not in dashboard and MARKET not in dashboard


def test_an_operator_scoped_by_group_sees_that_groups_screens(net):
    dung = login(net, "dung")
    assert [s["id"] for s in dung.get("/monitoring/status.json").get_json()["screens"]] == ["bv-tw-1"]
    assert dung.get("/preview/screens/bv-tw-1/now.json").status_code == 200
    assert dung.get("/preview/screens/bx-bac-1/now.json").status_code == 404


def test_staff_see_every_site_grouped_by_district(net):
    page = login(net, "binh").get("/preview/").get_data(as_text=True)
    assert page.index("Phong Điền") < page.index(MARKET)
    assert page.index("TP Huế") < page.index(NORTH) < page.index(SOUTH)
    assert all(name in page for name in (NORTH, SOUTH, HOSPITAL, MARKET))


def test_anonymous_callers_are_sent_to_the_login_page(net):
    r = net.test_client().get("/preview/screens/bx-bac-1/now.json")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]


# --- "now" is the same everywhere -----------------------------------------------------------------------------

# 08:20:05 in the playlist; 08:30:10 in a reminder play; 09:25 in the takeover; 06:00:20 the first reminder over;
# 22:10 after the window (the default poster between reminders); 07:45:19 the last second of a reminder.
INSTANTS = [NOW, datetime(2026, 11, 27, 1, 30, 10, tzinfo=UTC), datetime(2026, 11, 27, 2, 25, tzinfo=UTC),
            datetime(2026, 11, 26, 23, 0, 20, tzinfo=UTC), datetime(2026, 11, 27, 15, 10, tzinfo=UTC),
            datetime(2026, 11, 27, 0, 45, 19, 999000, tzinfo=UTC)]


@pytest.mark.parametrize("moment", INSTANTS, ids=lambda m: m.strftime("%H:%M:%S"))
def test_preview_now_equals_now_png_and_the_manifest(net, moment):
    net.clock.at = moment
    chi = login(net, "chi")
    player = net.test_client()
    preview = chi.get("/preview/screens/bx-bac-1/now.json").get_json()
    png = player.get("/api/v1/screens/bx-bac-1/now.png", headers=device(net, "bx-bac-1"))
    manifest = json.loads(player.get("/api/v1/screens/bx-bac-1/manifest", headers=device(net, "bx-bac-1")).data)
    png_sha = hashlib.sha256(png.data).hexdigest()
    png.close()  # send_file keeps the file open until the response is closed
    assert png.status_code == 200
    assert preview["item"] == png.headers["X-Signage-Item"] == manifest_item_at(manifest, moment)
    assert preview["sha256"] == png_sha
    assert preview["end"] == png.headers["X-Signage-Until"]
    # The page shows that very image, at the screen's size.
    page = chi.get("/preview/screens/bx-bac-1").get_data(as_text=True)
    assert f'src="{preview["url"]}" width="192" height="96"' in page


def test_the_sources_at_those_instants_are_the_expected_ones(net):
    seen = []
    for moment in INSTANTS:
        net.clock.at = moment
        # A fresh login at each instant: console sessions end after an idle hour or 12 hours (tests/test_sessions.py).
        seen.append(login(net, "chi").get("/preview/screens/bx-bac-1/now.json").get_json()["item"])
    k = net.keys
    assert seen == [k["a"], k["r"], k["alert"], k["b"], "poster:" + seen[4].split(":")[1], k["r"]]
    assert seen[4] not in (k["a"], k["b"], k["r"], k["alert"])  # the default poster at night


def test_the_picker_shows_what_will_be_on_screen_at_a_chosen_time(net):
    chi = login(net, "chi")
    later = chi.get("/preview/screens/bx-bac-1/now.json?at=2026-11-27T09:25:00").get_json()  # Huế time
    assert later["item"] == net.keys["alert"] and later["source"].startswith("override:")
    page = chi.get("/preview/screens/bx-bac-1?at=2026-11-27T09:25:00").get_data(as_text=True)
    assert "Khẩn cấp" in page and "Báo động" in page
    assert chi.get("/preview/screens/bx-bac-1?at=tomorrow").status_code == 400


@pytest.mark.parametrize("at", ["tomorrow", "0001-01-01T00:00", "9999-12-31T23:59", "1999-12-31T23:59",
                                "2026-11-27", "20261127T0930", "2026-11-27T09:30\x00", "2026-11-27T25:00", "9" * 5000])
def test_a_bad_instant_is_a_400_that_says_what_was_expected(net, at):
    chi = login(net, "chi")
    for path in ("/preview/screens/bx-bac-1", "/preview/screens/bx-bac-1/now.json"):
        r = chi.get(path, query_string={"at": at, "lang": "en"})
        assert r.status_code == 400, (path, at)
        says = "holds a control character" if "\x00" in at else "expected at most 40" if len(at) > 40 \
            else "expected a date and time such as 2026-11-27T08:30, from year 2000 to 2100"
        assert says in r.get_data(as_text=True), (path, at)


def test_an_instant_with_a_utc_offset_is_that_instant(net):
    chi = login(net, "chi")
    local = chi.get("/preview/screens/bx-bac-1/now.json?at=2026-11-27T09:25").get_json()
    offset = chi.get("/preview/screens/bx-bac-1/now.json", query_string={"at": "2026-11-27T02:25+00:00"}).get_json()
    assert local["at"] == offset["at"] == "2026-11-27T02:25:00.000000Z"


@pytest.mark.parametrize("query", ["to=0001-01-01", "to=9999-12-31", "from=1999-12-31", "from=2026-13-01",
                                   "to=2026-11-27%00", f"from={'9' * 5000}", "from=2026-11-27&to=2026-11-01",
                                   "from=2025-01-01&to=2026-11-27"])
def test_a_bad_report_period_is_a_400_on_every_report_page(net, query):
    binh = login(net, "binh")
    for path in ("/reports/", "/reports/plays.csv", "/reports/chart.svg"):
        assert binh.get(f"{path}?{query}").status_code == 400, (path, query)


def test_the_screen_page_has_the_days_timeline_and_the_next_changes(net):
    page = login(net, "chi").get("/preview/screens/bx-bac-1?lang=en").get_data(as_text=True)
    # A reminder every 15 minutes, except the two that fall inside the takeover (09:30 and 09:45).
    assert page.count('class="run run-schedule') >= 1 and page.count('class="run run-reminder') == 24 * 4 - 2
    assert 'class="run run-override' in page
    # The next changes: the reminder at 08:30:00 for 20 s, then the playlist again.
    changes = page[page.index("Next changes"):]
    assert changes.index("08:30:00") < changes.index("08:30:20") < changes.index("08:45:00")
    assert "Nhắc" in changes and "Bến xe" in changes
    assert "/player/bx-bac-1?preview=1" in page


def test_the_preview_manifest_is_the_players_manifest_byte_for_byte(net):
    chi = login(net, "chi")
    mine = chi.get("/preview/screens/bx-bac-1/manifest")
    theirs = net.test_client().get("/api/v1/screens/bx-bac-1/manifest", headers=device(net, "bx-bac-1"))
    assert mine.status_code == 200 and mine.data == theirs.data
    assert mine.headers["ETag"] == theirs.headers["ETag"]
    assert mine.headers["X-Server-Time"] == str(int(NOW.timestamp() * 1000))
    again = chi.get("/preview/screens/bx-bac-1/manifest", headers={"If-None-Match": mine.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
