"""Screens from the console in a real chromium against a real gunicorn, in Vietnamese.

A member of staff adds a screen and reads its token and player link; a web player showing a pairing code is
approved from the styled pairing page by describing a new screen in the same form (after one mistake, said in
words), and the player then becomes that screen and gets its manifest."""

import time
from datetime import UTC, datetime

from sqlalchemy import select

from playlists import content
from playlists.models import Group
from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page, wait_until

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"


def seed(server) -> None:
    now = datetime.now(UTC)
    with server.session() as s:
        add_user(s, "binh", "staff", now, password=PASSWORD)
        add_screen(s, "bx-bac-1", "led-p10", now, name="Bến xe phía Bắc – LED", site="Bến xe phía Bắc",
                   district="TP Huế", groups=["stations"])
        s.scalar(select(Group).where(Group.name == "stations")).label_vi = "Bến xe và nhà ga"
        content.sync_renditions(s, server.store, now)


def log_in(page, server):
    page.goto(f"{server.url}/staff/login?lang=vi")
    page.fill("input[name=username]", "binh")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/")


def manifest_status(server, screen_id, token, within_s: float = 20) -> int:
    """The manifest's status once it is built: a worker answers from its previous snapshot (401, the screen is
    not in it yet) until it has loaded the new one, and 503 until the scheduler has built the manifest."""
    deadline = time.monotonic() + within_s
    while True:
        status = server.get(f"/api/v1/screens/{screen_id}/manifest", token)[0]
        if status not in (401, 503) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def test_staff_add_a_screen_and_pair_a_player_from_the_console(browser, live_server):
    seed(live_server)
    live_server.start()
    with browser_page(browser, 1280, 900) as staff, browser_page(browser, 640, 360) as player:
        log_in(staff, live_server)

        # Adding a screen: the profiles are explained, the token is shown once with the player link.
        staff.goto(f"{live_server.url}/staff/screens/new")
        assert "Bảng LED ngoài trời P10" in staff.inner_text("#add-screen")
        staff.check("input[name=profile][value=led-p10]")
        staff.fill("input[name=id]", "cho-dong-ba-led")
        staff.fill("input[name=name]", "Chợ Đông Ba – LED")
        staff.fill("input[name=site]", "Chợ Đông Ba")
        staff.fill("input[name=district]", "TP Huế")
        staff.get_by_role("checkbox", name="Bến xe và nhà ga").check()
        staff.click("#add-screen button[type=submit]")
        notice = staff.inner_text("#new-token")
        assert "Mã thiết bị của màn hình, chỉ hiện một lần này" in notice
        assert "Đã thêm màn hình cho-dong-ba-led" in staff.inner_text("h1")
        link = staff.inner_text("#player-link")
        assert link.startswith(f"{live_server.url}/player/cho-dong-ba-led#token=")
        assert manifest_status(live_server, "cho-dong-ba-led", link.split("#token=")[1]) == 200
        staff.screenshot(path="/tmp/console-screen-added.png")

        # A player without a token shows a code; staff open the pairing page it points to.
        player.goto(f"{live_server.url}/player/")
        code = wait_until(player, "document.body.dataset.pairCode")
        staff.goto(f"{live_server.url}/staff/pair?code={code}")
        assert staff.inner_text("#pair-code") == code
        assert "Ghép nối màn hình" in staff.inner_text("h1")

        # A mistake first: "a screen already in the list" without choosing one is refused in words.
        staff.click("#pair button[type=submit]")
        assert "Chưa lưu" in staff.inner_text("#pair [role=alert]")
        assert "hãy chọn màn hình trong danh sách" in staff.inner_text("#pair [role=alert]")
        assert staff.input_value("input[name=code]") == code

        # Then a new screen, described in the same form.
        staff.check("input[name=mode][value=new]")
        staff.screenshot(path="/tmp/console-pair.png", full_page=True)
        staff.check("input[name=profile][value=led-p10]")
        staff.fill("input[name=id]", "ga-hue-led")
        staff.fill("input[name=name]", "Ga Huế – LED")
        staff.fill("input[name=site]", "Ga Huế")
        staff.click("#pair button[type=submit]")
        assert "Đã duyệt: trình phát trở thành màn hình ga-hue-led" in staff.inner_text("#paired")

        # The player claims its token, becomes ga-hue-led and gets its manifest.
        player.wait_for_url(f"{live_server.url}/player/ga-hue-led", timeout=10000)
        token = player.evaluate("localStorage.getItem('signage.token.ga-hue-led')")
        assert token and manifest_status(live_server, "ga-hue-led", token) == 200

        staff.goto(f"{live_server.url}/staff/screens")
        screens = staff.inner_text("table.screens")
        assert "Ga Huế – LED" in screens and "Chợ Đông Ba – LED" in screens and "Bến xe và nhà ga" in screens
        staff.screenshot(path="/tmp/console-screens.png", full_page=True)
