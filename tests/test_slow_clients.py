"""Slow and many clients against a real `signage serve`: 1,000 connections trickling their headers or bodies a
byte at a time do not stop /healthz or a player's manifest poll; a slow upload does not block others and still
goes through; a client that stalls in its headers or body is dropped after the timeout (HEADER_TIMEOUT_S and
BODY_TIMEOUT_S, short here so that the test takes seconds).

Regression: under gthread workers (before issue 13), a few dozen such clients held every thread and every answer
waited a minute."""

from __future__ import annotations

import errno
import io
import re
import resource
import selectors
import socket
import statistics
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from playlists import content
from playlists.screens import add_screen
from playlists.users import add_user, create_api_token
from server.db import get_store
from tests.live import LiveServer

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SLOW = 1000
TIMEOUT_S = 4


def seeded_server(tmp_path, env: dict[str, str]) -> tuple[LiveServer, str, str]:
    """A live server on a seeded instance with env; returns (server, device token, API token), not started."""
    live = LiveServer(tmp_path / "instance", {"SIGNAGE_SECRET_KEY": "live", **env})
    with live.session() as session:
        device = add_screen(session, "hue-bx-phia-bac", "tv-1080p", NOW)
        add_user(session, "binh", "staff", NOW, password="correct horse battery")
        api = create_api_token(session, "binh", "slow clients", NOW)
        poster = content.add_poster(session, {"lang": "vi"}, NOW)
        playlist = content.add_playlist(session, "p", [(f"poster:{poster.id}", 10)])
        content.add_schedule(session, playlist.id, everywhere=True)
        content.sync_renditions(session, get_store(), NOW)
    return live, device, api


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A seeded live server whose header and body timeouts are TIMEOUT_S; yields (server, device token, API token)."""
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(tmp_path / "instance"))
    live, device, api = seeded_server(tmp_path, {"SIGNAGE_HEADER_TIMEOUT_S": str(TIMEOUT_S),
                                                 "SIGNAGE_BODY_TIMEOUT_S": str(TIMEOUT_S)})
    live.start()
    yield live, device, api
    live.stop()


@pytest.fixture(autouse=True)
def _enough_descriptors():
    """This process opens 1,000 sockets at once: raise its soft descriptor limit if it is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SLOW + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"RLIMIT_NOFILE hard limit is {hard}, expected at least {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def timed_get(live: LiveServer, path: str, token: str | None = None, timeout: float = 5) -> tuple[int, float]:
    """(status, seconds) of a GET on a fresh connection; gives up after timeout s (an OSError fails the test)."""
    request = urllib.request.Request(live.url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    start = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return response.status, time.monotonic() - start


def open_slow(port: int, count: int, first: bytes) -> list[socket.socket]:
    """count non-blocking connections to the server, each having sent `first` (an unfinished request)."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    with selectors.DefaultSelector() as sel:
        for s in socks:
            sel.register(s, selectors.EVENT_WRITE)
        pending, deadline = set(socks), time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                sel.unregister(key.fileobj)
                pending.discard(key.fileobj)
                key.fileobj.send(first)
    assert not pending, f"{len(pending)} of {count} connections did not open"
    return socks


def trickle(socks: list[socket.socket], byte: bytes = b"a") -> int:
    """Send one more byte on each connection; returns how many the server has closed (the send failed)."""
    closed = 0
    for s in socks:
        try:
            s.send(byte)
        except OSError as exc:
            assert exc.errno in (errno.EPIPE, errno.ECONNRESET), exc
            closed += 1
    return closed


def closed_by_server(s: socket.socket) -> bool:
    """True when the server has closed the connection (EOF or reset), after reading any answer it sent."""
    try:
        while data := s.recv(65536):
            del data
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    return True


def wait_closed(socks: list[socket.socket], within: float) -> float:
    """Seconds until the server has closed every connection; fails after `within` seconds."""
    start, open_ = time.monotonic(), list(socks)
    while open_ and time.monotonic() - start < within:
        open_ = [s for s in open_ if not closed_by_server(s)]
        time.sleep(0.05)
    assert not open_, f"{len(open_)} of {len(socks)} stalled connections still open after {within} s"
    return time.monotonic() - start


def test_a_thousand_slow_clients_do_not_stop_health_or_polls_and_are_dropped_after_the_timeout(server):
    live, device, api = server
    manifest = "/api/v1/screens/hue-bx-phia-bac/manifest"
    assert timed_get(live, manifest, device)[0] == 200  # built once, as after any start
    opened = time.monotonic()
    headers = open_slow(live.port, SLOW // 2, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    bodies = open_slow(live.port, SLOW // 2, (
        f"POST /api/v1/assets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000\r\n\r\n--x\r\n").encode())
    try:
        took = {"/healthz": [], "manifest": []}
        for _ in range(3):
            assert trickle(headers) == 0 and trickle(bodies) == 0
            status, seconds = timed_get(live, "/healthz")
            assert status == 200
            took["/healthz"].append(seconds)
            status, seconds = timed_get(live, manifest, device)
            assert status == 200
            took["manifest"].append(seconds)
        assert time.monotonic() - opened < TIMEOUT_S, "the load did not stay open long enough to mean anything"
        print({k: f"median {statistics.median(v) * 1000:.1f} ms, max {max(v) * 1000:.1f} ms" for k, v in took.items()})
        assert max(took["/healthz"]) < 1 and max(took["manifest"]) < 1, took

        # Headers still unfinished TIMEOUT_S after the connection opened: dropped, however often a byte came.
        # Bodies that go on arriving are kept (the body timeout is per read, for slow but steady uploads).
        while time.monotonic() - opened < TIMEOUT_S + 1.5:
            trickle(headers)
            assert trickle(bodies) == 0
            time.sleep(0.25)
        assert wait_closed(headers, within=0.5)
        # A body that stops coming is dropped TIMEOUT_S after its last byte.
        stalled = time.monotonic()
        wait_closed(bodies, within=TIMEOUT_S + 1.5)
        assert time.monotonic() - stalled >= TIMEOUT_S - 0.5
        assert timed_get(live, "/healthz")[0] == 200
    finally:
        for s in headers + bodies:
            s.close()


def test_a_slow_upload_does_not_block_others_and_a_stalled_request_is_dropped_but_not_an_idle_one(server):
    live, device, api = server
    manifest = "/api/v1/screens/hue-bx-phia-bac/manifest"
    assert timed_get(live, manifest, device)[0] == 200  # built once, as after any start
    image = Image.effect_noise((200, 120), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    body = (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + out.getvalue() + b"\r\n--x--\r\n")
    answer: dict[str, bytes] = {}

    def upload() -> None:
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
            s.sendall(f"POST /api/v1/assets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api}\r\n"
                      f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {len(body)}\r\n"
                      "Connection: close\r\n\r\n".encode())
            # About 2.5 s in all, each pause shorter than the body timeout: slow, but steady.
            pieces = [body[i:i + len(body) // 25 + 1] for i in range(0, len(body), len(body) // 25 + 1)]
            for piece in pieces:
                s.sendall(piece)
                time.sleep(0.1)
            answer["raw"] = b"".join(iter(lambda: s.recv(65536), b""))

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(0.3)
    during = [timed_get(live, "/healthz"), timed_get(live, manifest, device)]
    assert thread.is_alive(), "the upload finished before the other requests: the test proved nothing"
    thread.join(15)
    assert all(status == 200 and seconds < 1 for status, seconds in during), during
    assert answer["raw"].startswith(b"HTTP/1.1 201"), answer["raw"][:300]
    assert b'"width":200' in answer["raw"].replace(b" ", b"")

    # One client stalling in its headers: closed, with no answer, after the header timeout.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
        start = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half")
        assert s.recv(1024) == b""  # closed by the server, no answer
        took = time.monotonic() - start
    assert TIMEOUT_S - 0.5 <= took <= TIMEOUT_S + 1.5, took
    # A kept-alive connection may then idle longer than the header timeout between requests.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s, s.makefile("rb") as answers:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(answers).startswith(b"HTTP/1.1 200")
        time.sleep(TIMEOUT_S + 0.5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(answers).startswith(b"HTTP/1.1 200")


def read_answer(answers) -> bytes:
    """One HTTP/1.1 answer with a Content-Length from a socket's file: its status line."""
    status, length = answers.readline(), 0
    while (line := answers.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    answers.read(length)
    return status


def test_workers_are_replaced_after_max_requests_and_polls_go_on(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(tmp_path / "instance"))
    live, device, _ = seeded_server(tmp_path, {"SIGNAGE_WORKER_MAX_REQUESTS": "10",
                                               "SIGNAGE_WORKER_MAX_REQUESTS_JITTER": "0"})
    live.start()
    children = Path(f"/proc/{live.proc.pid}/task/{live.proc.pid}/children")
    first = set(children.read_text().split())
    # A player's kept-alive connection, idle between polls while the worker is recycled.
    idle = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    try:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        with idle.makefile("rb") as answers:
            assert read_answer(answers).startswith(b"HTTP/1.1 200")
        replaced, deadline = set(), time.monotonic() + 60
        while not replaced and time.monotonic() < deadline:
            # Polls go on being answered, the one that waits for the replacement included.
            assert timed_get(live, "/api/v1/screens/hue-bx-phia-bac/manifest", device, timeout=30)[0] == 200
            replaced = first - set(children.read_text().split())
            time.sleep(0.05)
        assert timed_get(live, "/api/v1/screens/hue-bx-phia-bac/manifest", device, timeout=30)[0] == 200
    finally:
        idle.close()
        live.stop()
    assert replaced, f"the worker was not replaced after 10 requests: {live.output[-2000:]}"
    # The old worker left at once, not after the graceful timeout (10 s) that the idle kept-alive connection would
    # have held it for (gunicorn's log has whole seconds).
    (old,) = replaced
    told = re.search(rf"\[(.{{25}})\] \[{old}\] \[INFO\] Autorestarting worker after current request", live.output)
    left = re.search(rf"\[(.{{25}})\] \[{old}\] \[INFO\] Worker exiting", live.output)
    assert told and left, live.output[-2000:]
    stopping = datetime.fromisoformat(left[1].replace(" +0000", "+00:00")) - datetime.fromisoformat(
        told[1].replace(" +0000", "+00:00"))
    assert stopping.total_seconds() <= 3, live.output[-2000:]
