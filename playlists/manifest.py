"""The player manifest: a screen's media and its resolved timeline for the next 48 hours, built once and shared.

A manifest covers a fixed window that starts on the hour (UTC) and lasts 49 hours, so at any moment it reaches
at least 48 hours ahead and its bytes change only when the content does or the window moves on (hourly).
Screens under the same rules, profile and time zone get the very same bytes, named by a digest of everything
they depend on (`manifest_key`): a change to the network alters the keys of the manifests it touches and no
others, so only those are built again.

ManifestCache keeps built manifests per process and notices new content by one small query of the revision
counter, so a poll whose ETag still matches is answered without resolving or serialising anything. Serving
(`signage serve`) gives it a background thread and a shared store (ManifestStore, a database table): a
changed manifest is then built once, off the event loop, and every worker and host finds it in the store,
while polls go on getting the previous manifest until the new one is ready (a few milliseconds to seconds).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import random
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from renderer import get_profile

from .models import ManifestBuild
from .network import Network, ScreenEntry, load_network, read_revision
from .resolver import plays
from .rules import RuleError

VERSION = 1
WINDOW = timedelta(hours=49)
STEP = timedelta(hours=1)


# Past this many minutes of the hour, idle background threads build the next window's manifests ahead.
PREFETCH_AFTER_MIN = 45
TIMELINE = b',"timeline":'
# How often a worker looks in the store for a manifest the scheduler is building (seconds, per manifest).
LOOK_EVERY_S = 0.5
# Polls that may wait for a changed manifest rather than get the older one: a burst, then so many a second.
WAIT_BURST, WAIT_PER_S = 4, 2.0


@dataclass(frozen=True, slots=True)
class Built:
    """A manifest's gzip-compressed bytes and the strong entity tag of its content.

    Players ask for gzip; the plain bytes are made again on demand for the few clients that do not.
    """

    etag: str
    gzipped: bytes

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.gzipped)

    @classmethod
    def of(cls, body: bytes) -> Built:
        return cls(hashlib.sha256(body).hexdigest()[:32], gzip.compress(body, compresslevel=6, mtime=0))


def window_start(now: datetime) -> datetime:
    """The start of the manifest window holding `now`: the hour it falls in, in UTC."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ms(us: int) -> int:
    """Microseconds to whole milliseconds, halves up."""
    return (us + 500) // 1000


def manifest_key(network: Network, screen: ScreenEntry, start: datetime, poll_after_s: int) -> tuple[str, str]:
    """(key, timeline key) of the manifest of screen over the window at start.

    The key is a digest of everything the manifest's bytes depend on (format version, poll interval, profile,
    time zone, rules, the media of each item, window); the timeline key leaves out the media and poll interval,
    so two manifests with the same timeline key differ only in their items' media.
    Refuses (RuleError) a screen whose default poster is not rendered yet.
    """
    timeline, media = network.digests(screen)
    window = start.strftime("%Y%m%d%H")
    key = hashlib.sha256(f"{VERSION}|{poll_after_s}|{screen.profile}|{timeline}|{media}|{window}".encode()).hexdigest()
    return key[:40], f"{timeline}|{window}"


def build_manifest(network: Network, screen: ScreenEntry, start: datetime, poll_after_s: int,
                   timeline: bytes | None = None) -> bytes:
    """The manifest JSON for `screen` over [start, start + 49 h).

    Timeline entries are [duration_ms, item, source], indexes into "items" and "sources": one play each, back to
    back from "from" to "until", so an entry starts where the ones before it add up to. Whole milliseconds
    keep that sum exact in any language, and the repetitive entries make the gzip form a few kilobytes for 48
    hours of 15-second items. `timeline`, the "timeline" JSON of a manifest with the same timeline key, spares
    resolving again when only media changed. Refuses (RuleError) a screen whose default poster is not rendered yet.
    """
    rules = network.rules_for(screen)
    items: dict = {}
    sources: dict[str, int] = {}
    entries = []
    by_id: dict[int, int] = {}  # the resolver hands out the rules' own Item objects: index them by identity first
    segments = plays(rules, start, start + WINDOW)
    edge = _ms(segments[0][0])
    for segment in segments:
        item, source = segment[2], segment[3]
        index = by_id.get(id(item))
        if index is None:
            index = by_id[id(item)] = items.setdefault(item, len(items))
        source_index = sources.get(source)
        if source_index is None:
            source_index = sources[source] = len(sources)
        # Differences of rounded instants (segments are contiguous), so rounding never accumulates.
        end = _ms(segment[1])
        entries.append([end - edge, index, source_index])
        edge = end
    profile = get_profile(screen.profile)
    doc = {
        "manifest_version": VERSION,
        "profile": {"name": profile.name, "width": profile.width, "height": profile.height},
        "tz": screen.tz,
        "poll_after_s": poll_after_s,
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": (start + WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [_item_doc(network, item, screen.profile) for item in items],
        "sources": list(sources),
    }
    head = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if timeline is None:
        timeline = json.dumps(entries, separators=(",", ":")).encode()
    return head[:-1] + TIMELINE + timeline + b"}"


def timeline_of(body: bytes) -> bytes:
    """The "timeline" JSON of a manifest: its last member, numbers only, so its name appears once."""
    return body[body.rindex(TIMELINE) + len(TIMELINE):-1]


def _item_doc(network: Network, item, profile: str) -> dict:
    media = network.media_for(item, profile)
    return {"key": item.key, "duration_s": item.duration_s, "url": media.url, "sha256": media.sha256,
            "bytes": media.bytes, "width": media.width, "height": media.height}


class ManifestStore:
    """Built manifests shared by every worker and host of one database (table manifest_builds).

    Written once per key (a key names its bytes, so a second writer has nothing to add) and pruned by the
    scheduler once its window has passed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def fetch(self, key: str) -> Built | None:
        with Session(self.engine) as session:
            row = session.execute(select(ManifestBuild.etag, ManifestBuild.gzipped)
                                  .where(ManifestBuild.key == key)).first()
        return Built(row.etag, bytes(row.gzipped)) if row is not None else None

    def put(self, key: str, start: datetime, built: Built) -> None:
        self.put_many([(key, start, built)])

    def put_many(self, entries: list[tuple[str, datetime, Built]]) -> None:
        """Store manifests in one transaction (one wait for the database's writer, not one each); a key
        already stored (by another process) is left as it is: its bytes are the same."""
        if not entries:
            return
        rows = [{"key": key, "window_start": start, "etag": built.etag, "gzipped": built.gzipped}
                for key, start, built in entries]
        with Session(self.engine) as session:
            dialect = session.get_bind().dialect.name
            if dialect in ("sqlite", "postgresql"):
                insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
                session.execute(insert(ManifestBuild).on_conflict_do_nothing(), rows)
                session.commit()
                return
            for row in rows:
                session.add(ManifestBuild(**row))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()

    def present(self, keys: list[str], batch: int = 500) -> set[str]:
        """Which of keys are stored."""
        found: set[str] = set()
        with Session(self.engine) as session:
            for i in range(0, len(keys), batch):
                found.update(session.scalars(select(ManifestBuild.key)
                                             .where(ManifestBuild.key.in_(keys[i:i + batch]))))
        return found

    def prune(self, session: Session, before: datetime, batch: int = 500) -> int:
        """Delete up to `batch` manifests whose window started before `before`; returns how many."""
        keys = session.scalars(select(ManifestBuild.key).where(ManifestBuild.window_start < before)
                               .limit(batch)).all()
        if keys:
            session.execute(delete(ManifestBuild).where(ManifestBuild.key.in_(keys)))
        return len(keys)


class ManifestCache:
    """The network snapshot and built manifests of one process, least recently used manifests first out.

    The network snapshot is re-read when the revision counter moves; the counter is read at most every
    check_interval_s seconds (0: on every call), which bounds how stale a poll can be.

    Without an executor everything happens in the caller, at once (tests, commands, the development server).
    With one (`signage serve`), polls that pass `wait=False` never wait for work: a new snapshot is loaded, and
    the manifests it changes are built, in the executor's thread while they get the previous ones; only a
    screen with no manifest at all waits for its first. A store shares built manifests between processes.
    With `prebuilt`, a Prebuilder (the scheduler) builds every screen's manifest into the store as content
    changes, so the process only fetches them, and builds one itself only when it has waited fallback_s.
    """

    def __init__(self, engine: Engine, poll_after_s: int = 30, size: int = 256, check_interval_s: float = 0.0,
                 monotonic: Callable[[], float] = _time.monotonic, store: ManifestStore | None = None,
                 executor: Executor | None = None, clock: Callable[[], datetime] | None = None,
                 prebuilt: bool = False, fallback_s: float = 10.0, wait_burst: int = WAIT_BURST,
                 wait_per_s: float = WAIT_PER_S) -> None:
        self.engine, self.poll_after_s, self.size = engine, poll_after_s, size
        self.check_interval_s, self.monotonic = check_interval_s, monotonic
        self.store, self.executor = store, executor
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._network: Network | None = None
        self._loading: Future | None = None
        self._checked_at = float("-inf")
        self._built: OrderedDict[str, Built] = OrderedDict()
        self._timelines: dict[str, str] = {}  # timeline key -> key of a built manifest with that timeline
        self._timeline_of: dict[str, str] = {}  # and back
        self._pending: dict[str, Future] = {}
        self._last: dict[str, Built] = {}  # screen id -> the manifest it was last given
        self._served: dict[tuple, str] = {}  # rules key -> a screen id with those rules, served this hour
        self.prebuilt, self.fallback_s = prebuilt, fallback_s
        self.wait_burst, self.wait_per_s = wait_burst, wait_per_s
        self._allowance, self._allowance_at = float(wait_burst), monotonic()
        self._missing: dict[str, float] = {}  # key -> when a poll first wanted it (prebuilt mode)
        self._looked: dict[str, float] = {}  # key -> when the store was last asked for it
        self.builds = 0  # how many manifests this process has built (for tests and metrics)
        self.shared = 0  # how many it took from the store instead

    # --- the network snapshot ---------------------------------------------------------------------------------

    def network(self, wait: bool = True) -> Network:
        """The current snapshot, reloaded when the database says content has changed.

        With wait=False and an executor, a changed snapshot is loaded in the background and the previous one is
        returned meanwhile (polls); otherwise the call returns the new one (staff pages, tests)."""
        now = self.monotonic()
        current = self._network
        if current is not None and now - self._checked_at < self.check_interval_s:
            return current
        revision = read_revision(self.engine)
        self._checked_at = now
        if current is not None and current.revision == revision:
            return current
        if self.executor is None:
            with self._lock:
                if self._network is None or self._network.revision != revision:
                    self._network = self._load()
                return self._network
        loading = self._loading
        if loading is None or loading.done() and (self._network is None or self._network.revision < revision):
            loading = self._loading = self.executor.submit(self._load_and_refresh)
        if current is not None and not wait:
            return current
        return loading.result()

    def _load(self) -> Network:
        with Session(self.engine) as session:
            return load_network(session)

    def _load_and_refresh(self) -> Network:
        """(executor) Load the snapshot, then build ahead what it changed for the screens served this hour
        (unless a prebuilder does that for every screen)."""
        network = self._load()
        previous, self._network = self._network, network
        if previous is not None and not self.prebuilt:
            start = window_start(self.clock())
            served = list(self._served.values())
            random.shuffle(served)  # workers refresh in different orders, so each mostly finds the other's builds
            for screen_id in served:
                screen = network.screens.get(screen_id)
                if screen is not None:
                    self._schedule(network, screen, start)
        return network

    # --- manifests --------------------------------------------------------------------------------------------

    def get(self, network: Network, screen: ScreenEntry, now: datetime, wait: bool = True) -> Built:
        """The manifest of screen at instant now, built on first request.

        With wait=False and an executor: if it is not built yet but the screen had one before, that one comes
        back while the new one is built in the background. Refuses (RuleError) a screen that cannot be served.
        """
        start = window_start(now)
        key, _ = manifest_key(network, screen, start, self.poll_after_s)
        built = self._built.get(key)
        if built is None:
            if self.executor is None:
                built = self._make(network, screen, start)
            else:
                stale = self._last.get(screen.id) if not wait else None
                if stale is not None and not self._may_wait():
                    self._refresh(network, screen, start, key)
                    return stale
                built = self._schedule(network, screen, start).result()
        else:
            with contextlib.suppress(KeyError):  # the builder thread may just have let it go
                self._built.move_to_end(key)
        self._last[screen.id] = built
        if self.executor is not None:
            if len(self._served) > 4 * self.size:
                self._served.clear()
            self._served[screen.rules_key] = screen.id
            if now.minute >= PREFETCH_AFTER_MIN and not self._pending and not self.prebuilt:
                # The next window ahead of the hour, one manifest at a time while the builder is idle.
                ahead = start + STEP
                if manifest_key(network, screen, ahead, self.poll_after_s)[0] not in self._built:
                    self._schedule(network, screen, ahead)
        return built

    def _may_wait(self) -> bool:
        """Whether a poll whose screen has an older manifest may wait for the new one (found or built in the
        background thread, some milliseconds): yes for the first wait_burst such polls, then wait_per_s a second.

        So a change to a few rule sets reaches each screen at its very next poll, while a change to many (a poster
        on every screen, the hour turning) costs no poll more than that: the rest get the older manifest for the
        few seconds until the new ones are in the store."""
        now = self.monotonic()
        self._allowance = min(self.wait_burst, self._allowance + (now - self._allowance_at) * self.wait_per_s)
        self._allowance_at = now
        if self._allowance < 1 or len(self._pending) > 1:
            return False
        self._allowance -= 1
        return True

    def _refresh(self, network: Network, screen: ScreenEntry, start: datetime, key: str) -> None:
        """Work towards the manifest `key` that a poll was just given an older one for.

        With a prebuilder, look for it in the store (at most every LOOK_EVERY_S per manifest) and build it here
        only if it has not appeared within fallback_s (no scheduler running, or one far behind)."""
        if key in self._pending:
            return
        now = self.monotonic()
        if self.prebuilt and self.store is not None:
            first = self._missing.setdefault(key, now)
            if now - first < self.fallback_s:
                if now - self._looked.get(key, float("-inf")) >= LOOK_EVERY_S:
                    self._looked[key] = now
                    future = self._pending[key] = self.executor.submit(self._fetch, key, start)
                    future.add_done_callback(lambda _f: self._pending.pop(key, None))
                return
        self._schedule(network, screen, start)

    def _fetch(self, key: str, start: datetime) -> Built | None:
        """(executor) The manifest `key` from the store, kept if it is there."""
        built = self.store.fetch(key)
        if built is not None:
            self.shared += 1
            self._keep(key, None, built)
        return built

    def _schedule(self, network: Network, screen: ScreenEntry, start: datetime) -> Future:
        key, _ = manifest_key(network, screen, start, self.poll_after_s)
        future = self._pending.get(key)
        if future is None:
            future = self._pending[key] = self.executor.submit(self._make, network, screen, start)
            future.add_done_callback(lambda _f: self._pending.pop(key, None))
        return future

    def _make(self, network: Network, screen: ScreenEntry, start: datetime, store: bool = True) -> Built:
        """Find or build the manifest, keep it, and put what this process built in the store (unless the
        caller stores it, store=False)."""
        key, timeline_key = manifest_key(network, screen, start, self.poll_after_s)
        built = self._built.get(key)
        if built is not None:
            return built
        built = self.store.fetch(key) if self.store is not None and store else None
        if built is not None:
            self.shared += 1
        else:
            body = build_manifest(network, screen, start, self.poll_after_s, self._timeline(timeline_key))
            built = Built.of(body)
            self.builds += 1
            if self.store is not None and store:
                self.store.put(key, start, built)
        self._keep(key, timeline_key, built)
        return built

    def _keep(self, key: str, timeline_key: str | None, built: Built) -> None:
        # Only one thread writes (the builder, or the caller without one), so plain dict operations suffice.
        self._built[key] = built
        self._missing.pop(key, None)
        self._looked.pop(key, None)
        if timeline_key is not None:
            self._timelines[timeline_key], self._timeline_of[key] = key, timeline_key
        while len(self._built) > self.size:
            old, _ = self._built.popitem(last=False)
            old_timeline = self._timeline_of.pop(old, None)
            if self._timelines.get(old_timeline) == old:
                del self._timelines[old_timeline]
        if len(self._missing) > self.size:
            self._missing.clear()
            self._looked.clear()

    def _timeline(self, timeline_key: str) -> bytes | None:
        """The timeline JSON of a kept manifest with this timeline key, if there is one."""
        key = self._timelines.get(timeline_key)
        built = self._built.get(key) if key is not None else None
        return timeline_of(built.body) if built is not None else None


class Prebuilder:
    """Builds the manifest of every distinct rule set into the store as soon as content changes (the scheduler's
    build-manifests job), and from minute PREFETCH_AFTER_MIN those of the next window, so that workers only
    fetch: one build per manifest for every worker and host, in a process of its own."""

    def __init__(self, engine: Engine, poll_after_s: int = 30, size: int = 4096,
                 monotonic: Callable[[], float] = _time.monotonic) -> None:
        self.cache = ManifestCache(engine, poll_after_s=poll_after_s, size=size, store=ManifestStore(engine))
        self.monotonic = monotonic
        self._stored: set[str] = set()  # keys known to be in the store

    def run(self, now: datetime, budget_s: float = 10.0) -> int:
        """Build what the store lacks for now's window (and the next, late in the hour) for up to budget_s
        seconds; returns how many were built. The next run goes on where this one stopped."""
        deadline = self.monotonic() + budget_s
        network, cache = self.cache.network(), self.cache
        starts = [window_start(now)] + ([window_start(now) + STEP] if now.minute >= PREFETCH_AFTER_MIN else [])
        wanted: dict[str, tuple[ScreenEntry, datetime]] = {}
        seen: set[tuple] = set()
        for start in starts:  # the current window first
            for screen in network.screens.values():
                if (screen.rules_key, start) in seen:
                    continue
                seen.add((screen.rules_key, start))
                try:
                    key, _ = manifest_key(network, screen, start, cache.poll_after_s)
                except RuleError:
                    continue  # not servable yet (its default poster is not rendered): render-missing sees to it
                if key not in self._stored:
                    wanted[key] = (screen, start)
        if len(self._stored) > 8 * cache.size:
            self._stored.clear()
        self._stored |= cache.store.present(list(wanted))
        built, batch, flushed_at = 0, [], self.monotonic()
        for key, (screen, start) in wanted.items():
            if key in self._stored:
                continue
            if self.monotonic() > deadline:
                break
            batch.append((key, start, cache._make(network, screen, start, store=False)))
            built += 1
            # Stored a batch at a time: workers find the first ones soon, and the writer is taken seldom.
            if len(batch) >= 100 or self.monotonic() - flushed_at > 0.5:
                self._flush(batch)
                batch, flushed_at = [], self.monotonic()
        self._flush(batch)
        return built

    def _flush(self, batch: list[tuple[str, datetime, Built]]) -> None:
        self.cache.store.put_many(batch)
        self._stored.update(key for key, _, _ in batch)
