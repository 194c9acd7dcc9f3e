"""The web player's page and service worker as the server hands them out (the browser tests play them)."""

import re

import pytest


def get(client, url):
    """GET url with the whole body read and the response closed (static files hold their file open)."""
    with client.get(url) as response:
        response.get_data()
        return response


def test_player_page_is_served_without_auth_and_carries_no_token(client):
    r = get(client, "/player/bx-bac-1")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'data-screen="bx-bac-1"' in html and 'data-preview="0"' in html
    assert 'data-sw="/player/sw.js"' in html
    assert '<script id="player-js" src="/static/player/player.js"></script>' in html
    # Two stacked images: the next one is decoded in the hidden layer before it is shown.
    assert len(re.findall(r'<img id="layer-[ab]"', html)) == 2
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    # No inline script or style: the page runs under a CSP that allows only this server's files.
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and "style=" not in html


def test_preview_flag_and_pairing_page(client):
    assert 'data-preview="1"' in get(client, "/player/bx-bac-1?preview=1").get_data(as_text=True)
    assert 'data-preview="0"' in get(client, "/player/bx-bac-1?preview=0").get_data(as_text=True)
    paired = get(client, "/player/")
    assert paired.status_code == 200 and 'data-screen=""' in paired.get_data(as_text=True)
    assert 'id="pair-code"' in paired.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["Bad-Id", "-x", "a" * 65])
def test_a_malformed_screen_id_gets_an_html_404(client, bad):
    r = get(client, f"/player/{bad}")
    assert r.status_code == 404 and r.mimetype == "text/html"


def test_service_worker_is_served_from_the_player_scope_and_always_revalidated(client):
    r = get(client, "/player/sw.js")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache"
    assert "Service-Worker-Allowed" not in r.headers  # /player/sw.js controls /player/ without it
    source = r.get_data(as_text=True)
    assert 'addEventListener("fetch"' in source and "X-Signage-From-Cache" in source


def test_script_and_style_are_served_as_package_files(client):
    js = get(client, "/static/player/player.js")
    css = get(client, "/static/player/player.css")
    assert js.status_code == css.status_code == 200
    assert js.mimetype == "text/javascript" and css.mimetype == "text/css"
    source = js.get_data(as_text=True)
    # The token travels only in the Authorization header, never in a URL.
    assert "Authorization: `Bearer ${token}`" in source
    assert not re.search(r"[?&]token=", source)


def test_page_and_script_are_package_data(client):
    from configparser import ConfigParser
    from pathlib import Path

    cfg = ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    globs = [g.strip() for g in cfg["options.package_data"]["server"].split(",")]
    root = Path(__file__).parents[1] / "server"
    for name in ("templates/player.html", "static/player/player.js", "static/player/sw.js",
                 "static/player/player.css"):
        assert any((root / name).match(g) for g in globs) or any(Path(name).match(g) for g in globs), name
