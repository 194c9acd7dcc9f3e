"""The web player in a real chromium against a real gunicorn: what a person would see on the screen.

Three posters of 2 s each loop on the "stations" group (anchored to local midnight, so the expected item at
any instant follows from the manifest). Screenshots at the panel's exact size (192x96) are compared with the
media the server rendered.
"""

import json
import time
from datetime import UTC, datetime

import pytest

from playlists import content
from playlists.screens import add_screen
from tests import live
from tests.live import browser_page, difference, png

# The fixtures of tests/live.py, used here by name.
browser, live_server = live.browser, live.live_server

W, H = 192, 96
SLOT_S = 2
SPECS = [
    {"lang": "vi", "headline": "Cài Bluezone", "theme": "blue"},
    {"lang": "en", "headline": "Get Bluezone", "theme": "light"},
    {"lang": "vi", "headline": "Bảo vệ mình", "theme": "dark"},
]


def seed(server) -> dict:
    """Two screens of one group playing three posters (2 s each), one screen alone; their tokens and keys."""
    now = datetime.now(UTC)
    with server.session() as s:
        tokens = {sid: add_screen(s, sid, "led-p10", now, groups=[group])
                  for sid, group in [("bx-bac-1", "stations"), ("bx-nam-1", "stations"), ("hue-led-1", "city")]}
        keys = [f"poster:{content.add_poster(s, spec, now).id}" for spec in SPECS]
        playlist = content.add_playlist(s, "stations", [(k, SLOT_S) for k in keys])
        content.add_schedule(s, playlist.id, groups=["stations", "city"])
        content.sync_renditions(s, server.store, now)
    return {"tokens": tokens, "keys": keys, "playlist": playlist.id}


class Manifest:
    """A screen's manifest as the test reads it: the item due at any instant and its decoded image."""

    def __init__(self, server, screen_id, token):
        status, _, body = server.get(f"/api/v1/screens/{screen_id}/manifest", token)
        assert status == 200, body
        self.doc = json.loads(body)
        self.images = {i["key"]: png(server.get(i["url"])[2]) for i in self.doc["items"]}
        origin_ms = int(datetime.fromisoformat(self.doc["from"]).timestamp() * 1000)
        self.entries, at = [], origin_ms  # (start_ms, end_ms, key): entries are back to back from "from"
        for duration_ms, item, _source in self.doc["timeline"]:
            self.entries.append((at, at + duration_ms, self.doc["items"][item]["key"]))
            at += duration_ms

    def slot(self, t: float) -> tuple[str, float, float]:
        """(item key, start, end) of the timeline entry holding the epoch time t (seconds)."""
        ms = t * 1000
        for start, end, key in self.entries:
            if start <= ms < end:
                return key, start / 1000, end / 1000
        raise AssertionError(f"{t} is outside the manifest")

    def shown(self, screenshot, tolerance: float = 2) -> str:
        """The item whose image the screenshot is (within a small tolerance); fails when it is none of them."""
        key, diff = min(((k, difference(screenshot, img)) for k, img in self.images.items()), key=lambda x: x[1])
        assert diff < tolerance, f"the screen shows none of the items (closest {key}, mean difference {diff:.1f})"
        return key


def wait_mid_slot(manifest: Manifest, margin: float = 0.6) -> str:
    """Sleep until `margin` seconds into the next slot and return the item due then."""
    _, _, end = manifest.slot(time.time())
    time.sleep(max(0.0, end + margin - time.time()))
    return manifest.slot(time.time())[0]


def open_player(page, server, screen_id, token, query=""):
    page.goto(f"{server.url}/player/{screen_id}{query}#token={token}")
    page.wait_for_selector("body[data-state=playing]", state="attached", timeout=10000)


def screenshot(page):
    return png(page.screenshot())


def test_items_appear_in_order_and_switch_on_time(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["bx-bac-1"]
    manifest = Manifest(live_server, "bx-bac-1", token)
    with browser_page(browser, W, H) as page:
        urls = []
        page.on("request", lambda r: urls.append(r.url))
        open_player(page, live_server, "bx-bac-1", token)
        # The token left the address bar for the browser's storage.
        assert page.url == f"{live_server.url}/player/bx-bac-1"
        assert page.evaluate("localStorage.getItem('signage.token.bx-bac-1')") == token
        seen = []
        for _ in range(4):  # four slots in a row: each shows its item, at the panel's exact pixels
            due = wait_mid_slot(manifest)
            seen.append(manifest.shown(screenshot(page)))
            assert seen[-1] == due
        assert len(set(seen)) == 3 and seen[3] == seen[0]  # the loop, in order
        swaps = page.evaluate("window.signagePlayer.swaps")
    assert not any(token in u for u in urls)
    on_time = swaps[1:]  # the first one is whenever the page opened
    assert len(on_time) >= 4
    for swap in on_time:
        key, start, _ = manifest.slot(swap["due"] / 1000 + 0.001)
        assert swap["item"] == key and swap["due"] / 1000 == pytest.approx(start, abs=0.001)
        assert abs(swap["at"] - swap["due"]) < 150, f"{key} switched {swap['at'] - swap['due']} ms off its time"


def test_scaled_to_fit_on_black_and_preview_reports_nothing(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["hue-led-1"]
    manifest = Manifest(live_server, "hue-led-1", token)
    with browser_page(browser, 400, 300) as page:
        open_player(page, live_server, "hue-led-1", token, "?preview=1")
        due = wait_mid_slot(manifest)
        shot = screenshot(page)
        # 192x96 scaled by 400/192 is 400x200, centred: black bands of 50 px above and below.
        for band in ((0, 0, 400, 50), (0, 250, 400, 300)):
            assert shot.crop(band).getextrema() == ((0, 0), (0, 0), (0, 0))
        assert manifest.shown(shot.crop((0, 50, 400, 250)).resize((W, H)), tolerance=12) == due
        # A preview keeps the token for the tab only and reports nothing.
        assert page.evaluate("localStorage.getItem('signage.token.hue-led-1')") is None
        time.sleep(1)
    from playlists.models import Play, ScreenStatus

    with live_server.session() as s:
        assert s.get(ScreenStatus, "hue-led-1") is None
        assert s.query(Play).filter_by(screen_id="hue-led-1").count() == 0
