"""The network of make bench-scale, and how it is built: through the staff API of a running `signage serve`.

A province: districts (each a group, with its own reminder), kinds of site (bus stations, hospitals, markets...:
each a group with its own playlist and schedule, some with a second one for the night or the weekend), sites
(groups of a few screens), screens of every screen profile. A screen's rule set is its profile plus the
schedules and reminders of its district and kind, so there are districts x kinds x profiles distinct rule sets
(about --rule-sets); the first screens take each of them once, the others are drawn at random (fixed seed),
with the first kind holding about 10 % of the screens (the schedule the edits change) and few 4K lobby screens.
Every playlist shows poster 1 (the poster the edits change, so it is used by every screen). One district is
taken over by an emergency override for the whole run.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

# Screen profiles (renderer.CATALOG restricted to what a screen may be: LED and LCD) and their shares.
PROFILES = {"tv-1080p": 28, "kiosk-portrait": 14, "bus-strip": 14, "led-p10": 16, "led-p5-small": 12,
            "led-billboard": 12, "lobby-4k": 4}
KINDS = ["bus-station", "hospital", "market", "admin-centre", "school", "hotel", "train-station", "bus",
         "clinic", "square", "police", "post-office", "stadium", "airport", "museum", "pagoda", "port", "mall",
         "university", "bank"]
DISTRICTS = ["hue", "huong-thuy", "huong-tra", "phong-dien", "quang-dien", "phu-vang", "phu-loc", "a-luoi",
             "nam-dong", "phu-xuan", "thuan-an", "lang-co", "chan-may", "bach-ma"]
REMINDER_EVERY = [5, 7, 10, 12, 15, 20, 30, 45, 60, 90, 11, 13, 17, 25]
# (weekdays, start, end, priority) of each kind's main schedule, taken in turn.
WINDOWS = [(list(range(7)), None, None, 0), (list(range(5)), "06:00:00", "22:00:00", 1),
           (list(range(7)), "05:30:00", "23:00:00", 2), ([5, 6], "08:00:00", "20:00:00", 3),
           (list(range(6)), "07:00:00", "19:00:00", 1)]
POSTERS = [
    {"name": "Bluezone vi", "spec": {"template": "install", "lang": "vi"}},
    {"name": "Bluezone en", "spec": {"template": "install", "lang": "en", "theme": "light"}},
    {"name": "Reminder", "spec": {"template": "reminder", "lang": "en"}},
    {"name": "Bluezone dark", "spec": {"template": "install", "lang": "vi-en", "theme": "dark"}},
    {"name": "Reminder light", "spec": {"template": "reminder", "lang": "vi", "theme": "light"}},
    {"name": "Emergency", "spec": {"template": "install", "lang": "vi", "theme": "dark",
                                   "headline": "Cài Bluezone ngay"}},
]


@dataclass
class Plan:
    """What to create: screens (id, profile, site, district, groups) and rules, sized from screens x rule sets."""

    screens: int
    rule_sets: int
    districts: int = 0
    kinds: int = 0
    fleet: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        pairs = max(1, self.rule_sets / len(PROFILES))
        self.districts = max(2, min(len(DISTRICTS), round(math.sqrt(pairs / 1.5))))
        self.kinds = max(2, min(len(KINDS), round(pairs / self.districts)))
        rng = random.Random(14)
        combos = [(d, k, p) for d in range(self.districts) for k in range(self.kinds) for p in PROFILES]
        rng.shuffle(combos)
        rest = self.screens - len(combos)
        # The first kind holds about 10 % of all screens: the schedule the staff edits change.
        first = max(0.0, (0.10 * self.screens - self.districts * len(PROFILES)) / rest) if rest > 0 else 0.0
        weights = [first] + [(1 - first) / (self.kinds - 1)] * (self.kinds - 1)
        for i in range(self.screens):
            if i < len(combos):
                d, k, p = combos[i]
            else:
                d = rng.randrange(self.districts)
                k = rng.choices(range(self.kinds), weights)[0]
                p = rng.choices(list(PROFILES), list(PROFILES.values()))[0]
            site = f"{KINDS[k]}-{DISTRICTS[d]}-{i % 97 % 12}"  # about a dozen sites per district and kind
            self.fleet.append({"id": f"s{i:05d}", "profile": p, "site": site, "district": DISTRICTS[d],
                               "groups": [f"d-{DISTRICTS[d]}", f"k-{KINDS[k]}", f"site-{site}"],
                               "name": f"{KINDS[k]} {DISTRICTS[d]} {i}"})

    def describe(self) -> str:
        return (f"{self.screens} screens: {self.districts} districts x {self.kinds} kinds of site x "
                f"{len(PROFILES)} profiles = {self.districts * self.kinds * len(PROFILES)} rule sets by design")


class Api:
    """A staff API client over keep-alive connections, one per thread."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.local = threading.local()

    def call(self, method: str, path: str, body: dict | None = None, expect: tuple = (200, 201),
             fail: bool = True) -> dict:
        """The JSON answer; on a refusal or no answer SystemExit, or {"error": why} when fail is False."""
        why = "no answer after 5 tries"
        for attempt in range(5):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
            try:
                conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self.local.conn = None
                why = f"{type(exc).__name__} {exc}"
                time.sleep(0.5 * (attempt + 1))
                continue
            if resp.status == 503:
                time.sleep(float(resp.headers.get("Retry-After") or 1))
                continue
            if resp.status not in expect:
                why = f"{resp.status} {data[:500]!r}"
                break
            return json.loads(data) if data else {}
        if fail:
            raise SystemExit(f"{method} {path}: {why}")
        return {"error": why}


def seed_screens(plan: Plan, env: dict) -> dict[str, str]:
    """Insert the plan's screens straight into the database of the instance env names (server not running);
    returns their tokens. For quick runs that do not time the staff API's screen creation."""
    import os

    saved = {k: os.environ.get(k) for k in ("SIGNAGE_INSTANCE", "SIGNAGE_DATABASE_URL")}
    os.environ.update({k: env[k] for k in saved if k in env})
    try:
        from datetime import UTC, datetime

        from playlists.screens import add_screen
        from server import create_app
        from server.db import get_engine, get_session

        app, now, tokens = create_app(), datetime.now(UTC), {}
        with app.app_context():
            session = get_session()
            for screen in plan.fleet:
                tokens[screen["id"]] = add_screen(session, screen["id"], screen["profile"], now,
                                                  name=screen["name"], site=screen["site"],
                                                  district=screen["district"], groups=screen["groups"])
            session.commit()
            get_engine().dispose()
        return tokens
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build(api: Api, plan: Plan, concurrency: int = 8, log=print, tokens: dict[str, str] | None = None) -> dict:
    """Create the plan's network (screens too unless their tokens are given: seeded before); returns timings,
    tokens by screen id, and the ids the edits need."""
    out: dict = {"tokens": dict(tokens or {})}
    t0 = time.monotonic()
    posters = [api.call("POST", "/api/v1/posters", p)["content"] for p in POSTERS]
    out["poster_ids"] = [int(p.split(":")[1]) for p in posters]
    out["posters_s"] = time.monotonic() - t0
    log(f"  {len(posters)} posters in {out['posters_s']:.1f} s")

    t1 = time.monotonic()
    done = [0]
    lock = threading.Lock()

    def add(screen: dict) -> None:
        answer = api.call("POST", "/api/v1/screens", screen)
        with lock:
            out["tokens"][screen["id"]] = answer["token"]
            done[0] += 1
            if done[0] % 1000 == 0:
                log(f"  {done[0]} screens after {time.monotonic() - t1:.0f} s")

    if not tokens:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(add, plan.fleet))
    out["screens_s"] = time.monotonic() - t1

    t2 = time.monotonic()
    rules = 0
    vi, en, rem, dark, rem_light, emergency = posters
    others = [en, dark, rem_light]
    jobs = []
    for k in range(plan.kinds):
        items = [{"content": vi, "duration_s": 10 + 5 * (k % 3)}]
        items += [{"content": others[(k + j) % 3], "duration_s": 15 + 5 * ((k + j) % 4)} for j in range(1 + k % 3)]
        weekdays, start, end, priority = WINDOWS[k % len(WINDOWS)]
        jobs.append(("playlist", f"kind {KINDS[k]}", items, {
            "name": f"{KINDS[k]} day", "priority": priority, "weekdays": weekdays, "start_time": start,
            "end_time": end, "groups": [f"k-{KINDS[k]}"]}))
        if k % 2:  # a second schedule for the night (across midnight) or the weekend
            night = k % 4 == 1
            jobs.append(("playlist", f"kind {KINDS[k]} {'night' if night else 'weekend'}",
                         [{"content": dark, "duration_s": 20}, {"content": vi, "duration_s": 10}], {
                             "name": f"{KINDS[k]} {'night' if night else 'weekend'}", "priority": 5,
                             "weekdays": list(range(7)) if night else [5, 6],
                             "start_time": "22:00:00" if night else "09:00:00",
                             "end_time": "05:00:00" if night else "17:00:00", "groups": [f"k-{KINDS[k]}"]}))
    playlist_ids = []
    for _kind, name, items, schedule in jobs:
        playlist = api.call("POST", "/api/v1/playlists", {"name": name, "items": items})
        playlist_ids.append(playlist["id"])
        api.call("POST", "/api/v1/schedules", {**schedule, "playlist_id": playlist["id"]})
        rules += 2
    out["edit_playlist"] = {"id": playlist_ids[0], "items": jobs[0][2]}
    # A quiet base for all, below every kind's schedule.
    base = api.call("POST", "/api/v1/playlists", {"name": "base", "items": [{"content": vi, "duration_s": 30},
                                                                              {"content": en, "duration_s": 30}]})
    api.call("POST", "/api/v1/schedules", {"playlist_id": base["id"], "name": "base", "priority": -10,
                                           "everywhere": True})
    rules += 2
    for d in range(plan.districts):
        windowed = d % 3 == 2
        api.call("POST", "/api/v1/reminders", {
            "content": rem if d % 2 else rem_light, "duration_s": 10 + 5 * (d % 3),
            "every_min": REMINDER_EVERY[d % len(REMINDER_EVERY)], "name": f"reminder {DISTRICTS[d]}",
            "start_time": "07:00:00" if windowed else None, "end_time": "21:00:00" if windowed else None,
            "groups": [f"d-{DISTRICTS[d]}"]})
        rules += 1
    override = api.call("POST", "/api/v1/overrides", {"content": emergency, "minutes": 180,
                                                      "name": f"takeover {DISTRICTS[0]}",
                                                      "groups": [f"d-{DISTRICTS[0]}"]})
    out["override_district"] = DISTRICTS[0]
    out["override_id"] = override["id"]
    rules += 1
    out["rules"] = rules
    out["rules_s"] = time.monotonic() - t2
    out["total_s"] = time.monotonic() - t0
    return out
