"""Security headers: every page of the url map carries the CSP, nosniff, a Referrer-Policy and no-store; no
template or rendered page has inline script; HSTS only over HTTPS; answers that carry a secret are not cached."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_preview import build_network, login

TEMPLATES = Path(__file__).resolve().parents[1] / "server" / "templates"
REQUIRED_CSP = ("frame-ancestors 'none'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
                "form-action 'self'")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    import os

    os.environ["SIGNAGE_INSTANCE"] = str(tmp_path_factory.mktemp("headers") / "instance")
    try:
        yield build_network()
    finally:
        del os.environ["SIGNAGE_INSTANCE"]


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}


class Scripts(HTMLParser):
    """Collects every way a page could run script that is not a file of this server."""

    def __init__(self):
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value}>")
        if tag == "script":
            if "src" not in attrs and attrs.get("type") != "application/json":
                self._in_script = True
            elif "src" in attrs and not attrs["src"].startswith("/"):
                self.inline.append(f"script from elsewhere: {attrs['src']}")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def inline_script(html: str) -> list[str]:
    parser = Scripts()
    parser.feed(html)
    return parser.inline


def sample_urls(app) -> list[str]:
    """One URL for every GET route, filled with things that exist in the network."""
    values = {"screen_id": "bx-bac-1", "playlist_id": "1", "poster_id": str(app.poster_ids["a"]),
              "code": "ABCD-EFGH", "filename": "staff/console.css", "user_id": "1", "token": "not-a-link"}
    with app.app_context():
        from server.db import get_manifests

        network = get_manifests().network()
        media = next(iter(network.renditions.values()))
    values |= {"sha256": media.sha256, "ext": media.ext}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", values[arg], path)
        urls.append(path)
    return sorted(set(urls))


def test_every_html_page_of_the_url_map_gets_the_policy_and_runs_no_inline_script(net):
    admin = login(net, "an")
    checked = []
    for url in sample_urls(net):
        r = admin.get(url)
        r.close()  # send_file keeps the file open until the response is closed
        assert r.status_code < 500, url
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
        assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer"), url
        if r.mimetype != "text/html":
            continue
        checked.append(url)
        csp = directives(r.headers["Content-Security-Policy"])
        assert csp["script-src"] == ["'self'"], url  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], url
        if url.startswith("/player/"):
            # Kiosks may frame the web player (the preview page does); it has no form at all.
            assert csp["frame-ancestors"] == ["'self'"] and csp["form-action"] == ["'none'"], url
            assert r.headers["Cache-Control"] == "no-cache", url
        else:
            assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"], url
            assert r.headers["X-Frame-Options"] == "DENY", url
            assert r.headers["Cache-Control"] == "no-store", url
        assert inline_script(r.get_data(as_text=True)) == [], url
    # Console, preview, monitoring, reports, the login form's redirect target and the player were all seen.
    for page in ("/staff/", "/staff/users", "/staff/posters/new", "/preview/screens/bx-bac-1", "/monitoring/",
                 "/reports/", "/player/bx-bac-1"):
        assert page in checked


def test_login_page_and_error_pages_get_the_headers(net):
    anonymous = net.test_client()
    for url, status in (("/staff/login", 200), ("/staff/no-such-page", 404), ("/preview/screens/nope", 302)):
        r = anonymous.get(url)
        assert r.status_code == status, url
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    login_page = anonymous.get("/staff/login")
    assert login_page.headers["Cache-Control"] == "no-store"
    assert inline_script(login_page.get_data(as_text=True)) == []
    refused = anonymous.post("/staff/login", data={"username": "an", "password": "wrong"})
    assert refused.status_code in (401, 429) and refused.headers["Cache-Control"] == "no-store"


def test_json_images_and_media_answers_are_nosniff_too(net):
    admin = login(net, "an")
    for url in ("/api/v1/screens", "/preview/screens/bx-bac-1/now.json", "/healthz", "/reports/chart.svg",
                "/api/v1/no-such", "/staff/media/" + "0" * 64 + "/thumb"):
        r = admin.get(url)
        r.close()
        assert r.headers["X-Content-Type-Options"] == "nosniff", url


def test_every_template_is_free_of_inline_script():
    """Also the pages no request above reached (error branches, flashes)."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text.lower(), template


def test_hsts_only_when_the_request_came_over_https(net):
    client = net.test_client()
    assert "Strict-Transport-Security" not in client.get("/staff/login").headers
    secure = client.get("/staff/login", base_url="https://signage.example.vn")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    net.config["HSTS_MAX_AGE"] = 0
    try:
        assert "Strict-Transport-Security" not in client.get("/staff/login", base_url="https://x.example").headers
    finally:
        net.config["HSTS_MAX_AGE"] = 31536000


def test_answers_that_carry_a_secret_are_never_stored(net):
    admin = login(net, "an")
    page = admin.post("/staff/users", data={"username": "em", "role": "operator", "sites": "Bến xe phía Bắc"})
    assert page.status_code == 200 and 'id="new-password"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    api = net.test_client()
    with net.app_context():
        from playlists.users import create_api_token
        from server.db import get_session

        token = create_api_token(get_session(), "an", "headers", net.clock())
        get_session().commit()
    created = api.post("/api/v1/screens", json={"id": "hdr-1", "profile": "led-p10"},
                       headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201 and created.get_json()["token"]
    assert created.headers["Cache-Control"] == "no-store"


# --- /metrics: loopback or the configured bearer token -----------------------------------------------------------

OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}


def test_metrics_answer_loopback_clients_but_not_others_when_no_token_is_configured(net):
    client = net.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "Forbidden" and "METRICS_TOKEN" in refused.get_json()["message"]
    # Through a proxy on this machine, the peer is loopback but the client is not: refused as well.
    proxied = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                         headers={"X-Forwarded-For": "203.0.113.5"})
    assert proxied.status_code == 403
    assert "signage_screens" not in refused.get_data(as_text=True) + proxied.get_data(as_text=True)


def test_metrics_take_the_configured_bearer_token_from_anywhere(net):
    client = net.test_client()
    net.config["METRICS_TOKEN"] = "scrape-me-7f3a"
    try:
        ok = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer scrape-me-7f3a"})
        assert ok.status_code == 200 and "signage_screens" in ok.get_data(as_text=True)
        missing = client.get("/metrics", environ_base=OUTSIDE)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        for header in ("Bearer scrape-me-7f3b", "Bearer scrape-me-7f3a-and-more", "Bearer ", "Basic c2NyYXBl",
                       "Bearer scrape-me-7f3ä"):
            wrong = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": header})
            assert wrong.status_code == 401, header
            assert wrong.get_json()["error"] == "Unauthorized"
        # A wrong token is refused even from loopback: a scraper with a typo should learn it at once.
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/metrics").status_code == 200
    finally:
        net.config["METRICS_TOKEN"] = None
