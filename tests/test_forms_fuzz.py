"""Hostile input at every HTML page, form and query parameter outside /api/: never a 5xx.

Every rule of the app's URL map that is not under /api/ is listed in ROUTES with the fields its forms post or
the query parameters it reads, or in EXEMPT with the reason; a test fails when a route is in neither, so a new
page cannot be forgotten. Hypothesis then sends each route generated values, most of them hostile (numbers
beyond 64 bits, lone surrogates and invalid UTF-8 percent-encoded in the body, NUL and control characters,
dates outside the supported years, unknown ids, very long text), one field at a time on top of a valid form so
that the later checks are reached too, and asserts that the answer is not a 5xx.

The app is the preview tests' network (tests/test_preview.py: LED screens, so that renders are fast) with
CSRF switched off (WTF_CSRF_ENABLED=False): CSRF has its own tests (tests/test_auth.py), and here each request
must reach the form's own checks. Derandomised, few examples per route: the whole file runs in well under a
minute.
"""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from playlists.models import Media, PlaylistRow
from server import create_app
from server.db import get_session
from tests.test_preview import PASSWORD, build_network

HUGE = "18446744073709551617"  # 2**64 + 1
HOSTILE = [
    "", " ", "0", "-1", "1", HUGE, "9" * 5000, "1e309", "NaN", "-inf", "1_000", "١٢", "²",
    "\x00", "a\x00b", "\x01\x1f\x7f", "\u200b", "\ud800", "a\udfffb", "\ufffe", "\u202e",
    "2026-13-45", "0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "20261128", "2026-W48-5",
    "2026-11-27T08:30", "0001-01-01T00:00", "9999-12-31T23:59", "2026-11-27T08:30+14:00", "2026-11-27T08:30Z",
    "24:00", "23:59:60", "25:00", "99:99",
    "poster:1", "poster:99999999999", "poster:" + HUGE, "asset:" + "0" * 64, "asset:" + "f" * 64 + ":cover",
    "on", "off", "cover", "contain", "until", "duration", "A4", "a5", "vi-en", "zz", "admin", "root",
    "stations", "nowhere", "bx-bac-1", "../../etc/passwd", "/\\evil.example", "//evil.example", "https://x@y.z/",
    "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "x" * 70_000, "Bảo vệ mình\r\nbảo vệ cộng đồng",
]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                   st.integers(min_value=-(2**70), max_value=2**70).map(str))
# Percent-encoded byte sequences that are not UTF-8 (or are encoded surrogates): the parser must not choke.
RAW = st.sampled_from(["%ED%A0%80", "%FF%FE", "%C0%AF", "%E2%82", "%00", "%F4%90%80%80"])

# endpoint -> (method, path (with valid ids), valid fields, every field the page posts or reads)
ROUTES = {
    "console.home": ("GET", "/staff/", {}, ["lang"]),
    "console.assets": ("GET", "/staff/assets", {}, ["lang"]),
    "console.upload_page": ("GET", "/staff/assets/upload", {}, ["lang"]),
    "console.audit_log": ("GET", "/staff/audit", {}, ["lang"]),
    "console.exports": ("GET", "/staff/exports", {}, ["lang"]),
    "console.playlists": ("GET", "/staff/playlists", {}, ["lang"]),
    "console.posters": ("GET", "/staff/posters", {}, ["lang"]),
    "console.schedules": ("GET", "/staff/schedules", {}, ["lang"]),
    "console.takeover": ("GET", "/staff/takeover", {}, ["lang"]),
    "console.users": ("GET", "/staff/users", {}, ["lang"]),
    "console.thumb": ("GET", "/staff/media/{sha}/thumb", {}, []),
    "console.poster_form": ("POST", "/staff/posters/{poster}", {"headline": "Cài Bluezone"},
                            ["name", "template", "lang", "theme", "headline", "body", "cta", "url", "footer"]),
    "console.poster_preview": ("POST", "/staff/posters/preview", {"headline": "Cài Bluezone"},
                               ["poster_id", "template", "lang", "theme", "headline", "body", "cta", "url", "footer"]),
    "console.playlist_form": ("POST", "/staff/playlists/{playlist}",
                              {"name": "p", "content": "{key}", "duration": "10", "fit": ""},
                              ["name", "content", "duration", "fit"]),
    "console.delete_playlist": ("POST", "/staff/playlists/{playlist}/delete", {}, []),
    "console.add_schedule": ("POST", "/staff/schedules", {"playlist": "{playlist}", "everywhere": "on"},
                             ["playlist", "name", "priority", "start_date", "end_date", "start_time", "end_time",
                              "weekdays", "screens", "groups", "everywhere"]),
    "console.delete_schedule": ("POST", "/staff/schedules/1/delete", {}, []),
    "console.add_reminder": ("POST", "/staff/reminders",
                             {"content": "{key}", "every_min": "15", "duration_s": "10", "everywhere": "on"},
                             ["content", "name", "every_min", "duration_s", "start_time", "end_time", "screens",
                              "groups", "everywhere"]),
    "console.delete_reminder": ("POST", "/staff/reminders/1/delete", {}, []),
    "console.start_takeover": ("POST", "/staff/takeover",
                               {"content": "{key}", "expiry": "duration", "minutes": "5", "everywhere": "on"},
                               ["content", "fit", "name", "expiry", "minutes", "until", "screens", "groups",
                                "everywhere"]),
    "console.end_takeover": ("POST", "/staff/takeover/1/end", {}, []),
    "console.add_user_view": ("POST", "/staff/users", {"username": "dao", "role": "operator"},
                              ["username", "role", "sites", "groups"]),
    "console.set_user_status": ("POST", "/staff/users/4/status", {"disabled": "0"}, ["disabled"]),
    "console.sign_out_everywhere": ("POST", "/staff/users/4/sessions", {}, []),
    "console.user_edit": ("GET", "/staff/users/4", {}, ["lang"]),
    "console.save_user": ("POST", "/staff/users/4", {"role": "operator", "groups": "hospital"},
                          ["role", "sites", "groups"]),
    "console.reset_user_password": ("POST", "/staff/users/4/password", {"how": "link"}, ["how"]),
    "console.reset_with_link": ("POST", "/staff/reset/{code}", {"new": "correct horse battery",
                                                                  "repeat": "correct horse battery"},
                                ["new", "repeat"]),
    "auth.account_password": ("POST", "/staff/account/password", {"current": "wrong", "new": "x", "repeat": "x"},
                              ["current", "new", "repeat"]),
    "exports.usb": ("GET", "/staff/export/usb", {"screen": "bx-bac-1"}, ["screen", "group", "date"]),
    "exports.print_pdf": ("GET", "/staff/export/print", {"format": "A5"}, ["format", "lang"]),
    "auth.login": ("POST", "/staff/login", {"username": "ghost", "password": "x"}, ["username", "password", "next"]),
    "auth.logout": ("POST", "/staff/logout", {}, []),
    "console.pair": ("GET", "/staff/pair", {}, ["code", "lang"]),
    "console.pair_approve": ("POST", "/staff/pair", {"code": "ABCDEF", "mode": "existing", "screen": "{screen}"},
                             ["code", "mode", "screen", "profile", "id", "name", "site", "district", "groups"]),
    "console.screens": ("GET", "/staff/screens", {}, ["site", "group", "lang"]),
    "console.screen_qr": ("GET", "/staff/screens/{screen}/qr.png", {}, []),
    "console.new_screen_form": ("GET", "/staff/screens/new", {}, ["lang"]),
    "console.add_screen_view": ("POST", "/staff/screens/new", {"profile": "led-p10", "id": "fz-1", "name": "x"},
                                ["profile", "id", "name", "site", "district", "groups"]),
    "console.screen_form": ("GET", "/staff/screens/{screen}", {}, ["lang"]),
    "console.rename_screen_view": ("POST", "/staff/screens/{screen}/name", {"name": "x"}, ["name"]),
    "console.place_screen_view": ("POST", "/staff/screens/{screen}/place", {"site": "s"}, ["site", "district"]),
    "console.screen_groups_view": ("POST", "/staff/screens/{screen}/groups", {}, ["groups"]),
    "console.reissue_token_view": ("POST", "/staff/screens/{screen}/token", {}, []),
    "console.retire_screen_view": ("POST", "/staff/screens/ghost/retire", {}, ["confirm"]),
    "console.groups": ("GET", "/staff/groups", {}, ["lang"]),
    "console.add_group": ("POST", "/staff/groups", {"name": "g1"}, ["name", "label_vi", "label_en"]),
    "console.edit_group": ("POST", "/staff/groups/1", {"name": "g1"}, ["name", "label_vi", "label_en"]),
    "console.sites": ("GET", "/staff/sites", {}, ["lang"]),
    "console.add_site": ("POST", "/staff/sites", {"name": "s1"}, ["name", "district"]),
    "console.edit_site": ("POST", "/staff/sites/1", {"name": "s1"}, ["name", "district"]),
    "preview.index": ("GET", "/preview/", {}, ["lang"]),
    "preview.screen_page": ("GET", "/preview/screens/{screen}", {}, ["at", "lang"]),
    "preview.now_json": ("GET", "/preview/screens/{screen}/now.json", {}, ["at"]),
    "preview.manifest": ("GET", "/preview/screens/{screen}/manifest", {}, []),
    "monitoring.dashboard": ("GET", "/monitoring/", {}, ["lang"]),
    "monitoring.status_json": ("GET", "/monitoring/status.json", {}, []),
    "reports.index": ("GET", "/reports/", {}, ["from", "to", "lang"]),
    "reports.plays_csv": ("GET", "/reports/plays.csv", {}, ["from", "to"]),
    "reports.chart_svg": ("GET", "/reports/chart.svg", {}, ["from", "to"]),
    "reports.attribution": ("POST", "/reports/posters/{poster}/attribution", {"on": "1"}, ["on"]),
    "go.scan": ("GET", "/go/{code}", {}, []),
    "webplayer.pairing_page": ("GET", "/player/", {}, ["lang"]),
    "webplayer.player_page": ("GET", "/player/{screen}", {}, ["preview", "lang"]),
    "webplayer.service_worker": ("GET", "/player/sw.js", {}, []),
    "player.media": ("GET", "/media/{sha}.png", {}, []),
    "health.healthz": ("GET", "/healthz", {}, []),
    "health.metrics": ("GET", "/metrics", {}, []),
}
# Paths with a second method on the same endpoint (GET pages of the POST forms above).
GETS = {"console.poster_form": "/staff/posters/{poster}", "console.playlist_form": "/staff/playlists/{playlist}",
        "auth.login": "/staff/login", "auth.account_password": "/staff/account/password",
        "console.reset_with_link": "/staff/reset/{code}"}
EXEMPT = {
    "static": "files from server/static: Flask's send_from_directory (safe_join) answers 404 for anything else",
    "pages.favicon": "a fixed file: takes no parameter, field or query",
}


@pytest.fixture
def app(instance):
    """The preview tests' network, and the ids the routes' paths take."""
    app = build_network()
    with app.app_context():
        session = get_session()
        app.ids = {"poster": str(app.poster_ids["a"]), "key": app.keys["a"], "screen": "bx-bac-1",
                   "playlist": str(session.scalar(select(PlaylistRow.id))),
                   "sha": session.scalar(select(Media.sha256).where(Media.kind == "rendition")), "code": "abc"}
        session.close()
    return app


def admin_client(app):
    client = app.test_client()
    assert client.post("/staff/login", data={"username": "an", "password": PASSWORD}).status_code == 302
    return client


def _encode(value: str) -> str:
    # Surrogates cannot be UTF-8; send the bytes a careless client would (CESU-style), percent-encoded.
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _body(fields: dict) -> str:
    parts = []
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append(f"{quote(name)}={one[1] if isinstance(one, tuple) else _encode(one)}")
    return "&".join(parts)


def send(app, client, endpoint: str, fields: dict, method: str | None = None, path: str | None = None):
    route_method, route_path, valid, _names = ROUTES[endpoint]
    method, path = method or route_method, (path or route_path).format(**app.ids)
    merged = {k: v.format(**app.ids) for k, v in valid.items()} if method == route_method else {}
    merged.update(fields)
    if method == "GET":
        response = client.get(f"{path}?{_body(merged)}")
    else:
        response = client.post(path, data=_body(merged), content_type="application/x-www-form-urlencoded")
    response.close()
    return response


def test_every_route_outside_the_api_is_fuzzed_or_exempt(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if not rule.rule.startswith("/api/")}
    assert endpoints - ROUTES.keys() - EXEMPT.keys() == set(), "add the new page to ROUTES with its fields"
    assert ROUTES.keys() - endpoints == set(), "ROUTES names a page that no longer exists"


FUZZ = settings(derandomize=True, max_examples=8, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Pages that hash a password on each post (Argon2id takes tens of milliseconds by design) get fewer examples.
HASHING = {"auth.login", "auth.account_password", "console.add_user_view", "console.reset_with_link",
           "console.reset_user_password"}


def _hostile_fields(names):
    """One field of the page set to a generated value (raw percent-encoded bytes now and then), or two."""
    value = st.one_of(VALUES, RAW.map(lambda raw: ("raw", raw)), st.lists(VALUES, min_size=2, max_size=3))
    return st.dictionaries(st.sampled_from(names), value, min_size=1, max_size=2)


def fuzz(strategy, probe, examples: int | None = None) -> None:
    """Run probe(value) on FUZZ's number of values (or `examples`) drawn from strategy."""

    @settings(FUZZ, max_examples=examples or FUZZ.max_examples)
    @given(value=strategy)
    def hostile(value):
        probe(value)

    hostile()


def no_server_error(app, client, endpoint, **where):
    def probe(fields):
        response = send(app, client, endpoint, fields, **where)
        assert response.status_code < 500, (endpoint, fields, response.status_code)

    return probe


# The values that broke pages before (each was a 500): every field of every page gets each of them at once.
CLASSICS = [HUGE, "9" * 5000, "²", "\x00", "0001-01-01", "9999-12-31", "9999-12-31T23:59", ("raw", "%ED%A0%80"),
            ["1", "\x01"]]


def test_hostile_fields_never_get_a_server_error(app):
    admin = admin_client(app)
    for endpoint, (_method, _path, _valid, names) in sorted(ROUTES.items()):
        client = app.test_client() if endpoint in ("auth.login", "auth.logout") else admin
        for value in CLASSICS if names and endpoint not in HASHING else []:
            no_server_error(app, client, endpoint)(dict.fromkeys(names, value))
    for endpoint in sorted(e for e, route in ROUTES.items() if route[3]):
        # Logging in and out must not end the admin's session that the other pages use.
        client = app.test_client() if endpoint in ("auth.login", "auth.logout") else admin
        fuzz(_hostile_fields(ROUTES[endpoint][3]), no_server_error(app, client, endpoint),
             3 if endpoint in HASHING else None)


PATH_VALUES = st.one_of(st.sampled_from(["0", "-1", HUGE, "9" * 400, "%00", "%ED%A0%80", "%FF", "..", "a%2Fb",
                                         "%0D%0ALocation:%20x", "x" * 300, "bx-bac-1%00", "ghost"]),
                        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20).map(
                            lambda t: quote(t, safe="")))


def test_hostile_paths_and_queries_never_get_a_server_error(app):
    admin = admin_client(app)
    for endpoint in sorted(e for e, route in ROUTES.items() if "{" in route[1]):
        def probe(segment, endpoint=endpoint):
            path = ROUTES[endpoint][1]
            for name in ("poster", "playlist", "screen", "sha", "code"):
                path = path.replace(f"{{{name}}}", segment)
            no_server_error(app, admin, endpoint, path=path)({})

        fuzz(PATH_VALUES, probe)
    # The pages of the forms, with hostile query parameters (next, lang and the like).
    for endpoint, path in sorted(GETS.items()):
        fuzz(_hostile_fields(["next", "lang", "at", "from"]),
             no_server_error(app, admin, endpoint, method="GET", path=path), 4)


def test_a_good_login_with_a_hostile_next_lands_on_this_site(app):
    for target in ("/ok\r\nSet-Cookie: x=1", "/\\evil.example", "/\t/evil.example", "/\x00", "https://evil.example/",
                   "//evil.example", "/" + "x" * 3000):
        r = app.test_client().post("/staff/login", content_type="application/x-www-form-urlencoded",
                                   data=_body({"username": "an", "password": PASSWORD, "next": target}))
        assert r.status_code == 302 and r.headers["Location"] == "/staff/", target
