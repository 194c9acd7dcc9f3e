"""make bench-dashboard: how long the console's home page (the dashboard, GET /staff/) takes to load.

Two networks, each in a temporary instance: the demo network `signage serve` seeds, and the demo plus a generated
province of --screens more screens (default 1,000) in twelve groups, with heartbeats (most online, some late,
offline, out of step or never seen), two days of hourly play totals per screen, scans and a takeover in force.
Each page is fetched --runs times (default 20) in-process through Flask's test client, as an admin (everything)
and as an operator (one district's site); the figures are the median and the slowest load, after one first load
that also reads the network snapshot (shown apart). The floor, measured the same way in the same run, is the
console's plainest signed-in page (the password page: the same login, session, header and template, no data), so
the ratio says what the dashboard's own work costs on this machine. The aim: under a second on the demo network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOW = datetime(2026, 11, 27, 3, 7, tzinfo=UTC)  # 10:07 on a Friday in Huế
PASSWORD = "bench dashboard password"
DISTRICTS = ("TP Huế", "Phong Điền", "Quảng Điền", "Hương Trà", "Hương Thủy", "Phú Vang", "Phú Lộc", "A Lưới",
             "Nam Đông", "Phú Xuân")
# (profile, groups) of the generated screens: the demo's kinds of screen, so their renditions are made once.
KINDS = (("tv-1080p", ("stations",)), ("kiosk-portrait", ("hospital",)), ("led-p10", ("led", "outdoor")),
         ("tv-1080p", ("public-service",)), ("lobby-4k", ("hotels",)), ("bus-strip", ("buses",)))


def build(instance: Path, extra: int) -> object:
    """A seeded app on instance: the demo network, plus `extra` generated screens with their history."""
    os.environ["SIGNAGE_INSTANCE"] = str(instance)
    from playlists import content
    from playlists.db import upgrade
    from playlists.demo import seed
    from playlists.models import PlayHour, Poster, ScanCount
    from playlists.network import load_network
    from playlists.reports import store_heartbeats
    from playlists.resolver import now as resolve_now
    from playlists.screens import add_screen
    from playlists.stats import code_for, enable_attribution
    from playlists.users import add_user, set_password, user_named
    from server import create_app
    from server.db import get_engine, get_session, get_store

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "CLOCK": lambda: NOW, "WTF_CSRF_ENABLED": False,
                      "PUBLIC_BASE_URL": "https://signage.example.vn"})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        seed(session, get_store(), NOW)
        set_password(session, user_named(session, "admin"), PASSWORD, NOW)
        for n in range(extra):
            profile, groups = KINDS[n % len(KINDS)]
            district = DISTRICTS[n % len(DISTRICTS)]
            add_screen(session, f"gen-{n:05d}", profile, NOW, name=f"Màn hình {n}", site=f"{district} – điểm {n // 20}",
                       district=district, groups=(*groups, f"khu-{n % 6}"))
        add_user(session, "op", "operator", NOW, password=PASSWORD, sites=[f"{DISTRICTS[0]} – điểm 0"])
        poster = session.query(Poster).order_by(Poster.id).first()
        content.add_override(session, f"poster:{poster.id}", start=NOW - timedelta(minutes=5),
                             end=NOW + timedelta(hours=1), name="Khẩn cấp", groups=["buses"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()

        network = load_network(session)
        beats, hours = [], []
        for i, screen in enumerate(network.screens.values()):
            if i % 10 == 9:
                continue  # never seen
            seen = NOW - timedelta(seconds=((30,) * 6 + (200, 900, 30))[i % 10])  # online, late, offline
            item = resolve_now(network.rules_for(screen), seen).item.key
            beats.append({"screen_id": screen.id, "last_seen_at": seen, "player_version": "1.0.0",
                          "item": "poster:999" if i % 25 == 3 else item, "status_json": "{}"})
            for h in range(48):
                hours.append({"screen_id": screen.id, "item": item, "hour": datetime(2026, 11, 24, 17, tzinfo=UTC)
                              + timedelta(hours=h), "plays": 100 + h, "seconds": 20.0 * (100 + h)})
        store_heartbeats(session, beats)
        session.execute(PlayHour.__table__.insert(), hours)
        enable_attribution(session, poster.id, "https://signage.example.vn", NOW)
        for screen_id in list(network.screens)[:50]:
            code = code_for(session, poster.id, screen_id, NOW).code
            session.add_all([ScanCount(code=code, day=date(2026, 11, 26), platform="android", count=3),
                             ScanCount(code=code, day=date(2026, 11, 25), platform="ios", count=2)])
        session.commit()
        session.close()
    return app


DASHBOARD, FLOOR = ("/staff/", b'data-count="online"'), ("/staff/account/password", b'name="new"')


def timed(app, username: str, runs: int, page=DASHBOARD) -> tuple[float, float, float]:
    """(first load, median, slowest) in milliseconds of GET page as username."""
    path, marker = page
    client = app.test_client()
    r = client.post("/staff/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        r = client.get(path)
        body = r.get_data()
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200 and marker in body, (path, r.status_code)
    return times[0], statistics.median(times[1:]), max(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=1000, help="generated screens of the larger network")
    parser.add_argument("--runs", type=int, default=20, help="loads timed per page")
    args = parser.parse_args()
    print(f"GET /staff/ (the dashboard), in-process; median and slowest of {args.runs} loads after a first one")
    print(f"{'network':<28} {'viewer':<9} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'x floor':>8}")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        for label, extra in (("demo (9 screens)", 0), (f"demo + {args.screens} screens", args.screens)):
            start = time.perf_counter()
            app = build(Path(tmp) / f"instance-{extra}", extra)
            built = time.perf_counter() - start
            _first, floor, _slowest = timed(app, "admin", args.runs, FLOOR)
            print(f"{label:<28} {'floor':<9} {'':>9} {floor:>10.0f} {'':>8} {1:>8.1f}", flush=True)
            for viewer in ("admin", "op"):
                first, median, slowest = timed(app, viewer, args.runs)
                print(f"{label:<28} {viewer:<9} {first:>9.0f} {median:>10.0f} {slowest:>8.0f} "
                      f"{median / floor:>8.1f}", flush=True)
                if extra == 0:
                    worst = max(worst, median)
            print(f"  (built in {built:.1f} s)", flush=True)
    print("aim: a median under 1000 ms on the demo network:", "met" if worst < 1000 else "NOT met")
    return 0 if worst < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
