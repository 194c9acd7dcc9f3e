"""An operator in a real chromium against a real gunicorn: log in, open a station, see its day and its state.

Screenshots of the screen page and of the monitoring dashboard are saved in /tmp for people to look at.
"""

import json
import urllib.request
from datetime import UTC, datetime, time

from playlists import content
from playlists.screens import add_screen
from playlists.users import add_user
from tests import live
from tests.live import browser_page

browser, live_server = live.browser, live.live_server

PASSWORD = "correct horse battery"
SCREENSHOTS = {"preview": "/tmp/preview-station-screen.png", "dashboard": "/tmp/monitoring-dashboard.png"}
NORTH = "Bến xe phía Bắc"
# 10:00 in Huế, inside the stations' 05:00-23:00 schedule whatever the hour the suite runs at.
MORNING = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def test_an_operator_opens_a_station_and_sees_the_timeline_and_the_screens_state(browser, live_server):
    now = MORNING
    live_server.run_clock_from(now)
    with live_server.session() as session:
        tokens = {sid: add_screen(session, sid, "tv-1080p", now, name=name, site=site, district="TP Huế",
                                  groups=["stations"])
                  for sid, name, site in (("bx-bac-1", "Sảnh chờ", NORTH), ("bx-bac-2", "Cổng ra", NORTH),
                                          ("bx-nam-1", "Sảnh Nam", "Bến xe phía Nam"))}
        a = content.add_poster(session, {"lang": "vi"}, now, name="Cài Bluezone")
        r = content.add_poster(session, {"template": "reminder", "lang": "en"}, now, name="Reminder (EN)")
        playlist = content.add_playlist(session, "stations", [(f"poster:{a.id}", 15)])
        content.add_schedule(session, playlist.id, name="Bến xe", groups=["stations"], start_time=time(5),
                             end_time=time(23))
        content.add_reminder(session, f"poster:{r.id}", name="Nhắc 15 phút", duration_s=20, every_min=15,
                             everywhere=True)
        content.sync_renditions(session, live_server.store, now)
        add_user(session, "chi", "operator", now, password=PASSWORD, sites=[NORTH])
    live_server.start()
    # One screen of the station reports in; the other never has.
    request = urllib.request.Request(f"{live_server.url}/api/v1/screens/bx-bac-1/heartbeat", method="POST",
                                     data=json.dumps({"version": "1.0.0", "item": f"poster:{a.id}"}).encode(),
                                     headers={"Authorization": f"Bearer {tokens['bx-bac-1']}",
                                              "Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 204

    with browser_page(browser, 1280, 1100) as page:
        violations = []  # what the Content-Security-Policy refused, as chromium logs it
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/preview/?lang=en")
        page.fill("input[name=username]", "chi")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # The login page's own address holds "/preview/" in its next=, so wait for the preview's content instead.
        page.wait_for_url(lambda url: "/preview/" in url and "/staff/login" not in url)
        assert page.locator("h3").count() >= 1, page.content()
        assert page.locator("h3", has_text=NORTH).count() == 1
        assert page.get_by_text("Sảnh Nam").count() == 0  # another station's screen
        page.click("text=Sảnh chờ")
        page.wait_for_url("**/preview/screens/bx-bac-1")
        assert page.locator(".timeline .run-schedule").count() >= 1
        assert page.locator(".timeline .run-reminder").count() >= 60  # every 15 minutes from 05:00 to 23:00 and beyond
        assert page.locator(".state-detail [data-state]").first.get_attribute("data-state") == "online"
        # The timeline's positions are style attributes, which the policy allows (scripts it does not).
        marker = page.locator(".timeline .marker").evaluate("e => e.offsetLeft / e.parentElement.clientWidth")
        assert 0.3 < marker < 0.6  # 10:00 of a day drawn from midnight
        image = page.locator("#now-image")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 1920
        page.screenshot(path=SCREENSHOTS["preview"], full_page=True)

        # The web player in preview mode, opened with the operator's session only (no device token).
        page.goto(f"{live_server.url}/player/bx-bac-1?preview=1")
        live.wait_until(page, "window.signagePlayer && window.signagePlayer.item !== null", timeout=20)
        shown = page.evaluate("window.signagePlayer.item")
        assert shown in (f"poster:{a.id}", f"poster:{r.id}")
        kept = page.evaluate("[...Object.keys(localStorage), ...Object.keys(sessionStorage)]")
        assert not [key for key in kept if "token" in key]  # no device token anywhere

        page.goto(f"{live_server.url}/monitoring/")
        assert page.locator("table.screens-state tbody tr").nth(1).inner_text().count("1.0.0") == 1  # no preview beat
        rows = page.locator("table.screens-state tbody tr")
        assert rows.count() == 2
        # The screen that never reported comes first; the one that did is online.
        assert rows.nth(0).get_attribute("data-screen") == "bx-bac-2"
        assert rows.nth(1).locator("[data-state]").get_attribute("data-state") == "online"
        page.screenshot(path=SCREENSHOTS["dashboard"], full_page=True)
    assert violations == []
