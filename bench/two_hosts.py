"""Two `signage serve` hosts behind one nginx, sharing a PostgreSQL database and one media folder.

`two_hosts(database_url)` makes a fresh database on the PostgreSQL server that database_url names (its role must
be allowed to create databases), seeds a small network into it with one media folder, starts host A (with the
scheduler) and host B (`--no-scheduler`) on two loopback ports with the same database, media folder and secret
key, and nginx in front with docs/deploy/nginx-two-hosts.conf (its @PLACEHOLDERS@ filled in). Then it checks:
  a. both hosts give the same ETag for the same screen at the same instant (a sample of screens);
  b. a change made through host A's staff API (a playlist's items) is served by host B within one poll period;
  c. wrk polls (304, If-None-Match) through nginx: requests per second, p50/p99, errors, and how nginx split them
     between the hosts (from its access log's $upstream_addr).
Hosts, scheduler and nginx are stopped and the database dropped, whatever happens.

    .venv/bin/python bench/two_hosts.py --database-url postgresql+psycopg://signage_ci:signage_ci@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import getpass
import gzip
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from bench_poll import BIN, ROOT, free_port, seed, stop, wrk
from floors import CONNECTIONS, NGINX_INSTALL, nginx_start, nginx_stop

TEMPLATE = ROOT / "docs" / "deploy" / "nginx-two-hosts.conf"
POLL_PERIOD_S = 30  # the default POLL_AFTER_S the players are told


def _admin(database_url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def _database(database_url: str):
    """A fresh, empty database on the server of database_url, dropped on the way out; yields its URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    name = f"signage_two_hosts_{secrets.token_hex(6)}"
    try:
        _admin(database_url, f'CREATE DATABASE "{name}"')
    except (OperationalError, ProgrammingError) as e:
        raise SystemExit(f"cannot create a database with {make_url(database_url)!r} (is PostgreSQL running: "
                         f"pg_ctlcluster 15 main start; may the role create databases?): {e.orig}") from None
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _environ(values: dict[str, str]):
    """os.environ with every SIGNAGE_* variable replaced by values, for in-process seeding; restored after."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SIGNAGE_")}
    for k in saved:
        del os.environ[k]
    os.environ.update(values)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("SIGNAGE_")]:
            del os.environ[k]
        os.environ.update(saved)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each @NAME@ replaced; refuses a placeholder left without a value."""
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    code = "\n".join(line.partition("#")[0] for line in template.splitlines())
    left = sorted(set(re.findall(r"@([A-Z_]+)@", code)))
    if left:
        raise SystemExit(f"{TEMPLATE}: placeholders without a value: {', '.join(left)}")
    return template


def _request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None
             ) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _manifest(port: int, sid: str, token: str, etag: str = "") -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    status, h, body = _request(port, "GET", f"/api/v1/screens/{sid}/manifest", headers)
    return status, h.get("etag", ""), body


def _start_host(args: list[str], port: int, env: dict, log: Path) -> subprocess.Popen:
    """`signage serve` in its own session (its scheduler child included), output to log; returns once /healthz
    answers 200."""
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / "signage"), "serve", "--port", str(port), *args], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if _request(port, "GET", "/healthz")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    if proc.poll() is None:
        stop(proc)
    raise SystemExit(f"host on port {port} did not start:\n{log.read_text()[-3000:]}")


def _cli(env: dict, *args: str) -> str:
    """Run a signage command; returns its last line of output (where secrets go)."""
    done = subprocess.run([str(BIN / "signage"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"signage {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def same_instant(ports: tuple[int, int], sid: str, token: str) -> tuple[str, str]:
    """The ETags of one screen's manifest asked of both hosts at once (two threads released together)."""
    barrier, tags = threading.Barrier(2), ["", ""]

    def ask(i: int) -> None:
        barrier.wait()
        status, tag, _ = _manifest(ports[i], sid, token)
        tags[i] = tag if status == 200 else f"status {status}"

    threads = [threading.Thread(target=ask, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tags[0], tags[1]


def check_etags(ports: tuple[int, int], screens: list[tuple[str, str, str]], sample: int = 40) -> dict:
    """Ask both hosts for a sample of screens at the same instant: counts of equal and different ETags.

    Tags are content hashes; the content a screen shows changes at hour boundaries (schedule windows), so a
    pair that differs is asked once more if the hour rolled meanwhile."""
    chosen = screens[:: max(1, len(screens) // sample)][:sample]
    equal, different = 0, []
    for sid, token, _ in chosen:
        hour = datetime.now(UTC).hour
        a, b = same_instant(ports, sid, token)
        if a != b and datetime.now(UTC).hour != hour:
            a, b = same_instant(ports, sid, token)
        if a == b and a.startswith('"'):
            equal += 1
        else:
            different.append((sid, a, b))
    return {"sampled": len(chosen), "equal": equal, "different": different}


def current_etags(port: int, screens: list[tuple[str, str, str]]) -> dict[str, str]:
    """Every screen's current gzip ETag, asked one by one over a keep-alive connection (no assumption about
    which screens share a manifest)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    tags = {}
    try:
        for sid, token, _ in screens:
            conn.request("GET", f"/api/v1/screens/{sid}/manifest", headers={
                "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"manifest of {sid}: got {r.status}, expected 200")
            tags[sid] = r.headers["ETag"]
    finally:
        conn.close()
    return tags


def check_media(port: int, sid: str, token: str) -> str:
    """Fetch the first media item of a screen's manifest through nginx; '' if its bytes hash to its name."""
    status, _, body = _manifest(port, sid, token)
    if status != 200:
        return f"manifest through nginx: got {status}, expected 200"
    items = json.loads(gzip.decompress(body))["items"]
    if not items:
        return "manifest has no media items"
    item = items[0]
    status, headers, data = _request(port, "GET", urlparse(item["url"]).path)
    if status != 200:
        return f"{item['url']} through nginx: got {status}, expected 200"
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        return f"{item['url']}: bytes do not hash to the name"
    if "immutable" not in headers.get("cache-control", ""):
        return f"{item['url']}: Cache-Control {headers.get('cache-control')!r}, expected immutable"
    return ""


def change_and_watch(ports: tuple[int, int], staff_token: str, watched: tuple[str, str],
                     untouched: tuple[str, str], timeout_s: float = 2 * POLL_PERIOD_S, settle_s: float = 3) -> dict:
    """Change the "day" playlist through host A's staff API; measure, in seconds after the API answered, when each
    host first serves the watched screen's new ETag and when it last served the old one (each gunicorn worker
    notices a change on its own, so a host may answer new, then old, then new). Polling goes on until neither host
    has served the old tag for settle_s. Also reports whether a screen the change does not touch kept its ETag."""
    a, b = ports
    sid, token = watched
    auth = {"Authorization": f"Bearer {staff_token}", "Content-Type": "application/json"}
    before = {p: _manifest(p, sid, token)[1] for p in ports}
    untouched_before = _manifest(b, *untouched)[1]
    status, _, body = _request(a, "GET", "/api/v1/playlists", auth)
    if status != 200:
        raise SystemExit(f"GET /api/v1/playlists on host A: got {status}, expected 200: {body[:300]!r}")
    day = next(p for p in json.loads(body) if p["name"] == "day")
    items = [{"content": i["content"], "duration_s": i["duration_s"] + 5} for i in day["items"]]
    t_sent = time.monotonic()
    status, _, body = _request(a, "PUT", f"/api/v1/playlists/{day['id']}", auth, json.dumps({"items": items}).encode())
    t_done = time.monotonic()
    if status != 200:
        raise SystemExit(f"PUT /api/v1/playlists/{day['id']} on host A: got {status}, expected 200: {body[:300]!r}")
    first: dict[int, float] = {}
    last_old = {p: 0.0 for p in ports}
    new_tags: dict[int, set[str]] = {p: set() for p in ports}
    polls = 0
    while time.monotonic() - t_done < timeout_s:
        for p in ports:
            st, tag, _ = _manifest(p, sid, token, before[p])
            polls += 1
            now = time.monotonic() - t_done
            if st == 200 and tag != before[p]:
                first.setdefault(p, now)
                new_tags[p].add(tag)
            else:
                last_old[p] = now
        if len(first) == 2 and time.monotonic() - t_done - max(last_old.values()) >= settle_s:
            break
        time.sleep(0.05)
    untouched_after = _manifest(b, *untouched)[1]
    return {
        "api_ms": (t_done - t_sent) * 1000, "polls": polls,
        "first_a_s": first.get(a), "first_b_s": first.get(b),
        # None: the old tag was still served when the watch ended.
        "settled_a_s": last_old[a] if a in first and last_old[a] < timeout_s - settle_s else None,
        "settled_b_s": last_old[b] if b in first and last_old[b] < timeout_s - settle_s else None,
        "same_new_etag": len(new_tags[a] | new_tags[b]) == 1,
        "untouched_kept": untouched_before == untouched_after,
    }


def split(access_log: Path, since: float, until: float, hosts: dict[str, str]) -> dict:
    """Answers per host (by nginx's $upstream_addr) and per status, for log lines stamped in [since, until]."""
    per_host = {name: 0 for name in hosts.values()}
    per_host["retried on the other"] = 0
    statuses: dict[str, int] = {}
    full: set[str] = set()  # screens answered 200 although every request carried the current ETag
    upstream_ms: dict[str, list[float]] = {name: [] for name in hosts.values()}
    for line in access_log.read_text().splitlines():
        stamp, _, rest = line.partition(" ")
        if not since <= float(stamp) <= until:
            continue
        after = rest.rpartition('" ')[2].split(" ")  # status bytes request_time upstream_addr... status... time...
        statuses[after[0]] = statuses.get(after[0], 0) + 1
        if after[0] == "200":
            full.add(rest.split('"')[1].split(" ")[1].split("/")[4])
        addr = after[3]
        if addr.endswith(","):
            per_host["retried on the other"] += 1
        elif addr in hosts:
            per_host[hosts[addr]] += 1
            if after[-1] != "-":
                upstream_ms[hosts[addr]].append(float(after[-1]) * 1000)
    return {"answers": per_host, "statuses": statuses, "screens_answered_200": sorted(full),
            "upstream_p50_ms": {h: statistics.median(v) if v else None for h, v in upstream_ms.items()}}


def two_hosts(database_url: str, seconds: int = 30, screens: int = 400, workers: int = 2,
              compare_one_host: bool = False) -> dict:
    """Run the two-host check (see the module's docstring); returns its figures and prints them with a verdict.

    database_url: a PostgreSQL URL whose role may create databases. Refuses when nginx or wrk is missing."""
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(NGINX_INSTALL if tool == "nginx" else "wrk is not installed: apt-get install -y wrk")
    result: dict = {"seconds": seconds, "screens": screens, "workers": workers}
    procs: list[subprocess.Popen] = []
    nginx = None
    with tempfile.TemporaryDirectory(prefix="bench-two-hosts-") as tmp, _database(database_url) as db_url:
        tmp = Path(tmp)
        shared = {"SIGNAGE_DATABASE_URL": db_url, "SIGNAGE_MEDIA_DIR": str(tmp / "media"),
                  "SIGNAGE_SECRET_KEY": secrets.token_hex(32), "SIGNAGE_TRUSTED_PROXIES": "1"}
        base = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
        env_a = {**base, **shared, "SIGNAGE_INSTANCE": str(tmp / "host-a")}
        env_b = {**base, **shared, "SIGNAGE_INSTANCE": str(tmp / "host-b")}
        try:
            t0 = time.monotonic()
            with _environ({**shared, "SIGNAGE_INSTANCE": str(tmp / "host-a")}):
                network = seed(tmp / "host-a", screens)
            _cli(env_a, "user", "add", "bench-staff", "--role", "staff")
            staff_token = _cli(env_a, "token", "create", "bench-staff")
            print(f"two hosts: seeded {len(network)} screens on PostgreSQL in {time.monotonic() - t0:.1f} s",
                  flush=True)
            port_a, port_b, port_n = free_port(), free_port(), free_port()
            common = ["--workers", str(workers), "--no-demo"]
            procs.append(_start_host(common, port_a, env_a, tmp / "host-a.log"))
            procs.append(_start_host([*common, "--no-scheduler"], port_b, env_b, tmp / "host-b.log"))
            ngx = tmp / "nginx"
            ngx.mkdir()
            conf = ngx / "nginx.conf"
            conf.write_text(fill(TEMPLATE.read_text(), {
                "USER": getpass.getuser(), "RUN_DIR": str(ngx), "LOG_DIR": str(ngx), "TEMP_DIR": str(ngx),
                "LISTEN": f"127.0.0.1:{port_n}", "SERVER_NAME": "localhost",
                "HOST_A": f"127.0.0.1:{port_a}", "HOST_B": f"127.0.0.1:{port_b}", "MEDIA_DIR": shared[
                    "SIGNAGE_MEDIA_DIR"]}))
            nginx = nginx_start(conf, ngx, port_n)

            result["etags"] = check_etags((port_a, port_b), network)
            result["media_problem"] = check_media(port_n, network[0][0], network[0][1])
            untouched = next((s, t) for s, t, g in network if g == "d10")  # on the "evening" playlist
            result["change"] = change_and_watch((port_a, port_b), staff_token, (network[0][0], network[0][1]),
                                                untouched)

            tags = current_etags(port_n, network)
            result["distinct_etags"] = len(set(tags.values()))
            targets = tmp / "targets.tsv"
            targets.write_text("".join(f"/api/v1/screens/{s}/manifest\t{t}\t{tags[s]}\n" for s, t, _ in network))
            wrk(port_n, "304", targets, 2, CONNECTIONS)  # warm both hosts' caches and nginx's upstream connections
            since = time.time()
            result["through_nginx"] = wrk(port_n, "304", targets, seconds, CONNECTIONS)
            until = time.time()
            if compare_one_host:
                result["one_host_direct"] = wrk(port_a, "304", targets, seconds, CONNECTIONS)
            nginx_stop(nginx)  # flushes the buffered access log
            nginx = None
            result["split"] = split(ngx / "signage-access.log", since, until,
                                    {f"127.0.0.1:{port_a}": "host A", f"127.0.0.1:{port_b}": "host B"})
            # Why a poll with the tag just fetched got a 200: what each host says now, against the tag polled with.
            token_of = {sid: token for sid, token, _ in network}
            result["etag_drift"] = [(sid, tags[sid], _manifest(port_a, sid, token_of[sid])[1],
                                     _manifest(port_b, sid, token_of[sid])[1])
                                    for sid in result["split"]["screens_answered_200"][:5]]
        except BaseException:
            for name in ("host-a.log", "host-b.log", "nginx/error.log"):
                if (tmp / name).exists():
                    print(f"--- {name} (end)\n{(tmp / name).read_text()[-1500:]}", file=sys.stderr)
            raise
        finally:
            if nginx is not None:
                nginx_stop(nginx)
            for proc in procs:
                stop(proc)
    report(result)
    return result


def verdict(r: dict) -> list[tuple[str, bool]]:
    """The checks of the two-host run, each with whether it held."""
    e, c, w, s = r["etags"], r["change"], r["through_nginx"], r["split"]["answers"]
    total = s["host A"] + s["host B"]
    return [
        (f"same ETag on both hosts at the same instant ({e['equal']}/{e['sampled']} screens)",
         e["equal"] == e["sampled"]),
        (f"a change through host A served by host B within one poll ({POLL_PERIOD_S} s)",
         c["settled_b_s"] is not None and c["settled_b_s"] <= POLL_PERIOD_S and c["same_new_etag"]),
        ("media served by nginx from the shared folder (hash and immutable cache checked)", not r["media_problem"]),
        ("no errors through nginx", w.get("unexpected", 0) == 0),
        (f"every poll with the current ETag got a 304 ({len(r['split']['screens_answered_200'])} screens got 200s)",
         not r["split"]["screens_answered_200"]),
        ("both hosts took at least 30 % of the polls", total > 0 and min(s["host A"], s["host B"]) >= 0.3 * total),
    ]


def report(r: dict) -> None:
    """Print the figures of the two-host run and its verdict line."""
    e, c, w, s = r["etags"], r["change"], r["through_nginx"], r["split"]
    print(f"\ntwo hosts (PostgreSQL, one media folder, {r['workers']} workers each, host B --no-scheduler) behind "
          f"nginx ({TEMPLATE.relative_to(ROOT)}), {r['screens']} screens, {r.get('distinct_etags', '?')} distinct "
          "manifests")
    print(f"  ETags asked of both hosts at the same instant: {e['equal']} of {e['sampled']} screens equal")
    for sid, a, b in e["different"][:5]:
        print(f"    {sid}: host A {a}  host B {b}")

    def secs(x, none="never"):
        return none if x is None else f"{x:.2f} s"

    print(f"  playlist changed through host A's API (answered in {c['api_ms']:.0f} ms); the new ETag "
          f"({'the same' if c['same_new_etag'] else 'DIFFERENT'} on both) first served by host A after "
          f"{secs(c['first_a_s'])}, by host B after {secs(c['first_b_s'])}; the old one last served by host A "
          f"after {secs(c['settled_a_s'], 'until the end')}, by host B after {secs(c['settled_b_s'], 'until the end')} "
          f"({c['polls']} polls); "
          f"a screen it does not touch {'kept' if c['untouched_kept'] else 'CHANGED'} its ETag")
    print(f"  media through nginx: {r['media_problem'] or 'ok'}")
    rows = [("through nginx", w)] + ([("host A alone, direct", r["one_host_direct"])] if "one_host_direct" in r else [])
    print(f"  wrk -t2 -c{CONNECTIONS} 304 polls for {r['seconds']} s, flat out:")
    for label, m in rows:
        print(f"    {label:<22}{m['rps']:>8.0f} req/s  p50 {m['p50']:.2f} ms  p99 {m['p99']:.2f} ms  "
              f"errors {m.get('unexpected', 0)}")
    total = sum(s["answers"].values()) or 1
    print("  split (nginx access log): " + ", ".join(
        f"{h} {n} ({n / total:.0%})" for h, n in s["answers"].items()) +
        "; statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items())) +
        (" (499: wrk closing its connections at the end)" if "499" in s["statuses"] else "") +
        "; upstream p50 " + ", ".join(f"{h} {v:.2f} ms" for h, v in s["upstream_p50_ms"].items() if v is not None))
    for sid, polled, now_a, now_b in r.get("etag_drift", []):
        print(f"    {sid} got 200s: polled with {polled}; now host A {now_a}, host B {now_b}")
    checks = verdict(r)
    failed = [label for label, ok in checks if not ok]
    for label, ok in checks:
        print(f"  {'met ' if ok else 'MISSED'} {label}")
    print(f"two hosts verdict: {'PASS' if not failed else 'FAIL'}"
          f"{'' if not failed else ' (' + '; '.join(failed) + ')'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True,
                        help="PostgreSQL URL of a role that may create databases (a fresh one is made and dropped)")
    parser.add_argument("--seconds", type=int, default=30, help="length of the wrk run through nginx")
    parser.add_argument("--screens", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each host")
    parser.add_argument("--compare-one-host", action="store_true",
                        help="also drive host A alone, directly, for the same time")
    args = parser.parse_args()
    r = two_hosts(args.database_url, args.seconds, args.screens, args.workers, args.compare_one_host)
    return 0 if all(ok for _, ok in verdict(r)) else 1


if __name__ == "__main__":
    sys.exit(main())
