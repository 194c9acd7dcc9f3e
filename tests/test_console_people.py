"""The console's Users pages through the Flask test client, CSRF on: admins add people, change their role and
what they see, disable them and reset their passwords (a generated one shown once, or a one-time link); a
password an admin chose is replaced at the next login; every change is in the audit log, never a password.
"""

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from playlists.db import upgrade
from playlists.models import AuditEntry, Site, User
from playlists.screens import add_screen
from playlists.users import UserError, add_user, set_disabled
from server import create_app
from server.db import get_engine, get_session

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
CLOCK = [NOW]


@pytest.fixture
def app(instance):
    CLOCK[0] = NOW
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: CLOCK[0]})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        for name, role in (("an", "admin"), ("binh", "staff"), ("chi", "operator")):
            add_user(session, name, role, NOW, password=PASSWORD)
        add_screen(session, "bx-bac-1", "tv-1080p", NOW, site="Bến xe phía Bắc", groups=["stations"])
        add_screen(session, "hue-led-1", "led-p10", NOW, site="Trung tâm Huế", groups=["led"])
        session.add(Site(name="Ga Huế", created_at=NOW))  # a site with no screen yet is offered too
        session.commit()
    return app


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


class Person:
    """A browser-like client, logged in as username (unless password is None), sending CSRF tokens."""

    def __init__(self, app, username: str | None, password: str | None = PASSWORD, lang: str = "en"):
        self.app, self.client = app, app.test_client()
        page = self.client.get(f"/staff/login?lang={lang}").get_data(as_text=True)
        self.token = csrf_of(page)
        if username is not None:
            self.login = self.client.post("/staff/login", data={"username": username, "password": password,
                                                                "csrf_token": self.token})
            if self.login.status_code == 302:  # the login starts a new session, with its own CSRF token
                self.page("/staff/account/password")

    def get(self, path: str):
        r = self.client.get(path)
        r.close()
        return r

    def page(self, path: str) -> str:
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.headers.get("Location"))
        self.token = csrf_of(r.get_data(as_text=True))
        return r.get_data(as_text=True)

    def post(self, path: str, data=None, csrf: bool = True):
        data = {**(data or {}), **({"csrf_token": self.token} if csrf else {})}
        r = self.client.post(path, data=data)
        r.close()
        return r

    def query(self, fn):
        with self.app.app_context():
            return fn(get_session())


def user(app, name: str) -> User:
    with app.app_context():
        session = get_session()
        row = session.scalar(select(User).where(User.username == name))
        session.expunge_all()
        return row


def entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        session = get_session()
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        session.expunge_all()
        return rows


def shown_once(text: str) -> str:
    return html.unescape(re.search(r'<code class="secret">([^<]+)</code>', text).group(1))


def flash_error(text: str) -> str:
    match = re.search(r'<p class="flash error" role="alert">(.*?)</p>', text, re.S)
    return html.unescape(match.group(1)) if match else ""


def logs_in(app, name: str, password: str) -> bool:
    return Person(app, name, password).login.status_code == 302


@pytest.fixture
def admin(app):
    return Person(app, "an")


# --- adding ---------------------------------------------------------------------------------------------------

def test_the_add_form_explains_each_role_and_offers_sites_and_groups_from_lists(admin):
    page = admin.page("/staff/users")
    for role in ("admin", "staff", "operator"):
        assert f'type="radio" name="role" value="{role}"' in page
    assert "manages people" in page and "Changes nothing" in page
    for site in ("Bến xe phía Bắc", "Trung tâm Huế", "Ga Huế"):
        assert f'name="sites" value="{site}"' in page
    assert 'name="groups" value="stations"' in page and "<textarea" not in page


def test_an_admin_adds_an_operator_who_must_choose_a_password_at_first_login(app, admin):
    r = admin.post("/staff/users", {"username": "dung", "role": "operator", "sites": ["Ga Huế"],
                                    "groups": ["stations"]})
    assert r.status_code == 200
    password = shown_once(r.get_data(as_text=True))
    assert password not in admin.page("/staff/users")  # shown once only
    row = user(app, "dung")
    assert (row.role, row.sites, row.must_change_password) == ("operator", "Ga Huế", True)
    [entry] = entries(app, "user.add")
    assert password not in entry.after_json and json.loads(entry.after_json)["groups"] == ["stations"]

    dung = Person(app, "dung", password)
    assert dung.login.status_code == 302
    r = dung.get("/preview/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/account/password")
    page = dung.page("/staff/account/password")
    assert "An admin chose your current password" in page
    r = dung.post("/staff/account/password", {"current": password, "new": "my own long password",
                                              "repeat": "my own long password"})
    assert r.status_code == 302
    assert dung.get("/preview/").status_code == 200
    assert not user(app, "dung").must_change_password
    assert logs_in(app, "dung", "my own long password") and not logs_in(app, "dung", password)
    assert [e.target for e in entries(app, "user.password")] == ["user:dung"]


def test_a_refused_user_keeps_what_was_typed_and_says_why(app, admin):
    r = admin.post("/staff/users", {"username": "binh", "role": "operator", "sites": ["Ga Huế"],
                                    "groups": ["led"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "binh" in flash_error(page)
    assert 'value="binh"' in page and 'value="Ga Huế" checked' in page and 'value="led" checked' in page
    assert 'value="operator" checked' in page
    r = admin.post("/staff/users", {"username": "em", "role": "root"})
    assert r.status_code == 400 and "role" in flash_error(r.get_data(as_text=True)).lower()
    assert user(app, "em") is None


# --- editing --------------------------------------------------------------------------------------------------

def test_an_admin_changes_a_users_role_sites_and_groups(app, admin):
    chi = user(app, "chi")
    page = admin.page(f"/staff/users/{chi.id}")
    assert 'value="operator" checked' in page
    r = admin.post(f"/staff/users/{chi.id}", {"role": "operator", "sites": ["Ga Huế", "Trung tâm Huế"],
                                              "groups": ["led"]})
    assert r.status_code == 302
    row = user(app, "chi")
    assert row.sites.splitlines() == ["Ga Huế", "Trung tâm Huế"]
    assert admin.query(lambda s: [g.name for g in s.get(User, chi.id).groups]) == ["led"]
    [entry] = entries(app, "user.edit")
    assert entry.target == "user:chi" and json.loads(entry.before_json)["sites"] == []
    assert json.loads(entry.after_json)["groups"] == ["led"]
    assert admin.post(f"/staff/users/{chi.id}", {"role": "staff"}).status_code == 302
    assert user(app, "chi").role == "staff"
    # A refusal leaves the user as they were and the form as typed.
    r = admin.post(f"/staff/users/{chi.id}", {"role": "operator", "groups": ["nowhere"], "sites": ["Ga Huế"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "nowhere" in flash_error(page) and 'value="Ga Huế" checked' in page
    assert user(app, "chi").role == "staff"
    assert admin.get("/staff/users/999").status_code == 302  # back to the list, with words


def test_the_last_active_admin_cannot_demote_or_disable_themselves(app, admin):
    an = user(app, "an")
    r = admin.post(f"/staff/users/{an.id}", {"role": "staff"})
    assert r.status_code == 400 and "only active admin" in flash_error(r.get_data(as_text=True))
    assert user(app, "an").role == "admin"
    with app.app_context():  # nor through the domain, whichever page or command asks
        session = get_session()
        with pytest.raises(UserError) as refused:
            set_disabled(session, session.get(User, an.id), True, NOW)
        assert refused.value.code == "user.last_admin"
    binh = user(app, "binh")
    assert admin.post(f"/staff/users/{binh.id}", {"role": "admin"}).status_code == 302
    assert admin.post(f"/staff/users/{an.id}", {"role": "staff"}).status_code == 302  # binh is an admin now
    assert user(app, "an").role == "staff"


def test_disable_and_enable_from_the_users_page_are_audited(app, admin):
    binh = user(app, "binh")
    other = Person(app, "binh")
    assert admin.post(f"/staff/users/{binh.id}/status", {"disabled": "1", "back": "user"}).status_code == 302
    assert other.get("/staff/posters").status_code == 302  # signed out
    assert not logs_in(app, "binh", PASSWORD)
    assert admin.post(f"/staff/users/{binh.id}/status", {"disabled": "0"}).status_code == 302
    assert logs_in(app, "binh", PASSWORD)
    assert [e.action for e in entries(app, "user.disable") + entries(app, "user.enable")] == \
        ["user.disable", "user.enable"]
    r = admin.client.post(f"/staff/users/{user(app, 'an').id}/status",
                          data={"disabled": "1", "csrf_token": admin.token}, follow_redirects=True)
    assert "cannot disable yourself" in flash_error(r.get_data(as_text=True))


# --- resetting ------------------------------------------------------------------------------------------------

def test_a_reset_by_generated_password_shows_it_once_and_signs_the_user_out(app, admin):
    binh = user(app, "binh")
    session_of_binh = Person(app, "binh")
    r = admin.post(f"/staff/users/{binh.id}/password", {"how": "generate"})
    assert r.status_code == 200
    password = shown_once(r.get_data(as_text=True))
    assert password not in admin.page(f"/staff/users/{binh.id}")
    assert session_of_binh.get("/staff/posters").status_code == 302
    assert not logs_in(app, "binh", PASSWORD)
    assert user(app, "binh").must_change_password
    again = Person(app, "binh", password)
    assert again.login.status_code == 302
    assert again.get("/staff/posters").headers["Location"].endswith("/staff/account/password")
    [entry] = entries(app, "user.reset_password")
    assert entry.target == "user:binh" and password not in entry.after_json + entry.before_json


def _make_link(app, admin, name: str) -> str:
    r = admin.post(f"/staff/users/{user(app, name).id}/password", {"how": "link"})
    assert r.status_code == 200
    link = shown_once(r.get_data(as_text=True))
    assert link.startswith("http://localhost/staff/reset/")
    return link.removeprefix("http://localhost")


def test_a_reset_link_works_once_and_signs_the_user_out_everywhere(app, admin):
    path = _make_link(app, admin, "binh")
    assert logs_in(app, "binh", PASSWORD)  # the old password works until the link is used
    signed_in = Person(app, "binh")
    stranger = Person(app, None)
    page = stranger.page(path)
    assert "binh" in page and 'name="new"' in page
    r = stranger.post(path, {"new": "a brand new password", "repeat": "another password!!"})
    assert r.status_code == 400 and "differ" in flash_error(r.get_data(as_text=True))
    r = stranger.post(path, {"new": "short", "repeat": "short"})
    assert r.status_code == 400 and "too short" in flash_error(r.get_data(as_text=True))
    r = stranger.post(path, {"new": "a brand new password", "repeat": "a brand new password"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/login")
    assert signed_in.get("/staff/posters").status_code == 302
    assert logs_in(app, "binh", "a brand new password") and not logs_in(app, "binh", PASSWORD)
    assert not user(app, "binh").must_change_password  # they chose it themselves
    # Used once: it no longer works.
    r = stranger.get(path)
    assert r.status_code == 410 and "used already" in flash_error(r.get_data(as_text=True))
    r = stranger.post(path, {"new": "yet another password", "repeat": "yet another password"})
    assert r.status_code == 410 and logs_in(app, "binh", "a brand new password")
    [made] = entries(app, "user.reset_link")
    [used] = entries(app, "user.password_by_link")
    assert made.target == used.target == "user:binh" and used.actor == "binh (reset link)"
    assert "/staff/reset/" not in made.after_json  # the link is a secret too


def test_a_reset_link_expires(app, admin):
    path = _make_link(app, admin, "binh")
    CLOCK[0] = NOW + timedelta(hours=23, minutes=59)
    assert Person(app, None).get(path).status_code == 200
    CLOCK[0] = NOW + timedelta(hours=24, minutes=1)
    r = Person(app, None).get(path)
    assert r.status_code == 410 and "expired" in flash_error(r.get_data(as_text=True))
    assert logs_in(app, "binh", PASSWORD)


def test_a_reset_link_stops_when_the_password_changes_and_a_forged_one_never_works(app, admin):
    path = _make_link(app, admin, "binh")
    binh = Person(app, "binh")
    binh.page("/staff/account/password")
    assert binh.post("/staff/account/password", {"current": PASSWORD, "new": "binh's own password",
                                                 "repeat": "binh's own password"}).status_code == 302
    assert Person(app, None).get(path).status_code == 410
    assert Person(app, None).get(path[:-3] + "abc").status_code == 404
    assert Person(app, None).get("/staff/reset/not-a-token").status_code == 404
    with app.app_context():  # a disabled user's link stops too
        session = get_session()
        set_disabled(session, session.scalar(select(User).where(User.username == "chi")), True, NOW)
        session.commit()
    assert Person(app, None).get(_make_link(app, admin, "chi")).status_code == 410


def test_everyone_changes_their_own_password_from_the_header(app):
    chi = Person(app, "chi")
    assert 'href="/staff/account/password"' in chi.page("/preview/")
    chi.page("/staff/account/password")
    r = chi.post("/staff/account/password", {"current": "wrong password", "new": "chi's new password",
                                             "repeat": "chi's new password"})
    assert r.status_code == 400 and "current password is wrong" in flash_error(r.get_data(as_text=True))
    assert chi.post("/staff/account/password", {"current": PASSWORD, "new": "chi's new password",
                                                "repeat": "chi's new password"}).status_code == 302
    assert logs_in(app, "chi", "chi's new password")


# --- who may ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["binh", "chi"])
def test_staff_and_operators_cannot_manage_people(app, name):
    person, target = Person(app, name), user(app, "binh").id
    assert person.get("/staff/users").status_code == 403
    assert person.get(f"/staff/users/{target}").status_code == 403
    for path, data in ((f"/staff/users/{target}", {"role": "admin"}),
                       (f"/staff/users/{target}/password", {"how": "generate"}),
                       (f"/staff/users/{target}/password", {"how": "link"}),
                       ("/staff/users", {"username": "eve", "role": "admin"})):
        assert person.post(path, data).status_code == 403, path
    assert user(app, "binh").role == "staff" and user(app, "eve") is None
    assert logs_in(app, "binh", PASSWORD)


def test_every_form_needs_its_csrf_token(app, admin):
    binh = user(app, "binh").id
    for path, data in ((f"/staff/users/{binh}", {"role": "admin"}),
                       (f"/staff/users/{binh}/password", {"how": "generate"}),
                       (f"/staff/users/{binh}/status", {"disabled": "1"}),
                       ("/staff/users", {"username": "eve", "role": "admin"})):
        assert admin.post(path, data, csrf=False).status_code == 400, path
    path = _make_link(app, admin, "binh")
    stranger = Person(app, None)
    stranger.page(path)
    assert stranger.post(path, {"new": "a brand new password", "repeat": "a brand new password"},
                         csrf=False).status_code == 400
    assert user(app, "binh").role == "staff" and logs_in(app, "binh", PASSWORD)
    assert entries(app, "user.reset_password") == [] and entries(app, "user.password_by_link") == []


def test_refusals_and_the_shown_once_notes_are_in_vietnamese(app):
    admin = Person(app, "an", lang="vi")
    an = user(app, "an")
    r = admin.post(f"/staff/users/{an.id}", {"role": "staff"})
    assert "an là người quản trị duy nhất đang hoạt động" in flash_error(r.get_data(as_text=True))
    r = admin.post(f"/staff/users/{user(app, 'binh').id}/password", {"how": "link"})
    page = r.get_data(as_text=True)
    assert "Liên kết đặt lại mật khẩu cho binh, chỉ hiện một lần này:" in page
    assert "đến 09:00 ngày 28/11/2026" in page  # 24 hours from 09:00 on 27/11 in Huế
    path = shown_once(page).removeprefix("http://localhost")
    CLOCK[0] = NOW + timedelta(days=2)
    r = Person(app, None, lang="vi").get(path)
    assert "Liên kết này đã hết hạn lúc 09:00 ngày 28/11/2026" in flash_error(r.get_data(as_text=True))


def test_until_they_choose_a_password_the_console_scripts_get_json_and_api_tokens_work(app, admin):
    r = admin.post("/staff/users", {"username": "dung", "role": "staff"})
    password = shown_once(r.get_data(as_text=True))
    dung = Person(app, "dung", password)
    r = dung.get("/api/v1/screens")
    assert r.status_code == 403 and r.get_json()["code"] == "user.must_change_password"
    with app.app_context():
        from playlists.users import create_api_token

        token = create_api_token(get_session(), "dung", "script", NOW)
        get_session().commit()
    assert app.test_client().get("/api/v1/screens", headers={"Authorization": f"Bearer {token}"}).status_code == 200
