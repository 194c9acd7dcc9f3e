"""Every route for every kind of caller: a new route without a guard fails here.

Routes are either listed below as open (to anyone or to players with their device token) or carry a role
from server.auth.require; each guarded route is called as anonymous, a player, an operator, staff and an
admin, and must refuse exactly those below its role.
"""

import re
from datetime import UTC, datetime

import pytest

from playlists.db import upgrade
from playlists.screens import add_screen
from playlists.users import ROLES, add_user, create_api_token
from server import create_app
from server.db import get_engine, get_session

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"

# Endpoints anyone may call (their own checks decide the rest).
OPEN = {
    "static", "health.healthz", "health.metrics", "auth.login", "auth.logout", "player.media",
    "pairing.start", "pairing.claim", "pairing.qr", "api.openapi", "go.scan", "pages.favicon",
    "console.reset_with_link",  # a password reset link: the signed link itself is the credential
}
# Endpoints for players: their device token, nothing else.
DEVICE = {"player.manifest", "player.now_png", "player.heartbeat", "player.plays"}
# The web player's page and service worker are public; the token lives in the browser.
OPEN_PREFIXES = ("webplayer.",)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import os

    instance = tmp_path_factory.mktemp("routes") / "instance"
    os.environ["SIGNAGE_INSTANCE"] = str(instance)
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False, "REVISION_CHECK_S": 0})
        with app.app_context():
            upgrade(get_engine())
            session = get_session()
            app.device = add_screen(session, "bx-bac-1", "led-p10", NOW)
            app.api_tokens = {}
            for role in ROLES:
                add_user(session, role, role, NOW, password=PASSWORD)
                if role != "operator":
                    app.api_tokens[role] = create_api_token(session, role, "tests", NOW)
            session.commit()
    finally:
        del os.environ["SIGNAGE_INSTANCE"]
    return app


def guarded_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN or rule.endpoint in DEVICE or rule.endpoint.startswith(OPEN_PREFIXES):
            continue
        yield rule


def url_for_rule(rule):
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "1" if "id" in m.group(1) else "x", rule.rule)


def test_every_route_is_open_device_or_guarded(app):
    missing = [r.endpoint for r in guarded_rules(app)
               if not hasattr(app.view_functions[r.endpoint], "required_role")]
    assert missing == [], f"routes without a guard: {missing}; add require(role) or list them as open"
    listed = OPEN | DEVICE
    assert listed <= {r.endpoint for r in app.url_map.iter_rules()}  # the lists name real routes


def callers(app):
    """(name, client factory) for anonymous, a player, each role by session, and each API token."""

    def anonymous():
        return app.test_client(), {}

    def player():
        return app.test_client(), {"Authorization": f"Bearer {app.device}"}

    def by_session(role):
        def make():
            client = app.test_client()
            r = client.post("/staff/login", data={"username": role, "password": PASSWORD})
            assert r.status_code == 302, r.get_data(as_text=True)
            return client, {}
        return make

    def by_token(role):
        return lambda: (app.test_client(), {"Authorization": f"Bearer {app.api_tokens[role]}"})

    yield "anonymous", None, anonymous
    yield "player", None, player
    for role in ROLES:
        yield f"{role} (session)", role, by_session(role)
        if role in app.api_tokens:
            yield f"{role} (token)", role, by_token(role)


def test_guarded_routes_refuse_exactly_the_callers_below_their_role(app):
    from playlists.users import role_at_least

    problems = []
    for name, role, make in callers(app):
        client, headers = make()
        for rule in guarded_rules(app):
            needed = app.view_functions[rule.endpoint].required_role
            url = url_for_rule(rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                r = client.open(url, method=method, headers=headers, json={} if method != "GET" else None)
                allowed = role is not None and role_at_least(role, needed)
                if allowed:
                    ok = r.status_code not in (401, 403) and r.status_code < 500
                elif rule.rule.startswith("/api/"):
                    ok = r.status_code == (403 if role else 401)
                else:
                    ok = r.status_code == (403 if role else 302)
                if not ok:
                    problems.append(f"{name} {method} {url} ({needed}) -> {r.status_code}")
    assert problems == []


def test_device_routes_open_only_with_the_screens_token(app):
    for name, _role, make in callers(app):
        client, headers = make()
        for endpoint, method, path in (("player.manifest", "GET", "manifest"), ("player.heartbeat", "POST",
                                                                                  "heartbeat")):
            r = client.open(f"/api/v1/screens/bx-bac-1/{path}", method=method, headers=headers,
                            json={} if method == "POST" else None)
            if name == "player":
                assert r.status_code in (200, 204, 503), (endpoint, r.status_code)
            else:
                assert r.status_code in (401, 404), (name, endpoint, r.status_code)
