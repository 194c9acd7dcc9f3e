"""Users, roles, sessions, API tokens, CSRF and login throttling, and a guard on every route."""

import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from playlists.db import upgrade
from playlists.models import AuditEntry, User
from playlists.users import UserError, add_user, authenticate
from server import create_app
from server.db import get_engine, get_session
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def app(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": clock})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        for name, role in (("an", "admin"), ("binh", "staff"), ("chi", "operator")):
            add_user(session, name, role, NOW, password=PASSWORD)
        session.commit()
    return app


def csrf_token(client, path="/staff/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username, password=PASSWORD):
    return client.post("/staff/login", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(client)})


def test_login_opens_the_console_and_logout_closes_it(app, client):
    assert client.get("/staff/").status_code == 302
    r = login(client, "binh")
    assert r.status_code == 302 and r.headers["Location"] == "/staff/"
    home = client.get("/staff/")
    assert home.status_code == 200 and "binh" in home.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.get_data(as_text=True)).group(1)
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_session_cookie_flags(app, client):
    r = login(client, "binh")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = "https://localhost"
    page = client.get("/staff/login", base_url=https).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    # Over HTTPS, Flask-WTF also wants a same-origin Referer, as browsers send on a same-site form post.
    secure = client.post("/staff/login", base_url=https, headers={"Referer": f"{https}/staff/login"},
                         data={"username": "binh", "password": PASSWORD, "csrf_token": token})
    assert secure.status_code == 302 and "Secure" in secure.headers["Set-Cookie"]


def test_wrong_password_and_unknown_user_look_the_same(app, client):
    a, b = login(client, "binh", "wrong password!"), login(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.get_data(as_text=True).count("flash error") == b.get_data(as_text=True).count("flash error") == 1


def test_logins_wait_after_three_failures_of_a_pair(app, client):
    for _ in range(3):
        assert login(client, "binh", "wrong password!").status_code == 401
    r = login(client, "binh")  # even the right password waits out the delay
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    app.clock.at = NOW + timedelta(seconds=2)
    assert login(client, "binh").status_code == 302


def test_forms_without_a_csrf_token_are_refused(app, client):
    r = client.post("/staff/login", data={"username": "binh", "password": PASSWORD})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    login(client, "an")
    assert client.post("/staff/logout").status_code == 400  # still logged in afterwards
    assert client.get("/staff/").status_code == 200


def test_api_tokens_authenticate_scripts(app, client, runner):
    assert runner.invoke("token", "create", "chi").exit_code == 1  # operators get none
    result = runner.invoke("token", "create", "binh", "--label", "nightly import")
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    with app.app_context():
        entries = get_session().scalars(select(AuditEntry.action)).all()
    assert "token.create" in entries
    assert len(token) >= 40


@pytest.mark.real_password_hashing
def test_user_add_prints_a_password_once_and_it_works(app, runner, client):
    result = runner.invoke("user", "add", "dung", "--role", "operator", "--site", "Bến xe phía Bắc")
    assert result.exit_code == 0
    password = result.output.strip().splitlines()[-1]
    assert len(password) >= 16
    with app.app_context():
        user = get_session().scalar(select(User).where(User.username == "dung"))
        assert user.sites == "Bến xe phía Bắc" and password not in user.password_hash
        # Argon2id at argon2-cffi's recommended cost (RFC 9106's second choice: 64 MiB, 3 passes), not the suite's.
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert authenticate(get_session(), "dung", password) is not None
    assert runner.invoke("user", "add", "dung", "--role", "staff").exit_code == 1
    bad = runner.invoke("user", "add", "Bad Name", "--role", "staff")
    assert bad.exit_code == 1 and "bad user name" in bad.output


def test_short_passwords_and_unknown_roles_are_refused(app):
    with app.app_context(), pytest.raises(UserError, match="at least 10"):
        add_user(get_session(), "eve", "staff", NOW, password="short")
    with app.app_context(), pytest.raises(UserError, match="unknown role"):
        add_user(get_session(), "eve", "root", NOW)


def test_the_secret_key_is_made_once_per_instance(instance):
    first = create_app({"TESTING": True}).config["SECRET_KEY"]
    assert create_app({"TESTING": True}).config["SECRET_KEY"] == first and len(first) == 64
    assert stat.S_IMODE(os.stat(instance / "secret_key").st_mode) == 0o600


def test_next_is_only_followed_to_a_local_path(app, client):
    r = client.post("/staff/login", data={"username": "binh", "password": PASSWORD, "next": "https://evil.example/",
                                          "csrf_token": csrf_token(client)})
    assert r.headers["Location"] == "/staff/"


# --- credentials before any other check; only a valid API token skips CSRF --------------------------------------

def png_upload():
    import io

    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (64, 32), (0, 90, 170)).save(data, "PNG")
    return {"file": (io.BytesIO(data.getvalue()), "poster.png")}


def api_token(runner, username="binh"):
    result = runner.invoke("token", "create", username)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_an_anonymous_upload_gets_401_before_any_csrf_check(app, client):
    r = client.post("/api/v1/assets", data=png_upload())
    assert r.status_code == 401, r.get_data(as_text=True)
    assert r.get_json()["error"] == "Unauthorized" and r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["", "Basic eDp5", "Bearer", "Bearer ", "Bearer not-a-token", "bearer a b",
                                    "Token abc"])
def test_a_bad_authorization_header_gets_401_without_a_session(app, client, header):
    r = client.post("/api/v1/assets", data=png_upload(), headers={"Authorization": header})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_anonymous_console_post_goes_to_the_login_page(app, client):
    r = client.post("/staff/users", data={"username": "eve", "role": "admin"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/staff/login")


@pytest.mark.parametrize("header", ["", "Basic eDp5", "Bearer", "Bearer ", "Bearer not-a-token", "bearer a b",
                                    "Token abc"])
def test_a_bad_authorization_header_never_skips_csrf_for_a_cookie(app, client, header):
    login(client, "binh")
    r = client.post("/api/v1/assets", data=png_upload(), headers={"Authorization": header})
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]
    assert client.post("/staff/logout", headers={"Authorization": header}).status_code == 400
    assert client.get("/staff/").status_code == 200  # still signed in: the forged logout did nothing
    with app.app_context():
        assert get_session().scalars(select(AuditEntry.action)).all() == ["login"]  # nothing stored


def test_a_revoked_api_token_is_not_a_reason_to_skip_csrf(app, client, runner):
    token = api_token(runner)
    assert runner.invoke("token", "revoke", "1").exit_code == 0
    login(client, "binh")
    r = client.post("/api/v1/assets", data=png_upload(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]


def test_a_valid_api_token_needs_no_csrf_token(app, client, runner):
    token = api_token(runner)
    r = client.post("/api/v1/assets", data=png_upload(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    with app.app_context():
        entry = get_session().scalars(select(AuditEntry).where(AuditEntry.action != "token.create")).one()
        assert entry.actor == "binh (token)"
