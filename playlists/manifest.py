"""The player manifest: a screen's media and its resolved timeline for the next 48 hours, built once and shared.

A manifest covers a fixed window that starts on the hour (UTC) and lasts 49 hours, so at any moment it reaches
at least 48 hours ahead and its bytes change only when the content does or the window moves on (hourly).
Screens under the same rules, profile and time zone get the very same bytes. ManifestCache keeps built
manifests per worker and notices new content by one small query of the revision counter, so a poll whose
ETag still matches is answered without resolving or serialising anything.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from renderer import get_profile

from .network import Network, ScreenEntry, load_network, read_revision
from .resolver import resolve

VERSION = 1
WINDOW = timedelta(hours=49)
STEP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Built:
    """A manifest's bytes, plain and gzip-compressed, and the strong entity tag of its content."""

    etag: str
    body: bytes
    gzipped: bytes


def window_start(now: datetime) -> datetime:
    """The start of the manifest window holding `now`: the hour it falls in, in UTC."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def build_manifest(network: Network, screen: ScreenEntry, start: datetime, poll_after_s: int) -> bytes:
    """The manifest JSON for `screen` over [start, start + 49 h).

    Timeline entries are [duration_ms, item, source], indexes into "items" and "sources": one play each, back to
    back from "from" to "until", so an entry starts where the ones before it add up to. Whole milliseconds
    keep that sum exact in any language, and the repetitive entries make the gzip form a few kilobytes for 48
    hours of 15-second items. Refuses (RuleError) a screen whose default poster is not rendered yet.
    """
    rules = network.rules_for(screen)
    segments = resolve(rules, start, start + WINDOW)
    items: dict = {}
    sources: dict[str, int] = {}
    timeline = []
    for seg in segments:
        index = items.setdefault(seg.item, len(items))
        source = sources.setdefault(seg.source, len(sources))
        # Differences of rounded instants, so rounding never accumulates along the timeline.
        timeline.append([_ms(seg.end) - _ms(seg.start), index, source])
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
        "timeline": timeline,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _item_doc(network: Network, item, profile: str) -> dict:
    media = network.media_for(item, profile)
    return {"key": item.key, "duration_s": item.duration_s, "url": media.url, "sha256": media.sha256,
            "bytes": media.bytes, "width": media.width, "height": media.height}


class ManifestCache:
    """Built manifests of one process, keyed by everything their bytes depend on, least recently used first out.

    The network snapshot is re-read when the revision counter moves; the counter is read at most every
    check_interval_s seconds (0: on every call), which bounds how stale a poll can be.
    """

    def __init__(self, engine: Engine, poll_after_s: int = 30, size: int = 256, check_interval_s: float = 0.0,
                 monotonic: Callable[[], float] = _time.monotonic) -> None:
        self.engine, self.poll_after_s, self.size = engine, poll_after_s, size
        self.check_interval_s, self.monotonic = check_interval_s, monotonic
        self._lock = threading.Lock()
        self._network: Network | None = None
        self._checked_at = float("-inf")
        self._built: OrderedDict[tuple, Built] = OrderedDict()
        self.builds = 0  # how many manifests this cache has built (for tests and metrics)

    def network(self) -> Network:
        """The current snapshot, reloaded when the database says content has changed."""
        now = self.monotonic()
        current = self._network
        if current is not None and now - self._checked_at < self.check_interval_s:
            return current
        revision = read_revision(self.engine)
        self._checked_at = now
        if current is not None and current.revision == revision:
            return current
        with self._lock:
            if self._network is None or self._network.revision != revision:
                with Session(self.engine) as session:
                    self._network = load_network(session)
                self._built.clear()
            return self._network

    def get(self, network: Network, screen: ScreenEntry, now: datetime) -> Built:
        """The manifest of screen at instant now, built on first request."""
        start = window_start(now)
        key = (network.revision, screen.rules_key, start)
        with self._lock:
            built = self._built.get(key)
            if built is not None:
                self._built.move_to_end(key)
                return built
        body = build_manifest(network, screen, start, self.poll_after_s)
        built = Built(hashlib.sha256(body).hexdigest()[:32], body, gzip.compress(body, compresslevel=6, mtime=0))
        with self._lock:
            self.builds += 1
            self._built[key] = built
            while len(self._built) > self.size:
                self._built.popitem(last=False)
        return built
