"""Faults: a gunicorn worker killed (SIGKILL) in the middle of uploads, poster saves and proof-of-play batches,
and the whole server restarted under load. Afterwards every acknowledged request is kept, no stored file is
partial, the database is consistent, the server answers, and players carry on by themselves."""

import http.client
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text

from assets.store import FileStore
from playlists import content
from playlists.db import upgrade
from playlists.models import Media, Play, Poster, Rendition
from playlists.screens import add_screen
from playlists.users import add_user, create_api_token
from server import create_app
from server.db import get_engine, get_session, get_store
from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


class Server:
    """`signage serve` with one worker and no scheduler, so the worker is easy to find and kill."""

    def __init__(self, instance: Path, tmp_path: Path) -> None:
        self.instance, self.port, self.log = instance, free_port(), tmp_path / "serve.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        env = {**os.environ, "SIGNAGE_INSTANCE": str(self.instance), "SIGNAGE_REVISION_CHECK_S": "0"}
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port), "--workers", "1",
                 "--no-scheduler", "--no-demo"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if call(self.url + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no /healthz: {self.log.read_text()[-2000:]}")

    def workers(self) -> list[int]:
        return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def call(url, method="GET", body=None, headers=None, timeout=10):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def multipart(data: bytes, name: str) -> tuple[bytes, str]:
    boundary = f"b{random.getrandbits(64):x}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def random_png(seed: int) -> bytes:
    rnd = random.Random(seed)
    image = Image.new("RGB", (320, 240), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    image.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)) for _ in range(320 * 240)])
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def seeded(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        device = add_screen(session, "bx-bac-1", "led-p10", NOW)
        add_user(session, "binh", "staff", NOW, password="correct horse battery")
        api = create_api_token(session, "binh", "faults", NOW)
        poster = content.add_poster(session, {"lang": "vi"}, NOW)
        playlist = content.add_playlist(session, "p", [(f"poster:{poster.id}", 10)])
        content.add_schedule(session, playlist.id, everywhere=True)
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
        get_engine().dispose()
    return {"device": device, "api": api, "poster": poster.id}


class Load:
    """Threads sending one kind of request over and over, remembering what the server acknowledged."""

    def __init__(self) -> None:
        self.acked: dict[str, list] = {"upload": [], "poster": [], "plays": []}
        self.errors = 0
        self.stop = threading.Event()

    def run(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=self._loop, args=(target, *args), daemon=True)
        thread.start()
        return thread

    def _loop(self, target, *args) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                target(n, *args)
            except (OSError, http.client.HTTPException):
                self.errors += 1  # the worker died under this request: not acknowledged, so not promised
                time.sleep(0.05)


def test_killing_workers_mid_request_loses_nothing_acknowledged(seeded, instance, tmp_path):
    server = Server(instance, tmp_path)
    server.start()
    load = Load()
    staff = {"Authorization": f"Bearer {seeded['api']}"}
    device = {"Authorization": f"Bearer {seeded['device']}", "Content-Type": "application/json"}

    def upload(n, tag):
        body, kind = multipart(random_png(hash((tag, n)) & 0xFFFFFFFF), f"photo-{tag}-{n}.png")
        status, answer = call(server.url + "/api/v1/assets", "POST", body, {**staff, "Content-Type": kind})
        if status in (200, 201):
            load.acked["upload"].append(json.loads(answer)["sha256"])

    def save_poster(n):
        spec = {"lang": "vi", "headline": f"Cài Bluezone {n}"}
        status, answer = call(server.url + f"/api/v1/posters/{seeded['poster']}", "PUT",
                              json.dumps({"spec": spec}).encode(), {**staff, "Content-Type": "application/json"})
        if status == 200:
            load.acked["poster"].append((n, json.loads(answer)["renditions"][0]["url"]))

    # Plays that could have happened (the live server runs on the real clock): the 10 s loop of poster 1, a day ago.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    base -= timedelta(seconds=base.second % 10)

    def plays(n):
        batch = [{"id": f"k{n}-{i}", "item": "poster:1", "duration_s": 10,
                  "started_at": (base + timedelta(seconds=10 * (50 * n + i))).isoformat()} for i in range(50)]
        status, answer = call(server.url + "/api/v1/screens/bx-bac-1/plays", "POST",
                              json.dumps({"plays": batch}).encode(), device)
        if status == 202:  # a refused record is not promised (both threads send the same ids: duplicates)
            refused = {rid for ids in json.loads(answer)["refused_ids"].values() for rid in ids}
            load.acked["plays"].extend(r["id"] for r in batch if r["id"] not in refused)

    threads = [load.run(upload, "a"), load.run(upload, "b"), load.run(save_poster), load.run(plays),
               load.run(plays)]
    try:
        kills = 0
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(random.uniform(0.3, 0.8))
            for pid in server.workers():
                os.kill(pid, signal.SIGKILL)
                kills += 1
            server.wait_healthy()  # the master starts a new worker
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert kills >= 8 and load.errors > 0  # requests really were cut
    assert all(load.acked.values()), load.acked  # and others went through
    server.wait_healthy()
    assert call(server.url + "/healthz")[0] == 200
    server.stop()
    _check_consistent(instance, load, seeded)


def _check_consistent(instance: Path, load: Load, seeded: dict) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    store = FileStore(instance / "media")
    with app.app_context():
        session, engine = get_session(), get_engine()
        if engine.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
        media = {m.sha256: m for m in session.scalars(select(Media))}
        # Every acknowledged upload is recorded and its file is whole.
        assert set(load.acked["upload"]) <= set(media)
        # Every acknowledged poster save is the poster's state or was replaced by a later save.
        poster = session.get(Poster, seeded["poster"])
        last = max(n for n, _ in load.acked["poster"])
        assert int(json.loads(poster.spec_json)["headline"].split()[-1]) >= last
        assert session.scalar(select(Rendition).where(Rendition.content == f"poster:{seeded['poster']}"))
        # Every acknowledged play is stored once.
        stored = set(session.scalars(select(Play.record_id)))
        assert set(load.acked["plays"]) <= stored
        # Every file under its final name is complete: its bytes hash to its name. Temporary files of killed
        # workers carry a hidden .incoming- name and are never served.
        for path in (instance / "media").rglob("*"):
            if path.is_file() and not path.name.startswith(".incoming-"):
                sha, ext = path.stem, path.suffix[1:]
                assert store.verify(sha, ext), f"partial or changed file {path}"
        for sha, row in media.items():
            assert store.exists(sha, row.ext), f"media row {sha} without its file"
    engine.dispose()  # after the app context has closed its session, so no connection is left open


def test_players_recover_by_themselves_when_the_server_restarts_under_load(seeded, instance, tmp_path):
    server = Server(instance, tmp_path)
    server.start()
    url = f"{server.url}/api/v1/screens/bx-bac-1/manifest"
    headers = {"Authorization": f"Bearer {seeded['device']}"}
    answers: list[tuple[float, int]] = []
    problems: list[str] = []
    stop = threading.Event()

    def player():
        # What a player does: poll, and on failure wait a little and poll again, forever.
        etag = None
        while not stop.is_set():
            try:
                status, _ = call(url, headers={**headers, **({"If-None-Match": etag} if etag else {})}, timeout=3)
                if status == 200 and etag is None:
                    etag = "*"
                answers.append((time.monotonic(), status))
            except (OSError, http.client.HTTPException) as exc:
                answers.append((time.monotonic(), 0))
                problems.append(repr(exc))
            time.sleep(0.05)

    threads = [threading.Thread(target=player, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while sum(1 for _, status in answers if status in (200, 304)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)  # the first poll builds the manifest: let every player get going first
    stopping_at = time.monotonic()
    server.stop()
    down_at = time.monotonic()
    time.sleep(1.0)
    server.start()
    up_at = time.monotonic()
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    server.stop()
    before = [s for t, s in answers if t < stopping_at]
    during = [s for t, s in answers if down_at + 0.2 < t < up_at - 0.2]
    after = [s for t, s in answers if t > up_at + 0.5]
    assert before and set(before) <= {200, 304}, problems[:3]
    assert during and set(during) == {0}  # really down: connections refused
    assert after and set(after) <= {200, 304}  # every player back, nobody touched them
