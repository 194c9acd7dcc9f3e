"""Faults in what a client sends are said in the reader's language: the staff API's request bodies (each kind of
schema refusal, with its code and the field's path), the command line's file refusals, and the overload 503 that
turns players away outside Flask."""

import json
import random

import pytest
from click.testing import CliRunner

from server.cli import main
from server.shedding import Shedder
from tests.test_console import app, bearer, seeded  # noqa: F401 (fixtures)

VI = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
ITEM = {"content": "poster:1", "duration_s": 5}
# Words of English refusals that must not reach a Vietnamese reader.
ENGLISH = ("got ", "expected", "missing", "not a field", "malformed", "should", "Input", "Field required")


@pytest.fixture
def tokens(app):  # noqa: F811
    return {"staff": bearer(app, "binh"), "admin": bearer(app, "an")}


def both(app, tokens, who, method, path, **kwargs):  # noqa: F811
    """The same request in English (no Accept-Language) and in Vietnamese: (english, vietnamese) JSON and statuses."""
    out = []
    for lang in ({}, VI):
        r = getattr(app.test_client(), method)(path, headers={**tokens[who], **lang}, **kwargs)
        out.append((r.status_code, r.get_json()))
        r.close()
    return out


CASES = [
    # (who, method, path, body, status, code, field, English words, Vietnamese words)
    ("staff", "post", "/api/v1/playlists", {"items": [ITEM]}, 400, "body.missing", "name",
     "name: missing, expected a value; add it to the body", "name: còn thiếu; hãy thêm trường này"),
    ("admin", "post", "/api/v1/screens", {"profile": "tv-1080p"}, 400, "body.missing", "id",
     "id: missing", "id: còn thiếu"),
    ("staff", "post", "/api/v1/playlists", {"name": "p", "items": [ITEM, ITEM, {"content": "poster:1",
                                                                                "duration_s": "10"}]},
     400, "body.type", "items[2].duration_s", "items[2].duration_s: got '10', expected a valid integer",
     "items[2].duration_s: nhận được '10', cần một số nguyên"),
    ("staff", "post", "/api/v1/schedules", {"playlist_id": 1, "everywhere": "yes"}, 400, "body.type", "everywhere",
     "everywhere: got 'yes', expected true or false", "everywhere: nhận được 'yes', cần true hoặc false"),
    ("staff", "post", "/api/v1/playlists", {"name": "p", "items": "nope"}, 400, "body.type", "items",
     "items: got 'nope', expected a valid array", "items: nhận được 'nope', cần một danh sách"),
    ("admin", "post", "/api/v1/screens", {"id": "kiosk-1", "profile": "kiosk-portrait", "name": "x" * 201},
     400, "body.too_long", "name", "name: got 201 characters, expected at most 200; shorten it",
     "name: dài 201 ký tự, tối đa 200 ký tự; hãy rút ngắn lại"),
    ("staff", "put", "/api/v1/groups/stations", {"label_vi": "y" * 250}, 400, "body.too_long", "label_vi",
     "label_vi: got 250 characters, expected at most 200", "label_vi: dài 250 ký tự, tối đa 200 ký tự"),
    ("staff", "post", "/api/v1/schedules", {"playlist_id": 1, "everywhere": True, "weekdays": [0, 9]}, 400,
     "body.too_big", "weekdays[1]", "weekdays[1]: got 9, expected at most 6", "weekdays[1]: nhận được 9, tối đa là 6"),
    ("staff", "post", "/api/v1/reminders", {"content": "poster:1", "duration_s": 20, "every_min": 0,
                                            "everywhere": True},
     400, "body.too_small", "every_min", "every_min: got 0, expected at least 1",
     "every_min: nhận được 0, cần từ 1 trở lên"),
    ("staff", "post", "/api/v1/playlists", {"name": "p", "items": [ITEM] * 501}, 400, "body.too_many", "items",
     "items: got 501 items, expected at most 500", "items: có 501 mục, tối đa 500 mục"),
    ("staff", "post", "/api/v1/overrides", {"content": "poster:1", "minutes": 5, "everywhere": True,
                                            "colour": "red"},
     400, "body.unknown_field", "colour", "colour: not a field of this body (unknown fields are refused)",
     "colour: không phải là một trường của nội dung này (trường lạ bị từ chối); hãy bỏ nó đi"),
    ("staff", "post", "/api/v1/posters", {"spec": {"lang": "xx"}}, 400, "body.choice", "spec.lang",
     "spec.lang: got 'xx', expected one of 'vi', 'en', 'vi-en'",
     "spec.lang: nhận được 'xx', cần là một trong các giá trị 'vi', 'en', 'vi-en'"),
    ("staff", "post", "/api/v1/schedules", {"playlist_id": 1, "everywhere": True, "start_time": "25:00"}, 400,
     "body.time", "start_time", "start_time: got '25:00', expected a time of day such as 09:00",
     "start_time: nhận được '25:00', cần giờ trong ngày, ví dụ 09:00"),
    ("staff", "post", "/api/v1/schedules", {"playlist_id": 1, "everywhere": True, "start_date": "01/12/2026"}, 400,
     "body.date", "start_date", "expected a date such as 2026-11-27",
     "cần một ngày, ví dụ 2026-11-27 (năm-tháng-ngày)"),
    ("staff", "post", "/api/v1/overrides", {"content": "poster:1", "everywhere": True, "start": "2026-11-27T09:00",
                                            "minutes": 5},
     400, "body.timezone", "start", "start: got '2026-11-27T09:00', expected an ISO 8601 time with a UTC offset",
     "start: nhận được '2026-11-27T09:00', cần thời điểm theo ISO 8601 có độ lệch so với UTC"),
    ("staff", "post", "/api/v1/overrides", {"content": "poster:1", "everywhere": True, "end": "soon"}, 400,
     "body.datetime", "end", "end: got 'soon', expected a date and time", "end: nhận được 'soon', cần ngày và giờ"),
    ("staff", "post", "/api/v1/playlists", {"name": "p", "items": [{"content": "video:1", "duration_s": 5}]}, 400,
     "body.pattern", "items[0].content", "items[0].content: got 'video:1', expected text of the form",
     "items[0].content: nhận được 'video:1', cần văn bản đúng dạng"),
    ("staff", "post", "/api/v1/overrides", {"content": "poster:1", "everywhere": True}, 400, "override.no_end", "end",
     "end: missing; give end (an instant) or minutes from 1 to 10080",
     "end: còn thiếu; hãy cho end (một thời điểm) hoặc minutes từ 1 đến 10080"),
    # A domain check run by the schema keeps its own code and sentence.
    ("staff", "post", "/api/v1/playlists", {"name": "a\tb", "items": [ITEM]}, 400, "text.bad_character", "name",
     "name: got a control character U+0009", "name: "),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "status", "code", "field", "english", "vietnamese"),
                         CASES, ids=[f"{c[2]}-{c[5]}-{c[6]}" for c in CASES])
def test_a_body_fault_is_said_in_the_readers_language_with_its_code_and_field(
        app, tokens, who, method, path, body, status, code, field, english, vietnamese):  # noqa: F811
    (en_status, en), (vi_status, vi) = both(app, tokens, who, method, path, json=body)
    assert en_status == vi_status == status
    assert set(en) == set(vi) == {"error", "message", "code", "field"}
    assert en["code"] == vi["code"] == code and en["field"] == vi["field"] == field
    assert english in en["message"], en
    assert vietnamese in vi["message"] and vi["message"] != en["message"], vi
    if not code.startswith("text."):
        assert not any(word in vi["message"] for word in ENGLISH), vi


def test_several_faults_are_said_together_and_the_rest_counted(app, tokens):  # noqa: F811
    body = {"name": 5, "items": "nope", "x": 1, "y": 2, "z": 3}
    (_, en), (_, vi) = both(app, tokens, "staff", "post", "/api/v1/playlists", json=body)
    assert en["message"] == "name: got 5, expected a valid string (text in quotes); items: got 'nope', expected a " \
        "valid array (a JSON list in square brackets); x: not a field of this body (unknown fields are refused); " \
        "remove it or check its spelling; and 2 more"
    assert vi["message"].startswith("name: nhận được 5, cần một chuỗi văn bản (đặt trong dấu ngoặc kép); items: ")
    assert vi["message"].endswith("; và 2 lỗi khác") and en["code"] == vi["code"] == "body.type"


@pytest.mark.parametrize(("raw", "code", "english", "vietnamese"), [
    (b'{"name": "p", "items": [', "body.json_invalid",
     "malformed JSON body: it stops being JSON at line 1, column 24; expected a JSON object",
     "Nội dung không phải JSON hợp lệ: lỗi ở dòng 1, cột 24; hãy gửi một đối tượng JSON"),
    (b'{"name": NaN}', "body.json_invalid", "malformed JSON body", "Nội dung không phải JSON hợp lệ"),
    (b'{"spec":' * 40 + b"{}" + b"}" * 40, "body.too_deep",
     "JSON body nests too deeply: got 41 levels, expected at most 32",
     "Nội dung JSON lồng nhau quá sâu: 41 tầng, tối đa 32 tầng"),
    (b"[" * 50_000 + b"]" * 50_000, "body.too_deep", "got more than 200 levels, expected at most 32",
     "hơn 200 tầng, tối đa 32 tầng"),
])
def test_a_body_that_is_not_json_is_said_in_the_readers_language(  # noqa: F811
        app, tokens, raw, code, english, vietnamese):  # noqa: F811
    (en_status, en), (vi_status, vi) = both(app, tokens, "staff", "post", "/api/v1/posters", data=raw,
                                            content_type="application/json")
    assert en_status == vi_status == 400 and en["code"] == vi["code"] == code
    assert english in en["message"] and vietnamese in vi["message"], (en, vi)
    assert not any(word in vi["message"] for word in ENGLISH), vi


def test_the_wrong_content_type_and_an_empty_body_are_said_in_the_readers_language(app, tokens):  # noqa: F811
    (en_status, en), (vi_status, vi) = both(app, tokens, "staff", "post", "/api/v1/playlists", data=b"{}",
                                            content_type="text/plain")
    assert en_status == vi_status == 415 and en["code"] == vi["code"] == "body.content_type"
    assert en["message"] == "Content-Type: got 'text/plain', expected application/json; send the body as JSON"
    assert vi["message"] == "Content-Type đang là 'text/plain', cần application/json: hãy gửi nội dung dưới dạng JSON"
    (en_status, en), (vi_status, vi) = both(app, tokens, "staff", "post", "/api/v1/playlists")
    assert en_status == vi_status == 400 and en["code"] == vi["code"] == "body.empty"
    assert vi["message"].startswith("Chưa có nội dung: hãy gửi một đối tượng JSON")


# --- the command line ------------------------------------------------------------------------------------------

VI_ENV = {"LANG": "vi_VN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "SIGNAGE_LANG": ""}
EN_ENV = {**VI_ENV, "LANG": "en_US.UTF-8"}


def render(env, *args):
    result = CliRunner().invoke(main, ["render", *args], env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_render_file_refusals_in_vietnamese_and_english(tmp_path):
    missing = str(tmp_path / "missing.json")
    assert render(VI_ENV, "--spec", missing, "-o", str(tmp_path / "a.png")) == \
        f"Lỗi: Không đọc được tệp nội dung {missing}: không có tệp hay thư mục đó"
    assert render(EN_ENV, "--spec", missing, "-o", str(tmp_path / "a.png")) == \
        f"Error: cannot read spec file {missing}: no such file or folder"
    spec = tmp_path / "spec.json"
    spec.write_text('{"headline": "x",\n "body": }', encoding="utf-8")
    assert render(VI_ENV, "--spec", str(spec), "-o", str(tmp_path / "a.png")) == \
        f"Lỗi: Tệp nội dung {spec} không phải JSON hợp lệ: lỗi ở dòng 2, cột 10; tệp cần là một đối tượng JSON " \
        "chứa các trường của áp phích"
    spec.write_bytes(b"\xff\xfe{}")
    assert render(VI_ENV, "--spec", str(spec), "-o", str(tmp_path / "a.png")) == \
        f"Lỗi: Tệp nội dung {spec} không phải JSON hợp lệ: tệp không được mã hoá UTF-8; hãy lưu lại tệp theo mã UTF-8"
    spec.write_text(" " * (1024 * 1024 + 1))
    assert render(VI_ENV, "--spec", str(spec), "-o", str(tmp_path / "a.png")).startswith(
        f"Lỗi: Tệp nội dung {spec} lớn hơn 1048576 byte")
    nowhere = tmp_path / "no" / "a.png"
    assert render(VI_ENV, "-o", str(nowhere)) == \
        f"Lỗi: Thư mục lưu kết quả không tồn tại: {nowhere.parent}; hãy tạo thư mục đó hoặc chọn nơi khác với -o"
    (tmp_path / "taken.png").mkdir()
    assert render(VI_ENV, "-o", str(tmp_path / "taken.png")) == \
        f"Lỗi: Không ghi được {tmp_path / 'taken.png'}: đó là một thư mục"


# --- the overload answer -----------------------------------------------------------------------------------------

def test_the_shed_503_is_the_json_error_in_the_readers_language():
    def inner(environ, start_response):  # pragma: no cover - never reached while shedding
        raise AssertionError("shed requests must not reach the app")

    shed = Shedder(inner, lambda: 9.0, max_lag_s=2.0, retry_after_s=30, rng=random.Random(3))
    for accept, lang, words in [
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi", "Máy chủ đang quá tải: hãy thử lại sau {} giây; màn hình vẫn tiếp tục chiếu "
                                          "nội dung hiện có"),
        ("vi", "vi", "Máy chủ đang quá tải: hãy thử lại sau {} giây"),
        (None, "en", "the server is busy: try again in {} seconds; what the screen shows now goes on playing"),
        ("en-US,vi;q=0.5", "en", "the server is busy: try again in {} seconds"),
        ("fr-FR,fr;q=0.9", "en", "the server is busy: try again in {} seconds"),
        ("q=;;,", "en", "the server is busy"),
    ]:
        seen: dict = {}

        def start_response(status, headers, seen=seen):
            seen.update(status=status, headers=dict(headers))

        environ = {"PATH_INFO": "/api/v1/screens/s1/manifest", "REQUEST_METHOD": "GET"}
        if accept is not None:
            environ["HTTP_ACCEPT_LANGUAGE"] = accept
        body = b"".join(shed(environ, start_response))
        doc = json.loads(body)
        retry = seen["headers"]["Retry-After"]
        assert seen["status"].startswith("503") and seen["headers"]["Content-Language"] == lang
        assert int(seen["headers"]["Content-Length"]) == len(body)
        assert doc == {"error": "Service Unavailable", "message": doc["message"], "code": "server.busy"}
        assert doc["message"].startswith(words.format(retry)), doc
    # Made once: every answer is one of the prepared bodies.
    assert len(shed.answers) == 2 * 16
