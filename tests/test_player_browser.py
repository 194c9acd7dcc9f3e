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
from tests.live import browser_page, difference, png, wait_until

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


def watch(page, manifest, slots: int) -> list[str]:
    """The items seen on screen in the middle of the next `slots` slots, each checked against the timeline."""
    seen = []
    for _ in range(slots):
        due = wait_mid_slot(manifest)
        seen.append(manifest.shown(screenshot(page)))
        assert seen[-1] == due, f"at {time.time():.3f} the screen shows {seen[-1]}, the timeline says {due}"
    return seen


def test_items_appear_in_order_and_switch_on_time(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["bx-bac-1"]
    manifest = Manifest(live_server, "bx-bac-1", token)
    with browser_page(browser, W, H) as page:
        urls, violations = [], []
        page.on("request", lambda r: urls.append(r.url))
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        open_player(page, live_server, "bx-bac-1", token)
        # The token left the address bar for the browser's storage.
        assert page.url == f"{live_server.url}/player/bx-bac-1"
        assert page.evaluate("localStorage.getItem('signage.token.bx-bac-1')") == token
        # Once one quick answer has set the clock exactly (a 304 a moment after the first full manifest).
        wait_until(page, "window.signagePlayer.clockExact")
        watching = time.time() * 1000
        seen = watch(page, manifest, 4)  # four slots in a row: each shows its item, at the panel's exact pixels
        assert len(set(seen)) == 3 and seen[3] == seen[0]  # the loop, in order
        swaps = page.evaluate("window.signagePlayer.swaps")
    assert not any(token in u for u in urls)
    assert violations == []  # the player's own policy refused nothing it needs
    on_time = [s for s in swaps if s["local"] > watching]
    assert len(on_time) >= 4
    for swap in on_time:
        key, start, _ = manifest.slot(swap["due"] / 1000 + 0.001)
        assert swap["item"] == key and swap["due"] / 1000 == pytest.approx(start, abs=0.001)
        # On time by the player's idea of the server clock, and by the real clock (one machine here).
        assert abs(swap["at"] - swap["due"]) < 150, f"{key} switched {swap['at'] - swap['due']} ms off its time"
        assert abs(swap["local"] - swap["due"]) < 150, f"{key} switched {swap['local'] - swap['due']} ms late"


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


def test_a_change_on_the_server_appears_within_one_poll_and_unchanged_polls_get_304(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["bx-bac-1"]
    with browser_page(browser, W, H) as page:
        open_player(page, live_server, "bx-bac-1", token)
        wait_until(page, "window.signagePlayer.answers[304] >= 1")
        with live_server.session() as s:  # staff replace the playlist with one new poster
            new = f"poster:{content.add_poster(s, {'lang': 'en', 'headline': 'Stay safe'}, datetime.now(UTC)).id}"
            content.set_playlist_items(s, data["playlist"], [(new, SLOT_S)])
            content.sync_renditions(s, live_server.store, datetime.now(UTC))
        changed = time.time() * 1000
        wait_until(page, f"document.body.dataset.item === {json.dumps(new)}", timeout=6)
        took = time.time() * 1000 - changed
        manifest = Manifest(live_server, "bx-bac-1", token)
        wait_mid_slot(manifest, margin=0.3)
        assert manifest.shown(screenshot(page)) == new
        polls = page.evaluate("window.signagePlayer.pollLog")
    before = [p["status"] for p in polls if p["sentAt"] < changed - 50]
    after = [p["status"] for p in polls if p["sentAt"] > changed + 50]
    # Unchanged polls were answered 304 (after the first full manifests); the first poll after the change got it.
    assert before[-1] == 304 and after[0] == 200
    assert took < 2.4 * 1000 + 2000  # poll_after_s plus jitter, plus building 49 h of 2 s entries


def test_server_stopped_the_player_plays_on_also_after_a_reload_then_reports_every_play_once(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["bx-bac-1"]
    manifest = Manifest(live_server, "bx-bac-1", token)
    with browser_page(browser, W, H) as page:
        open_player(page, live_server, "bx-bac-1", token)
        wait_until(page, "document.body.dataset.offline === 'ready'")
        live_server.stop()
        stopped = datetime.now(UTC)
        assert len(set(watch(page, manifest, 2))) == 2
        page.reload()  # the page, its script, the manifest and the media all come from the service worker
        wait_until(page, "document.body.dataset.state === 'playing' && window.signagePlayer.offline")
        assert len(set(watch(page, manifest, 2))) == 2
        live_server.start()
        restarted = datetime.now(UTC)
        wait_until(page, "window.signagePlayer.sent > 0 && window.signagePlayer.offline === false")
        wait_until(page, "(async () => (await new Promise((ok) => { const r = indexedDB.open('signage-player');"
                         " r.onsuccess = () => r.result.transaction('plays').objectStore('plays').count()"
                         ".onsuccess = (e) => ok(e.target.result); })) === 0)()")
    from playlists.models import Play

    with live_server.session() as s:
        plays = sorted(s.query(Play).filter_by(screen_id="bx-bac-1"), key=lambda p: p.started_at)
        rows = [(p.started_at.replace(tzinfo=UTC).timestamp(), p.duration_s, p.item, p.sha256) for p in plays]
    offline = [r for r in rows if stopped.timestamp() < r[0] < restarted.timestamp()]
    assert len(offline) >= 3  # plays made with the server gone, before and after the reload, all arrived
    shas = {i["key"]: i["sha256"] for i in manifest.doc["items"]}
    for (start, duration, item, sha), (next_start, *_) in zip(rows, rows[1:] + [(float("inf"),)], strict=True):
        key, slot_start, slot_end = manifest.slot(start + 0.05)
        assert (item, sha) == (key, shas[key])  # what the timeline says was on screen then
        assert start + duration <= next_start + 0.01  # no play counted twice: plays never overlap
        assert start + duration <= slot_end + 0.01


def test_two_players_of_a_group_show_the_same_item_even_with_a_clock_three_minutes_fast(browser, live_server):
    data = seed(live_server)
    live_server.start()
    tokens = data["tokens"]
    manifest = Manifest(live_server, "bx-bac-1", tokens["bx-bac-1"])
    with browser_page(browser, W, H) as north, browser_page(browser, W, H) as south:
        south.clock.install(time=time.time() + 180)  # this PC's clock runs three minutes fast, and keeps running
        open_player(north, live_server, "bx-bac-1", tokens["bx-bac-1"])
        open_player(south, live_server, "bx-nam-1", tokens["bx-nam-1"])
        for page in (north, south):
            wait_until(page, "window.signagePlayer.clockExact")
        assert abs(south.evaluate("window.signagePlayer.offsetMs") + 180_000) < 1000
        for _ in range(3):
            due = wait_mid_slot(manifest)
            assert manifest.shown(screenshot(north)) == manifest.shown(screenshot(south)) == due
        swaps = {page: page.evaluate("window.signagePlayer.swaps") for page in (north, south)}
    # The same entries began on both screens at the same moment of the server's clock.
    north_swaps = {s["due"]: s for s in swaps[north]}
    common = [(north_swaps[s["due"]], s) for s in swaps[south] if s["due"] in north_swaps][-3:]
    assert len(common) == 3
    for a, b in common:
        assert a["item"] == b["item"] and abs(a["at"] - b["at"]) < 150


def test_pairing_end_to_end(browser, live_server):
    from playlists.pairing import approve_pairing
    from renderer.qr import decode

    data = seed(live_server)
    live_server.start()
    with browser_page(browser, 640, 360) as page:
        page.goto(f"{live_server.url}/player/")
        code = wait_until(page, "document.body.dataset.pairCode")
        assert page.locator("#pair-code").inner_text() == code
        wait_until(page, "document.getElementById('pair-qr').naturalWidth > 0")
        qr = png(page.locator("#pair-qr").screenshot())
        assert decode(qr) == [f"{live_server.url}/staff/pair?code={code}"]
        with live_server.session() as s:  # what `signage screen pair CODE --id bx-nam-1` does
            approve_pairing(s, code, "bx-nam-1", datetime.now(UTC))
        # The player claims its token (every 3 s), keeps it and becomes the player of bx-nam-1.
        page.wait_for_url(f"{live_server.url}/player/bx-nam-1", timeout=8000)
        page.wait_for_selector("body[data-state=playing]", state="attached", timeout=10000)
        token = page.evaluate("localStorage.getItem('signage.token.bx-nam-1')")
        manifest = Manifest(live_server, "bx-nam-1", token)
        due = wait_mid_slot(manifest)
        # 192x96 scaled by 640/192 is 640x320, centred between black bands of 20 px.
        assert manifest.shown(png(page.screenshot()).crop((0, 20, 640, 340)).resize((W, H)), tolerance=12) == due
    # A new token was issued at the claim: the one printed by `screen add` no longer opens the screen.
    assert live_server.get("/api/v1/screens/bx-nam-1/manifest", data["tokens"]["bx-nam-1"])[0] == 401


def test_an_image_that_fails_to_load_is_skipped_never_broken_and_shown_once_it_loads(browser, live_server):
    data = seed(live_server)
    live_server.start()
    token = data["tokens"]["bx-bac-1"]
    manifest = Manifest(live_server, "bx-bac-1", token)
    before, lost = data["keys"][0], next(i for i in manifest.doc["items"] if i["key"] == data["keys"][1])
    path = live_server.store.path(lost["sha256"], "png")
    path.rename(path.with_suffix(".away"))  # the second poster's file goes missing: the server answers 404
    with browser_page(browser, W, H) as page:
        open_player(page, live_server, "bx-bac-1", token)
        for _ in range(3):  # until its slot: there the poster before it stays on screen, nothing broken
            due = wait_mid_slot(manifest)
            shown = manifest.shown(screenshot(page))
            assert shown == (before if due == lost["key"] else due)
            if due == lost["key"]:
                break
        assert page.evaluate("window.signagePlayer.failed") == [lost["url"]]
        path.with_suffix(".away").rename(path)
        # Tried again later (after 2 s, then doubling): it is back in one of its next slots.
        wait_until(page, f"document.body.dataset.item === {json.dumps(lost['key'])}", timeout=15)
        due = wait_mid_slot(manifest, margin=0.3)
        assert manifest.shown(screenshot(page)) == due
