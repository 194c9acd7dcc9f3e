"""Anonymous endpoints under a flood: pairing codes capped per address and in all, wrong claims throttled, QR scans
counted once per phone and code in a window; only keyed hashes of addresses are kept."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from playlists import content, stats
from playlists.db import upgrade
from playlists.models import AnonThrottle, Pairing, ScanCount, ScanSeen
from playlists.pairing import client_key
from playlists.screens import add_screen
from server import create_app
from server.db import get_engine, get_session
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 1, 20, tzinfo=UTC)
ATTACKER, VICTIM = "203.0.113.9", "198.51.100.20"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 Chrome/123.0.0.0 Mobile Safari/537.36"


@pytest.fixture
def app(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": clock})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        add_screen(session, "bx-bac-1", "led-p10", NOW)
        poster = content.add_poster(session, {"lang": "vi", "headline": "Cài Bluezone"}, NOW)
        app.code = stats.enable_attribution(session, poster.id, "https://signage.example.vn", NOW).code
        session.commit()
    return app


def ask(client, address, n=0):
    return client.post("/api/v1/pairings", json={"secret": f"{n:040d}"}, environ_base={"REMOTE_ADDR": address})


def rows(app, model, *where):
    with app.app_context():
        return get_session().scalars(select(model).where(*where)).all()


def test_a_flood_from_one_address_cannot_stop_other_players_pairing(app, client):
    answers = [ask(client, ATTACKER, n).status_code for n in range(50)]
    assert answers == [201] * 10 + [429] * 40  # PAIRING_MAX_PER_CLIENT
    refused = ask(client, ATTACKER, 99)
    assert int(refused.headers["Retry-After"]) > 0 and "this address" in refused.get_json()["message"]
    assert ask(client, VICTIM).status_code == 201
    assert len(rows(app, Pairing)) == 11


def test_an_ipv6_network_counts_as_one_address(app, client):
    app.config["PAIRING_MAX_PER_CLIENT"] = 2
    assert [ask(client, f"2001:db8::{n}", n).status_code for n in (1, 2, 3)] == [201, 201, 429]
    assert ask(client, "2001:db8:0:1::1", 4).status_code == 201  # another /64


def test_open_codes_are_capped_in_all_and_expire(app, client):
    app.config.update(PAIRING_MAX_OPEN=3, PAIRING_LIFETIME_S=600)
    assert [ask(client, f"192.0.2.{n}", n).status_code for n in range(4)] == [201, 201, 201, 429]
    first = ask(client, VICTIM)
    assert first.status_code == 429 and "too many players" in first.get_json()["message"]
    app.clock.at = NOW + timedelta(seconds=601)  # the codes expired and were dropped
    again = ask(client, VICTIM)
    assert again.status_code == 201 and again.get_json()["expires_in_s"] == 600
    assert len(rows(app, Pairing)) == 1


def claim(client, code, address, secret="0" * 40):
    return client.post(f"/api/v1/pairings/{code}/claim", json={"secret": secret}, environ_base={"REMOTE_ADDR": address})


def test_claims_with_wrong_codes_or_secrets_are_throttled_per_address(app, client):
    app.config["PAIRING_CLAIM_FAILURES"] = 5
    mine = ask(client, VICTIM).get_json()["code"]
    # Waiting is not failing: a player polls its code every few seconds for a quarter of an hour.
    assert {claim(client, mine, VICTIM).status_code for _ in range(30)} == {202}
    wrong = [claim(client, "K7M-4QX", ATTACKER).status_code for _ in range(3)]
    wrong += [claim(client, mine, ATTACKER, secret="x" * 40).status_code for _ in range(2)]
    assert wrong == [404] * 5
    blocked = claim(client, mine, ATTACKER)  # even the right secret, from this address, waits now
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 900
    assert claim(client, mine, VICTIM).status_code == 202  # the player itself is not held up
    app.clock.at = NOW + timedelta(seconds=901)  # the window ends
    assert claim(client, "K7M-4QX", ATTACKER).status_code == 404


def test_no_address_is_stored_only_keyed_hashes(app, client):
    ask(client, ATTACKER)
    claim(client, "K7M-4QX", ATTACKER)
    client.get(f"/go/{app.code}", headers={"User-Agent": IPHONE}, environ_base={"REMOTE_ADDR": ATTACKER})
    kept = [p.client for p in rows(app, Pairing)] + [t.client for t in rows(app, AnonThrottle)] + \
        [s.client for s in rows(app, ScanSeen)]
    assert len(kept) == 3 and all(len(k) == 64 and ATTACKER not in k for k in kept)
    assert kept[0] == kept[1] == client_key("t", ATTACKER) != client_key("other secret", ATTACKER)
    assert kept[2] == client_key("t", ATTACKER, IPHONE)


def scans(app):
    with app.app_context():
        return get_session().scalar(select(func.coalesce(func.sum(ScanCount.count), 0)))


def scan(client, app, agent=IPHONE, address=ATTACKER):
    r = client.get(f"/go/{app.code}", headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address})
    assert r.status_code == 302 and r.headers["Location"].startswith("https://apps.apple.com/" if agent == IPHONE
                                                                      else "https://play.google.com/")


def test_a_scan_loop_counts_once_per_phone_and_code_in_the_window(app, client):
    for _ in range(25):
        scan(client, app)  # every one is still sent to the store
    assert scans(app) == 1
    scan(client, app, agent=ANDROID)  # another phone behind the same address
    scan(client, app, address=VICTIM)
    assert scans(app) == 3
    app.clock.at = NOW + timedelta(minutes=29)
    scan(client, app)
    assert scans(app) == 3
    app.clock.at = NOW + timedelta(minutes=31)  # SCAN_WINDOW_MIN later: a new scan, and old marks are pruned
    scan(client, app)
    assert scans(app) == 4 and len(rows(app, ScanSeen)) == 1


def test_the_scan_window_is_a_setting(app, client):
    app.config["SCAN_WINDOW_MIN"] = 1
    scan(client, app)
    app.clock.at = NOW + timedelta(seconds=61)
    scan(client, app)
    assert scans(app) == 2
