"""Remake the README's screenshots of the console (`make screenshots`): the demo network on a real gunicorn in a
temporary instance, most screens reporting, one taken over, seen by an admin in Chromium.

The server's clock is fixed to a weekday morning in Huế, so the pictures do not depend on when they are made.
Writes docs/screenshots/<page>-<lang>.png.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from playlists import content, demo  # noqa: E402
from playlists.users import set_password, user_named  # noqa: E402
from tests.live import CHROMIUM, LiveServer  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
START = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 09:30 on a Friday in Huế
PASSWORD = "screenshots only"
SILENT = {"bus-tuyen-1-strip", "hue-trung-tam-led"}  # screens that never report, so the dashboard has something to say
PAGES = {"dashboard": "/staff/", "screens": "/staff/screens"}


def heartbeat(server: LiveServer, screen_id: str, token: str) -> None:
    request = urllib.request.Request(
        f"{server.url}/api/v1/screens/{screen_id}/heartbeat", method="POST",
        data=json.dumps({"version": "1.0.1"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        os.environ["SIGNAGE_INSTANCE"] = str(instance)  # the seeding below and the server use the same instance
        server = LiveServer(instance, {"SIGNAGE_POLL_AFTER_S": "30"})
        server.run_clock_from(START)
        with server.session() as session:
            _password, tokens = demo.seed(session, server.store, START)
            set_password(session, user_named(session, demo.DEMO_ADMIN), PASSWORD, START)
            # A takeover of the hotels' screens for the morning, as the dashboard shows one in force.
            reminder = content.add_poster(session, {"template": "reminder", "lang": "en"}, START,
                                          name="Reminder for visitors")
            content.add_override(session, f"poster:{reminder.id}", start=START, end=START + timedelta(hours=2),
                                 name="Visitors: install Bluezone today", groups=["hotels"])
            content.sync_renditions(session, server.store, START)
        server.start()
        try:
            for screen_id, token in tokens.items():
                if screen_id not in SILENT:
                    heartbeat(server, screen_id, token)
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                context = chromium.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
                page = context.new_page()
                page.goto(f"{server.url}/staff/login")
                page.fill("input[name=username]", demo.DEMO_ADMIN)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{server.url}/staff/")
                for lang in ("vi", "en"):
                    for name, path in PAGES.items():
                        page.goto(f"{server.url}{path}?lang={lang}")
                        page.wait_for_load_state("networkidle")
                        target = OUT / f"{name}-{lang}.png"
                        shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
                        # 256 colours are plenty for a page of flat colours and text: a third of the bytes.
                        shot.quantize(256, dither=Image.Dither.NONE).save(target, optimize=True)
                        print(target.relative_to(ROOT))
                chromium.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
