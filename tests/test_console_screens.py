"""Screens, groups, sites and pairing from the console (server/console_screens.py), CSRF on, as people use them.

Each change is checked where it lands (tables, audit log, the player API); each refusal says in words what was
wrong, keeps what was typed and stores nothing."""

import html
import io
import os
import re
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from playlists import content
from playlists.db import upgrade
from playlists.models import AuditEntry, Group, Play, Screen, Site, User
from playlists.screens import add_screen
from playlists.users import add_user, set_scope
from server.db import get_engine, get_session, get_store
from tests.helpers import app_on, decoded_urls, seeded_instance
from tests.test_console import PASSWORD, Console, token_of

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
CONFIG = {"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW}
SECRET = "s" * 40


def seed(app) -> None:
    """Users an (admin), binh (staff), chi (operator of the site "Bến xe phía Bắc"); two screens."""
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        for name, role in (("an", "admin"), ("binh", "staff"), ("chi", "operator")):
            add_user(session, name, role, NOW, password=PASSWORD)
        app_tokens = {
            "bx-bac-1": add_screen(session, "bx-bac-1", "led-p10", NOW, name="Bến xe phía Bắc – LED",
                                   site="Bến xe phía Bắc", district="TP Huế", groups=["stations"]),
            "hue-led-1": add_screen(session, "hue-led-1", "led-p10", NOW, name="Trung tâm Huế – LED",
                                    site="Trung tâm Huế", district="TP Huế", groups=["led"]),
        }
        session.scalar(select(Group).where(Group.name == "stations")).label_vi = "Bến xe và nhà ga"
        set_scope(session, session.scalar(select(User).where(User.username == "chi")), ["Bến xe phía Bắc"], [])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        session.close()
        get_engine().dispose()
    # The tokens travel in a file, so that each test's copy of the instance has them.
    with open(os.path.join(app.instance_path, "tokens.txt"), "w") as fh:
        fh.write("\n".join(f"{k} {v}" for k, v in app_tokens.items()))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The seeded instance, made once per module on SQLite and copied by each test; None on PostgreSQL."""
    return seeded_instance(tmp_path_factory, "screens", seed, CONFIG)


@pytest.fixture
def app(instance, seeded):
    app = app_on(instance, seeded, seed, CONFIG)
    with open(os.path.join(app.instance_path, "tokens.txt")) as fh:
        app.tokens = dict(line.split(" ", 1) for line in fh.read().splitlines())
    return app


def text(page: str) -> str:
    """What a person reads: the page without tags, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def alerts(page: str) -> list[str]:
    return [text(m).strip() for m in re.findall(r'role="alert">(.*?)</p>', page, re.S)]


def manifest(app, screen_id, token):
    return app.test_client().get(f"/api/v1/screens/{screen_id}/manifest", headers={"Authorization": f"Bearer {token}"})


def audit_actions(console) -> list[tuple[str, str]]:
    return console.query(lambda s: [(a.action, a.target)
                                    for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))])


# --- the Screens page ---------------------------------------------------------------------------------------------

def test_the_screens_page_shows_each_screen_with_its_place_state_thumbnail_and_player_link(app):
    staff = Console(app, "binh", lang="vi")
    page = staff.page("/staff/screens")
    words = text(page)
    assert "Bến xe phía Bắc – LED" in words and "Trung tâm Huế – LED" in words and "TP Huế" in words
    assert "Bến xe và nhà ga" in words  # the group's Vietnamese name, not its identifier
    assert "chưa từng kết nối" in words and "192 × 96" in words
    assert 'href="/player/bx-bac-1"' in page
    thumb = re.search(r'<img class="now" src="([^"]+)"', page).group(1)
    assert staff.get(thumb).status_code == 200
    qr = staff.get("/staff/screens/bx-bac-1/qr.png")
    assert qr.status_code == 200 and decoded_urls(Image.open(io.BytesIO(qr.data))) == ["http://localhost/player/bx-bac-1"]
    only_led = text(staff.page("/staff/screens?group=led"))
    assert "Trung tâm Huế – LED" in only_led and "Bến xe phía Bắc – LED" not in only_led
    by_site = text(staff.page("/staff/screens?site=B%E1%BA%BFn+xe+ph%C3%ADa+B%E1%BA%AFc"))
    assert "Bến xe phía Bắc – LED" in by_site and "Trung tâm Huế – LED" not in by_site


def test_the_last_heartbeat_and_a_late_screen(app):
    staff = Console(app, "binh", lang="vi")
    r = app.test_client().post("/api/v1/screens/bx-bac-1/heartbeat", json={"player_version": "1"},
                               headers={"Authorization": f"Bearer {app.tokens['bx-bac-1']}"})
    assert r.status_code == 204
    words = text(staff.page("/staff/screens"))
    assert "đang hoạt động" in words
    assert "09:00" in words  # 02:00 UTC in Huế, as the `when` filter writes it


def test_operators_see_only_their_screens_read_only(app):
    operator = Console(app, "chi", lang="vi")
    page = operator.page("/staff/screens")
    assert "Bến xe phía Bắc – LED" in text(page) and "Trung tâm Huế – LED" not in text(page)
    assert "/staff/screens/bx-bac-1\"" not in page and "/staff/screens/new" not in page
    assert operator.get("/staff/screens/hue-led-1/qr.png").status_code == 404
    for path in ("/staff/screens/new", "/staff/screens/bx-bac-1", "/staff/groups", "/staff/sites", "/staff/pair"):
        assert operator.get(path).status_code == 403, path
    for path, data in (("/staff/screens/bx-bac-1/name", {"name": "x"}), ("/staff/screens/bx-bac-1/retire",
                                                                          {"confirm": "yes"}),
                       ("/staff/groups", {"name": "x"}), ("/staff/sites", {"name": "x"})):
        assert operator.post(path, data).status_code == 403, path
    assert app.test_client().get("/staff/screens").status_code == 302  # to the login page


# --- adding a screen ----------------------------------------------------------------------------------------------

def test_adding_a_screen_shows_its_token_once_and_the_token_works(app):
    staff = Console(app, "binh", lang="vi")
    form = staff.page("/staff/screens/new")
    assert "Bảng LED ngoài trời P10" in text(form) and "1920 × 1080" in text(form)
    r = staff.post("/staff/screens/new", {"profile": "kiosk-portrait", "id": "bv-kiosk-2", "name": "Kiosk 2",
                                          "site": "Bệnh viện Trung ương Huế", "district": "TP Huế",
                                          "groups": ["stations"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    token = re.search(r'<code class="secret">([A-Za-z0-9_-]{40,})</code>', page).group(1)
    assert f"http://localhost/player/bv-kiosk-2#token={token}" in page
    assert "chỉ hiện một lần" in text(page)
    assert manifest(app, "bv-kiosk-2", token).status_code in (200, 503)
    screen = staff.query(lambda s: s.get(Screen, "bv-kiosk-2"))
    assert (screen.name, screen.site, screen.profile) == ("Kiosk 2", "Bệnh viện Trung ương Huế", "kiosk-portrait")
    assert staff.query(lambda s: s.scalar(select(Site).where(Site.name == "Bệnh viện Trung ương Huế"))) is not None
    assert ("screen.create", "screen:bv-kiosk-2") in audit_actions(staff)
    assert token not in staff.page("/staff/screens")  # never again


def test_a_mistake_in_the_add_form_is_said_in_words_and_keeps_what_was_typed(app):
    staff = Console(app, "binh", lang="vi")
    before = staff.query(lambda s: s.scalar(select(func.count()).select_from(Screen)))
    r = staff.post("/staff/screens/new", {"profile": "led-p10", "id": "cho-dong-ba", "name": "Chợ Đông Ba",
                                          "site": "Chợ Đông Ba", "groups": ["khong-co"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert any("khong-co" in a and "nhóm" in a for a in alerts(page)), alerts(page)
    assert 'value="Chợ Đông Ba"' in page and 'value="cho-dong-ba"' in page
    assert 'value="led-p10" checked' in page
    assert staff.query(lambda s: s.scalar(select(func.count()).select_from(Screen))) == before


def test_csrf_is_required(app):
    staff = Console(app, "binh")
    r = staff.client.post("/staff/screens/new", data={"profile": "led-p10", "id": "x-1", "name": "x"})
    assert r.status_code == 400
    r = staff.client.post("/staff/screens/bx-bac-1/retire", data={"confirm": "yes"})
    assert r.status_code == 400
    assert staff.query(lambda s: s.get(Screen, "bx-bac-1").retired_at) is None


# --- changing a screen --------------------------------------------------------------------------------------------

def test_rename_place_and_groups(app):
    staff = Console(app, "binh", lang="vi")
    assert staff.post("/staff/screens/bx-bac-1/name", {"name": "Sảnh chờ"}).status_code == 302
    assert staff.post("/staff/screens/bx-bac-1/place", {"site": "Ga Huế", "district": ""}).status_code == 302
    assert staff.post("/staff/screens/bx-bac-1/groups", {"groups": ["led", "stations"]}).status_code == 302
    screen = staff.query(lambda s: s.get(Screen, "bx-bac-1"))
    assert (screen.name, screen.site) == ("Sảnh chờ", "Ga Huế")
    assert staff.query(lambda s: sorted(g.name for g in s.get(Screen, "bx-bac-1").groups)) == ["led", "stations"]
    actions = [a for a, t in audit_actions(staff) if t == "screen:bx-bac-1"]
    assert actions == ["screen.rename", "screen.place", "screen.groups"]
    r = staff.post("/staff/screens/bx-bac-1/name", {"name": "  "})
    assert r.status_code == 400 and any("tên" in a for a in alerts(r.get_data(as_text=True)))
    assert 'aria-invalid="true"' in r.get_data(as_text=True)


def test_reissuing_a_token_shows_the_new_one_and_the_old_stops(app):
    staff = Console(app, "binh", lang="vi")
    r = staff.post("/staff/screens/bx-bac-1/token")
    token = re.search(r'<code class="secret">([A-Za-z0-9_-]{40,})</code>', r.get_data(as_text=True)).group(1)
    assert manifest(app, "bx-bac-1", app.tokens["bx-bac-1"]).status_code == 401
    assert manifest(app, "bx-bac-1", token).status_code in (200, 503)
    assert ("screen.token", "screen:bx-bac-1") in audit_actions(staff)


def test_retiring_stops_the_token_keeps_the_history_and_the_id(app):
    staff = Console(app, "binh", lang="vi")
    with app.app_context():
        session = get_session()
        session.add(Play(screen_id="bx-bac-1", record_id="r1", item="poster:1", started_at=NOW, duration_s=10,
                         received_at=NOW))
        session.commit()
    r = staff.post("/staff/screens/bx-bac-1/retire", {})
    assert r.status_code == 400 and any("đánh dấu" in a or "xác nhận" in a for a in alerts(r.get_data(as_text=True)))
    assert manifest(app, "bx-bac-1", app.tokens["bx-bac-1"]).status_code in (200, 503)
    assert staff.post("/staff/screens/bx-bac-1/retire", {"confirm": "yes"}).status_code == 302
    gone = manifest(app, "bx-bac-1", app.tokens["bx-bac-1"])
    assert gone.status_code == 401 and 'error="invalid_token"' in gone.headers["WWW-Authenticate"]
    assert "Bến xe phía Bắc – LED" not in text(staff.page("/staff/screens"))
    assert staff.get("/staff/screens/bx-bac-1").status_code == 404
    assert staff.query(lambda s: s.scalar(select(func.count()).select_from(Play))) == 1
    assert ("screen.retire", "screen:bx-bac-1") in audit_actions(staff)
    assert "bx-bac-1" not in staff.client.get("/monitoring/status.json").get_data(as_text=True)
    r = staff.post("/staff/screens/new", {"profile": "led-p10", "id": "bx-bac-1", "name": "again"})
    assert r.status_code == 400 and any("ngừng" in a for a in alerts(r.get_data(as_text=True))), \
        alerts(r.get_data(as_text=True))
    assert staff.post("/staff/screens/bx-bac-1/token").status_code == 404


# --- groups and sites ---------------------------------------------------------------------------------------------

def test_groups_are_created_and_renamed_with_names_in_both_languages(app):
    staff = Console(app, "binh", lang="vi")
    r = staff.post("/staff/groups", {"name": "markets", "label_vi": "Chợ", "label_en": "Markets"})
    assert r.status_code == 302
    group = staff.query(lambda s: s.scalar(select(Group).where(Group.name == "markets")))
    assert (group.label_vi, group.label_en) == ("Chợ", "Markets")
    r = staff.post(f"/staff/groups/{group.id}", {"name": "cho", "label_vi": "Chợ truyền thống", "label_en": ""})
    assert r.status_code == 302
    assert staff.query(lambda s: s.get(Group, group.id).label("en")) == "cho"
    assert staff.query(lambda s: s.get(Group, group.id).label("vi")) == "Chợ truyền thống"
    r = staff.post("/staff/groups", {"name": "led", "label_vi": "Trùng", "label_en": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and any("led" in a for a in alerts(page)) and 'value="Trùng"' in page
    r = staff.post("/staff/groups", {"name": "bad/name", "label_vi": "", "label_en": ""})
    assert r.status_code == 400 and 'value="bad/name"' in r.get_data(as_text=True)
    assert [a for a, _t in audit_actions(staff) if a.startswith("group.")] == ["group.create", "group.rename"]
    english = Console(app, "binh", lang="en")
    assert "Markets" not in text(english.page("/staff/groups"))  # the label was cleared
    assert 'value="cho"' in english.page("/staff/groups")


def test_renaming_a_site_renames_it_on_screens_and_in_operators_scopes(app):
    staff = Console(app, "binh", lang="vi")
    site = staff.query(lambda s: s.scalar(select(Site).where(Site.name == "Bến xe phía Bắc")))
    assert site is not None and site.district == "TP Huế"
    r = staff.post(f"/staff/sites/{site.id}", {"name": "Bến xe Phía Bắc mới", "district": "TP Huế"})
    assert r.status_code == 302
    assert staff.query(lambda s: s.get(Screen, "bx-bac-1").site) == "Bến xe Phía Bắc mới"
    assert staff.query(lambda s: s.scalar(select(User.sites).where(User.username == "chi"))) == "Bến xe Phía Bắc mới"
    assert "Bến xe phía Bắc – LED" in text(Console(app, "chi").page("/staff/screens"))  # still in their scope
    assert staff.post("/staff/sites", {"name": "Chợ Đông Ba", "district": "TP Huế"}).status_code == 302
    r = staff.post("/staff/sites", {"name": "Chợ Đông Ba", "district": "Phú Vang"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and any("Chợ Đông Ba" in a for a in alerts(page)) and 'value="Phú Vang"' in page
    r = staff.post("/staff/sites", {"name": "", "district": ""})
    assert r.status_code == 400
    assert [a for a, _t in audit_actions(staff) if a.startswith("site.")] == ["site.rename", "site.create"]


# --- pairing --------------------------------------------------------------------------------------------------

def start_pairing(app) -> str:
    r = app.test_client().post("/api/v1/pairings", json={"secret": SECRET})
    assert r.status_code == 201
    return r.get_json()["code"]


def claim(app, code):
    return app.test_client().post(f"/api/v1/pairings/{code}/claim", json={"secret": SECRET})


def test_pairing_with_a_new_screen_from_the_same_form(app):
    code = start_pairing(app)
    staff = Console(app, "binh", lang="vi")
    page = staff.page(f"/staff/pair?code={code}")
    assert code in page and "Ghép nối màn hình" in text(page)
    r = staff.post("/staff/pair", {"code": code, "mode": "new", "profile": "tv-1080p", "id": "ga-hue-tv",
                                   "name": "Ga Huế", "site": "Ga Huế", "groups": ["stations"]})
    assert r.status_code == 200 and "ga-hue-tv" in text(r.get_data(as_text=True))
    body = claim(app, code).get_json()
    assert body["screen_id"] == "ga-hue-tv"
    assert manifest(app, "ga-hue-tv", body["token"]).status_code in (200, 503)
    assert ("screen.pair", "screen:ga-hue-tv") in audit_actions(staff)


def test_pairing_mistakes_are_said_in_words_and_keep_the_form(app):
    staff = Console(app, "binh", lang="vi")
    page = staff.page("/staff/pair?code=ZZZZZZ")
    assert any("ZZZZZZ" in a for a in alerts(page)), alerts(page)
    code = start_pairing(app)
    r = staff.post("/staff/pair", {"code": "ABC", "mode": "existing", "screen": "bx-bac-1"})
    assert r.status_code == 400 and 'value="ABC"' in r.get_data(as_text=True)
    r = staff.post("/staff/pair", {"code": code, "mode": "existing", "screen": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and alerts(page)
    r = staff.post("/staff/pair", {"code": code, "mode": "new", "profile": "led-p10", "id": "moi-1",
                                   "name": "Màn hình mới", "groups": ["khong-co"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'value="Màn hình mới"' in page and 'value="new" checked' in page
    assert staff.query(lambda s: s.get(Screen, "moi-1")) is None
    assert claim(app, code).status_code == 202  # still waiting, still open
    r = staff.post("/staff/pair", {"code": code, "mode": "existing", "screen": "bx-bac-1"})
    assert r.status_code == 200 and claim(app, code).get_json()["screen_id"] == "bx-bac-1"


def test_the_player_qr_leads_to_the_pair_page_after_login(app):
    code = start_pairing(app)
    client = app.test_client()
    r = client.get(f"/staff/pair?code={code}")
    assert r.status_code == 302
    login = r.headers["Location"]
    page = client.get(login).get_data(as_text=True)
    following = html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))
    r = client.post(login, data={"username": "binh", "password": PASSWORD, "csrf_token": token_of(page),
                                 "next": following})
    assert r.status_code == 302 and f"/staff/pair?code={code}" in r.headers["Location"]
    assert code in client.get(r.headers["Location"]).get_data(as_text=True)


# --- the JSON API -------------------------------------------------------------------------------------------------

def test_the_api_sets_and_returns_group_names_and_retires_screens(app):
    from playlists.users import create_api_token

    with app.app_context():
        tokens = {name: create_api_token(get_session(), name, "tests", NOW) for name in ("an", "binh")}
        get_session().commit()
    client = app.test_client()

    def call(method, path, who="an", **kwargs):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs)

    r = call("PUT", "/api/v1/groups/stations", "binh", json={"label_vi": "Bến xe", "label_en": "Stations"})
    assert r.status_code == 200 and r.get_json()["label_en"] == "Stations"
    listed = {g["name"]: g for g in call("GET", "/api/v1/groups", "binh").get_json()}
    assert (listed["stations"]["label_vi"], listed["led"]["label_en"]) == ("Bến xe", "")
    assert call("PUT", "/api/v1/groups/ghost", "binh", json={"label_vi": "x"}).status_code == 404
    assert call("PUT", "/api/v1/groups/stations", "binh", json={"label_vi": "a\nb"}).status_code == 400
    assert call("DELETE", "/api/v1/screens/bx-bac-1", "binh").status_code == 403  # admins retire by API
    r = call("DELETE", "/api/v1/screens/bx-bac-1")
    assert r.status_code == 200 and r.get_json() == {"id": "bx-bac-1", "retired": True}
    assert manifest(app, "bx-bac-1", app.tokens["bx-bac-1"]).status_code == 401
    assert "bx-bac-1" not in [s["id"] for s in call("GET", "/api/v1/screens").get_json()]
    assert call("DELETE", "/api/v1/screens/bx-bac-1").status_code == 404
    r = call("POST", "/api/v1/screens", json={"id": "bx-bac-1", "profile": "led-p10"})
    assert r.status_code == 400 and "retired" in r.get_json()["message"]


# --- migration 0012 -----------------------------------------------------------------------------------------------

def test_upgrading_makes_sites_of_the_names_screens_and_users_already_use(empty_db_url):
    from playlists.db import make_engine

    engine = make_engine(empty_db_url)
    upgrade(engine, "0011")
    with engine.begin() as conn:
        for sid, site, district in (("a", "Ga Huế", "TP Huế"), ("b", "Ga Huế", ""), ("c", "", "")):
            conn.exec_driver_sql(
                "INSERT INTO screens (id, name, site, district, profile, tz, token_hash, token_issued_at, created_at) "
                f"VALUES ('{sid}', '{sid}', '{site}', '{district}', 'tv-1080p', 'Asia/Ho_Chi_Minh', 'h{sid}', "
                "'2026-01-01', '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO users (username, password_hash, role, sites, disabled, created_at) VALUES "
                             "('chi', 'x', 'operator', 'Chợ Đông Ba\nGa Huế', false, '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO groups (name) VALUES ('stations')")
    upgrade(engine)
    with engine.connect() as conn:
        sites = sorted(conn.exec_driver_sql("SELECT name, district FROM sites").all())
        labels = conn.exec_driver_sql("SELECT label_vi, label_en FROM groups").all()
        retired = conn.exec_driver_sql("SELECT count(*) FROM screens WHERE retired_at IS NULL").scalar()
    assert sites == [("Chợ Đông Ba", ""), ("Ga Huế", "TP Huế")]
    assert labels == [("", "")] and retired == 3
    engine.dispose()


def test_the_screens_page_costs_the_same_few_queries_for_hundreds_of_screens(app):
    from sqlalchemy import event

    with app.app_context():
        session = get_session()
        for n in range(300):
            add_screen(session, f"many-{n:03d}", "led-p10", NOW, name=f"Màn hình {n}", site=f"Nơi {n % 20}",
                       groups=["stations" if n % 2 else "led"])
        session.commit()
        engine = get_engine()
    staff = Console(app, "binh")
    statements = []

    def count_statement(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        page = staff.page("/staff/screens")
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert page.count('<tr id="screen-') == 302
    assert len(statements) < 40, len(statements)  # the network snapshot, the states, the groups: not per screen
    assert page.count('class="now"') == 302  # every screen's thumbnail, from one resolution per rule set


def test_mistakes_are_said_in_english_too(app):
    staff = Console(app, "binh", lang="en")
    r = staff.post("/staff/screens/new", {"profile": "led-p10", "id": "cho-1", "name": "Chợ", "groups": ["nope"]})
    assert r.status_code == 400 and "Not saved: there is no group nope" in alerts(r.get_data(as_text=True))
    r = staff.post("/staff/sites", {"name": "Ga Huế" * 40, "district": ""})
    assert r.status_code == 400 and any("too long" in a for a in alerts(r.get_data(as_text=True)))
    page = staff.page("/staff/pair?code=ZZZZZZ")
    assert any("is wrong, used or expired" in a for a in alerts(page))


def test_a_retired_screen_cannot_be_named_in_a_new_rule(app):
    staff = Console(app, "binh")
    assert staff.post("/staff/screens/hue-led-1/retire", {"confirm": "yes"}).status_code == 302
    with app.app_context():
        session = get_session()
        poster = content.default_poster(session, NOW)
        playlist = content.add_playlist(session, "p", [(f"poster:{poster.id}", 10)])
        with pytest.raises(content.ContentError):
            content.add_schedule(session, playlist.id, screens=["hue-led-1"])
        session.rollback()
    assert 'value="hue-led-1"' not in staff.page("/staff/schedules")  # not offered as a target
