"""Console sessions live on the server: logout, a disabled user, a new password and an admin's "sign out
everywhere" end them, and so do their idle and absolute lifetimes; API tokens are listed and revoked."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from playlists.db import upgrade
from playlists.models import ApiToken, AuditEntry, User, UserSession
from playlists.users import add_user, authenticate
from server import create_app
from server.cli import main
from server.db import get_engine, get_session
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
NEW = "a new and longer secret"


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


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(app, username, password=PASSWORD):
    client = app.test_client()
    token = token_of(client.get("/staff/login").get_data(as_text=True))
    r = client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/staff/", r.get_data(as_text=True)
    return client


def is_signed_in(client) -> bool:
    r = client.get("/staff/")
    assert r.status_code in (200, 302)
    return r.status_code == 200


def post_form(client, path, data=None, page="/staff/"):
    """A form post as the browser makes it: with the CSRF token of a page this client has open."""
    token = token_of(client.get(page).get_data(as_text=True))
    return client.post(path, data={**(data or {}), "csrf_token": token})


def copy_of(app, client):
    """Another browser holding a copy of client's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def user_id(app, username):
    with app.app_context():
        return get_session().scalar(select(User.id).where(User.username == username))


def test_the_cookie_holds_a_random_session_id_not_the_user_id(app):
    client = signed_in(app, "binh")
    with app.test_request_context():
        data = app.session_interface.open_session(app, _request_with(client)) or {}
    assert data["_user_id"] != str(user_id(app, "binh")) and len(data["_user_id"]) >= 40
    with app.app_context():
        row = get_session().scalars(select(UserSession)).one()
        assert data["_user_id"] not in row.token_hash and len(row.token_hash) == 64


def _request_with(client):
    from flask import request

    request.cookies = {"session": client.get_cookie("session").value}
    return request


def test_a_cookie_copied_before_logout_stops_working_after_it(app):
    client = signed_in(app, "binh")
    thief = copy_of(app, client)
    assert is_signed_in(thief)  # the copy works while the session lives...
    assert post_form(client, "/staff/logout").status_code == 302
    assert not is_signed_in(client)
    assert not is_signed_in(thief)  # ...and not after logout


def test_sessions_end_after_an_hour_without_a_request(app):
    client = signed_in(app, "binh")
    app.clock.at = NOW + timedelta(minutes=59)
    assert is_signed_in(client)  # each request moves the idle deadline
    app.clock.at = NOW + timedelta(minutes=118)
    assert is_signed_in(client)
    app.clock.at = NOW + timedelta(minutes=178)
    assert not is_signed_in(client)


def test_sessions_end_twelve_hours_after_login_however_busy(app):
    client = signed_in(app, "binh")
    for minutes in range(30, 12 * 60, 30):
        app.clock.at = NOW + timedelta(minutes=minutes)
        assert is_signed_in(client), minutes
    app.clock.at = NOW + timedelta(hours=12)
    assert not is_signed_in(client)


def test_lifetimes_are_settings(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": clock, "SESSION_IDLE_MINUTES": 5,
                      "SESSION_MAX_HOURS": 1})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        add_user(get_session(), "binh", "staff", NOW, password=PASSWORD)
        get_session().commit()
    client = signed_in(app, "binh")
    clock.at = NOW + timedelta(minutes=5)
    assert not is_signed_in(client)


def test_the_last_request_is_written_at_most_once_a_minute(app):
    client = signed_in(app, "binh")

    def last_seen():
        with app.app_context():
            return get_session().scalars(select(UserSession.last_seen_at)).one().replace(tzinfo=UTC)

    for seconds in (10, 30, 59):
        app.clock.at = NOW + timedelta(seconds=seconds)
        assert is_signed_in(client)
        assert last_seen() == NOW
    app.clock.at = NOW + timedelta(seconds=61)
    assert is_signed_in(client)
    assert last_seen() == NOW + timedelta(seconds=61)


def test_disabling_a_user_ends_their_sessions_and_enabling_does_not_bring_them_back(app):
    binh, admin = signed_in(app, "binh"), signed_in(app, "an")
    r = post_form(admin, f"/staff/users/{user_id(app, 'binh')}/status", {"disabled": "1"}, page="/staff/users")
    assert r.status_code == 302
    assert not is_signed_in(binh)
    post_form(admin, f"/staff/users/{user_id(app, 'binh')}/status", {"disabled": "0"}, page="/staff/users")
    assert not is_signed_in(binh)
    with app.app_context():
        assert get_session().scalars(select(UserSession).where(UserSession.ended_at.is_(None))).all() != []


def test_an_admin_signs_a_user_out_everywhere(app):
    laptop, phone, admin = signed_in(app, "binh"), signed_in(app, "binh"), signed_in(app, "an")
    chi = signed_in(app, "chi")
    page = admin.get("/staff/users").get_data(as_text=True)
    assert "Sign out everywhere" in page or "Đăng xuất" in page
    r = post_form(admin, f"/staff/users/{user_id(app, 'binh')}/sessions", page="/staff/users")
    assert r.status_code == 302
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert is_signed_in(admin) and is_signed_in(chi)  # nobody else
    with app.app_context():
        entry = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "user.signout")).one()
        assert entry.actor == "an (web)" and entry.target == "user:binh" and '"sessions_ended": 2' in entry.after_json


def test_sign_out_everywhere_needs_an_admin_and_a_csrf_token(app):
    binh, admin = signed_in(app, "binh"), signed_in(app, "an")
    target = f"/staff/users/{user_id(app, 'chi')}/sessions"
    assert admin.post(target).status_code == 400
    assert post_form(binh, target).status_code == 403
    assert app.test_client().post(target).status_code == 302  # anonymous: the login page


def test_an_admin_signing_themself_out_everywhere_keeps_this_session(app):
    admin, other = signed_in(app, "an"), signed_in(app, "an")
    post_form(admin, f"/staff/users/{user_id(app, 'an')}/sessions", page="/staff/users")
    assert is_signed_in(admin) and not is_signed_in(other)


def change_password(client, current, new, repeat=None):
    return post_form(client, "/staff/account/password", {"current": current, "new": new,
                                                          "repeat": new if repeat is None else repeat},
                     page="/staff/account/password")


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app):
    here, elsewhere = signed_in(app, "chi"), signed_in(app, "chi")
    page = here.get("/staff/account/password")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    assert "account/password" in here.get("/staff/").get_data(as_text=True)  # the home page links it
    r = change_password(here, PASSWORD, NEW)
    assert r.status_code == 302
    assert is_signed_in(here) and not is_signed_in(elsewhere)
    with app.app_context():
        assert authenticate(get_session(), "chi", NEW) is not None
        assert authenticate(get_session(), "chi", PASSWORD) is None
        assert "user.password" in get_session().scalars(select(AuditEntry.action)).all()
    signed_in(app, "chi", NEW)


@pytest.mark.parametrize(("current", "new", "repeat", "says"), [
    ("wrong password!", NEW, NEW, "current password is wrong"),
    (PASSWORD, NEW, NEW + "x", "differ"),
    (PASSWORD, "short", "short", "at least 10"),
    (PASSWORD, PASSWORD, PASSWORD, "must differ"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, current, new, repeat, says):
    here, elsewhere = signed_in(app, "chi"), signed_in(app, "chi")
    here.get("/staff/?lang=en")
    r = change_password(here, current, new, repeat)
    assert r.status_code == 400 and says in r.get_data(as_text=True)
    assert is_signed_in(elsewhere)
    with app.app_context():
        assert authenticate(get_session(), "chi", PASSWORD) is not None


def test_the_password_page_needs_a_csrf_token_and_a_login(app):
    here = signed_in(app, "chi")
    assert here.post("/staff/account/password", data={"current": PASSWORD, "new": NEW, "repeat": NEW}
                     ).status_code == 400
    anonymous = app.test_client().post("/staff/account/password", data={"current": PASSWORD})
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]


# --- signage user password, signage token list / revoke --------------------------------------------------------

def cli(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_user_password_generated_is_alone_on_the_last_line_and_ends_sessions(app):
    client = signed_in(app, "binh")
    result = cli("user", "password", "binh", "--generate")
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1]
    assert len(password) >= 16 and "1 session(s) ended" in result.output
    assert not is_signed_in(client)
    signed_in(app, "binh", password)


def test_user_password_asks_twice(app):
    result = cli("user", "password", "binh", input=f"{NEW}\n{NEW}\n")
    assert result.exit_code == 0, result.output
    assert NEW not in result.stdout
    signed_in(app, "binh", NEW)


@pytest.mark.parametrize(("args", "input", "says"), [
    (("user", "password", "nobody", "--generate"), None, "no user 'nobody'"),
    (("user", "password", "binh"), "short\nshort\n", "at least 10"),
])
def test_user_password_refusals_are_one_line(app, args, input, says):
    result = cli(*args, input=input)
    assert result.exit_code == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and says in error[0] and "Traceback" not in result.output


def test_tokens_are_listed_one_a_line_and_revoked(app):
    first = cli("token", "create", "binh", "--label", "nightly import").output.strip().splitlines()[-1]
    cli("token", "create", "an")
    client = app.test_client()
    app.clock.at = NOW + timedelta(minutes=5)
    assert client.get("/api/v1/screens", headers={"Authorization": f"Bearer {first}"}).status_code == 200
    lines = cli("token", "list").output.strip().splitlines()
    assert len(lines) == 2
    ident, user, label, created, last_used, revoked = lines[0].split("\t")
    assert (user, label, revoked) == ("binh", "nightly import", "-") and last_used != "-"
    assert lines[1].split("\t")[1:3] == ["an", "script"] and lines[1].split("\t")[4] == "-"
    result = cli("token", "revoke", ident)
    assert result.exit_code == 0 and "revoked" in result.output
    r = client.get("/api/v1/screens", headers={"Authorization": f"Bearer {first}"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert cli("token", "list").output.splitlines()[0].split("\t")[5] != "-"
    with app.app_context():
        assert get_session().scalars(select(AuditEntry.action).where(AuditEntry.action == "token.revoke")).all()


@pytest.mark.parametrize("ident", ["99", "18446744073709551617", "abc", "0", "-1"])
def test_revoking_an_unknown_token_is_a_one_line_error(app, ident):
    cli("token", "create", "binh")
    result = cli("token", "revoke", ident)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.stderr.strip()


def test_revoking_twice_says_so(app):
    cli("token", "create", "binh")
    assert cli("token", "revoke", "1").exit_code == 0
    again = cli("token", "revoke", "1")
    assert again.exit_code == 1 and "revoked already" in again.stderr
    with app.app_context():
        assert get_session().scalars(select(ApiToken.revoked_at)).one() is not None


def test_the_demo_admins_new_password_deletes_the_first_start_secrets_file(app, instance):
    """The file that keeps the first start's password goes as soon as that password stops working."""
    from playlists.demo import FIRST_START_SECRETS

    with app.app_context():
        add_user(get_session(), "admin", "admin", NOW, password=PASSWORD)
        get_session().commit()
    kept = instance / FIRST_START_SECRETS
    kept.write_text(f"admin password:\n{PASSWORD}\n")
    (instance / "other.txt").write_text("stays")
    assert change_password(signed_in(app, "chi"), PASSWORD, NEW).status_code == 302
    assert kept.exists()  # another user's new password changes nothing of the admin's
    assert change_password(signed_in(app, "admin"), PASSWORD, NEW).status_code == 302
    assert not kept.exists() and (instance / "other.txt").exists()
    kept.write_text(f"admin password:\n{NEW}\n")
    assert cli("user", "password", "admin", "--generate").exit_code == 0
    assert not kept.exists()
