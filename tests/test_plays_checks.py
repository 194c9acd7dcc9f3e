"""Proof of play that can be believed: a record is kept only if the screen's schedule had it on screen then.

The network is tests/test_preview.py's: at the stations a 25 s loop (poster a for 15 s, then b for 10 s) from 06:00
to 22:00 in Huế, anchored at local midnight, a reminder every 15 minutes for 20 s, and an emergency takeover on
bx-bac-1 from 09:20:05 to 09:50:05. The app's clock reads NOW, 08:20:05 in Huế.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from playlists.models import Play
from playlists.resolver import resolve
from playlists.screens import add_screen
from server import create_app
from server.db import get_manifests, get_session
from tests.test_preview import NOW, build_network, device

LOOP = NOW - timedelta(seconds=5)  # 08:20:00 in Huế: a round of the loop starts (a, then b at +15 s)
S = timedelta(seconds=1)


@pytest.fixture
def net(instance):
    return build_network()


def rec(rid, item, start, seconds):
    return {"id": rid, "item": item, "started_at": start.isoformat(), "duration_s": seconds}


def post(app, screen_id, *records):
    r = app.test_client().post(f"/api/v1/screens/{screen_id}/plays", headers=device(app, screen_id),
                               json={"plays": list(records)})
    assert r.status_code == 202, r.get_data(as_text=True)
    return r.get_json()


def stored(app, screen_id=None):
    with app.app_context():
        query = select(func.count()).select_from(Play)
        if screen_id:
            query = query.where(Play.screen_id == screen_id)
        return get_session().scalar(query)


def timeline(app, screen_id, start, end):
    with app.app_context():
        network = get_manifests().network()
        return resolve(network.rules_for(network.screens[screen_id]), start, end)


def test_a_faithful_player_has_every_play_accepted(net):
    """Ten minutes as a player reports them (each a little late, with a reminder cutting in): all kept."""
    segments = timeline(net, "bx-bac-1", LOOP - timedelta(minutes=10), LOOP)
    assert {s.source.split(":")[0] for s in segments} == {"schedule", "reminder"}
    plays = [rec(f"p{i}", s.item.key, s.start + 0.2 * S, (s.end - s.start).total_seconds() - 0.25)
             for i, s in enumerate(segments)]
    answer = post(net, "bx-bac-1", *plays)
    assert answer == {"accepted": len(plays), "duplicates": 0, "refused": 0, "refused_by_reason": {},
                      "refused_ids": {}}
    assert stored(net, "bx-bac-1") == len(plays)


def test_each_play_that_could_not_have_happened_is_refused_with_its_reason(net):
    a, b = net.keys["a"], net.keys["b"]
    night = LOOP.replace(hour=16) - timedelta(days=1)  # 23:20 in Huế: the schedule is closed, the default shows
    answer = post(
        net, "bx-bac-1",
        rec("ok", a, LOOP, 15),
        rec("wrong-item", b, LOOP + 30 * S, 10),  # in the middle of a's turn
        rec("unknown", "poster:999", LOOP + 50 * S, 15),
        rec("night", a, night, 15),
        rec("too-long", a, LOOP + 75 * S, 40),  # a's slot is 15 s
        rec("again", a, LOOP, 15),  # the same showing under another id
        rec("future", a, LOOP + 25 * 24 * S, 15),  # ten minutes ahead of the server's clock
        rec("too-old", a, LOOP - timedelta(days=91), 15),
    )
    assert answer["accepted"] == 1 and answer["refused"] == 7
    assert answer["refused_by_reason"] == {"future": 1, "not_scheduled": 3, "overlap": 1, "too_long": 1,
                                           "too_old": 1}
    assert answer["refused_ids"] == {"future": ["future"], "not_scheduled": ["night", "wrong-item", "unknown"],
                                     "overlap": ["again"], "too_long": ["too-long"], "too_old": ["too-old"]}
    assert stored(net) == 1
    # Sent again, the batch is judged the same, and the play already kept is not counted twice.
    again = post(net, "bx-bac-1", rec("ok", a, LOOP, 15), rec("wrong-item", b, LOOP + 30 * S, 10))
    assert (again["accepted"], again["duplicates"], again["refused_by_reason"]) == (0, 1, {"not_scheduled": 1})


def test_small_skews_at_segment_edges_are_tolerated_large_ones_are_not(net):
    a, b = net.keys["a"], net.keys["b"]
    answer = post(
        net, "bx-bac-1",
        rec("early", a, LOOP + 25 * S - 3 * S, 15),  # a player clock 3 s fast
        rec("late-end", b, LOOP + 65 * S, 12),  # b ran 2 s past its slot
        rec("long-by-4", a, LOOP + 75 * S, 19),
        rec("long-by-6", a, LOOP + 100 * S, 21),
        rec("early-by-7", a, LOOP + 125 * S - 7 * S, 15),
    )
    assert answer["refused_ids"] == {"too_long": ["long-by-6", "early-by-7"]}
    assert answer["accepted"] == 3


def test_a_showing_counts_once_however_it_is_cut_or_renamed(net):
    a, b = net.keys["a"], net.keys["b"]
    assert post(net, "bx-bac-1", rec("first", a, LOOP, 15))["accepted"] == 1
    # Later batches with new ids for the same showing, or pieces of one, are overlaps.
    split = post(net, "bx-bac-1", rec("copy", a, LOOP + 2 * S, 13), rec("p1", a, LOOP + 25 * S, 5),
                 rec("p2", a, LOOP + 30 * S, 5), rec("p3", a, LOOP + 35 * S, 5))
    assert split["refused_ids"] == {"overlap": ["copy", "p2", "p3"]} and split["accepted"] == 1
    # Plays may touch at an edge within the tolerance (b started a second before a's slot ended).
    assert post(net, "bx-bac-1", rec("b", b, LOOP + 14 * S, 10))["accepted"] == 1
    # Another screen is another timeline.
    assert post(net, "bx-nam-1", rec("copy", a, LOOP, 15))["accepted"] == 1


def test_overrides_and_reminders_are_plays_of_their_own_screens_only(net):
    alert, reminder = net.keys["alert"], net.keys["r"]
    net.clock.at = NOW + timedelta(hours=2)
    takeover = rec("alert", alert, NOW + timedelta(hours=1), 1800)
    assert post(net, "bx-bac-1", takeover)["accepted"] == 1
    assert post(net, "bx-nam-1", takeover)["refused_ids"] == {"not_scheduled": ["alert"]}
    at_0815 = rec("r", reminder, LOOP - timedelta(minutes=5), 20)
    assert post(net, "bx-nam-1", at_0815)["accepted"] == 1
    assert post(net, "pd-led-1", at_0815)["refused_ids"] == {"not_scheduled": ["r"]}  # no reminder there


def test_an_offset_instant_is_kept_as_the_same_instant(net):
    from zoneinfo import ZoneInfo

    local = LOOP.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert local.isoformat().endswith("+07:00")
    assert post(net, "bx-bac-1", rec("local", net.keys["a"], local, 15))["accepted"] == 1
    with net.app_context():
        started = get_session().get(Play, ("bx-bac-1", "local")).started_at
    assert started.replace(tzinfo=None) == LOOP.replace(tzinfo=None) and started.utcoffset() in (None, timedelta(0))


def test_retention_clock_skew_and_batch_size_are_settings(net):
    a = net.keys["a"]
    net.config.update(PLAYS_KEEP_DAYS=1, PLAYS_CLOCK_SKEW_S=0, PLAYS_MAX_BATCH=3)
    answer = post(net, "bx-bac-1", rec("two-days", a, LOOP - timedelta(days=2), 15),
                  rec("a-day", a, LOOP - timedelta(days=1) + 25 * S, 15), rec("running", a, LOOP, 15))
    assert answer["refused_ids"] == {"future": ["running"], "too_old": ["two-days"]}
    big = net.test_client().post("/api/v1/screens/bx-bac-1/plays", headers=device(net, "bx-bac-1"),
                                 json={"plays": [rec(f"r{i}", a, LOOP, 15) for i in range(4)]})
    assert big.status_code == 400 and "at most 3" in big.get_json()["message"]


def test_refusals_are_counted_in_metrics_by_reason_alike_in_every_worker(net):
    a = net.keys["a"]
    post(net, "bx-bac-1", rec("f1", a, LOOP + timedelta(hours=1), 15), rec("f2", a, LOOP + timedelta(hours=2), 15),
         rec("x", "poster:999", LOOP, 15))
    # Another worker process: another app on the same database.
    other = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": net.clock})
    for app in (net, other):
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert 'signage_plays_refused{reason="future"} 2' in text
        assert 'signage_plays_refused{reason="not_scheduled"} 1' in text
        assert 'signage_plays_refused{reason="too_old"} 0' in text


def test_a_screen_whose_content_is_not_ready_gets_503_and_keeps_its_plays(net):
    with net.app_context():
        session = get_session()
        net.tokens["kiosk-new"] = add_screen(session, "kiosk-new", "kiosk-portrait", NOW)  # nothing rendered
        session.commit()
    r = net.test_client().post("/api/v1/screens/kiosk-new/plays", headers=device(net, "kiosk-new"),
                               json={"plays": [rec("k1", net.keys["a"], LOOP, 15)]})
    assert r.status_code == 503 and r.headers["Retry-After"] == "30"
    assert stored(net) == 0
