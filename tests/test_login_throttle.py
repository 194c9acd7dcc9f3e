"""Failed logins slow down the (address, name) pair that fails, and an address failing across names; never the
account itself, so an attacker cannot lock the real administrator out. Counting is atomic."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from playlists.db import make_engine, session_factory, upgrade
from playlists.models import LoginThrottle
from playlists.users import LoginThrottled, ThrottlePolicy, add_user, claim_login_attempt, login_wait
from server import create_app
from server.db import get_engine, get_session
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
ATTACKER, ADMIN_HOME = "203.0.113.66", "198.51.100.7"


def make_app(**config):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": clock, **config})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        for name in ("an", "binh"):
            add_user(get_session(), name, "admin", NOW, password=PASSWORD)
        get_session().commit()
    return app


@pytest.fixture
def app(instance):
    return make_app()


def attempt(app, username, password, remote="127.0.0.1", headers=None):
    client = app.test_client()
    env = {"REMOTE_ADDR": remote}
    page = client.get("/staff/login", environ_base=env).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/staff/login", environ_base=env, headers=headers or {},
                       data={"username": username, "password": password, "csrf_token": token})


def wait(app, seconds):
    app.clock.at += timedelta(seconds=seconds)


def test_three_failures_are_free_then_each_next_attempt_waits_twice_as_long(app):
    for _ in range(3):
        assert attempt(app, "an", "guess", ATTACKER).status_code == 401
    delays = []
    for _ in range(5):
        refused = attempt(app, "an", "guess", ATTACKER)
        assert refused.status_code == 429
        assert "Too many failed attempts" in refused.get_data(as_text=True) or "Quá nhiều" in \
            refused.get_data(as_text=True)
        delays.append(int(refused.headers["Retry-After"]))
        wait(app, delays[-1] - 1)
        assert attempt(app, "an", "guess", ATTACKER).status_code == 429  # a second early: still waiting
        wait(app, 1)
        assert attempt(app, "an", "guess", ATTACKER).status_code == 401
    assert delays == [2, 4, 8, 16, 32]


def test_the_delay_stops_growing_at_the_cap(instance):
    app = make_app(LOGIN_MAX_DELAY_S=60)
    seen = []
    for _ in range(22):
        r = attempt(app, "an", "guess", ATTACKER)
        if r.status_code == 429:
            seen.append(int(r.headers["Retry-After"]))
            wait(app, seen[-1])
    assert max(seen) == 60 and seen[-3:] == [60, 60, 60]


def test_refused_attempts_do_not_make_the_wait_longer(app):
    for _ in range(3):
        attempt(app, "an", "guess", ATTACKER)
    for _ in range(20):
        assert attempt(app, "an", "guess", ATTACKER).headers["Retry-After"] == "2"


def test_the_real_admin_from_elsewhere_is_not_slowed_by_an_attackers_failures(app):
    for _ in range(3):
        attempt(app, "an", "guess", ATTACKER)
    assert attempt(app, "an", PASSWORD, ATTACKER).status_code == 429
    assert attempt(app, "an", PASSWORD, ADMIN_HOME).status_code == 302
    assert attempt(app, "binh", PASSWORD, ATTACKER).status_code == 302  # nor another account from that address


def test_a_right_password_forgets_the_pairs_failures(app):
    for _ in range(2):
        attempt(app, "an", "typo", ADMIN_HOME)
    assert attempt(app, "an", PASSWORD, ADMIN_HOME).status_code == 302
    for _ in range(3):
        assert attempt(app, "an", "typo", ADMIN_HOME).status_code == 401  # three free ones again


def test_failures_are_forgotten_after_an_hour_without_attempts(app):
    for _ in range(3):
        attempt(app, "an", "guess", ATTACKER)
    wait(app, 59 * 60)
    assert attempt(app, "an", "guess", ATTACKER).status_code == 401
    assert attempt(app, "an", "guess", ATTACKER).status_code == 429
    wait(app, 60 * 60)
    for _ in range(3):
        assert attempt(app, "an", "guess", ATTACKER).status_code == 401


def test_an_address_failing_across_many_names_waits_too(app):
    for i in range(20):
        assert attempt(app, f"user{i}", "guess", ATTACKER).status_code == 401
    refused = attempt(app, "someone-new", "guess", ATTACKER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert attempt(app, "an", PASSWORD, ATTACKER).status_code == 429  # that address, whatever the name
    assert attempt(app, "an", PASSWORD, ADMIN_HOME).status_code == 302  # other addresses are not concerned


def test_good_logins_from_a_shared_address_do_not_add_up(app):
    for _ in range(30):  # an office behind one address, everyone logging in each morning
        assert attempt(app, "binh", PASSWORD, ADMIN_HOME).status_code == 302


def test_logging_in_to_ones_own_account_does_not_clear_the_addresss_wait(app):
    for i in range(20):
        attempt(app, f"user{i}", "guess", ATTACKER)
    wait(app, 2)
    assert attempt(app, "binh", PASSWORD, ATTACKER).status_code == 302  # the attacker's own account
    assert attempt(app, "user99", "guess", ATTACKER).status_code == 429


def test_a_clock_set_back_locks_nobody_out(app):
    assert attempt(app, "an", PASSWORD, ADMIN_HOME).status_code == 302
    app.clock.at = NOW - timedelta(minutes=30)
    assert attempt(app, "an", PASSWORD, ADMIN_HOME).status_code == 302
    for _ in range(3):
        attempt(app, "an", "guess", ATTACKER)
    app.clock.at = NOW - timedelta(hours=5)
    assert attempt(app, "an", "guess", ATTACKER).headers["Retry-After"] == "2"  # never more than the count says


def test_names_and_addresses_are_cut_to_the_columns(app):
    assert attempt(app, "x" * 5000, "guess", ATTACKER).status_code == 401
    assert attempt(app, "\u0000\ud7ff" * 50, "guess", ATTACKER).status_code == 401


# --- atomic counting -----------------------------------------------------------------------------------------

def test_concurrent_guesses_cannot_exceed_the_limit(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        policy = ThrottlePolicy()
        threads, barrier, outcomes = 12, threading.Barrier(12), []

        def guess():
            with factory() as session:
                barrier.wait()
                try:
                    claim_login_attempt(session, "an", ATTACKER, NOW, policy)
                    session.commit()
                    outcomes.append("tried")
                except LoginThrottled:
                    session.rollback()
                    outcomes.append("refused")

        workers = [threading.Thread(target=guess) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert sorted(outcomes) == ["refused"] * 9 + ["tried"] * 3
        with factory() as session:
            rows = {r.scope: r.failures for r in session.scalars(select(LoginThrottle))}
            assert rows == {"pair": 3, "addr": 3}
            assert login_wait(session, "an", ATTACKER, NOW, policy) == timedelta(seconds=2)
    finally:
        engine.dispose()


# --- the client's address behind a reverse proxy -------------------------------------------------------------

def test_forwarded_addresses_are_ignored_by_default(app):
    assert not isinstance(app.wsgi_app, ProxyFix)
    for i in range(3):  # an attacker naming a new address in each request is still one address
        attempt(app, "an", "guess", ATTACKER, headers={"X-Forwarded-For": f"10.0.0.{i}"})
    r = attempt(app, "an", "guess", ATTACKER, headers={"X-Forwarded-For": "10.0.0.99"})
    assert r.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(instance):
    app = make_app(TRUSTED_PROXIES=1)
    proxy = "127.0.0.1"
    for _ in range(3):
        attempt(app, "an", "guess", proxy, headers={"X-Forwarded-For": ATTACKER})
    # The attacker's own forged entry comes first; the proxy appends the real address last, and that one counts.
    assert attempt(app, "an", PASSWORD, proxy, headers={"X-Forwarded-For": f"{ADMIN_HOME}, {ATTACKER}"}
                   ).status_code == 429
    assert attempt(app, "an", PASSWORD, proxy, headers={"X-Forwarded-For": ADMIN_HOME}).status_code == 302


def test_trusted_proxies_come_from_the_environment(instance, monkeypatch):
    monkeypatch.setenv("SIGNAGE_TRUSTED_PROXIES", "2")
    app = create_app()
    assert app.config["TRUSTED_PROXIES"] == 2
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2 and app.wsgi_app.x_proto == 2
    assert app.wsgi_app.x_host == 0  # the Host header is the proxy's to set, never X-Forwarded-Host
