"""make bench-scale: a province-sized fleet against `signage serve` for a minute, with the scheduler running.

10,000 screens (as in bench-poll) poll their manifest every 30 s, send a heartbeat every 60 s and a batch of
20 proof-of-play records every 5 minutes: about 330 + 170 + 30 = 530 requests a second, paced by wrk over
100 connections. Reports requests, errors, p50/p99/max latency, the server's CPU use (all its processes:
gunicorn master and workers, the scheduler) and their resident memory. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_poll import BIN, HERE, etags, free_port, seed, start, stop  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        out.extend(tree(int(child)))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_wrk(port: int, targets: Path, seconds: int, connections: int, delay_ms: int) -> dict:
    env = {**os.environ, "TARGETS": str(targets), "DELAY_MS": str(delay_ms)}
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                           "-s", str(HERE / "scale.lua"), f"http://127.0.0.1:{port}"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    fields = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "RESULT":
            n, p50, p99, duration, _size = parts[1:]
            fields.update(requests=int(n), p50=float(p50), p99=float(p99), rps=int(n) / float(duration))
        elif parts and parts[0] == "UNEXPECTED":
            fields["unexpected"] = int(parts[1])
        elif parts and parts[0] == "MAX":
            fields["max"] = float(parts[1])
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=530, help="requests a second to aim at")
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite in the instance, "
                        "such as postgresql+psycopg://user:password@127.0.0.1/bench")
    args = parser.parse_args()
    if args.database_url:
        os.environ["SIGNAGE_DATABASE_URL"] = args.database_url
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench-scale does it)")
    connections = 100
    delay_ms = max(1, round(connections / args.rate * 1000))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        screens = seed(tmp / "instance", args.screens)
        env = {**os.environ, "SIGNAGE_INSTANCE": str(tmp / "instance")}
        port = free_port()
        server = start([str(BIN / "signage"), "serve", "--port", str(port), "--workers", str(args.workers)],
                       port, env)
        try:
            tags, _sizes = etags(port, screens)
            targets = tmp / "targets.tsv"
            targets.write_text("".join(f"{sid}\t{token}\t{tags[sid]}\n" for sid, token, _ in screens))
            time.sleep(2)  # let the scheduler's first jobs run before measuring
            pids = tree(server.pid)
            cpu0, t0 = cpu_seconds(pids), time.monotonic()
            result = run_wrk(port, targets, args.seconds, connections, delay_ms)
            wall = time.monotonic() - t0
            pids = [p for p in tree(server.pid) if Path(f"/proc/{p}").exists()]
            cpu = cpu_seconds(pids) - cpu0
            memory = {pid: rss_mb(pid) for pid in pids}
        finally:
            stop(server)
        engine = create_engine(args.database_url or f"sqlite:///{tmp / 'instance' / 'signage.db'}")
        from playlists.models import Play, ScreenStatus

        with engine.connect() as conn:
            stored_plays = conn.execute(select(func.count()).select_from(Play)).scalar()
            beats = conn.execute(select(func.count()).select_from(ScreenStatus)).scalar()
        engine.dispose()

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{args.screens} screens for {args.seconds} s against signage serve on {database} "
          f"({args.workers} gunicorn workers x 8 threads + scheduler), wrk -t2 -c{connections}, "
          f"each connection {delay_ms} ms between requests")
    print(f"requests: {result['requests']} ({result['rps']:.0f}/s: 10/16 manifest polls, 5/16 heartbeats, "
          f"1/16 batches of 20 plays)")
    print(f"errors (non-2xx/3xx, socket errors, timeouts): {result['unexpected']}")
    print(f"latency: p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, max {result['max']:.1f} ms")
    print(f"server CPU: {cpu:.1f} s over {wall:.0f} s = {cpu / wall * 100:.0f}% of one core "
          f"({os.cpu_count()} cores here)")
    print("resident memory: " + ", ".join(f"{mb:.0f} MB" for mb in memory.values())
          + f" (total {sum(memory.values()):.0f} MB; master, workers, scheduler)")
    print(f"stored: {stored_plays} play records, {beats} screens with a heartbeat")
    return 0 if result["unexpected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
