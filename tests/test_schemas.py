"""The request and answer models of the API (server/schemas.py), without a server: what they refuse and how they
say it, that they agree with the domain's own limits, and that no input makes them fail otherwise."""

import json
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playlists import content
from playlists.content import ContentError
from renderer import PosterSpec
from renderer.spec import MAX_LENGTH
from server import schemas
from server.schemas import BodyError, load, parse

LIMIT = 256 * 1024


def refusal(model, body) -> BodyError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(BodyError) as info:
        load(model, raw, max_bytes=LIMIT)
    return info.value


def test_nesting_is_limited_while_parsing_and_after():
    assert schemas.depth({"a": [1, {"b": []}]}) == 4 and schemas.depth(5) == 0
    assert parse(b"[" * 32 + b"]" * 32, max_bytes=LIMIT) is not None
    too_deep = refusal(schemas.PlaylistCreate, b"[" * 33 + b"]" * 33)
    assert too_deep.status == 400 and "got 33 levels, expected at most 32" in too_deep.message
    # The parser itself stops at 200 levels: a body of 100,000 brackets is refused as soon as it is seen.
    parser = refusal(schemas.PlaylistCreate, b"[" * 100_000)
    assert parser.code == "body.too_deep" and "got more than 200 levels, expected at most 32" in parser.message


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'"\\ud800"', b'"\\udc00x"', b"\xff", b"{'a': 1}",
                                 b""])
def test_what_is_not_json_is_malformed(raw):
    error = refusal(schemas.PlaylistCreate, raw)
    assert error.status == 400 and error.message.startswith("malformed JSON body") and error.code == "body.json_invalid"


def test_a_body_over_the_limit_is_413_before_parsing():
    error = refusal(schemas.PlaylistCreate, b"[" * (LIMIT + 1))
    assert error.status == 413 and f"at most {LIMIT}" in error.message


@pytest.mark.parametrize(("body", "message"), [
    ({"name": "p", "items": [{"content": "poster:1", "duration_s": 5}, {"content": "poster:1", "duration_s": 0}]},
     "items[1].duration_s: got 0, expected at least 1"),
    ({"name": "p", "items": [{"content": "video:1", "duration_s": 5}]}, "items[0].content: got 'video:1', expected"),
    ({"name": "a\tb", "items": [{"content": "poster:1", "duration_s": 5}]}, "name: got a control character U+0009"),
    ({"name": 5, "items": [{"content": "poster:1", "duration_s": 5}]}, "name: got 5, expected a valid string"),
    ({"items": [{"content": "poster:1", "duration_s": 5}]}, "name: missing, expected a value; add it"),
    ([], "body: got [], expected an object"),
])
def test_messages_name_the_field_and_what_was_wrong(body, message):
    assert message in refusal(schemas.PlaylistCreate, body).message


@pytest.mark.parametrize(("url", "message"), [
    ("https://bluezone.gov.vn@evil.example/", "user-info part"),
    ("https://user:pw@bluezone.gov.vn/", "user-info part"),
    ("javascript:alert(1)", "expected an http:// or https:// address"),
    ("https://bluezone/", "expected a domain name with a dot"),
    ("https://bluezone.gov.vn:70000/", "Port out of range"),
    ("https://bluezone.gov.vn:0/", "expected 1 to 65535"),
    ("https://bluezone.gov.vn/\u0000", "printable ASCII"),
    ("https://b\u00fccher.example/", "printable ASCII"),
])
def test_qr_urls_are_checked_by_the_domains_rule(url, message):
    error = refusal(schemas.PosterCreate, {"spec": {"url": url}})
    assert error.message.startswith("spec.url: ") and message in error.message


@pytest.mark.parametrize("url", ["https://bluezone.gov.vn", "http://203.162.10.5:8080/cai-dat", "https://[2001:db8::1]/",
                                 "https://xn--bcher-kva.example/?q=1#top"])
def test_real_addresses_pass(url):
    assert load(schemas.PosterCreate, json.dumps({"spec": {"url": url}}).encode(), max_bytes=LIMIT).spec.url == url


def test_a_headline_needs_a_visible_character():
    for headline in ("", "   ", "\u200b\u200b", "\u00a0"):
        assert "headline is empty" in refusal(schemas.PosterCreate, {"spec": {"headline": headline}}).message


def test_the_poster_model_is_the_domains_spec():
    assert {f.name for f in fields(PosterSpec)} == set(schemas.PosterSpecIn.model_fields)
    assert schemas.PosterSpecIn().spec() == PosterSpec()
    doc = schemas.PosterSpecIn.model_json_schema()
    assert doc["additionalProperties"] is False
    for name in ("headline", "body", "cta", "footer"):
        assert MAX_LENGTH[name] <= doc["properties"][name]["anyOf"][0]["maxLength"]


def test_limits_are_the_domains():
    playlist = schemas.PlaylistCreate.model_json_schema()
    assert playlist["properties"]["items"]["maxItems"] == content.MAX_ITEMS
    assert playlist["properties"]["name"]["maxLength"] == content.MAX_NAME
    item = schemas.PlaylistItemIn.model_json_schema()["properties"]["duration_s"]
    assert (item["minimum"], item["maximum"]) == (1, content.MAX_DURATION_S)


def test_dates_outside_the_supported_years_are_refused():
    base = {"playlist_id": 1, "everywhere": True}
    assert "start_date: got 1999-12-31, expected a year from 2000 to 2100" in refusal(
        schemas.ScheduleCreate, base | {"start_date": "1999-12-31"}).message
    assert "end: got 2101-01-01T00:00:00+00:00" in refusal(
        schemas.OverrideCreate, {"content": "poster:1", "everywhere": True, "end": "2101-01-01T00:00:00Z"}).message
    assert "UTC offset" in refusal(schemas.OverrideCreate, {"content": "poster:1", "start": "2026-11-27T09:00",
                                                            "minutes": 5}).message


def test_every_request_model_refuses_unknown_fields_and_every_answer_is_documented():
    refs, defs = schemas.components()
    for model in schemas.REQUESTS:
        if model is not schemas.HeartbeatIn:  # players may send more status than this server reads
            assert defs[refs[model]["$ref"].rsplit("/", 1)[1]]["additionalProperties"] is False, model
    assert set(schemas.ANSWERS) <= set(refs)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)
playlist_like = st.fixed_dictionaries({"name": st.text(max_size=210) | st.integers()}, optional={
    "items": st.lists(st.fixed_dictionaries({"content": st.text(max_size=80) | st.just("poster:1"),
                                             "duration_s": st.integers() | st.floats() | st.text(max_size=5)}),
                      max_size=3)})


@settings(max_examples=200, derandomize=True, database=None)
@given(st.one_of(json_values, playlist_like))
def test_any_json_is_either_a_body_or_a_clear_refusal(value):
    raw = json.dumps(value).encode()
    for model in (schemas.PlaylistCreate, schemas.ScheduleCreate, schemas.OverrideCreate, schemas.PosterCreate):
        try:
            load(model, raw, max_bytes=LIMIT)
        except BodyError as exc:
            assert exc.status == 400 and exc.message


@settings(max_examples=300, derandomize=True, database=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=220))
def test_any_name_is_either_kept_or_refused_with_a_reason(name):
    try:
        kept = content.check_name("name", name)
    except ContentError as exc:
        assert str(exc).startswith("name: got")
    else:
        assert kept == name.strip() and 0 < len(kept) <= 200
        kept.encode("utf-8")  # storable: no lone surrogate got through
