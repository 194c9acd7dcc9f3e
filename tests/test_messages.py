"""Refusals people understand: the API, the console and the command line say each domain package's refusals in
the reader's language from the catalogue, with a stable code and the field concerned; dates are written
dd/mm/yyyy on the 24-hour clock; and no refusal in renderer/, assets/ or playlists/ is written so that it cannot be
translated (an f-string, or text that is not a literal).
"""
import ast
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from playlists import content
from server.cli import main
from tests.test_console import Console, app, bearer, flash_error, seeded  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
VI = {"Accept-Language": "vi-VN,vi;q=0.9"}


@pytest.fixture
def token(app):  # noqa: F811
    return bearer(app, "binh")


@pytest.fixture
def admin(app):  # noqa: F811
    return bearer(app, "an")


def call(app, method, path, token, lang=None, **kwargs):  # noqa: F811
    headers = {**token, **(VI if lang == "vi" else {})}
    r = getattr(app.test_client(), method)(path, headers=headers, **kwargs)
    r.close()
    return r


# --- the API: Vietnamese when asked, English otherwise, with code and field --------------------------------------

def test_an_upload_refusal_assets(app, token):  # noqa: F811
    svg = {"file": (io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"/>'), "logo.png")}
    english = call(app, "post", "/api/v1/assets", token, data=dict(svg), content_type="multipart/form-data")
    svg = {"file": (io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"/>'), "logo.png")}
    vietnamese = call(app, "post", "/api/v1/assets", token, "vi", data=svg, content_type="multipart/form-data")
    assert english.status_code == vietnamese.status_code == 415
    assert english.get_json()["message"].startswith("SVG drawings are not accepted")
    assert "export it as PNG or JPEG" in english.get_json()["message"]
    assert vietnamese.get_json()["message"].startswith("Không nhận bản vẽ SVG")
    assert "hãy xuất bản vẽ ra PNG hoặc JPEG" in vietnamese.get_json()["message"]
    for r in (english, vietnamese):
        assert r.get_json()["code"] == "upload.svg" and r.get_json()["field"] == "file"
        assert r.get_json()["error"] == "Unsupported Media Type"


def test_a_takeover_ending_before_it_starts_playlists_with_dates_written_for_the_reader(app, token):  # noqa: F811
    body = {"content": "poster:1", "everywhere": True, "start": "2026-12-01T20:00:00+07:00",
            "end": "2020-01-01T10:00:00+07:00"}
    english = call(app, "post", "/api/v1/overrides", token, json=body)
    vietnamese = call(app, "post", "/api/v1/overrides", token, "vi", json=body)
    assert english.status_code == vietnamese.status_code == 400
    assert english.get_json()["message"] == \
        "The end must be after the start (10:00 on 01/01/2020 is not after 20:00 on 01/12/2026)"
    assert vietnamese.get_json()["message"] == \
        "Giờ kết thúc phải sau giờ bắt đầu (10:00 ngày 01/01/2020 không sau 20:00 ngày 01/12/2026)"
    for r in (english, vietnamese):
        assert r.get_json()["code"] == "override.end_before_start" and r.get_json()["field"] == "end"
        assert "+00:00" not in r.get_json()["message"] and "T20" not in r.get_json()["message"]


def test_content_that_names_no_poster_playlists(app, token):  # noqa: F811
    body = {"name": "p", "items": [{"content": "poster:999", "duration_s": 5}]}
    english = call(app, "post", "/api/v1/playlists", token, json=body)
    vietnamese = call(app, "post", "/api/v1/playlists", token, "vi", json=body)
    assert english.get_json()["message"].startswith("There is no poster 999")
    assert vietnamese.get_json()["message"].startswith("Không có áp phích 999")
    assert {r.get_json()["code"] for r in (english, vietnamese)} == {"content.no_poster"}
    assert {r.get_json()["field"] for r in (english, vietnamese)} == {"content"}


def test_a_screen_id_taken_already_screens(app, admin):  # noqa: F811
    body = {"id": "bx-bac-1", "profile": "tv-1080p"}
    english = call(app, "post", "/api/v1/screens", admin, json=body)
    vietnamese = call(app, "post", "/api/v1/screens", admin, "vi", json=body)
    assert english.status_code == vietnamese.status_code == 400, english.get_json()
    assert english.get_json()["message"] == "screen 'bx-bac-1' exists already: choose another id"
    assert vietnamese.get_json()["message"] == "Đã có màn hình 'bx-bac-1': hãy chọn mã khác"
    for r in (english, vietnamese):
        assert r.get_json()["code"] == "screen.exists" and r.get_json()["field"] == "id"


def test_a_poster_that_does_not_fit_renderer(app, token):  # noqa: F811
    body = {"spec": {"headline": "Bảo vệ mình, bảo vệ cộng đồng " * 4}, "profiles": ["led-p10"]}
    english = call(app, "post", "/api/v1/posters/preview", token, json=body).get_json()["previews"][0]
    vietnamese = call(app, "post", "/api/v1/posters/preview", token, "vi", json=body).get_json()["previews"][0]
    assert english["error"].startswith("The headline does not fit at a legible size on 192x96")
    assert vietnamese["error"].startswith("Tiêu đề không vừa với cỡ chữ dễ đọc trên màn hình 192x96")
    assert english["code"] == vietnamese["code"] == "poster.headline_does_not_fit"


def test_a_wrong_pairing_claim_pairing(app):  # noqa: F811
    body = {"secret": "s" * 40}
    client = app.test_client()
    english = client.post("/api/v1/pairings/K7M-4QX/claim", json=body)
    vietnamese = client.post("/api/v1/pairings/K7M-4QX/claim", json=body, headers=VI)
    assert english.status_code == vietnamese.status_code == 404
    assert english.get_json()["message"].startswith("no open pairing with code 'K7M-4QX': it is wrong, used or")
    assert vietnamese.get_json()["message"].startswith("Không có yêu cầu ghép nối nào đang mở với mã 'K7M-4QX'")
    for r in (english, vietnamese):
        assert r.get_json()["code"] == "pairing.not_open" and r.get_json()["field"] == "code"


def test_a_generic_api_answer_is_translated_too(app, token):  # noqa: F811
    english = call(app, "get", "/api/v1/posters/999999", token)
    vietnamese = call(app, "get", "/api/v1/posters/999999", token, "vi")
    assert english.status_code == vietnamese.status_code == 404
    assert english.get_json() == {"error": "Not Found", "message": "There is no poster 999999.",
                                  "code": "record.unknown"}
    assert vietnamese.get_json()["message"] == "Không có áp phích 999999."


# --- the console and the other pages -----------------------------------------------------------------------------

def test_the_console_speaks_vietnamese_by_default_marks_the_field_and_keeps_what_was_typed(app):  # noqa: F811
    console = Console(app, "binh", lang="")  # no choice made: the console's default
    r = console.post("/staff/schedules", {"playlist": "", "name": "Lịch sáng", "start_date": "2026-12-31",
                                          "end_date": "2026-12-01", "weekdays": ["0"], "everywhere": "on"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    # The playlist is required: a form refusal, in Vietnamese, with the form's label.
    assert "Danh sách phát" in flash_error(page) and "Lịch sáng" in page
    assert re.search(r'<select name="playlist" required aria-invalid="true" class="invalid">', page)


def test_a_schedule_whose_end_date_is_before_its_start_names_the_field_and_dates(app):  # noqa: F811
    console = Console(app, "binh", lang="")

    def playlist(session):
        poster = content.add_poster(session, {}, app.config["CLOCK"]())
        made = content.add_playlist(session, "sáng", [(f"poster:{poster.id}", 10)])
        session.commit()
        return made.id

    pid = console.query(playlist)
    r = console.post("/staff/schedules", {"playlist": str(pid), "name": "Lịch sáng", "start_date": "2026-12-31",
                                          "end_date": "2026-12-01", "weekdays": ["0"], "everywhere": "on"})
    page, said = r.get_data(as_text=True), flash_error(r.get_data(as_text=True))
    assert r.status_code == 400
    assert "Ngày kết thúc không được trước ngày bắt đầu (01/12/2026 là trước 31/12/2026)" in said
    # The form's own label for the field, then the sentence; the dates as people write them.
    assert "Đến ngày (không bắt buộc): Ngày kết thúc không được" in said and "2026-12-01" not in said
    assert 'name="end_date" value="2026-12-01" aria-invalid="true" class="invalid"' in page
    assert 'value="2026-12-31"' in page and 'value="Lịch sáng"' in page


def test_a_stats_period_refusal_on_a_page_is_in_the_readers_language(app):  # noqa: F811
    console = Console(app, "binh", lang="")
    r = console.get("/reports/?from=2026-12-31&to=2026-12-01")
    assert r.status_code == 400
    assert "Ngày kết thúc không được trước ngày bắt đầu (01/12/2026 là trước 31/12/2026)" in r.get_data(as_text=True)


# --- the command line ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "says"), [
    ({"LANG": "vi_VN.UTF-8"}, "Lỗi: Tên đăng nhập không hợp lệ: 'Dũng Nguyễn'"),
    ({"LANG": "C.UTF-8", "SIGNAGE_LANG": "vi"}, "Lỗi: Tên đăng nhập không hợp lệ"),
    ({"LANG": "en_US.UTF-8"}, "Error: bad user name: got 'Dũng Nguyễn'"),
    ({"LANG": "vi_VN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "Error: bad user name"),
])
def test_a_command_line_refusal_is_one_line_in_the_users_language(instance, env, says):
    env = {"LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "SIGNAGE_LANG": "", **env}
    result = CliRunner().invoke(main, ["user", "add", "Dũng Nguyễn", "--role", "staff"], env=env)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(says), result.stderr


def test_a_render_refusal_without_an_app_is_translated_too(tmp_path):
    result = CliRunner().invoke(main, ["render", "--size", "20x10", "-o", str(tmp_path / "x.png")],
                                env={"LANG": "vi_VN.UTF-8", "LC_ALL": "", "SIGNAGE_LANG": ""})
    assert result.exit_code == 1 and result.stderr.strip() == \
        "Lỗi: Màn hình quá nhỏ: 20x10, cần ít nhất 32x16 (hoặc 16x32)"


# --- no untranslatable refusal ---------------------------------------------------------------------------------

def _problem_classes(trees) -> set[str]:
    """Names of the classes that derive, directly or not, from renderer.errors.Problem."""
    known = {"Problem"}
    while True:
        found = {node.name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                 and any(getattr(base, "id", getattr(base, "attr", None)) in known for base in node.bases)}
        if found <= known:
            return known
        known |= found


def test_every_refusal_in_the_domain_packages_is_a_literal_sentence_with_a_code():
    files = [p for pkg in ("renderer", "assets", "playlists") for p in (ROOT / pkg).rglob("*.py")
             if "migrations" not in p.parts]
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    classes = _problem_classes(trees.values())
    assert {"RenderError", "IngestError", "ContentError", "ScreenError", "UserError", "ClaimThrottled"} <= classes
    wrong, raised = [], 0
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            func = node.exc.func
            name = getattr(func, "id", getattr(func, "attr", None))
            if name not in classes and name != "error":  # `error` is a Problem class passed as a parameter
                continue
            raised += 1
            call = node.exc
            index = 1 if name == "IngestError" else 0
            text = call.args[index] if len(call.args) > index else None
            passed_on = isinstance(text, ast.Attribute) and text.attr == "text"  # another refusal's sentence
            literal = isinstance(text, ast.Constant) and isinstance(text.value, str)
            coded = any(k.arg == "code" for k in call.keywords) or len(call.args) > index + 1
            if not (literal or passed_on) or not coded:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(call)[:100]}")
    assert raised > 150 and wrong == []


def test_a_domain_check_run_by_the_request_schema_speaks_the_readers_language_too(app, token):  # noqa: F811
    body = {"name": "p\u0000", "items": [{"content": "poster:1", "duration_s": 5}]}
    english = call(app, "post", "/api/v1/playlists", token, json=body).get_json()
    vietnamese = call(app, "post", "/api/v1/playlists", token, "vi", json=body).get_json()
    assert english["message"].startswith("name: got a control character U+0000 at position 1")
    assert vietnamese["message"].startswith("name: Phần tên có một ký tự điều khiển U+0000 ở vị trí 1")
    assert english["code"] == vietnamese["code"] == "text.bad_character"
    assert english["field"] == vietnamese["field"] == "name"


def test_a_sentence_that_names_its_field_is_not_prefixed_with_the_label_again(app):  # noqa: F811
    console = Console(app, "binh", lang="")
    r = console.post("/staff/posters/new", {"headline": "\u200b", "template": "install", "lang": "vi"})
    said, page = flash_error(r.get_data(as_text=True)), r.get_data(as_text=True)
    assert r.status_code == 400
    assert said == "Chưa lưu: Tiêu đề đang trống: áp phích cần có tiêu đề; hãy viết ít nhất một ký tự nhìn thấy được"
    assert re.search(r'name="headline"[^>]*aria-invalid="true" class="invalid"', page)


def test_generic_http_refusals_and_device_tokens_are_said_in_the_readers_language(client):
    """Werkzeug's own English descriptions (a bare 404) and the player API's 401s come from the catalogue, with a
    code, in the language asked for; English by default."""
    for headers, words in (({}, "there is nothing at this address"), ({"Accept-Language": "vi"},
                                                                       "không có gì ở địa chỉ này")):
        r = client.get("/api/v1/no-such-thing", headers=headers)
        assert r.status_code == 404 and r.json["code"] == "http.404" and words in r.json["message"]
    r = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Accept-Language": "vi"})
    assert r.status_code == 401 and r.json["code"] == "device.token_required"
    assert r.json["message"].startswith("cần mã thiết bị")
    r = client.get("/api/v1/screens/bx-bac-1/manifest", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json["code"] == "device.token_invalid"
    assert "pair the player again" in r.json["message"]
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
