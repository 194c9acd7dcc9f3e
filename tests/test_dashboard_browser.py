"""The dashboard in a real chromium against a real gunicorn: a screen that sent a heartbeat is online, and once the
server's clock has moved on past the offline threshold it is listed as offline among the screens that need
attention, in the words a person reads (Vietnamese, then English).

The server's clock is injected through the instance's config.py (as tests/live.py's run_clock_from does), plus an
offset read from a file of the instance, so that the test moves it forward without restarting the server and
without waiting. A screenshot of the dashboard is saved in /tmp for people to look at.
"""

import json
import time
import urllib.request
from datetime import UTC, datetime

from playlists import content
from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 27, 3, 7, tzinfo=UTC)  # 10:07 in Huế
SCREENSHOT = "/tmp/console-dashboard.png"


def clock_with_offset(server, start: datetime) -> None:
    """Make the server's clock read `start` when it starts, run on from there, plus the seconds in the instance's
    clock-offset file (0 until the test writes it)."""
    server.instance.mkdir(parents=True, exist_ok=True)
    offset = server.instance / "clock-offset"
    offset.write_text("0", encoding="utf-8")
    (server.instance / "config.py").write_text(
        "import time as _time\n"
        "from datetime import datetime as _datetime, timedelta as _timedelta\n"
        f"_START = _datetime.fromisoformat({start.isoformat()!r})\n"
        f"_WALL = {time.time()!r}\n"
        f"_OFFSET = {str(offset)!r}\n\n\n"
        "def CLOCK():\n"
        "    with open(_OFFSET, encoding='utf-8') as fh:\n"
        "        extra = float(fh.read() or 0)\n"
        "    return _START + _timedelta(seconds=_time.time() - _WALL + extra)\n", encoding="utf-8")


def heartbeat(server, screen_id: str, token: str) -> None:
    request = urllib.request.Request(f"{server.url}/api/v1/screens/{screen_id}/heartbeat", method="POST",
                                     data=json.dumps({"version": "1.0.0"}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def log_in(page, server) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("input[name=username]", "binh")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/staff/")


def count(page, status: str) -> str:
    return page.inner_text(f'[data-count="{status}"] .big')


def test_a_screen_that_fell_silent_shows_offline_on_the_dashboard(browser, live_server):
    clock_with_offset(live_server, START)
    with live_server.session() as s:
        add_user(s, "binh", "staff", START, password=PASSWORD)
        token = add_screen(s, "bx-bac-1", "led-p10", START, name="Bến xe phía Bắc – cổng", site="Bến xe phía Bắc",
                           district="TP Huế", groups=["stations"])
        add_screen(s, "ga-hue-1", "led-p10", START, name="Ga Huế – sân ga", site="Ga Huế", district="TP Huế",
                   groups=["stations"])
        content.sync_renditions(s, live_server.store, START)
    live_server.start()
    heartbeat(live_server, "bx-bac-1", token)

    with browser_page(browser, 1200, 900) as page:
        log_in(page, live_server)  # Vietnamese: the console's default language
        assert page.inner_text("h1") == "Chiến dịch có đang phát không?"
        assert (count(page, "online"), count(page, "offline"), count(page, "never")) == ("1", "0", "1")
        assert "đang hoạt động" in page.inner_text('[data-count="online"]')
        attention = page.inner_text("#attention")
        assert "Ga Huế – sân ga" in attention and "chưa từng kết nối" in attention
        assert "Bến xe phía Bắc – cổng" not in attention
        stations = page.inner_text('[data-group="stations"]')  # nothing scheduled: both show the default poster
        assert "Số màn hình: 2" in stations and "Áp phích mặc định" in stations

        # Ten minutes later by the server's clock, without another heartbeat: offline since 10:12 (five minutes
        # of silence), last heard from at 10:07.
        (live_server.instance / "clock-offset").write_text("600", encoding="utf-8")
        page.reload()
        assert (count(page, "online"), count(page, "offline")) == ("0", "1")
        row = page.query_selector('#attention tr[data-screen="bx-bac-1"]')
        assert row is not None and row.get_attribute("data-status") == "offline"
        words = row.inner_text()
        assert "Bến xe phía Bắc – cổng" in words and "Bến xe phía Bắc, TP Huế" in words
        assert "mất kết nối" in words and "10:12 ngày 27/11/2026" in words and "10:07 ngày 27/11/2026" in words
        # Offline screens come first, and each leads to its preview.
        assert page.eval_on_selector_all("#attention tbody tr", "rs => rs.map(r => r.dataset.screen)") == \
            ["bx-bac-1", "ga-hue-1"]
        assert row.query_selector("a").get_attribute("href") == "/preview/screens/bx-bac-1"
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.goto(f"{live_server.url}/staff/?lang=en")
        assert page.inner_text("h1") == "Is the campaign on air?"
        words = page.inner_text('#attention tr[data-screen="bx-bac-1"]')
        assert "offline" in words and "10:12 on 27/11/2026" in words
        assert "Need attention" in page.inner_text("#screens")
