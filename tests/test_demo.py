"""The demo network seeded on an empty instance, and `signage serve` running it with its scheduler."""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from playlists.db import upgrade
from playlists.demo import SCREENS, is_empty, seed
from playlists.models import Screen
from playlists.network import load_network
from playlists.resolver import now as resolve_now
from playlists.users import authenticate
from server import create_app
from server.db import get_engine, get_session, get_store
from tests.helpers import decoded_urls

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 3, 7, tzinfo=UTC)  # 10:07 in Huế, between two reminder slots


def test_the_demo_network_has_every_kind_of_screen_and_a_reminder(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        assert is_empty(session)
        password, tokens = seed(session, get_store(), NOW)
        session.commit()
        assert not is_empty(session)
        assert set(tokens) == {s.id for s in SCREENS}
        assert authenticate(session, "admin", password) is not None
        profiles = set(session.scalars(select(Screen.profile)))
        assert {"led-p10", "tv-1080p", "kiosk-portrait", "led-billboard", "lobby-4k", "bus-strip"} <= profiles
        net = load_network(session)
        for screen in net.screens.values():
            rules = net.rules_for(screen)
            assert len(rules.reminders) == 1 and rules.reminders[0].every_min == 15
            segment = resolve_now(rules, NOW)
            assert segment.source.startswith("schedule:"), (screen.id, segment.source)
            media = net.media_for(segment.item, screen.profile)
            with get_store().open(media.sha256, media.ext) as fh, Image.open(fh) as image:
                assert image.size == (media.width, media.height)
                if screen.profile == "tv-1080p":
                    assert decoded_urls(image) == ["https://bluezone.gov.vn"]
        reminder = resolve_now(net.rules_for(net.screens["ga-hue-tv"]), NOW.replace(minute=15, second=5))
        assert reminder.source.startswith("reminder:")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_seeds_prints_the_addresses_runs_the_scheduler_and_stops_cleanly(instance, tmp_path):
    port = _free_port()
    out = tmp_path / "serve.out"
    env = {**os.environ, "SIGNAGE_INSTANCE": str(instance)}
    with out.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--workers", "1"],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "scheduler running" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.2)
        text = out.read_text()
        assert f"console: http://127.0.0.1:{port}/staff/" in text and "/preview/" in text
        players = re.findall(rf"http://127.0.0.1:{port}/player/([\w.-]+)#token=(\S+)", text)
        assert {p for p, _ in players} == {s.id for s in SCREENS}
        lines = text.splitlines()
        password = lines[lines.index(next(line for line in lines if "shown once" in line)) + 1]
        assert len(password) >= 16
        # Kept for the admin in an owner-only file of the instance, until the password is changed.
        kept = instance / "first-start-secrets.txt"
        assert f"kept (owner-only) in {kept}" in text
        assert oct(kept.stat().st_mode & 0o777) == oct(0o600) and password in kept.read_text(encoding="utf-8")
        screen, token = players[1]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/screens/{screen}/now.png",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert Image.open(io.BytesIO(r.read())).size == (1920, 1080)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    time.sleep(0.5)
    scheduler = subprocess.run(["pgrep", "-f", f"server scheduler.*{instance}"], capture_output=True, text=True)
    assert scheduler.stdout == ""  # no scheduler left behind
