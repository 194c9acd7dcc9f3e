"""Pairing a player with a screen: code, approval, a token claimed once by the browser holding the secret."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from playlists.db import upgrade
from playlists.pairing import ALPHABET, MAX_OPEN, PairingError, normalise_code
from playlists.screens import add_screen
from server import create_app
from server.db import get_engine, get_session
from tests.helpers import Clock, decoded_urls

# The CLI approves by the real clock, so the app runs on it too (codes live 15 minutes: no race here).
NOW = datetime.now(UTC)
SECRET = "s" * 20 + "ecret-of-the-tv-browser"


@pytest.fixture
def app(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": clock})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.old_token = add_screen(session, "bx-bac-1", "led-p10", NOW)
        session.commit()
    return app


def start(client, secret=SECRET, address="127.0.0.1"):
    r = client.post("/api/v1/pairings", json={"secret": secret}, environ_base={"REMOTE_ADDR": address})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def claim(client, code, secret=SECRET):
    return client.post(f"/api/v1/pairings/{code}/claim", json={"secret": secret})


def test_the_whole_pairing_from_code_to_a_working_token(app, client, runner):
    body = start(client)
    code = body["code"]
    assert len(code) == 7 and code[3] == "-" and all(c in ALPHABET for c in code.replace("-", ""))
    assert body["expires_in_s"] == 900 and body["approve_url"] == f"/staff/pair?code={code}"
    assert claim(client, code).status_code == 202
    approved = runner.invoke("screen", "pair", code.lower().replace("-", ""), "--id", "bx-bac-1")
    assert approved.exit_code == 0 and code in approved.output
    r = claim(client, code)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = r.get_json()["token"]
    assert r.get_json()["screen_id"] == "bx-bac-1"
    ok = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code in (200, 503)  # authorised (503 only means no media yet in this bare instance)
    old = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Authorization": f"Bearer {app.old_token}"})
    assert old.status_code == 401 and 'error="invalid_token"' in old.headers["WWW-Authenticate"]
    assert claim(client, code).status_code == 404  # used up


def test_only_the_browser_with_the_secret_can_claim(app, client, runner):
    code = start(client)["code"]
    runner.invoke("screen", "pair", code, "--id", "bx-bac-1")
    stolen = claim(client, code, secret="x" * 40)
    assert stolen.status_code == 404 and set(stolen.get_json()) == {"error", "message", "code", "field"}
    assert stolen.get_json()["code"] == "pairing.not_open"
    assert claim(client, code).status_code == 200


def test_codes_expire(app, client, runner):
    app.clock.at = NOW - timedelta(minutes=16)
    code = start(client)["code"]
    app.clock.at = NOW
    assert claim(client, code).status_code == 404
    result = runner.invoke("screen", "pair", code, "--id", "bx-bac-1")
    assert result.exit_code == 1 and "expired" in result.output


def test_approving_needs_a_registered_screen_and_a_real_code(app, client, runner):
    code = start(client)["code"]
    result = runner.invoke("screen", "pair", code, "--id", "nowhere")
    assert result.exit_code == 1 and "no screen 'nowhere'" in result.output
    result = runner.invoke("screen", "pair", "0O1-IL0", "--id", "bx-bac-1")
    assert result.exit_code == 1 and "expected 6 characters" in result.output


@pytest.mark.parametrize("body", [{}, {"secret": "short"}, {"secret": 5}, [], {"secret": "x" * 40 + "/"}])
def test_a_bad_secret_is_refused(client, app, body):
    r = client.post("/api/v1/pairings", json=body)
    assert r.status_code == 400 and "secret" in r.get_json()["message"]


def test_malformed_json_is_refused(client, app):
    r = client.post("/api/v1/pairings", data=b"{", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"] == "Bad Request"


def test_the_qr_code_carries_the_approval_link(app, client):
    code = start(client)["code"]
    r = client.get(f"/api/v1/pairings/{code}/qr.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert decoded_urls(Image.open(io.BytesIO(r.data))) == [f"http://localhost/staff/pair?code={code}"]
    assert client.get("/api/v1/pairings/ABC-DEF/qr.png").status_code == 404


def test_the_approval_page_needs_a_login_and_keeps_the_code(app, client):
    r = client.get("/staff/pair?code=k7m4qx")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    assert "code%3Dk7m4qx" in r.headers["Location"] or "code=k7m4qx" in r.headers["Location"]


def test_a_code_approved_on_the_console_page_gives_the_player_its_token(app, client):
    from playlists.users import add_user

    with app.app_context():
        add_user(get_session(), "binh", "staff", NOW, password="correct horse battery")
        get_session().commit()
    app.config["WTF_CSRF_ENABLED"] = False
    code = start(client)["code"]
    staff = app.test_client()
    assert staff.post("/staff/login", data={"username": "binh", "password": "correct horse battery"}).status_code == 302
    page = staff.get(f"/staff/pair?code={code.lower()}&lang=vi").get_data(as_text=True)
    assert code in page and "Ghép nối màn hình" in page
    r = staff.post("/staff/pair", data={"code": code, "mode": "existing", "screen": "bx-bac-1"})
    assert r.status_code == 200 and "bx-bac-1" in r.get_data(as_text=True)
    token = claim(client, code).get_json()["token"]
    ok = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code in (200, 503)


def test_open_codes_are_bounded(app, client):
    app.config["PAIRING_MAX_OPEN"] = 2
    start(client, "a" * 40)
    start(client, "b" * 40, address="198.51.100.2")
    r = client.post("/api/v1/pairings", json={"secret": "c" * 40}, environ_base={"REMOTE_ADDR": "198.51.100.3"})
    assert r.status_code == 429 and r.headers["Retry-After"]
    app.clock.at = NOW + timedelta(minutes=16)  # expired codes make room
    start(client, "c" * 40)


@pytest.mark.parametrize("code", ["", "K7M4Q", "K7M4QXX", "K7M-4Q0", 5])
def test_code_format(code):
    with pytest.raises(PairingError):
        normalise_code(code)
    assert MAX_OPEN >= 100
