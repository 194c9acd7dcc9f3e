"""make bench-poll: 10,000 screens polling their manifest, against a bare Flask app on the same gunicorn settings.

Seeds a temporary instance (10,000 screens in 20 district groups on 4 kinds of screen, two playlists, a
reminder every 15 minutes), starts `signage serve` and the bare app on loopback, and drives both with wrk
(Debian's package), screens taken in turn, each request with its own device token:
  - throughput: as fast as wrk can go, for the bare app, the 304 poll (If-None-Match current) and the full
    200 manifest (gzip, as browsers ask); medians of interleaved rounds, and the ratio to the bare app;
  - latency at about 1,000 requests a second (each connection paced by wrk), p50 and p99;
  - resident memory of each gunicorn worker afterwards.
Nothing leaves loopback; everything is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
PROFILES = ("led-p10", "tv-1080p", "kiosk-portrait", "bus-strip")
GROUPS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(instance: Path, screens: int) -> list[tuple[str, str, str]]:
    """Create the network; returns (screen id, token, group) for every screen."""
    os.environ["SIGNAGE_INSTANCE"] = str(instance)
    from playlists import content
    from playlists.db import upgrade
    from playlists.screens import add_screen
    from server import create_app
    from server.db import get_engine, get_session, get_store

    now = datetime.now(UTC)
    app = create_app()
    out = []
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        for i in range(screens):
            sid, group = f"s{i:05d}", f"d{i % GROUPS:02d}"
            token = add_screen(session, sid, PROFILES[i % len(PROFILES)], now, groups=[group])
            out.append((sid, token, group))
        session.commit()
        vi = f"poster:{content.add_poster(session, {'lang': 'vi'}, now).id}"
        en = f"poster:{content.add_poster(session, {'lang': 'en'}, now).id}"
        rem = f"poster:{content.add_poster(session, {'template': 'reminder', 'lang': 'vi-en'}, now).id}"
        day = content.add_playlist(session, "day", [(vi, 15), (en, 15)])
        evening = content.add_playlist(session, "evening", [(en, 20), (vi, 10)])
        half = [f"d{g:02d}" for g in range(GROUPS // 2)]
        content.add_schedule(session, day.id, groups=half, start_time=dtime(6), end_time=dtime(18))
        content.add_schedule(session, evening.id, groups=[f"d{g:02d}" for g in range(GROUPS // 2, GROUPS)],
                             start_time=dtime(6), end_time=dtime(22))
        content.add_reminder(session, rem, duration_s=20, every_min=15, everywhere=True)
        content.sync_renditions(session, get_store(), now)
        session.commit()
        get_engine().dispose()
    return out


def start(cmd: list[str], port: int, env: dict, log: Path | None = None) -> subprocess.Popen:
    """Start a server and wait for its port. Its stderr goes to `log` (a temporary file by default), never to a
    pipe nobody reads: a server that logs more than a pipe holds would stall on its next line."""
    if log is None:
        log = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, start_new_session=True)
    proc.log = log
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {log.read_text(errors='replace')[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def etags(port: int, screens: list[tuple[str, str, str]]) -> tuple[dict[str, str], list[int]]:
    """The current gzip ETag of every screen, fetching one manifest per (group, profile): those share one.

    Also returns the gzip sizes of those manifests.
    """
    by_key: dict[tuple, str] = {}
    sizes, per_screen = [], {}
    for i, (sid, token, group) in enumerate(screens):
        key = (group, PROFILES[i % len(PROFILES)])
        if key not in by_key:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/screens/{sid}/manifest", headers={
                "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
            with urllib.request.urlopen(req, timeout=30) as r:
                by_key[key] = r.headers["ETag"]
                sizes.append(len(r.read()))
        per_screen[sid] = by_key[key]
    return per_screen, sizes


def wrk(port: int, mode: str, targets: Path, seconds: int, connections: int, delay_ms: int = 0) -> dict:
    env = {**os.environ, "MODE": mode, "TARGETS": str(targets), "DELAY_MS": str(delay_ms)}
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                           "-s", str(HERE / "poll.lua"), f"http://127.0.0.1:{port}"],
                          env=env, capture_output=True, text=True)
    out = done.stdout
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{out}\n{done.stderr}")
    fields = {}
    for line in out.splitlines():
        if line.startswith("RESULT"):
            n, p50, p99, duration, size = line.split()[1:]
            fields.update(requests=int(n), p50=float(p50), p99=float(p99), rps=int(n) / float(duration),
                          bytes_per_response=int(size) / max(1, int(n)))
        elif line.startswith("UNEXPECTED"):
            fields["unexpected"] = int(line.split()[1])
    if "rps" not in fields:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    # A 304 is headers only; a body on the 304 run means the ETags did not match.
    if mode == "304" and fields["bytes_per_response"] > 1000:
        fields["unexpected"] += fields["requests"]
    return fields


def worker_rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5, help="length of each throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench-poll does it)")

    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        tmp = Path(tmp)
        t0 = time.monotonic()
        screens = seed(tmp / "instance", args.screens)
        print(f"seeded {len(screens)} screens in {time.monotonic() - t0:.1f} s", flush=True)
        env = {**os.environ, "SIGNAGE_INSTANCE": str(tmp / "instance")}
        app_port, bare_port = free_port(), free_port()
        server = start([str(BIN / "signage"), "serve", "--port", str(app_port), "--workers", str(args.workers),
                        "--no-scheduler"],
                       app_port, env)
        bare = start([sys.executable, str(HERE / "bare_app.py"), str(bare_port), str(args.workers)], bare_port, env)
        try:
            tags, sizes = etags(app_port, screens)
            targets = tmp / "targets.tsv"
            targets.write_text("".join(f"/api/v1/screens/{sid}/manifest\t{token}\t{tags[sid]}\n"
                                       for sid, token, _ in screens))
            bare_targets = tmp / "bare.tsv"
            bare_targets.write_text("/\t\t\n")
            wrk(app_port, "200", targets, 2, args.connections)  # warm every worker's cache
            runs: dict[str, list[dict]] = {"bare": [], "304": [], "200": []}
            for _ in range(args.rounds):
                runs["bare"].append(wrk(bare_port, "bare", bare_targets, args.seconds, args.connections))
                runs["304"].append(wrk(app_port, "304", targets, args.seconds, args.connections))
                runs["200"].append(wrk(app_port, "200", targets, args.seconds, args.connections))
            paced = {"bare": wrk(bare_port, "bare", bare_targets, 10, 50, delay_ms=50)}
            paced.update({mode: wrk(app_port, mode, targets, 10, 50, delay_ms=50) for mode in ("304", "200")})
            rss = worker_rss_mb(server.pid)
        finally:
            stop(server)
            stop(bare)

    median = {m: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")} for m, rs in runs.items()}
    bad = sum(r.get("unexpected", 0) for rs in runs.values() for r in rs) + sum(
        r.get("unexpected", 0) for r in paced.values())
    floor = median["bare"]["rps"]
    print(f"\n{args.screens} screens, gunicorn {args.workers} workers (gevent, server/worker.py), "
          f"wrk -t2 -c{args.connections}, {args.rounds} rounds of {args.seconds} s, medians")
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}")
    for mode, label in (("bare", "bare Flask constant"), ("304", "manifest 304"), ("200", "manifest 200 gzip")):
        m = median[mode]
        print(f"{label:<24}{m['rps']:>9.0f}{m['p50']:>9.2f}{m['p99']:>9.2f}{m['rps'] / floor:>9.2f}")
    print("\npaced at up to 1,000 req/s (50 connections, each waiting 50 ms between requests), 10 s each")
    for mode, label in (("bare", "bare Flask constant"), ("304", "manifest 304"), ("200", "manifest 200 gzip")):
        p = paced[mode]
        print(f"{label:<24}{p['rps']:>9.0f}{p['p50']:>9.2f}{p['p99']:>9.2f}")
    print(f"\n{len(sizes)} distinct manifests, gzip {min(sizes) // 1024}-{max(sizes) // 1024} KB each")
    print(f"worker resident memory after the run: {', '.join(f'{x:.0f} MB' for x in rss)}")
    print(f"unexpected statuses: {bad}")
    aims = [("304 poll >= 0.80 of bare", median["304"]["rps"] / floor >= 0.80),
            ("200 manifest >= 0.60 of bare", median["200"]["rps"] / floor >= 0.60),
            ("p99 < 20 ms at ~1,000 req/s", all(paced[m]["p99"] < 20 for m in ("304", "200"))),
            ("no unexpected status", bad == 0)]
    for label, ok in aims:
        print(f"  {'met ' if ok else 'MISSED'} {label}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
