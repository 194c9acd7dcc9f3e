"""The console's home page: the dashboard's data with an injected clock (playlists/dashboard.py), operators' scope,
and the page a person reads. The network is tests/test_preview.py's: four screens at four sites, a station
playlist 06-22, a reminder every 15 minutes, a takeover on one station screen from 09:20 to 09:50."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete

from playlists import dashboard
from playlists.models import Media, Play, PlayHour, Rendition, ScanCode, ScanCount
from playlists.monitoring import Scope, scope_for, thresholds
from playlists.network import load_network
from playlists.reports import record_heartbeat
from playlists.resolver import now as resolve_now
from playlists.stats import code_for, enable_attribution
from playlists.users import user_named
from server.db import get_session
from tests.test_preview import HOSPITAL, MARKET, NORTH, NOW, SOUTH, build_network, login

LIMITS = thresholds(30)  # late after 120 s, offline after 300 s
S = timedelta(seconds=1)
EVERYTHING = Scope(True)


@pytest.fixture
def app(instance):
    return build_network()


@pytest.fixture
def net(app):
    """The network's app with an app context pushed, for the data tests (page tests use `app` without one: a
    pushed context would be shared by the test client's requests)."""
    with app.app_context():
        yield app


def scope_of(username: str) -> Scope:
    session = get_session()
    user = user_named(session, username)
    return scope_for(session, user.role in ("staff", "admin"), [s for s in user.sites.split("\n") if s],
                     [g.id for g in user.groups])


def gather(scope=EVERYTHING, at=NOW):
    session = get_session()
    return dashboard.gather(session, load_network(session), scope, at, LIMITS)


def beat(screen_id: str, at: datetime, item: str = "") -> None:
    record_heartbeat(get_session(), screen_id, {"version": "1.0.0", "item": item}, at)
    get_session().commit()


def expected_item(screen_id: str, at: datetime) -> str:
    network = load_network(get_session())
    return resolve_now(network.rules_for(network.screens[screen_id]), at).item.key


# --- screens by status ----------------------------------------------------------------------------------------

def test_counts_by_status_and_the_screens_that_need_attention_trouble_first(net):
    beat("bx-bac-1", NOW - 10 * S, expected_item("bx-bac-1", NOW - 10 * S))  # online, in step
    beat("pd-led-1", NOW - 150 * S)  # late
    beat("bv-tw-1", NOW - 600 * S)  # offline since its silence crossed 300 s
    dash = gather()  # bx-nam-1 never sent anything
    assert dash.total == 4
    assert dash.counts == {"offline": 1, "never": 1, "late": 1, "out_of_step": 0, "online": 1}
    assert [(a.screen.id, a.status) for a in dash.attention] == \
        [("bv-tw-1", "offline"), ("bx-nam-1", "never"), ("pd-led-1", "late")]
    offline, never, late = dash.attention
    assert offline.since == NOW - 300 * S and offline.last_seen == NOW - 600 * S
    assert never.since == NOW and never.last_seen is None  # registered at NOW, silent since
    assert late.since == NOW - 30 * S  # 150 s ago + 120 s


def test_an_online_screen_showing_the_wrong_item_is_out_of_step(net):
    wrong = net.keys["alert"]
    assert expected_item("bx-nam-1", NOW) != wrong
    beat("bx-nam-1", NOW, wrong)
    dash = gather()
    assert dash.counts["out_of_step"] == 1 and dash.counts["online"] == 0
    [screen] = [a for a in dash.attention if a.screen.id == "bx-nam-1"]
    assert (screen.status, screen.out_of_step, screen.since) == ("out_of_step", True, NOW)


def test_the_clock_moves_an_online_screen_to_late_then_offline(net):
    beat("bx-bac-1", NOW)
    assert gather(at=NOW + 119 * S).counts["online"] == 1
    assert gather(at=NOW + 120 * S).counts["late"] == 1
    assert [(a.screen.id, a.status) for a in gather(at=NOW + 301 * S).attention][0] == ("bx-bac-1", "offline")


def test_the_attention_list_is_cut_with_a_count_of_the_rest(net, monkeypatch):
    monkeypatch.setattr(dashboard, "ATTENTION_LIMIT", 3)
    dash = gather()
    assert len(dash.attention) == 3 and dash.attention_more == 1


# --- what plays now -------------------------------------------------------------------------------------------

def test_each_group_shows_what_its_screens_show_now_by_the_resolver(net):
    dash = gather()
    groups = {g.name: g for g in dash.groups}
    assert list(groups) == ["hospital", "led", "stations"]
    stations = groups["stations"]
    # Friday 08:20:05: the station loop (15 s + 10 s from midnight) is 5 s into its first poster on both screens.
    assert stations.agree and stations.screens == 2
    [showing] = stations.showing
    assert (showing.item, showing.screens, showing.sources) == (net.keys["a"], 2, ("schedule:1",))
    assert dash.names[net.keys["a"]] == "Cài Bluezone"
    assert showing.sha256  # a rendition to show as a thumbnail
    for name, screen_id in (("hospital", "bv-tw-1"), ("led", "pd-led-1")):
        [only] = groups[name].showing
        assert only.item == expected_item(screen_id, NOW) and only.sources == ("default",)


def test_a_group_whose_screens_differ_lists_each_item_with_its_share(net):
    at = NOW + timedelta(hours=1, minutes=5)  # the takeover runs on bx-bac-1 only
    stations = {g.name: g for g in gather(at=at).groups}["stations"]
    assert not stations.agree
    shown = {s.item: (s.screens, s.sources) for s in stations.showing}
    assert shown[net.keys["alert"]] == (1, ("override:1",))
    assert shown[expected_item("bx-nam-1", at)][0] == 1


def test_screens_in_no_group_come_last(net):
    from playlists.screens import add_screen

    add_screen(get_session(), "lone-1", "led-p10", NOW, name="Một mình", site=MARKET)
    get_session().commit()
    groups = gather().groups
    assert groups[-1].name == dashboard.NO_GROUP and groups[-1].screens == 1


# --- takeovers ------------------------------------------------------------------------------------------------

def test_takeovers_in_force_and_about_to_start_with_their_end(net):
    [soon] = gather().takeovers
    assert (soon.name, soon.started, soon.screens) == ("Báo động", False, 1)
    assert soon.start == NOW + timedelta(hours=1) and soon.end == NOW + timedelta(hours=1, minutes=30)
    [running] = gather(at=NOW + timedelta(hours=1, minutes=5)).takeovers
    assert running.started and running.end == NOW + timedelta(hours=1, minutes=30)
    assert gather(at=NOW + timedelta(hours=2)).takeovers == []


def test_an_operator_sees_only_the_takeovers_that_reach_their_screens(net):
    at = NOW + timedelta(hours=1, minutes=5)
    assert [t.name for t in gather(scope_of("chi"), at).takeovers] == ["Báo động"]  # the north station
    assert gather(scope_of("dung"), at).takeovers == []  # the hospital


# --- yesterday against the day before -------------------------------------------------------------------------

def _plays_and_scans(net):
    """Yesterday (26/11 in Huế): 5 plays at the north station (3 counted hourly, 2 raw), 4 scans there and 2 of
    the poster's own code; the day before: 7 plays at the market just before its midnight, 1 scan at the north."""
    session = get_session()
    a = net.keys["a"]
    session.add(PlayHour(screen_id="bx-bac-1", item=a, hour=datetime(2026, 11, 25, 17, tzinfo=UTC), plays=3,
                         seconds=45.0))  # 00:00 on 26/11 in Huế
    for n in range(2):
        session.add(Play(screen_id="bx-bac-1", record_id=f"r{n}", item=a, started_at=datetime(2026, 11, 26, 16, 59,
                                                                                              tzinfo=UTC),
                         duration_s=15.0, received_at=NOW, rolled=False))  # 23:59 on 26/11
    session.add(PlayHour(screen_id="pd-led-1", item=a, hour=datetime(2026, 11, 25, 16, tzinfo=UTC), plays=7,
                         seconds=105.0))  # 23:00 on 25/11
    enable_attribution(session, net.poster_ids["a"], "https://signage.example.vn", NOW)
    own = session.query(ScanCode).filter_by(poster_id=net.poster_ids["a"], screen_id=None).one().code
    north = code_for(session, net.poster_ids["a"], "bx-bac-1", NOW).code
    session.add_all([ScanCount(code=north, day=date(2026, 11, 26), platform="android", count=4),
                     ScanCount(code=own, day=date(2026, 11, 26), platform="ios", count=2),
                     ScanCount(code=north, day=date(2026, 11, 25), platform="web", count=1)])
    session.commit()


def test_yesterday_against_the_day_before_in_the_provinces_days(net):
    _plays_and_scans(net)
    activity = gather().activity
    assert (activity.yesterday, activity.day_before) == (date(2026, 11, 26), date(2026, 11, 25))
    assert activity.plays == (5, 7)
    assert activity.scans == (6, 1)
    assert activity.top == (("Cài Bluezone", 5),)


def test_an_operator_counts_only_their_screens_plays_and_scans(net):
    _plays_and_scans(net)
    chi = gather(scope_of("chi")).activity
    assert chi.plays == (5, 0) and chi.scans == (4, 1)  # not the poster's own code: it names no screen
    assert gather(scope_of("dung")).activity.plays == (0, 0)


# --- uploads and renditions waiting ---------------------------------------------------------------------------

def test_renditions_a_screen_needs_but_lacks_are_waiting(net):
    assert gather().waiting == []
    session = get_session()
    session.execute(delete(Rendition).where(Rendition.content == net.keys["b"], Rendition.profile == "led-p10"))
    session.commit()
    [waiting] = gather().waiting
    assert (waiting.content, waiting.name, waiting.profile, waiting.screens) == \
        (net.keys["b"], "Get Bluezone", "led-p10", 3)
    assert [w.content for w in gather(scope_of("chi")).waiting] == [net.keys["b"]]
    assert gather(scope_of("dung")).waiting == []  # the hospital's screen does not show that playlist


def test_recent_uploads_newest_first_saying_whether_they_are_used(net):
    from playlists import content

    session = get_session()
    for n, age in enumerate((1, 3, 10)):
        session.add(Media(sha256=f"{n}" * 64, ext="png", kind="image", width=10, height=10, bytes=100,
                          label=f"photo{n}.png", created_at=NOW - timedelta(days=age)))
    session.flush()
    content.add_playlist(session, "photos", [(f"asset:{'1' * 64}", 10)])
    session.commit()
    dash = gather()
    assert dash.uploads_total == 2
    assert [(u.label, u.used) for u in dash.uploads] == [("photo0.png", False), ("photo1.png", True)]
    assert gather(scope_of("chi")).uploads is None  # uploads belong to no screen: shown to staff and admins


# --- scope and the page ---------------------------------------------------------------------------------------

def test_an_operator_counts_only_their_screens(net):
    chi = gather(scope_of("chi"))
    assert chi.total == 1 and [g.name for g in chi.groups] == ["stations"]
    assert [a.screen.id for a in chi.attention] == ["bx-bac-1"]


def test_the_page_in_vietnamese_and_english(app):
    with app.app_context():
        beat("bv-tw-1", NOW - 600 * S)
    binh = login(app, "binh")
    page = binh.get("/staff/?lang=vi").get_data(as_text=True)
    assert "Chiến dịch có đang phát không?" in page and "Cần chú ý" in page
    assert 'data-status="offline"' in page and "mất kết nối" in page
    assert "/preview/screens/bv-tw-1" in page and "08:15 ngày 27/11/2026" in page  # offline since 08:15 Huế time
    assert "Cài Bluezone" in page and "Báo động" in page and "/staff/takeover" in page
    english = binh.get("/staff/?lang=en").get_data(as_text=True)
    assert "Is the campaign on air?" in english and "Need attention" in english and "08:15 on 27/11/2026" in english


def test_an_operator_page_names_none_of_the_other_sites(app):
    chi = login(app, "chi")
    page = chi.get("/staff/").get_data(as_text=True)
    assert NORTH in page
    for other in (SOUTH, HOSPITAL, MARKET, "Nam 1"):
        assert other not in page
    assert "/staff/takeover" not in page  # operators cannot end a takeover
    thumbs = re.findall(r'src="(/staff/media/[0-9a-f]+/thumb)"', page)
    assert thumbs and all(chi.get(url).status_code == 200 for url in thumbs)  # what their screens show
