"""The staff flow in a real chromium against a real gunicorn, checked on a real web player of the group.

A member of staff logs in, uploads two images (and a file that is refused), composes a poster, puts the poster
and an image in a playlist, schedules it for the "stations" group; the group's LED panel (192x96) plays both.
A takeover with the other image replaces the schedule within a poll, and ending it brings the schedule back.
Screenshots of the composer and the takeover page are saved in /tmp for people to look at.
"""

import base64
import json
import time
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import select

from playlists.models import AuditEntry, Poster
from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page, difference, png

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"
RED, BLUE = (200, 30, 30), (20, 60, 200)
SCREENSHOTS = {"composer": "/tmp/console-composer.png", "playlist": "/tmp/console-playlist.png",
               "takeover": "/tmp/console-takeover.png", "phone": "/tmp/console-takeover-phone-vi.png"}


def image_file(path, color) -> str:
    Image.new("RGB", (320, 200), color).save(path, "PNG")
    return str(path)


def manifest_images(server, token, wanted=lambda keys: True, within_s: float = 20) -> dict[str, Image.Image]:
    """The screen's media as the server made them, by content key, once its manifest has the keys `wanted`
    (a changed manifest is served a few seconds after the change: the scheduler builds it; until the scheduler has
    rendered the screen's first content the answer is 503 with Retry-After, which players wait out too)."""
    deadline = time.monotonic() + within_s
    while True:
        status, _, body = server.get("/api/v1/screens/bx-bac-1/manifest", token)
        if status == 503 and json.loads(body)["code"] == "screen.not_ready" and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        assert status == 200, body
        items = json.loads(body)["items"]
        if wanted({item["key"] for item in items}) or time.monotonic() > deadline:
            return {item["key"]: png(server.get(item["url"])[2]) for item in items}
        time.sleep(0.5)


def seen_on(player, images: dict[str, Image.Image], seconds: float) -> list[str]:
    """The items the player shows, screenshot after screenshot for `seconds`, each matched to its media."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shot = png(player.screenshot())
        key, diff = min(((k, difference(shot, img)) for k, img in images.items()), key=lambda x: x[1])
        if diff < 2:
            seen.append(key)
        time.sleep(0.2)
    return seen


def log_in(page, server):
    page.goto(f"{server.url}/staff/login?lang=en")
    page.fill("input[name=username]", "binh")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/")


def upload_images(page, server, tmp_path) -> None:
    page.goto(f"{server.url}/staff/assets/upload")
    (tmp_path / "notes.png").write_text("<html>not an image</html>")
    page.set_input_files("#upload input[type=file]", [image_file(tmp_path / "red.png", RED),
                                                      image_file(tmp_path / "blue.png", BLUE),
                                                      str(tmp_path / "notes.png")])
    page.wait_for_selector("#uploads li:nth-child(3)[data-state]")
    live.wait_until(page, "document.querySelectorAll('#uploads li[data-state]').length === 3")
    states = {li.query_selector(".name").inner_text(): (li.get_attribute("data-state"), li.inner_text())
              for li in page.query_selector_all("#uploads li")}
    assert states["red.png"][0] == states["blue.png"][0] == "ok"
    assert states["notes.png"][0] == "bad" and "Refused" in states["notes.png"][1]
    assert "HTML" in states["notes.png"][1]  # the server's own reason
    assert page.eval_on_selector("#uploads li:first-child progress", "p => p.value") == 100


def compose_poster(page, server) -> Image.Image:
    """Compose and save the poster; returns its LED panel preview as the composer showed it."""
    page.goto(f"{server.url}/staff/posters/new")
    page.fill("input[name=name]", "Bến xe")
    page.fill("input[name=headline]", "Cài Bluezone ngay")
    # The preview follows the typing: the LED panel's preview carries the new headline's render and QR report.
    live.wait_until(page, "document.querySelector('#previews').dataset.headline === 'Cài Bluezone ngay' && "
                          "!document.querySelector('.preview-status').textContent")
    assert page.eval_on_selector_all(".preview", "fs => fs.map(f => f.dataset.profile)") == \
        ["kiosk-portrait", "led-p10"]  # side by side, one per kind of registered screen
    caption = page.inner_text('.preview[data-profile="led-p10"]')
    assert "QR code decoded" in caption and "5.0 m" in caption
    preview = page.get_attribute('.preview[data-profile="led-p10"] img', "src")
    page.screenshot(path=SCREENSHOTS["composer"], full_page=True)
    page.click("#composer button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/posters")
    assert "Bến xe" in page.inner_text("main")
    return png(base64.b64decode(preview.split(",", 1)[1]))


def build_playlist(page, server) -> None:
    page.goto(f"{server.url}/staff/playlists/new")
    page.fill("input[name=name]", "stations")
    for label in ("Bến xe", "red.png"):
        page.select_option("#add-choice", label=next(o for o in page.eval_on_selector_all(
            "#add-choice option", "os => os.map(o => o.textContent)") if o.startswith(label)))
        page.click("#add-item")
    rows = "#items li.item"
    assert page.eval_on_selector_all(rows, "rs => rs.map(r => r.querySelector('.label').textContent)") == \
        ["Bến xe", "red.png"]
    # Dragged: the image above the poster; then back down with the keyboard/phone fallback, then dragged again.
    page.drag_and_drop(f"{rows}:nth-child(2) .label", f"{rows}:nth-child(1) .label",
                       target_position={"x": 5, "y": 2})
    assert page.eval_on_selector_all(rows, "rs => rs.map(r => r.querySelector('.label').textContent)") == \
        ["red.png", "Bến xe"]
    page.click(f"{rows}:nth-child(1) button[data-move='1']")
    page.click(f"{rows}:nth-child(2) button[data-move='-1']")
    assert page.eval_on_selector_all(rows, "rs => rs.map(r => r.querySelector('.label').textContent)") == \
        ["red.png", "Bến xe"]
    for row in page.query_selector_all(rows):
        row.query_selector("input[name=duration]").fill("2")
    page.select_option(f"{rows}:nth-child(1) select[name=fit]", "cover")
    page.screenshot(path=SCREENSHOTS["playlist"], full_page=True)
    page.click("#playlist button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/playlists")


def schedule_for_group(page, server) -> None:
    page.goto(f"{server.url}/staff/schedules")
    page.select_option("#add-schedule select[name=playlist]", label="stations")
    page.check("#add-schedule input[name=groups][value=stations]")
    page.click("#add-schedule button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/schedules")
    assert "group stations" in page.inner_text("main")


def test_staff_flow_from_upload_to_takeover_seen_on_a_player(browser, live_server, tmp_path):
    now = datetime.now(UTC)
    with live_server.session() as s:
        add_user(s, "binh", "staff", now, password=PASSWORD)
        token = add_screen(s, "bx-bac-1", "led-p10", now, groups=["stations"])
        add_screen(s, "hue-kiosk-1", "kiosk-portrait", now, groups=["hospital"])  # a second shape to preview
    live_server.start()
    with browser_page(browser, 1200, 900) as page, browser_page(browser, 192, 96) as player:
        violations = []  # what the Content-Security-Policy refused, as chromium logs it
        for watched in (page, player):
            watched.on("console",
                       lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        log_in(page, live_server)
        upload_images(page, live_server, tmp_path)
        preview = compose_poster(page, live_server)
        build_playlist(page, live_server)
        schedule_for_group(page, live_server)

        with live_server.session() as s:
            poster_key = f"poster:{s.scalar(select(Poster.id).where(Poster.name == 'Bến xe'))}"
        images = manifest_images(live_server, token, lambda keys: any(k.endswith(":cover") for k in keys))
        red_key = next(k for k in images if k.endswith(":cover"))
        assert images[red_key].getpixel((96, 48)) == RED  # cropped to fill the panel
        assert difference(preview, images[poster_key]) == 0  # the preview was the panel's very image
        player.goto(f"{live_server.url}/player/bx-bac-1#token={token}")
        player.wait_for_selector("body[data-state=playing]", state="attached", timeout=10000)
        assert {poster_key, red_key} <= set(seen_on(player, images, 5))  # both items of the 2 s loop

        page.goto(f"{live_server.url}/staff/takeover")
        assert "within about 8 seconds" in page.inner_text(".notice")  # polls every 2 s here
        page.select_option("#start-takeover select[name=content]", label="blue.png (320×200)")
        page.select_option("#start-takeover select[name=fit]", "cover")
        page.check("#start-takeover input[name=groups][value=stations]")
        page.fill("#start-takeover input[name=minutes]", "10")
        page.click("#start-takeover button[type=submit]")
        page.wait_for_selector("#active tr[data-override]")
        page.screenshot(path=SCREENSHOTS["takeover"], full_page=True)

        images = manifest_images(live_server, token,
                                 lambda keys: len([k for k in keys if k.endswith(":cover")]) > 1)
        blue_key = next(k for k in images if k.endswith(":cover") and k != red_key)
        taken = time.monotonic()
        while seen_on(player, images, 0.2) != [blue_key]:
            assert time.monotonic() - taken < 8, "the takeover did not reach the player within about 8 s"
        assert set(seen_on(player, images, 3)) == {blue_key}  # nothing else while it holds

        page.click("#active button.danger")
        page.wait_for_selector("#active tr[data-override]", state="detached")
        ended = time.monotonic()
        while blue_key in seen_on(player, images, 0.2):
            assert time.monotonic() - ended < 8, "the schedule did not come back within about 8 s"
        assert {poster_key, red_key} <= set(seen_on(player, images, 5))

        page.set_viewport_size({"width": 390, "height": 844})  # a phone, in the console's default language
        page.goto(f"{live_server.url}/staff/takeover?lang=vi")
        assert "Thay thế khẩn cấp" in page.inner_text("h1")
        page.screenshot(path=SCREENSHOTS["phone"], full_page=True)
    assert violations == []  # every page worked with its scripts as files only
    with live_server.session() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["login", "asset.upload", "asset.upload", "poster.save", "playlist.save", "schedule.add",
                       "override.start", "override.end"]
