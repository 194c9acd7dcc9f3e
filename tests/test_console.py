"""The staff console's pages and forms through the Flask test client, CSRF on, as staff would use them.

Each change is checked where it lands (the tables, the audit log, the media store); each refusal shows its
reason on the page and leaves the database as it was.
"""

import base64
import html as html_module
import io
import json
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from playlists import content
from playlists.db import upgrade
from playlists.models import (
    AuditEntry,
    Media,
    OverrideRow,
    PlaylistRow,
    Poster,
    ReminderRow,
    Rendition,
    ScheduleRow,
    User,
)
from playlists.screens import add_screen
from playlists.users import add_user, create_api_token
from server.db import get_engine, get_session, get_store
from tests.helpers import app_on, seeded_instance

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 in Huế
PASSWORD = "correct horse battery"

CONFIG = {"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW}


def seed(app) -> None:
    """Three users (admin an, staff binh, operator chi) and two screens with their first media."""
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        for name, role in (("an", "admin"), ("binh", "staff"), ("chi", "operator")):
            add_user(session, name, role, NOW, password=PASSWORD)
        add_screen(session, "bx-bac-1", "tv-1080p", NOW, groups=["stations"])
        add_screen(session, "hue-led-1", "led-p10", NOW, groups=["led"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        session.close()
        get_engine().dispose()  # SQLite writes its WAL back into the database file


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The seeded instance, made once per module on SQLite and copied by each test; None on PostgreSQL."""
    return seeded_instance(tmp_path_factory, "console", seed, CONFIG)


@pytest.fixture
def app(instance, seeded):
    return app_on(instance, seeded, seed, CONFIG)


def bearer(app, name: str) -> dict:
    """The Authorization header of a new API token of user `name`."""
    with app.app_context():
        session = get_session()
        value = create_api_token(session, name, "tests", app.config["CLOCK"]())
        session.commit()
    return {"Authorization": f"Bearer {value}"}


def token_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


class Console:
    """A browser-like client: logged in as one user, it sends the page's CSRF token with every form."""

    def __init__(self, app, username: str, lang: str = "en"):
        self.app, self.client = app, app.test_client()
        page = self.client.get(f"/staff/login?lang={lang}").get_data(as_text=True)
        r = self.client.post("/staff/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": token_of(page)})
        assert r.status_code == 302, r.get_data(as_text=True)
        self.token = token_of(self.client.get("/staff/").get_data(as_text=True))

    def get(self, path: str):
        r = self.client.get(path)
        r.close()
        return r

    def page(self, path: str) -> str:
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code)
        return r.get_data(as_text=True)

    def post(self, path: str, data=None, **kwargs):
        data = {**(data or {}), "csrf_token": self.token}
        r = self.client.post(path, data=data, **kwargs)
        r.close()
        return r

    def query(self, fn):
        with self.app.app_context():
            return fn(get_session())


def count(console, model) -> int:
    return console.query(lambda s: s.scalar(select(func.count()).select_from(model)))


def audit_entries(console, action: str) -> list[AuditEntry]:
    return console.query(lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                             .order_by(AuditEntry.id)).all())


def png_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def upload(console, data: bytes, name: str, csrf: bool = True):
    """What the upload page's script sends: one file to the JSON API, the CSRF token in a header."""
    headers = {"X-CSRFToken": console.token} if csrf else {}
    r = console.client.post("/api/v1/assets", data={"file": (io.BytesIO(data), name)}, headers=headers,
                            content_type="multipart/form-data")
    r.close()
    return r


@pytest.fixture
def staff(app):
    return Console(app, "binh")


@pytest.fixture
def admin(app):
    return Console(app, "an")


def flash_error(html: str) -> str:
    match = re.search(r'<p class="flash error" role="alert">(.*?)</p>', html, re.S)
    return html_module.unescape(" ".join(match.group(1).split())) if match else ""


# --- home, roles, language, CSRF -----------------------------------------------------------------------------

def test_home_offers_each_role_its_pages(app):
    # The dashboard's "what you can do" list: every page of the role, and none above it (other pages register
    # themselves as they are added, so the lists are checked by what each role must and must not see).
    tiles = {name: re.findall(r'<li><a href="(/staff/[^"]*)"', Console(app, name).page("/staff/").split(
        'id="what-you-can-do"')[1]) for name in ("an", "binh", "chi")}
    content_pages = ["/staff/posters", "/staff/assets", "/staff/playlists", "/staff/schedules", "/staff/takeover"]
    admin_pages = ["/staff/users", "/staff/audit"]
    assert tiles["binh"][:5] == content_pages and "/staff/exports" in tiles["binh"]
    assert not set(admin_pages) & set(tiles["binh"])
    assert set(content_pages + admin_pages + ["/staff/exports"]) <= set(tiles["an"])
    assert not set(content_pages + admin_pages) & set(tiles["chi"])


def test_operators_cannot_open_content_pages_and_staff_cannot_open_users(app):
    operator, staff = Console(app, "chi"), Console(app, "binh")
    assert operator.get("/staff/posters").status_code == 403
    assert operator.post("/staff/takeover", {"content": "poster:1", "everywhere": "on", "minutes": "5"}) \
        .status_code == 403
    assert staff.get("/staff/users").status_code == 403
    assert staff.post("/staff/users", {"username": "dung", "role": "admin"}).status_code == 403
    assert count(staff, OverrideRow) == 0 and count(staff, User) == 3


def test_pages_speak_vietnamese_by_default(app):
    page = Console(app, "binh", lang="vi").page("/staff/takeover")
    assert "Thay thế khẩn cấp" in page and "Emergency takeover" not in page
    assert "Emergency takeover" in Console(app, "binh", lang="en").page("/staff/takeover")


def test_a_form_without_the_csrf_token_is_refused_and_stores_nothing(staff):
    r = staff.client.post("/staff/posters/new", data={"headline": "Forged"})
    r.close()
    assert r.status_code == 400
    r = staff.client.post("/staff/posters/preview", data={"headline": "Forged"})
    r.close()
    assert r.status_code == 400
    assert staff.query(lambda s: s.scalars(select(Poster.name)).all()) == ["Bluezone (default)"]
    assert audit_entries(staff, "poster.save") == []


# --- posters -------------------------------------------------------------------------------------------------

def test_preview_shows_the_poster_on_every_registered_screen_with_its_qr_report(staff):
    r = staff.post("/staff/posters/preview", {"template": "install", "lang": "en", "theme": "light",
                                              "headline": "Get Bluezone", "url": "https://bluezone.gov.vn"})
    assert r.status_code == 200
    previews = {p["profile"]: p for p in r.json["previews"]}
    assert set(previews) == {"tv-1080p", "led-p10"}  # the profiles of the registered screens
    tv, led = previews["tv-1080p"], previews["led-p10"]
    assert tv["qr_ok"] and tv["scan_m"] == pytest.approx(2.8, abs=0.1) and "decoded OK" in tv["report"]
    assert led["qr_ok"] and led["scan_m"] == pytest.approx(5.0) and "body" in led["dropped"]
    with Image.open(io.BytesIO(base64.b64decode(tv["image"].split(",", 1)[1]))) as image:
        assert image.size == (480, 270)  # small, in the screen's shape
    with Image.open(io.BytesIO(base64.b64decode(led["image"].split(",", 1)[1]))) as image:
        assert image.size == (192, 96)  # small screens at their real pixels


def test_preview_says_what_cannot_be_drawn(staff):
    bad_url = staff.post("/staff/posters/preview", {"headline": "Hi", "url": "bluezone dot gov"})
    assert bad_url.status_code == 400 and "malformed URL" in bad_url.json["message"]
    long = staff.post("/staff/posters/preview", {"headline": "Bluezone " * 13})
    led = {p["profile"]: p for p in long.json["previews"]}["led-p10"]
    assert "does not fit" in led["error"] and "image" not in led


def test_saving_a_poster_stores_it_and_audits_it(staff):
    r = staff.post("/staff/posters/new", {"name": "Chợ Đông Ba", "template": "reminder", "lang": "vi",
                                          "theme": "dark", "headline": "Bạn đã cài Bluezone chưa?", "body": ""})
    assert r.status_code == 302 and r.headers["Location"] == "/staff/posters"
    poster = staff.query(lambda s: s.scalar(select(Poster).where(Poster.name == "Chợ Đông Ba")))
    spec = json.loads(poster.spec_json)
    assert spec["template"] == "reminder" and spec["theme"] == "dark" and spec["body"] is None
    [entry] = audit_entries(staff, "poster.save")
    assert entry.target == f"poster:{poster.id}" and entry.actor == "binh (web)"
    assert json.loads(entry.after_json)["headline"] == "Bạn đã cài Bluezone chưa?"
    assert "Chợ Đông Ba" in staff.page("/staff/posters")


def test_editing_a_played_poster_renders_it_again_and_keeps_the_old_text_in_the_audit(staff):
    def seed(s):
        poster = content.add_poster(s, {"headline": "Old"}, NOW)
        playlist = content.add_playlist(s, "p", [(f"poster:{poster.id}", 10)])
        content.add_schedule(s, playlist.id, groups=["stations"])
        content.sync_renditions(s, get_store(), NOW)
        s.commit()
        return poster.id, s.get(Rendition, (f"poster:{poster.id}", "tv-1080p")).sha256

    poster_id, old_sha = staff.query(seed)
    page = staff.page(f"/staff/posters/{poster_id}")
    assert 'value="Old"' in page and 'name="poster_id"' in page
    # Previewed where it plays (the stations' TV), not on the LED panel that never shows it.
    previews = staff.post("/staff/posters/preview", {"headline": "New", "poster_id": str(poster_id)}).json
    assert [p["profile"] for p in previews["previews"]] == ["tv-1080p"]
    r = staff.post(f"/staff/posters/{poster_id}", {"headline": "New", "lang": "en"})
    assert r.status_code == 302
    new_sha = staff.query(lambda s: s.get(Rendition, (f"poster:{poster_id}", "tv-1080p")).sha256)
    assert new_sha != old_sha
    [entry] = audit_entries(staff, "poster.save")
    assert json.loads(entry.before_json)["headline"] == "Old" and json.loads(entry.after_json)["headline"] == "New"


def test_a_poster_that_cannot_be_drawn_for_its_screens_is_not_saved(staff):
    def seed(s):
        poster = content.add_poster(s, {"headline": "Short"}, NOW)
        playlist = content.add_playlist(s, "led", [(f"poster:{poster.id}", 10)])
        content.add_schedule(s, playlist.id, groups=["led"])
        content.sync_renditions(s, get_store(), NOW)
        s.commit()
        return poster.id

    poster_id = staff.query(seed)
    r = staff.post(f"/staff/posters/{poster_id}", {"headline": "Bluezone " * 13})
    assert r.status_code == 400
    error = flash_error(r.get_data(as_text=True))
    assert "led-p10" in error and "does not fit" in error
    assert "Bluezone Bluezone" in r.get_data(as_text=True)  # the person's text is kept in the form
    assert staff.query(lambda s: json.loads(s.get(Poster, poster_id).spec_json)["headline"]) == "Short"
    assert audit_entries(staff, "poster.save") == []


def test_a_poster_with_a_bad_field_shows_the_reason_and_stores_nothing(staff):
    r = staff.post("/staff/posters/new", {"headline": "Hi", "url": "javascript:alert(1)"})
    assert r.status_code == 400 and "malformed URL" in flash_error(r.get_data(as_text=True))
    r = staff.post("/staff/posters/new", {"headline": "x" * 121})
    assert r.status_code == 400 and "headline is too long" in flash_error(r.get_data(as_text=True))
    assert count(staff, Poster) == 1  # the default poster only
    assert staff.get("/staff/posters/999").status_code == 404


# --- assets --------------------------------------------------------------------------------------------------

def test_upload_stores_a_clean_image_once_and_lists_it(staff):
    r = upload(staff, png_bytes(), "../../etc/ảnh chợ.png")
    assert r.status_code == 201
    doc = r.json
    assert (doc["kind"], doc["width"], doc["height"], doc["label"]) == ("image", 64, 48, "ảnh chợ.png")
    assert upload(staff, png_bytes(), "again.png").status_code == 200  # the same bytes: the same asset
    assert count(staff, Media) == 1 + 2  # the default poster's two renditions and the image
    assert [e.target for e in audit_entries(staff, "asset.upload")] == [f"asset:{doc['sha256']}"]
    page = staff.page("/staff/assets")
    assert "ảnh chợ.png" in page and f"/staff/media/{doc['sha256']}/thumb" in page
    thumb = staff.get(f"/staff/media/{doc['sha256']}/thumb")
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.size == (320, 240) and image.getpixel((5, 5)) == (200, 30, 30)
    assert "immutable" in thumb.headers["Cache-Control"]
    assert staff.get(f"/staff/media/{'0' * 64}/thumb").status_code == 404


@pytest.mark.parametrize(("data", "name", "status", "says"), [
    (b"", "empty.png", 400, "empty file"),
    (b"<html><script>alert(1)</script></html>", "page.png", 415, "HTML"),
    (png_bytes()[:60], "cut.png", 400, ""),
])
def test_a_refused_upload_gets_the_servers_reason_and_stores_nothing(staff, data, name, status, says):
    before = sorted(p.name for p in get_store_root(staff).rglob("*") if p.is_file())
    r = upload(staff, data, name)
    assert r.status_code == status and says in r.json["message"] and r.json["error"]
    assert count(staff, Media) == 2 and audit_entries(staff, "asset.upload") == []
    assert sorted(p.name for p in get_store_root(staff).rglob("*") if p.is_file()) == before


def get_store_root(console):
    from pathlib import Path

    return Path(console.app.config["MEDIA_DIR"])


def test_upload_page_sends_files_to_the_api_with_the_csrf_token(staff):
    page = staff.page("/staff/assets/upload")
    assert 'data-url="/api/v1/assets"' in page and "upload.js" in page and 'name="csrf-token"' in page
    assert upload(staff, png_bytes(), "forged.png", csrf=False).status_code == 400
    assert count(staff, Media) == 2


# --- playlists -----------------------------------------------------------------------------------------------

def seed_content(console) -> tuple[str, str]:
    """A poster and an uploaded image: their content keys."""
    sha = upload(console, png_bytes(), "market.png").json["sha256"]
    poster_id = console.query(lambda s: (p := content.add_poster(s, {"headline": "Cài"}, NOW), s.commit(), p.id)[2])
    return f"poster:{poster_id}", f"asset:{sha}"


def test_a_playlist_keeps_the_page_order_durations_and_fit(staff):
    poster, asset = seed_content(staff)
    editor = staff.page("/staff/playlists/new")
    assert f'data-key="{poster}"' in editor and f'data-key="{asset}"' in editor  # rows ready to add
    r = staff.post("/staff/playlists/new", {"name": "stations", "content": [asset, poster],
                                            "duration": ["8", "15"], "fit": ["cover", ""]})
    assert r.status_code == 302
    items = staff.query(lambda s: [(i.content, i.duration_s) for i in
                                   s.scalar(select(PlaylistRow).where(PlaylistRow.name == "stations")).items])
    assert items == [(f"{asset}:cover", 8), (poster, 15)]
    playlist_id = staff.query(lambda s: s.scalar(select(PlaylistRow.id)))
    page = staff.page(f"/staff/playlists/{playlist_id}")
    assert page.index(f'value="{asset}"') < page.index(f'value="{poster}"')
    assert '<option value="cover" selected>' in page
    # Reordered (as dragging does), one duration changed, letterboxed now.
    r = staff.post(f"/staff/playlists/{playlist_id}", {"content": [poster, asset], "duration": ["15", "20"],
                                                        "fit": ["", "contain"]})
    assert r.status_code == 302
    items = staff.query(lambda s: [(i.content, i.duration_s) for i in s.get(PlaylistRow, playlist_id).items])
    assert items == [(poster, 15), (asset, 20)]
    first, second = audit_entries(staff, "playlist.save")
    assert json.loads(second.before_json)["items"] == [[f"{asset}:cover", 8], [poster, 15]]


@pytest.mark.parametrize(("fields", "says"), [
    ({"content": [], "duration": [], "fit": []}, "The playlist is empty"),
    ({"content": ["poster:999"], "duration": ["10"], "fit": [""]}, "no poster 999"),
    ({"content": ["POSTER"], "duration": ["10"], "fit": [""]}, "expected 'poster:<id>'"),
    ({"content": ["{poster}"], "duration": ["ten"], "fit": [""]}, "expected whole seconds"),
    ({"content": ["{poster}"], "duration": ["0"], "fit": [""]}, "Item 1: seconds: got '0', expected whole seconds"),
])
def test_a_bad_playlist_shows_the_reason_and_stores_nothing(staff, fields, says):
    poster, _asset = seed_content(staff)
    fields = {k: [v.format(poster=poster) for v in vs] for k, vs in fields.items()}
    r = staff.post("/staff/playlists/new", {"name": "bad", **fields})
    assert r.status_code == 400 and says in flash_error(r.get_data(as_text=True))
    assert count(staff, PlaylistRow) == 0 and audit_entries(staff, "playlist.save") == []


def test_a_playlist_is_deleted_only_when_no_schedule_plays_it(staff):
    poster, _asset = seed_content(staff)
    playlist_id, schedule_id = staff.query(lambda s: (
        p := content.add_playlist(s, "p", [(poster, 10)]),
        r := content.add_schedule(s, p.id, everywhere=True), s.commit(), (p.id, r.id))[3])
    r = staff.client.post(f"/staff/playlists/{playlist_id}/delete", data={"csrf_token": staff.token},
                          follow_redirects=True)
    r.close()
    assert f"schedule(s) {schedule_id}" in flash_error(r.get_data(as_text=True)) and count(staff, PlaylistRow) == 1
    assert staff.post(f"/staff/schedules/{schedule_id}/delete").status_code == 302
    assert staff.post(f"/staff/playlists/{playlist_id}/delete").status_code == 302
    assert count(staff, PlaylistRow) == 0
    [entry] = audit_entries(staff, "playlist.delete")
    assert json.loads(entry.before_json) == {"name": "p", "items": [[poster, 10]]}


def test_a_refused_playlist_comes_back_with_the_rows_as_they_were_typed(staff):
    poster, asset = seed_content(staff)
    r = staff.post("/staff/playlists/new", {"name": "typo", "content": [asset, poster], "duration": ["8", "ten"],
                                            "fit": ["cover", ""]})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "expected whole seconds" in flash_error(page)
    rows = page[page.index('id="items"'):page.index('id="item-rows"')]
    assert rows.index(f'value="{asset}"') < rows.index(f'value="{poster}"')
    assert 'value="ten"' in rows and '<option value="cover" selected>' in rows and 'value="typo"' in page


# --- schedules and reminders ---------------------------------------------------------------------------------

def make_playlist(console) -> tuple[int, str]:
    """A playlist of one poster: its id and the poster's content key."""
    poster, _asset = seed_content(console)
    return console.query(lambda s: (p := content.add_playlist(s, "p", [(poster, 10)]), s.commit(), p.id)[2]), poster


def test_a_schedule_is_added_listed_and_deleted(staff):
    playlist_id, poster = make_playlist(staff)
    assert staff.query(lambda s: s.get(Rendition, (poster, "tv-1080p"))) is None
    r = staff.post("/staff/schedules", {"playlist": str(playlist_id), "groups": ["stations"], "priority": "5",
                                        "start_date": "2026-12-01", "end_date": "2026-12-31", "weekdays": ["0", "4"],
                                        "start_time": "06:00", "end_time": "22:00"})
    assert r.status_code == 302
    row = staff.query(lambda s: (r := s.scalar(select(ScheduleRow)),
                                 (r.id, r.priority, r.weekdays, r.start_time, [g.name for g in r.groups]))[1])
    schedule_id, priority, weekdays, start_time, groups = row
    assert (priority, weekdays, start_time, groups) == (5, "04", time(6), ["stations"])
    page = staff.page("/staff/schedules")
    assert "group stations" in page and "06:00–22:00" in page and "Mon Fri" in page
    # The tv screen's media were made when the schedule was saved, not at its first poll.
    assert staff.query(lambda s: s.get(Rendition, (poster, "tv-1080p"))) is not None
    assert staff.post(f"/staff/schedules/{schedule_id}/delete").status_code == 302
    assert count(staff, ScheduleRow) == 0
    [added], [deleted] = audit_entries(staff, "schedule.add"), audit_entries(staff, "schedule.delete")
    assert json.loads(added.after_json)["groups"] == ["stations"] == json.loads(deleted.before_json)["groups"]


@pytest.mark.parametrize(("fields", "says"), [
    ({"groups": ["stations"]}, "Playlist: choose one"),
    ({"playlist": "{id}"}, "expected at least one target"),
    ({"playlist": "{id}", "groups": ["nowhere"]}, "groups: got unknown 'nowhere'"),
    ({"playlist": "{id}", "everywhere": "on", "start_time": "25:00"}, "Daily from (optional): got '25:00'"),
    ({"playlist": "{id}", "everywhere": "on", "start_date": "2026-12-31", "end_date": "2026-12-01"}, "date"),
])
def test_a_bad_schedule_shows_the_reason_and_stores_nothing(staff, fields, says):
    playlist_id, _poster = make_playlist(staff)
    fields = {k: v.format(id=playlist_id) if isinstance(v, str) else v for k, v in fields.items()}
    r = staff.post("/staff/schedules", {"weekdays": ["0"], **fields})
    assert r.status_code == 400 and says in flash_error(r.get_data(as_text=True))
    assert count(staff, ScheduleRow) == 0 and audit_entries(staff, "schedule.add") == []


def test_a_reminder_slot_is_added_and_deleted_and_a_bad_one_refused(staff):
    poster, _asset = seed_content(staff)
    r = staff.post("/staff/reminders", {"content": poster, "every_min": "15", "duration_s": "20",
                                        "screens": ["hue-led-1"], "start_time": "07:00", "end_time": "19:00"})
    assert r.status_code == 302
    assert "20 s every 15 min" in staff.page("/staff/schedules")
    assert staff.query(lambda s: s.get(Rendition, (poster, "led-p10"))) is not None  # made on save
    r = staff.post("/staff/reminders", {"content": poster, "every_min": "15", "duration_s": "0",
                                        "everywhere": "on"})
    assert r.status_code == 400 and flash_error(r.get_data(as_text=True))
    reminder_id = staff.query(lambda s: s.scalar(select(ReminderRow.id)))
    assert count(staff, ReminderRow) == 1
    assert staff.post(f"/staff/reminders/{reminder_id}/delete").status_code == 302
    assert count(staff, ReminderRow) == 0 and len(audit_entries(staff, "reminder.delete")) == 1
    r = staff.client.post(f"/staff/reminders/{reminder_id}/delete", data={"csrf_token": staff.token},
                          follow_redirects=True)
    r.close()
    assert f"reminder: got id {reminder_id}, but there is none" in flash_error(r.get_data(as_text=True))


# --- emergency takeover --------------------------------------------------------------------------------------

def test_a_takeover_starts_now_says_when_screens_show_it_and_ends(staff):
    poster, asset = seed_content(staff)
    page = staff.page("/staff/takeover")
    assert "every 30 seconds" in page and "within about 41 seconds" in page
    r = staff.post("/staff/takeover", {"content": asset, "fit": "cover", "groups": ["stations"],
                                       "expiry": "duration", "minutes": "30"})
    assert r.status_code == 302
    row = staff.query(lambda s: s.scalar(select(OverrideRow)))
    assert row.content == f"{asset}:cover"
    assert (row.start.replace(tzinfo=UTC), row.end.replace(tzinfo=UTC)) == (NOW, NOW + timedelta(minutes=30))
    assert staff.query(lambda s: s.get(Rendition, (f"{asset}:cover", "tv-1080p"))) is not None
    page = staff.page("/staff/takeover")
    assert f'data-override="{row.id}"' in page and "09:30 on 27/11/2026" in page  # Huế time
    assert staff.post(f"/staff/takeover/{row.id}/end").status_code == 302
    assert f'data-override="{row.id}"' not in staff.page("/staff/takeover")
    assert [e.target for e in audit_entries(staff, "override.start") + audit_entries(staff, "override.end")] == \
        [f"override:{row.id}"] * 2


def test_a_takeover_until_a_local_time_and_refusals(staff):
    poster, _asset = seed_content(staff)
    r = staff.post("/staff/takeover", {"content": poster, "everywhere": "on", "expiry": "until",
                                       "until": "2026-11-27T12:00"})
    assert r.status_code == 302
    end = staff.query(lambda s: s.scalar(select(OverrideRow.end)))
    assert end.replace(tzinfo=UTC) == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # noon in Huế
    for fields, says in (({"content": poster, "expiry": "duration", "minutes": "10"}, "target"),
                         ({"content": poster, "everywhere": "on", "expiry": "until", "until": "2026-11-27T08:00"},
                          "end"),
                         ({"content": poster, "everywhere": "on", "expiry": "duration", "minutes": "0"}, "minutes"),
                         ({"content": "", "everywhere": "on", "expiry": "duration", "minutes": "5"},
                          "Show: choose one")):
        r = staff.post("/staff/takeover", fields)
        assert r.status_code == 400 and says in flash_error(r.get_data(as_text=True)), fields
    assert count(staff, OverrideRow) == 1


# --- users ---------------------------------------------------------------------------------------------------

def test_an_admin_adds_an_operator_who_can_log_in_with_the_password_shown_once(app, admin):
    r = admin.post("/staff/users", {"username": "dung", "role": "operator", "sites": "Bến xe phía Bắc\n",
                                    "groups": ["stations"]})
    assert r.status_code == 200
    password = re.search(r'<code class="secret">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert password not in admin.page("/staff/users")  # shown once only
    user = admin.query(lambda s: (u := s.scalar(select(User).where(User.username == "dung")),
                                  (u.role, u.sites, [g.name for g in u.groups]))[1])
    assert user == ("operator", "Bến xe phía Bắc", ["stations"])
    [entry] = audit_entries(admin, "user.add")
    assert password not in entry.after_json and json.loads(entry.after_json)["groups"] == ["stations"]
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    login = client.post("/staff/login", data={"username": "dung", "password": password, "csrf_token": token_of(page)})
    assert login.status_code == 302


def test_bad_users_are_refused_and_a_disabled_user_is_logged_out(app, admin):
    for fields in ({"username": "Bad Name", "role": "staff"}, {"username": "binh", "role": "staff"},
                   {"username": "eve", "role": "root"}, {"username": "eve", "role": "operator", "groups": ["x"]}):
        r = admin.post("/staff/users", fields)
        assert r.status_code == 400 and flash_error(r.get_data(as_text=True)), fields
    assert count(admin, User) == 3
    binh = Console(app, "binh")
    binh_id = admin.query(lambda s: s.scalar(select(User.id).where(User.username == "binh")))
    assert admin.post(f"/staff/users/{binh_id}/status", {"disabled": "1"}).status_code == 302
    assert binh.get("/staff/posters").status_code == 302  # to the login page
    assert [e.target for e in audit_entries(admin, "user.disable")] == ["user:binh"]
    an_id = admin.query(lambda s: s.scalar(select(User.id).where(User.username == "an")))
    r = admin.client.post(f"/staff/users/{an_id}/status", data={"disabled": "1", "csrf_token": admin.token},
                          follow_redirects=True)
    r.close()
    assert "cannot disable yourself" in flash_error(r.get_data(as_text=True))
    assert admin.post(f"/staff/users/{binh_id}/status", {"disabled": "0"}).status_code == 302
    assert Console(app, "binh").get("/staff/posters").status_code == 200


def test_the_exports_page_links_the_downloads(staff, app):
    page = staff.page("/staff/exports")
    assert 'action="/staff/export/usb"' in page and 'action="/staff/export/print"' in page
    assert '<option value="bx-bac-1">' in page or 'value="bx-bac-1"' in page
    pdf = staff.get("/staff/export/print?format=A5&lang=vi")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert Console(app, "chi").get("/staff/exports").status_code == 403


# --- hostile form values (issue 13): a clear 400 naming the field, the form as typed, nothing stored ----------

HUGE = "18446744073709551617"  # 2**64 + 1


@pytest.mark.parametrize(("fields", "says"), [
    ({"priority": HUGE}, f"Priority: got '{HUGE}', expected a whole number"),
    ({"priority": "١٢"}, "Priority: got '١٢', expected a whole number"),
    ({"priority": "5000"}, "Priority: expected a whole number from -1000 to 1000"),
    ({"playlist": "99999999999"}, "Playlist: expected a whole number from 1 to 2147483647"),
    ({"start_date": "0001-01-01"}, "From date (optional): expected a year from 2000 to 2100"),
    ({"end_date": "9999-12-31"}, "Until date (optional): expected a year from 2000 to 2100"),
    ({"end_date": "20261201"}, "Until date (optional): got '20261201', expected a date such as 2026-11-28"),
    ({"start_time": "24:00"}, "Daily from (optional): got '24:00', expected a time of day"),
    ({"name": "Bến xe\x00"}, "Name (optional): holds a control character"),
    ({"name": "x" * 201}, "Name (optional): got more than 200 characters"),
    ({"weekdays": ["0", "²"]}, "Weekdays: got '²', expected one of 0, 1, 2, 3, 4, 5, 6"),
    ({"groups": ["g\x1b"]}, "Groups: holds a control character"),
    ({"screens": ["s" * 65]}, "Single screens: a value is 65 characters long, expected at most 64"),
])
def test_a_schedule_with_hostile_values_names_the_field_and_keeps_what_was_typed(staff, fields, says):
    playlist_id, _poster = make_playlist(staff)
    form = {"playlist": str(playlist_id), "everywhere": "on", "name": "Bến xe", "priority": "7", **fields}
    r = staff.post("/staff/schedules", form)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and says in flash_error(page), flash_error(page)
    if "name" not in fields:
        assert 'value="Bến xe"' in page and 'name="priority" value="7"' in page or "priority" in fields
    assert count(staff, ScheduleRow) == 0


def test_a_refusal_speaks_the_readers_language(app):
    binh = Console(app, "binh", lang="vi")
    playlist_id, _poster = make_playlist(binh)
    r = binh.post("/staff/schedules", {"playlist": str(playlist_id), "everywhere": "on", "start_date": "0001-01-01"})
    assert r.status_code == 400
    assert flash_error(r.get_data(as_text=True)) == "Chưa lưu: Từ ngày (không bắt buộc): năm phải từ 2000 đến 2100"


def test_invalid_utf8_and_encoded_surrogates_in_a_body_are_refused_not_a_500(staff):
    playlist_id, poster = make_playlist(staff)
    for raw in ("%ED%A0%80", "%FF%FE", "%C0%AF"):
        body = f"csrf_token={staff.token}&playlist={playlist_id}&everywhere=on&name=a{raw}b"
        r = staff.client.post("/staff/schedules", data=body, content_type="application/x-www-form-urlencoded")
        r.close()
        # Werkzeug decodes bad bytes as U+FFFD (a visible replacement character): kept as typed, never a crash.
        assert r.status_code in (302, 400), raw
        body = f"csrf_token={staff.token}&content={poster}&every_min=15&duration_s={raw}&everywhere=on"
        r = staff.client.post("/staff/reminders", data=body, content_type="application/x-www-form-urlencoded")
        r.close()
        assert r.status_code == 400 and "For (seconds): got" in flash_error(r.get_data(as_text=True))


@pytest.mark.parametrize(("fields", "says"), [
    ({"duration_s": HUGE}, "For (seconds): got"),
    ({"duration_s": "86401"}, "For (seconds): expected a whole number from 1 to 86400"),
    ({"every_min": "0"}, "Every (minutes): expected a whole number from 1 to 1440"),
    ({"every_min": ""}, "Every (minutes): required"),
    ({"content": "poster:" + HUGE}, "expected 'poster:<id>'"),
    ({"content": "x" * 101}, "Content: got more than 100 characters"),
    ({"end_time": "7pm"}, "Daily until (optional): got '7pm'"),
])
def test_a_reminder_with_hostile_values_is_refused(staff, fields, says):
    poster, _asset = seed_content(staff)
    r = staff.post("/staff/reminders", {"content": poster, "every_min": "15", "duration_s": "20",
                                        "everywhere": "on", **fields})
    assert r.status_code == 400 and says in flash_error(r.get_data(as_text=True))
    assert count(staff, ReminderRow) == 0


@pytest.mark.parametrize(("fields", "says"), [
    ({"expiry": "until", "until": "9999-12-31T23:59"}, "Until (Huế time): expected a year from 2000 to 2100"),
    ({"expiry": "until", "until": "tomorrow"}, "Until (Huế time): got 'tomorrow'"),
    ({"expiry": "until", "until": ""}, "Until (Huế time): required"),
    ({"expiry": "forever"}, "Until: expected one of duration, until"),
    ({"minutes": HUGE}, "For (minutes): got"),
    ({"minutes": "10081"}, "For (minutes): expected a whole number from 1 to 10080"),
    ({"fit": "stretch"}, "Images: fit: expected one of contain, cover"),
])
def test_a_takeover_with_hostile_values_is_refused(staff, fields, says):
    poster, _asset = seed_content(staff)
    r = staff.post("/staff/takeover", {"content": poster, "everywhere": "on", "expiry": "duration",
                                       "minutes": "10", **fields})
    assert r.status_code == 400 and says in flash_error(r.get_data(as_text=True))
    assert count(staff, OverrideRow) == 0


@pytest.mark.parametrize(("fields", "says"), [
    ({"template": "flyer"}, "Template: expected one of install, reminder"),
    ({"theme": "pink"}, "Colours: expected one of blue, light, dark"),
    ({"name": "x" * 201}, "Name (for the lists; the headline when empty): got more than 200 characters"),
    ({"headline": "Cài\x00Bluezone"}, "Headline: holds a control character"),
    ({"body": "x" * 1601}, "Text: got more than 1600 characters"),
    ({"url": "https://bluezone.gov.vn@evil.example/"}, "a phone would open 'evil.example'"),
])
def test_a_poster_with_hostile_values_comes_back_as_typed(staff, fields, says):
    before = count(staff, Poster)
    r = staff.post("/staff/posters/new", {"headline": "Cài Bluezone", "lang": "vi", **fields})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and says in flash_error(page), flash_error(page)
    assert 'value="Cài Bluezone"' in page or "headline" in fields
    assert count(staff, Poster) == before


def test_the_live_preview_refuses_a_bad_poster_id_with_json(staff):
    for poster_id in ("²", "9" * 5000, HUGE):
        r = staff.post("/staff/posters/preview", {"headline": "Cài Bluezone", "poster_id": poster_id})
        assert r.status_code == 400 and r.json["message"].startswith("poster_id: ")
