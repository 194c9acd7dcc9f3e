"""A real gunicorn on a free loopback port with a temporary instance, and a real chromium driven by Playwright.

Import the fixtures into a test module (`from tests.live import browser, live_server  # noqa: F401`). The
instance is seeded and inspected in the test process through the domain functions (`live_server.session()`),
exactly as the CLI would; the server runs `signage serve` in its own process, so it can be stopped and started
again on the same port (same origin: the browser keeps its service worker and storage).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

SIGNAGE = Path(sys.executable).with_name("signage")
CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`signage serve` on 127.0.0.1:port for one instance folder; start() and stop() as often as needed."""

    def __init__(self, instance: Path, env: dict[str, str]) -> None:
        self.instance, self.port = instance, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "SIGNAGE_INSTANCE": str(instance)}
        self.proc: subprocess.Popen | None = None
        self.output = ""

    def start(self, timeout: float = 30) -> None:
        """Start the server and return once /healthz answers 200; refuses (AssertionError) a server that dies."""
        self.proc = subprocess.Popen(
            [str(SIGNAGE), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None:
                    self.output += self.proc.communicate()[0]
                    raise AssertionError(f"the server exited: {self.output}") from None
                time.sleep(0.05)
        raise AssertionError(f"the server did not answer /healthz within {timeout} s")

    def stop(self) -> None:
        """Stop the server at once (gunicorn's quick shutdown: SIGINT), as a crash or a power cut would."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.output += self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output += self.proc.communicate()[0]
        self.proc = None

    def run_clock_from(self, start: datetime) -> None:
        """Make the server's clock (every process it starts) read `start` when it starts and run on from there.

        Written as the instance's config.py, which the app factory reads: the server, its scheduler and, through
        X-Server-Time, the browser's web player then agree on an instant that does not depend on the wall clock."""
        if start.tzinfo is None:
            raise ValueError(f"got a naive start {start!r}, expected an aware datetime")
        self.instance.mkdir(parents=True, exist_ok=True)
        (self.instance / "config.py").write_text(
            "import time as _time\n"
            "from datetime import datetime as _datetime, timedelta as _timedelta\n"
            f"_START = _datetime.fromisoformat({start.isoformat()!r})\n"
            f"_WALL = {time.time()!r}\n\n\n"
            "def CLOCK():\n"
            "    return _START + _timedelta(seconds=_time.time() - _WALL)\n", encoding="utf-8")

    def app(self):
        """A Flask app on the same instance, for seeding and inspecting through the domain functions."""
        from server import create_app

        return create_app({"TESTING": True, "SECRET_KEY": "live"})

    @property
    def store(self):
        """The instance's media store (what sync_renditions writes to)."""
        from assets.store import FileStore

        return FileStore(self.instance / "media")

    @contextmanager
    def session(self):
        """A database session on the instance; commits when the block ends without error."""
        from playlists.db import upgrade
        from server.db import get_engine, get_session

        app = self.app()
        with app.app_context():
            upgrade(get_engine())
            session = get_session()
            yield session
            session.commit()
            get_engine().dispose()

    def get(self, path: str, token: str | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        """GET path from the server: (status, headers, body); HTTP errors are answers, not exceptions."""
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def live_server(tmp_path, monkeypatch):
    """A LiveServer on an empty temporary instance, not started; stopped at the end of the test.

    Players poll every 2 s here (SIGNAGE_POLL_AFTER_S), so that a change shows within seconds, and the server
    looks for new content on every poll (SIGNAGE_REVISION_CHECK_S=0), so that "within one poll" is exact."""
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(tmp_path / "instance"))
    server = LiveServer(tmp_path / "instance", {"SIGNAGE_POLL_AFTER_S": "2", "SIGNAGE_REVISION_CHECK_S": "0",
                                                "SIGNAGE_SECRET_KEY": "live"})
    yield server
    server.stop()


class _Shared:
    """One Playwright and one chromium for the whole session. Each test module that imports the `browser` fixture
    registers its own copy of it, and a second sync Playwright cannot start while the first one runs."""

    users = 0
    playwright = None
    chromium = None


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, shared by the whole session; skips when there is none."""
    if not CHROMIUM:
        pytest.skip("no chromium at /usr/bin/chromium or on PATH (apt-get install chromium); browser tests skipped")
    if _Shared.chromium is None:
        from playwright.sync_api import sync_playwright

        _Shared.playwright = sync_playwright().start()
        _Shared.chromium = _Shared.playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    _Shared.users += 1
    yield _Shared.chromium
    _Shared.users -= 1
    if not _Shared.users:
        _Shared.chromium.close()
        _Shared.playwright.stop()
        _Shared.chromium = _Shared.playwright = None


@contextmanager
def browser_page(browser, width: int, height: int):
    """A page in a fresh context (its own storage and service worker) with a viewport of width x height CSS px
    at one device pixel per CSS pixel, closed at the end."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


def png(data: bytes) -> Image.Image:
    """PNG bytes as an RGB image."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0 = identical, 255 = opposite) of two images of one size."""
    assert a.size == b.size, f"got {a.size}, expected {b.size}"
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def wait_until(page, expression: str, timeout: float = 10) -> object:
    """Evaluate expression in the page every 50 ms until it is truthy and return its value; fails after timeout s,
    showing the web player's status (window.signagePlayer) if the page has one.

    (Playwright's wait_for_function evaluates strings in a way a strict Content-Security-Policy forbids.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            status = page.evaluate("JSON.stringify(window.signagePlayer || null)")
            raise AssertionError(f"still false after {timeout} s: {expression}; player status: {status}")
        time.sleep(0.05)
