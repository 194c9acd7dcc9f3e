"""Floors of the 304 poll: a bare app on the same gunicorn settings, and nginx serving a manifest-sized file.

`floors(port, targets)` measures, flat out and on this machine at this moment, the running `signage serve` at
`port` answering 304 manifest polls, the bare Flask app of bench/bare_app.py (the project's own gunicorn
settings and worker class), and nginx (Debian's package) serving a static file of a gzip manifest's size;
medians of interleaved rounds, so that the machine's noise falls on all three alike. The ratio to the bare app is
the issue's floor (0.8 or better); the ratio to nginx says how far a Python poll is from a static file.

Run alone, it seeds a small network in a temporary instance, serves it, and measures:
    .venv/bin/python bench/floors.py [--screens 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import getpass
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_poll import HERE, free_port, start, stop, wrk

CONNECTIONS = 64
NGINX_INSTALL = "nginx is not installed: apt-get install -y nginx (make bench-scale installs it)"


def nginx_start(conf: Path, prefix: Path, port: int) -> subprocess.Popen:
    """Start nginx in the foreground on its own config and prefix folder; returns once it accepts on port.

    Refuses (SystemExit) when nginx is not installed or does not start, with its error log."""
    if shutil.which("nginx") is None:
        raise SystemExit(NGINX_INSTALL)
    # -e: errors before the config's error_log is read go to the prefix too (the compiled-in path needs root).
    cmd = ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "startup-error.log"), "-g", "daemon off;"]
    try:
        return start(cmd, port, dict(os.environ))
    except SystemExit:
        logs = "".join(p.read_text()[-2000:] for p in prefix.glob("*error.log"))
        raise SystemExit(f"nginx did not start on port {port}:\n{logs}") from None


def nginx_stop(proc: subprocess.Popen) -> None:
    """Graceful stop (QUIT): workers finish their requests and flush buffered access logs."""
    if proc.poll() is None:
        proc.send_signal(3)  # SIGQUIT
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            stop(proc)


def _static_conf(prefix: Path, port: int, workers: int) -> str:
    # As root, nginx's workers would otherwise run as nobody, who cannot read a private temporary folder.
    return f"""
user {getpass.getuser()};
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location = /manifest {{
            default_type application/json;
            add_header Content-Encoding gzip;
            add_header Cache-Control no-cache;
        }}
    }}
}}
"""


def _get(port: int, path: str, headers: dict) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def _poll_targets(port: int, targets: Path, out: Path) -> tuple[bytes, int]:
    """Write poll.lua's targets (path, token, etag) from (screen id, token, etag) lines, with current ETags.

    Returns a median-sized gzip manifest from a sample of screens, and how many ETags had to be refreshed."""
    rows = [line.split("\t") for line in targets.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{targets}: no targets, expected lines of screen_id<TAB>token<TAB>etag")
    sample = rows[:: max(1, len(rows) // 15)][:15]
    stale, bodies = 0, []
    for sid, token, etag in sample:
        status, _, _ = _get(port, f"/api/v1/screens/{sid}/manifest", {
            "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip", "If-None-Match": etag})
        stale += status != 304
        status, _, body = _get(port, f"/api/v1/screens/{sid}/manifest", {
            "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
        if status != 200:
            raise SystemExit(f"manifest of {sid}: got {status}, expected 200")
        bodies.append(body)
    refreshed = 0
    if stale:
        # Content changed since the targets were written (a staff edit): the poll must measure 304s, so take
        # every screen's current tag (one keep-alive connection, about a millisecond each).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for row in rows:
                conn.request("GET", f"/api/v1/screens/{row[0]}/manifest", headers={
                    "Authorization": f"Bearer {row[1]}", "Accept-Encoding": "gzip", "If-None-Match": row[2]})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    row[2], refreshed = r.headers["ETag"], refreshed + 1
        finally:
            conn.close()
    out.write_text("".join(f"/api/v1/screens/{sid}/manifest\t{token}\t{etag}\n" for sid, token, etag in rows))
    bodies.sort(key=len)
    return bodies[len(bodies) // 2], refreshed


def floors(port: int, targets: Path, seconds: int = 10, workers: int = 2, rounds: int = 3) -> dict:
    """304 polls of the server at `port` against a bare app and nginx: requests per second and the two ratios.

    targets: lines of screen_id<TAB>device_token<TAB>etag (the gzip ETag, quoted). workers: gunicorn workers of the
    bare app and nginx worker processes (give the server's own count). Refuses when nginx or wrk is missing."""
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(NGINX_INSTALL if tool == "nginx" else "wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-floors-") as tmp:
        tmp = Path(tmp)
        poll_targets = tmp / "poll.tsv"
        manifest, refreshed = _poll_targets(port, Path(targets), poll_targets)
        if refreshed:
            print(f"floors: {refreshed} ETags were stale (content changed): polled with current ones", flush=True)
        # Same request headers as a poll on the other two (wrk's "304" mode), so each parses the same bytes.
        bare_targets = tmp / "bare.tsv"
        first = poll_targets.read_text().splitlines()[0].split("\t")
        bare_targets.write_text(f"/\t{first[1]}\t{first[2]}\n")
        static_targets = tmp / "static.tsv"
        static_targets.write_text(f"/manifest\t{first[1]}\t\n")
        (tmp / "nginx" / "www").mkdir(parents=True)
        (tmp / "nginx" / "www" / "manifest").write_bytes(manifest)
        conf = tmp / "nginx" / "nginx.conf"
        bare_port, nginx_port = free_port(), free_port()
        conf.write_text(_static_conf(tmp / "nginx", nginx_port, workers))
        # bare_app.py reads the worker limits from create_app(): keep its instance folder out of the working tree.
        env = {**os.environ, "SIGNAGE_INSTANCE": str(tmp / "bare-instance")}
        bare = start([sys.executable, str(HERE / "bare_app.py"), str(bare_port), str(workers)], bare_port, env)
        nginx = None
        try:
            nginx = nginx_start(conf, tmp / "nginx", nginx_port)
            kinds = {"poll": (port, "304", poll_targets), "bare": (bare_port, "304", bare_targets),
                     "nginx": (nginx_port, "200", static_targets)}
            for p, mode, t in kinds.values():  # warm up: every worker's cache, connections, page cache
                wrk(p, mode, t, 2, CONNECTIONS)
            runs: dict[str, list[dict]] = {k: [] for k in kinds}
            for _ in range(rounds):
                for kind, (p, mode, t) in kinds.items():
                    runs[kind].append(wrk(p, mode, t, seconds, CONNECTIONS))
        finally:
            if nginx is not None:
                nginx_stop(nginx)
            stop(bare)
    med = {k: {f: statistics.median(r[f] for r in rs) for f in ("rps", "p50", "p99", "bytes_per_response")}
           for k, rs in runs.items()}
    errors = {k: sum(r.get("unexpected", 0) for r in rs) for k, rs in runs.items()}
    result = {
        "poll_rps": med["poll"]["rps"], "bare_rps": med["bare"]["rps"], "nginx_rps": med["nginx"]["rps"],
        "poll_vs_bare": med["poll"]["rps"] / med["bare"]["rps"],
        "poll_vs_nginx": med["poll"]["rps"] / med["nginx"]["rps"],
        "manifest_gzip_bytes": len(manifest), "errors": errors, "medians": med,
        "rounds": rounds, "seconds": seconds, "connections": CONNECTIONS, "workers": workers,
    }
    report(result)
    return result


def report(r: dict) -> None:
    """Print the floors table and the verdict on the 0.8 floor."""
    print(f"\nfloors: wrk -t2 -c{r['connections']}, no delay, medians of {r['rounds']} interleaved rounds of "
          f"{r['seconds']} s; bare app and nginx on {r['workers']} workers")
    print(f"{'':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'B/answer':>10}{'errors':>8}")
    labels = (("poll", "manifest 304 poll (signage serve)"), ("bare", "bare Flask app, same gunicorn"),
              ("nginx", f"nginx static {r['manifest_gzip_bytes']} B file"))
    for kind, label in labels:
        m = r["medians"][kind]
        print(f"{label:<34}{m['rps']:>9.0f}{m['p50']:>9.2f}{m['p99']:>9.2f}{m['bytes_per_response']:>10.0f}"
              f"{r['errors'][kind]:>8}")
    ok = r["poll_vs_bare"] >= 0.8
    print(f"poll / bare app = {r['poll_vs_bare']:.2f} ({'met' if ok else 'MISSED'}: >= 0.80);  "
          f"poll / nginx = {r['poll_vs_nginx']:.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="a running signage serve (needs --targets); default: start one")
    parser.add_argument("--targets", type=Path, help="lines of screen_id<TAB>device_token<TAB>etag")
    parser.add_argument("--screens", type=int, default=2000, help="screens to seed when starting a server")
    parser.add_argument("--seconds", type=int, default=10, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.port is not None:
        if args.targets is None:
            parser.error("--port needs --targets")
        r = floors(args.port, args.targets, args.seconds, args.workers, args.rounds)
        return 0 if r["poll_vs_bare"] >= 0.8 and not any(r["errors"].values()) else 1

    from bench_poll import BIN, etags, seed

    saved = os.environ.get("SIGNAGE_INSTANCE")
    with tempfile.TemporaryDirectory(prefix="bench-floors-serve-") as tmp:
        tmp = Path(tmp)
        t0 = time.monotonic()
        screens = seed(tmp / "instance", args.screens)
        if saved is None:  # seed() points this process at its instance; give the environment back
            os.environ.pop("SIGNAGE_INSTANCE", None)
        else:
            os.environ["SIGNAGE_INSTANCE"] = saved
        print(f"seeded {len(screens)} screens in {time.monotonic() - t0:.1f} s", flush=True)
        port = free_port()
        env = {**os.environ, "SIGNAGE_INSTANCE": str(tmp / "instance")}
        server = start([str(BIN / "signage"), "serve", "--port", str(port), "--workers", str(args.workers),
                        "--no-scheduler", "--no-demo"], port, env)
        try:
            tags, _ = etags(port, screens)
            targets = tmp / "targets.tsv"
            targets.write_text("".join(f"{sid}\t{token}\t{tags[sid]}\n" for sid, token, _ in screens))
            r = floors(port, targets, args.seconds, args.workers, args.rounds)
        finally:
            stop(server)
    return 0 if r["poll_vs_bare"] >= 0.8 and not any(r["errors"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
