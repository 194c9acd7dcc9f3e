"""The per-worker manifest cache: how it notices new content, and how much it keeps."""

from datetime import UTC, datetime, timedelta

import pytest

from assets.store import FileStore
from playlists import content
from playlists.db import make_engine, session_factory, upgrade
from playlists.manifest import ManifestCache, window_start
from playlists.screens import add_screen

NOW = datetime(2026, 11, 27, 1, 20, tzinfo=UTC)


class Ticks:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def engine(db_url, tmp_path):
    engine = make_engine(db_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        for sid in ("a", "b", "c"):
            add_screen(session, sid, "led-p10", NOW, tz="Asia/Ho_Chi_Minh" if sid != "c" else "Asia/Tokyo")
        content.sync_renditions(session, FileStore(tmp_path / "media"), NOW)
        session.commit()
    yield engine
    engine.dispose()


def add_group_screen(engine, sid):
    with session_factory(engine)() as session:
        add_screen(session, sid, "led-p10", NOW)
        session.commit()


def test_new_content_is_seen_after_at_most_the_check_interval(engine):
    ticks = Ticks()
    cache = ManifestCache(engine, check_interval_s=1.0, monotonic=ticks)
    first = cache.network()
    add_group_screen(engine, "d")
    ticks.t += 0.5
    assert cache.network() is first and "d" not in first.screens  # within the interval: no query at all
    ticks.t += 0.6
    fresh = cache.network()
    assert fresh.revision > first.revision and "d" in fresh.screens


def test_with_no_interval_every_call_sees_the_latest_commit(engine):
    cache = ManifestCache(engine, check_interval_s=0)
    first = cache.network()
    assert cache.network() is first  # unchanged revision: the same snapshot, not a reload
    add_group_screen(engine, "d")
    assert "d" in cache.network().screens


def test_screens_with_the_same_rules_share_one_build_and_the_cache_is_bounded(engine):
    cache = ManifestCache(engine, size=1)
    net = cache.network()
    a, b, c = (net.screens[s] for s in "abc")
    assert cache.get(net, a, NOW) is cache.get(net, b, NOW + timedelta(minutes=30))  # same rules, same hour
    assert cache.builds == 1
    tokyo = cache.get(net, c, NOW)
    assert tokyo.etag != cache.get(net, a, NOW).etag  # another time zone, another timeline
    assert cache.builds == 3  # size 1: building Tokyo pushed Huế out


def test_the_window_starts_on_the_utc_hour():
    assert window_start(datetime(2026, 11, 27, 8, 59, 59, tzinfo=UTC)) == datetime(2026, 11, 27, 8, tzinfo=UTC)
