"""Screen monitoring: states follow heartbeats by the app's clock; events are recorded once; out of step flagged."""

from datetime import UTC, datetime, timedelta

import pytest

from playlists.monitoring import state_at, thresholds
from server.db import get_session
from tests.test_preview import NOW, build_network, device, login


@pytest.fixture
def net(instance):
    return build_network()


T = timedelta(seconds=1)


def beat(app, screen_id, item=""):
    r = app.test_client().post(f"/api/v1/screens/{screen_id}/heartbeat", headers=device(app, screen_id),
                               json={"version": "1.0.0", "item": item})
    assert r.status_code == 204


def states(client):
    return {s["id"]: s for s in client.get("/monitoring/status.json").get_json()["screens"]}


def test_thresholds_follow_the_poll_interval_but_never_beat_the_heartbeat():
    assert thresholds(30) == thresholds(2)  # heartbeats every 60 s set the pace
    limits = thresholds(30)
    assert (limits.late_after, limits.offline_after) == (120 * T, 300 * T)
    slow = thresholds(100)  # polls every 100 s plus a fifth of jitter
    assert (slow.late_after, slow.offline_after) == (240 * T, 600 * T)
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    assert [state_at(seen, seen + s * T, limits) for s in (0, 119, 120, 299, 300)] == \
        ["online", "online", "late", "late", "offline"]
    assert state_at(None, seen, limits) == "never"


def test_states_follow_simulated_heartbeats(net):
    binh = login(net, "binh")
    assert {s["state"] for s in states(binh).values()} == {"never"}
    beat(net, "bx-bac-1", net.keys["a"])
    beat(net, "pd-led-1")
    now = states(binh)
    assert now["bx-bac-1"]["state"] == now["pd-led-1"]["state"] == "online"
    assert now["bx-bac-1"]["player_version"] == "1.0.0"
    assert now["bx-bac-1"]["last_seen"] == NOW.isoformat()
    net.clock.at = NOW + 150 * T
    beat(net, "pd-led-1")
    later = states(binh)
    assert (later["bx-bac-1"]["state"], later["pd-led-1"]["state"]) == ("late", "online")
    net.clock.at = NOW + 301 * T
    assert states(binh)["bx-bac-1"]["state"] == "offline"
    # Trouble first: the offline screen, then those never seen, then the online one.
    assert list(states(binh)) == ["bx-bac-1", "bv-tw-1", "bx-nam-1", "pd-led-1"]


def test_going_offline_and_back_is_recorded_once_each(net):
    binh = login(net, "binh")
    beat(net, "bx-bac-1")
    binh.get("/monitoring/")
    net.clock.at = NOW + 10 * 60 * T
    page = binh.get("/monitoring/?lang=en").get_data(as_text=True)
    binh.get("/monitoring/")  # observing again changes nothing
    assert page.count('data-event="offline"') == 1 and "went offline" in page
    beat(net, "bx-bac-1")
    net.clock.at = NOW + 11 * 60 * T
    page = binh.get("/monitoring/?lang=en").get_data(as_text=True)
    assert page.count('data-event="offline"') == 1 and page.count('data-event="online"') == 1
    with net.app_context():
        from playlists.models import ScreenEvent

        events = [(e.kind, e.at.replace(tzinfo=UTC)) for e in get_session().query(ScreenEvent).order_by(ScreenEvent.id)]
    # Offline from the moment the silence crossed the threshold; back at the heartbeat that came in.
    assert events == [("offline", NOW + 300 * T), ("online", NOW + 10 * 60 * T)]


def test_the_dashboard_counts_per_site_and_lists_offline_first(net):
    binh = login(net, "binh")
    beat(net, "bx-bac-1")
    net.clock.at = NOW + 400 * T
    beat(net, "bx-nam-1")
    page = binh.get("/monitoring/?lang=en").get_data(as_text=True)
    assert '<div class="card" data-count="offline"><div class="big">1</div>' in page
    assert '<div class="card" data-count="online"><div class="big">1</div>' in page
    assert '<div class="card" data-count="never"><div class="big">2</div>' in page
    rows = page[page.index('class="screens-state"'):]
    assert rows.index('data-screen="bx-bac-1"') < rows.index('data-screen="bx-nam-1"')
    tally = page[page.index('class="tally"'):page.index('class="screens-state"')]
    assert tally.index("Bến xe phía Bắc") < tally.index("Bến xe phía Nam")  # the site with a screen down first


def test_a_player_showing_the_wrong_item_is_out_of_step(net):
    binh = login(net, "binh")
    beat(net, "bx-bac-1", net.keys["b"])  # at 08:20:05 the playlist is on "a"
    beat(net, "bx-nam-1", net.keys["a"])
    now = states(binh)
    assert now["bx-bac-1"]["out_of_step"] and now["bx-bac-1"]["expected_item"] == net.keys["a"]
    assert not now["bx-nam-1"]["out_of_step"]
    page = binh.get("/preview/screens/bx-bac-1?lang=en").get_data(as_text=True)
    assert 'data-out-of-step="1"' in page and "Get Bluezone" in page


def test_a_screen_first_observed_already_silent_is_recorded_offline_once(net):
    """Regression: on PostgreSQL a first observation's insert reported no row (rowcount -1), so a screen that went
    silent before anyone looked never got its offline event."""
    binh = login(net, "binh")
    beat(net, "bx-bac-1")
    net.clock.at = NOW + 10 * 60 * T  # nobody looked while it was online
    page = binh.get("/monitoring/?lang=en").get_data(as_text=True)
    binh.get("/monitoring/")
    assert page.count('data-event="offline"') == 1
    with net.app_context():
        from playlists.models import ScreenEvent

        events = [(e.kind, e.at.replace(tzinfo=UTC)) for e in get_session().query(ScreenEvent)]
    assert events == [("offline", NOW + 300 * T)]
