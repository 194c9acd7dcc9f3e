"""The staff JSON API: every resource end to end, its refusals, the audit trail, CSRF, and OpenAPI."""

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from playlists.db import upgrade
from playlists.models import AuditEntry, Media, OverrideRow, PlaylistRow, Poster, ScheduleRow
from playlists.screens import add_screen
from playlists.users import add_user, create_api_token
from server import create_app
from server.db import get_engine, get_session

NOW = datetime(2026, 11, 27, 1, 20, tzinfo=UTC)


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW,
                      "UPLOAD_MAX_BYTES": 200_000})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        app.device = add_screen(session, "bx-bac-1", "led-p10", NOW, groups=["stations"])
        add_screen(session, "hue-led-1", "led-p10", NOW, groups=["city"])
        add_user(session, "binh", "staff", NOW, password="correct horse battery")
        add_user(session, "an", "admin", NOW, password="correct horse battery")
        app.staff = {"Authorization": f"Bearer {create_api_token(session, 'binh', 'tests', NOW)}"}
        app.admin = {"Authorization": f"Bearer {create_api_token(session, 'an', 'tests', NOW)}"}
        session.commit()
    return app


def count(app, model):
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model))


def png(size=(64, 32), colour=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def upload(client, app, data, name="photo.png"):
    return client.post("/api/v1/assets", headers=app.staff, data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_poster_playlist_schedule_reminder_and_override_reach_the_manifest(app, client):
    r = client.post("/api/v1/posters", headers=app.staff, json={"name": "Cài Bluezone", "spec": {"lang": "vi"}})
    assert r.status_code == 201, r.get_json()
    poster = r.get_json()
    assert poster["content"] == f"poster:{poster['id']}"
    assert [x["profile"] for x in poster["renditions"]] == []  # nothing plays it yet
    asset = upload(client, app, png()).get_json()
    r = client.post("/api/v1/playlists", headers=app.staff, json={"name": "stations", "items": [
        {"content": poster["content"], "duration_s": 15}, {"content": asset["content"] + ":cover", "duration_s": 10}]})
    assert r.status_code == 201
    playlist = r.get_json()
    r = client.post("/api/v1/schedules", headers=app.staff, json={
        "playlist_id": playlist["id"], "groups": ["stations"], "start_time": "06:00", "end_time": "22:00",
        "weekdays": [0, 1, 2, 3, 4, 5, 6], "priority": 2})
    assert r.status_code == 201 and r.get_json()["start_time"] == "06:00:00"
    rendered = client.get(f"/api/v1/posters/{poster['id']}", headers=app.staff).get_json()
    assert [(x["profile"], x["qr_ok"]) for x in rendered["renditions"]] == [("led-p10", True)]
    r = client.post("/api/v1/reminders", headers=app.staff, json={
        "content": poster["content"], "duration_s": 20, "every_min": 15, "everywhere": True})
    assert r.status_code == 201
    manifest = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Authorization": f"Bearer {app.device}"})
    keys = {i["key"] for i in manifest.get_json()["items"]}
    assert {poster["content"], asset["content"] + ":cover"} <= keys
    r = client.post("/api/v1/overrides", headers=app.staff, json={
        "content": asset["content"], "minutes": 30, "groups": ["stations"]})
    assert r.status_code == 201
    override = r.get_json()
    assert override["start"] == NOW.isoformat() and override["end"] == (NOW + timedelta(minutes=30)).isoformat()
    now_png = client.get("/api/v1/screens/bx-bac-1/now.png", headers={"Authorization": f"Bearer {app.device}"})
    assert now_png.headers["X-Signage-Item"] == asset["content"]
    now_png.close()
    assert client.post(f"/api/v1/overrides/{override['id']}/end", headers=app.staff).status_code == 200
    now_png = client.get("/api/v1/screens/bx-bac-1/now.png", headers={"Authorization": f"Bearer {app.device}"})
    assert now_png.headers["X-Signage-Item"] != asset["content"]
    now_png.close()
    with app.app_context():
        actions = get_session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        actors = set(get_session().scalars(select(AuditEntry.actor)).all())
    assert actions == ["poster.create", "asset.upload", "playlist.create", "schedule.create", "reminder.create",
                       "override.create", "override.end"]
    assert actors == {"binh (token)"}


def test_upload_answers_the_contract_and_stores_once(app, client):
    r = upload(client, app, png())
    assert r.status_code == 201
    body = r.get_json()
    assert {"sha256", "kind", "width", "height", "bytes"} <= set(body)
    assert (body["kind"], body["width"], body["height"]) == ("image", 64, 32)
    again = upload(client, app, png(), name="copy.png")
    assert again.status_code == 200 and again.get_json()["sha256"] == body["sha256"]
    assert count(app, Media) == 1
    media = client.get(body["url"])
    assert media.headers["X-Content-Type-Options"] == "nosniff"
    media.close()
    listed = client.get("/api/v1/assets", headers=app.staff).get_json()
    assert [a["sha256"] for a in listed] == [body["sha256"]]


@pytest.mark.parametrize(("data", "name", "status", "message"), [
    (b"", "empty.png", 400, "empty file"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", 415, "SVG"),
    (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "clip.mp4", 415, "video is not yet supported"),
    (b"<html><script>alert(1)</script></html>", "page.png", 415, "not an image"),
    (png()[:40], "cut.png", 400, ""),
    (b"\x89PNG\r\n\x1a\n" + b"x" * 300_000, "huge.png", 413, ""),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(app, client, data, name, status, message):
    r = upload(client, app, data, name)
    assert r.status_code == status and set(r.get_json()) == {"error", "message", "code", "field"}
    assert message in r.get_json()["message"]
    assert r.get_json()["code"].startswith("upload.") and r.get_json()["field"] == "file"
    assert count(app, Media) == 0 and count(app, AuditEntry) == 0
    assert client.get("/healthz").status_code == 200  # and the server goes on answering


def test_a_body_over_the_limit_is_refused_before_it_is_read(app, client):
    # The body is encoded here: the test client would spool a large form to a temporary file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(b"\x89PNG" + b"x" * 1_400_000), "big.png")})
    r = client.post("/api/v1/assets", headers=app.staff, data=body,
                    content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 413 and r.get_json()["error"] == "Request Entity Too Large"


def test_upload_needs_the_file_field(app, client):
    r = client.post("/api/v1/assets", headers=app.staff, data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "field `file`" in r.get_json()["message"]


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/v1/posters", {"spec": {"lang": "xx"}}, "spec.lang: got 'xx', expected one of 'vi', 'en', 'vi-en'"),
    ("/api/v1/playlists", {"name": "p", "items": [{"content": "poster:999", "duration_s": 5}]}, "no poster 999"),
    ("/api/v1/playlists", {"name": "p", "items": "nope"}, "items: got 'nope', expected a valid array"),
    ("/api/v1/schedules", {"playlist_id": 1, "everywhere": True}, "no such playlist"),
    ("/api/v1/schedules", {"playlist_id": 1, "start_time": "25:00"}, "start_time"),
    ("/api/v1/reminders", {"content": "poster:1", "duration_s": 20, "every_min": 0, "everywhere": True}, ""),
    ("/api/v1/overrides", {"content": "poster:1", "everywhere": True}, ""),
    ("/api/v1/overrides", {"content": "poster:1", "start": "2026-11-27T09:00", "minutes": 5}, "UTC offset"),
])
def test_bad_changes_get_400_and_leave_nothing(app, client, path, body, message):
    r = client.post(path, headers=app.staff, json=body)
    assert r.status_code == 400 and message in r.get_json()["message"]
    assert count(app, Poster) == count(app, PlaylistRow) == count(app, ScheduleRow) == count(app, OverrideRow) == 0
    assert count(app, AuditEntry) == 0


def test_malformed_json_is_refused(app, client):
    r = client.post("/api/v1/posters", headers={**app.staff, "Content-Type": "application/json"}, data=b"{nope")
    assert r.status_code == 400 and "JSON object" in r.get_json()["message"]


def test_missing_records_are_404(app, client):
    assert client.put("/api/v1/posters/99", headers=app.staff, json={"spec": {}}).status_code == 404
    assert client.delete("/api/v1/schedules/99", headers=app.staff).status_code == 404
    assert client.post("/api/v1/overrides/99/end", headers=app.staff).status_code == 404
    assert client.get("/api/v1/playlists/99", headers=app.staff).status_code == 404


def test_a_playlist_in_use_cannot_be_deleted(app, client):
    poster = client.post("/api/v1/posters", headers=app.staff, json={"spec": {}}).get_json()
    playlist = client.post("/api/v1/playlists", headers=app.staff, json={
        "name": "p", "items": [{"content": poster["content"], "duration_s": 5}]}).get_json()
    schedule = client.post("/api/v1/schedules", headers=app.staff, json={
        "playlist_id": playlist["id"], "everywhere": True}).get_json()
    r = client.delete(f"/api/v1/playlists/{playlist['id']}", headers=app.staff)
    assert r.status_code == 400 and f"schedule(s) {schedule['id']}" in r.get_json()["message"]
    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=app.staff).status_code == 200
    assert client.delete(f"/api/v1/playlists/{playlist['id']}", headers=app.staff).status_code == 200


def test_preview_renders_without_saving(app, client):
    r = client.post("/api/v1/posters/preview", headers=app.staff, json={
        "spec": {"lang": "en", "headline": "Install Bluezone"}, "profiles": ["led-p10", "kiosk-portrait"]})
    previews = r.get_json()["previews"]
    assert [p["profile"] for p in previews] == ["led-p10", "kiosk-portrait"]
    assert all(p["qr_ok"] for p in previews) and previews[1]["height"] == 1920
    image = Image.open(io.BytesIO(__import__("base64").b64decode(previews[0]["image"].split(",", 1)[1])))
    assert image.size == (192, 96)
    assert count(app, Poster) == 0 and count(app, Media) == 0


def test_registering_screens_is_for_admins(app, client):
    body = {"id": "bv-tw-kiosk", "profile": "kiosk-portrait", "name": "Bệnh viện Trung ương Huế",
            "groups": ["hospital"]}
    assert client.post("/api/v1/screens", headers=app.staff, json=body).status_code == 403
    r = client.post("/api/v1/screens", headers=app.admin, json=body)
    assert r.status_code == 201 and len(r.get_json()["token"]) >= 40
    with app.app_context():
        audit = get_session().scalar(select(AuditEntry).where(AuditEntry.action == "screen.create"))
        assert r.get_json()["token"] not in audit.after_json  # the secret is not in the log
    groups = client.get("/api/v1/groups", headers=app.staff).get_json()
    assert {"name": "hospital", "label_vi": "", "label_en": "", "screens": ["bv-tw-kiosk"]} in groups


def test_session_calls_need_the_csrf_header(app, client):
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/staff/login", data={"username": "binh", "password": "correct horse battery", "csrf_token": token})
    refused = client.post("/api/v1/posters", json={"spec": {}})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    assert count(app, Poster) == 0
    home = client.get("/staff/").get_data(as_text=True)
    header = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
    assert client.post("/api/v1/posters", json={"spec": {}}, headers={"X-CSRFToken": header}).status_code == 201


def _flask_routes(app) -> set[tuple[str, str]]:
    return {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
            for rule in app.url_map.iter_rules() if rule.rule.startswith(("/api/", "/media/", "/healthz"))
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_openapi_describes_every_route_of_the_json_api(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert _flask_routes(app) == described  # players', pairing, media and health included
    assert doc["paths"]["/api/v1/assets"]["post"]["x-required-role"] == "staff"
    assert set(doc["components"]["securitySchemes"]) == {"apiToken", "session", "deviceToken"}
    assert doc["paths"]["/api/v1/screens/{screen_id}/manifest"]["get"]["security"] == [{"deviceToken": []}]
    assert json.dumps(doc)  # serialisable as a whole
    assert '"example"' not in json.dumps(doc)  # schemas, not placeholder examples


def test_openapi_gives_real_schemas_and_every_status(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    create = doc["paths"]["/api/v1/playlists"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[ref.rsplit("/", 1)[1]]
    assert body["required"] == ["name", "items"] and body["additionalProperties"] is False
    assert body["properties"]["items"]["maxItems"] == 500
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "415"}
    manifest = doc["paths"]["/api/v1/screens/{screen_id}/manifest"]["get"]["responses"]
    assert {"200", "304", "401", "503"} <= set(manifest) and "WWW-Authenticate" in manifest["401"]["headers"]
    assert "Retry-After" in manifest["503"]["headers"]
    assert "404" in doc["paths"]["/api/v1/posters/{poster_id}"]["get"]["responses"]
    poster_id = doc["paths"]["/api/v1/posters/{poster_id}"]["get"]["parameters"][0]["schema"]
    assert poster_id == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    plays = doc["paths"]["/api/v1/screens/{screen_id}/plays"]["post"]["responses"]["202"]
    answer = schemas[plays["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"accepted", "duplicates", "refused", "refused_by_reason"} <= set(answer["properties"])


def test_a_qr_link_through_another_host_is_refused_saying_why(app, client):
    r = client.post("/api/v1/posters", headers=app.staff,
                    json={"spec": {"url": "https://bluezone.gov.vn@evil.example/"}})
    assert r.status_code == 400
    message = r.get_json()["message"]
    assert message.startswith("spec.url: URL has a user-info part") and "would open 'evil.example'" in message
    assert count(app, Poster) == 0


@pytest.mark.parametrize(("body", "message", "code"), [
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": 10**30}]}, "items[0].duration_s: got",
     "body.too_big"),
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": "10"}]}, "expected a valid integer", "body.type"),
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": True}]}, "expected a valid integer", "body.type"),
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": 1.5}]}, "expected a valid integer", "body.type"),
    ({"name": "p\u0000", "items": []}, "name: got a control character U+0000", "text.bad_character"),
    ({"name": "\u200b\u00a0", "items": [{"content": "poster:1", "duration_s": 5}]}, "at least one visible",
     "text.empty"),
    ({"name": "p" * 201, "items": [{"content": "poster:1", "duration_s": 5}]}, "at most 200", "body.too_long"),
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": 5}], "colour": "red"}, "colour: not a field",
     "body.unknown_field"),
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": 5}] * 501}, "items: got 501 items",
     "body.too_many"),
])
def test_wrong_types_and_ranges_name_the_field(app, client, body, message, code):
    r = client.post("/api/v1/playlists", headers=app.staff, json=body)
    assert r.status_code == 400 and set(r.get_json()) == {"error", "message", "code", "field"}
    assert message in r.get_json()["message"]
    # The schema's own refusals are body.<rule>; a domain check run by the schema keeps its code.
    assert r.get_json()["code"] == code
    assert count(app, PlaylistRow) == 0


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/v1/schedules", {"playlist_id": 1, "everywhere": True, "start_date": "1999-12-31"},
     "start_date: got 1999-12-31, expected a year from 2000 to 2100"),
    ("/api/v1/schedules", {"playlist_id": 1, "everywhere": True, "end_date": "+10000-01-01"}, "end_date"),
    ("/api/v1/schedules", {"playlist_id": 2**63, "everywhere": True}, "playlist_id"),
    ("/api/v1/schedules", {"playlist_id": 1, "priority": -2**70, "everywhere": True}, "priority"),
    ("/api/v1/overrides", {"content": "poster:1", "end": "2101-01-01T00:00:00+07:00", "everywhere": True},
     "end: got 2101-01-01T00:00:00+07:00, expected a year from 2000 to 2100"),
    ("/api/v1/overrides", {"content": "poster:1", "minutes": 5, "screens": ["bx-bac-1\u0000"]}, "screens[0]"),
    ("/api/v1/screens", {"id": "kiosk-1", "profile": "kiosk-portrait", "name": "x" * 201},
     "name: got 201 characters, expected at most 200"),
    ("/api/v1/screens", {"id": "kiosk-1", "profile": "a4-print"}, "profile: got 'a4-print'"),
])
def test_dates_ids_and_lists_out_of_range_are_refused(app, client, path, body, message):
    headers = app.admin if path.endswith("screens") else app.staff
    r = client.post(path, headers=headers, json=body)
    assert r.status_code == 400 and message in r.get_json()["message"], r.get_json()


def test_lone_surrogates_and_bad_encodings_are_refused(app, client):
    headers = {**app.staff, "Content-Type": "application/json"}
    for raw in (b'{"name": "\\ud800", "items": []}', b'{"name": "\xff\xfe"}', b'{"a": NaN}', b"[1, 2,]"):
        r = client.post("/api/v1/playlists", headers=headers, data=raw)
        assert r.status_code == 400 and r.get_json()["message"].startswith("malformed JSON body"), raw


def test_deep_nesting_and_large_bodies_are_refused_cheaply(app, client):
    headers = {**app.staff, "Content-Type": "application/json"}
    deep = client.post("/api/v1/posters", headers=headers, data=b"[" * 150_000 + b"]" * 150_000)
    assert deep.status_code == 413  # larger than JSON_MAX_BYTES (256 KiB) before anything is parsed
    deep = client.post("/api/v1/posters", headers=headers, data=b'{"spec":' * 40 + b"{}" + b"}" * 40)
    assert deep.status_code == 400 and "nests too deeply: got 41 levels, expected at most 32" in deep.get_json()[
        "message"]
    parser = client.post("/api/v1/posters", headers=headers, data=b"[" * 50_000 + b"]" * 50_000)
    assert parser.status_code == 400 and parser.get_json()["code"] == "body.too_deep"
    assert "nests too deeply: got more than 200 levels" in parser.get_json()["message"]
    big = client.post("/api/v1/posters", headers=headers, data=b'{"name": "' + b"x" * 300_000 + b'"}')
    assert big.status_code == 413 and "at most 262144" in big.get_json()["message"]


def test_a_body_that_is_not_json_gets_415(app, client):
    r = client.post("/api/v1/playlists", headers=app.staff, data={"name": "p"})
    assert r.status_code == 415 and "expected application/json" in r.get_json()["message"]
    r = client.post("/api/v1/playlists", headers={**app.staff, "Content-Type": "text/plain"}, data=b"{}")
    assert r.status_code == 415 and "'text/plain'" in r.get_json()["message"]
    r = client.post("/api/v1/playlists", headers=app.staff)
    assert r.status_code == 400 and "expected a JSON object body" in r.get_json()["message"]


@pytest.mark.parametrize("ident", ["0", "2147483648", "9223372036854775808", "1" + "0" * 40, "9" * 5000, "-1",
                                   "1.5", "%D9%A3"])
def test_identifiers_out_of_range_are_404_not_an_overflow(app, client, ident):
    for method, path in (("get", f"/api/v1/posters/{ident}"), ("delete", f"/api/v1/playlists/{ident}"),
                         ("post", f"/api/v1/overrides/{ident}/end")):
        r = getattr(client, method)(path, headers=app.staff)
        assert r.status_code == 404 and r.get_json()["error"] == "Not Found", (method, path)


def test_control_characters_in_a_path_are_404(app, client):
    r = client.get("/api/v1/screens/bx-bac-1%00/manifest", headers={"Authorization": f"Bearer {app.device}"})
    assert r.status_code == 404 and r.get_json()["error"] == "Not Found"
    assert client.get("/api/v1/screens/" + "a" * 300 + "/manifest").status_code == 404


def test_a_405_names_the_allowed_methods(app, client):
    r = client.delete("/api/v1/posters", headers=app.staff)
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert r.get_json()["message"] == "DELETE is not allowed on /api/v1/posters; allowed: GET, HEAD, OPTIONS, POST"
    r = client.patch("/api/v1/screens/bx-bac-1/plays")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert r.get_json()["message"].endswith("allowed: OPTIONS, POST")
