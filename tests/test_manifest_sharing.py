"""Manifests at scale: a change rebuilds only what it touches, builds are shared between processes through the
store, polls never wait for a rebuild they can do without, and the next hour is built ahead."""

import json
import random
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from assets.store import FileStore
from playlists import content
from playlists.db import make_engine, session_factory, upgrade
from playlists.manifest import Built, ManifestCache, ManifestStore, build_manifest, manifest_key, window_start
from playlists.network import load_network, needed_renditions
from playlists.screens import add_screen

NOW = datetime(2026, 11, 27, 1, 20, tzinfo=UTC)


class ManualExecutor(Executor):
    """Runs submitted work only when told, so a test sees what a poll gets while work is pending."""

    def __init__(self):
        self.queue, self.auto = [], True  # auto: run at once (to set a scene up)

    def submit(self, fn, *args, **kwargs):
        future = Future()
        self.queue.append((future, fn, args, kwargs))
        if self.auto:
            self.run()
        return future

    def run(self):
        while self.queue:
            future, fn, args, kwargs = self.queue.pop(0)
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - handed to the future, as an executor does
                future.set_exception(exc)


@pytest.fixture
def engine(db_url, tmp_path):
    engine = make_engine(db_url)
    upgrade(engine)
    store = FileStore(tmp_path / "media")
    with session_factory(engine)() as session:
        for sid, group in (("a1", "north"), ("a2", "north"), ("b1", "south"), ("b2", "south")):
            add_screen(session, sid, "led-p10", NOW, groups=[group])
        poster = f"poster:{content.add_poster(session, {'lang': 'vi', 'headline': 'Cài Bluezone'}, NOW).id}"
        for group in ("north", "south"):
            playlist = content.add_playlist(session, group, [(poster, 15)])
            content.add_schedule(session, playlist.id, groups=[group], start_time=time(6), end_time=time(22))
        content.sync_renditions(session, store, NOW)
        session.commit()
    engine.store_dir, engine.poster = store, poster
    yield engine
    engine.dispose()


def snapshot(engine):
    with Session(engine) as session:
        return load_network(session)


def keys(network, start=NOW):
    return {sid: manifest_key(network, screen, window_start(start), 30)[0] for sid, screen in network.screens.items()}


def edit_north(engine, name="late"):
    """Give the north's schedule other hours: a change that concerns half the screens."""
    with session_factory(engine)() as session:
        content.add_schedule(session, content.add_playlist(session, name, [(engine.poster, 20)]).id,
                             groups=["north"], priority=1, start_time=time(20), end_time=time(23))
        content.sync_renditions(session, engine.store_dir, NOW)
        session.commit()


def test_a_change_alters_the_keys_of_the_manifests_it_touches_and_no_others(engine):
    before = keys(snapshot(engine))
    assert before["a1"] == before["a2"] != before["b1"] == before["b2"]
    edit_north(engine)
    after = keys(snapshot(engine))
    assert after["a1"] != before["a1"] and after["a1"] == after["a2"]
    assert after["b1"] == before["b1"]  # the south's manifests stay built
    assert keys(snapshot(engine), NOW + timedelta(hours=1))["b1"] != after["b1"]  # another window, another key


def test_a_media_only_change_reuses_the_timeline_and_gives_the_bytes_of_a_full_build(engine):
    network = snapshot(engine)
    screen, start = network.screens["a1"], window_start(NOW)
    old_key, old_timeline = manifest_key(network, screen, start, 30)
    body = build_manifest(network, screen, start, 30)
    with session_factory(engine)() as session:  # the poster's text changes: new media, same timeline
        content.update_poster(session, int(engine.poster.split(":")[1]), {"lang": "vi", "headline": "Cài ngay"}, NOW)
        content.sync_renditions(session, engine.store_dir, NOW)
        session.commit()
    network = snapshot(engine)
    screen = network.screens["a1"]
    new_key, new_timeline = manifest_key(network, screen, start, 30)
    assert new_key != old_key and new_timeline == old_timeline
    from playlists.manifest import timeline_of
    reused = build_manifest(network, screen, start, 30, timeline_of(body))
    assert reused == build_manifest(network, screen, start, 30)
    assert json.loads(reused)["items"] != json.loads(body)["items"]
    # A cache rebuilding after the change takes the timeline from the manifest it kept.
    cache = ManifestCache(engine)
    assert cache.get(cache.network(), cache.network().screens["a1"], NOW).body == reused


def test_one_build_serves_every_process_through_the_store(engine):
    first = ManifestCache(engine, store=ManifestStore(engine))
    second = ManifestCache(engine, store=ManifestStore(engine))
    built = first.get(first.network(), first.network().screens["a1"], NOW)
    again = second.get(second.network(), second.network().screens["a2"], NOW)  # another worker, same rules
    assert (first.builds, second.builds, second.shared) == (1, 0, 1)
    assert again.etag == built.etag and again.gzipped == built.gzipped
    assert json.loads(again.body)["items"][0]["key"] == engine.poster


def test_the_store_forgets_windows_that_have_passed(engine):
    store = ManifestStore(engine)
    cache = ManifestCache(engine, store=store)
    network = cache.network()
    for hours in range(3):
        cache.get(network, network.screens["a1"], NOW + timedelta(hours=hours))
    with session_factory(engine)() as session:
        assert store.prune(session, window_start(NOW + timedelta(hours=2)), batch=1) == 1  # small batches
        assert store.prune(session, window_start(NOW + timedelta(hours=2))) == 1
        assert store.prune(session, window_start(NOW + timedelta(hours=2))) == 0
        session.commit()
    key, _ = manifest_key(network, network.screens["a1"], window_start(NOW + timedelta(hours=2)), 30)
    assert store.fetch(key) is not None


def test_polls_get_the_previous_manifest_while_the_new_one_is_built(engine):
    executor = ManualExecutor()
    cache = ManifestCache(engine, executor=executor, clock=lambda: NOW, wait_burst=0)
    network = cache.network()  # the first snapshot: nothing to serve meanwhile, so it is waited for
    first = cache.get(network, network.screens["a1"], NOW)  # no manifest yet: waits for its first
    assert cache.builds == 1
    executor.auto = False
    edit_north(engine)
    stale = cache.network(wait=False)
    assert stale is network  # the new snapshot loads in the background
    assert cache.get(stale, stale.screens["a1"], NOW, wait=False) is first
    executor.run()  # loads the snapshot, then builds ahead what it changed for screens served this hour
    fresh = cache.network(wait=False)
    assert fresh.revision > network.revision
    assert cache.builds == 2
    new = cache.get(fresh, fresh.screens["a1"], NOW, wait=False)
    assert new.etag != first.etag and not executor.queue
    assert cache.get(fresh, fresh.screens["a2"], NOW, wait=False) is new  # same rules, no build
    # Staff pages and tests ask with wait=True: they see the change at once.
    executor.auto = True
    edit_north(engine, "later")
    assert cache.network().revision > fresh.revision


def test_a_screen_never_served_waits_for_its_first_manifest(engine):
    executor = ManualExecutor()
    cache = ManifestCache(engine, executor=executor, clock=lambda: NOW)
    network = cache.network()
    executor.auto = False
    pending = cache._schedule(network, network.screens["b1"], window_start(NOW))
    assert not pending.done()
    executor.run()
    assert cache.get(network, network.screens["b1"], NOW, wait=False) is pending.result()


def test_the_next_hour_is_built_ahead_while_the_builder_is_idle(engine):
    executor = ManualExecutor()
    late = NOW.replace(minute=50)
    cache = ManifestCache(engine, executor=executor, clock=lambda: late, wait_burst=0)
    network = cache.network()
    executor.auto = False
    screen = network.screens["b1"]
    early = cache._schedule(network, screen, window_start(NOW))
    executor.run()
    cache.get(network, screen, NOW.replace(minute=10), wait=False)
    assert not executor.queue  # before :45 nothing is built ahead
    cache.get(network, screen, late, wait=False)
    assert len(executor.queue) == 1
    cache.get(network, screen, late, wait=False)
    assert len(executor.queue) == 1  # one at a time
    executor.run()
    builds = cache.builds
    cache.get(network, screen, late + timedelta(minutes=15), wait=False)  # the hour has turned: already built
    assert cache.builds == builds and not executor.queue and early.done()


def test_built_keeps_gzip_and_gives_the_plain_bytes():
    built = Built.of(b'{"a":1}')
    assert built.body == b'{"a":1}' and len(built.etag) == 32


def test_needed_renditions_asked_of_the_database_agree_with_the_snapshot(db_url, tmp_path):
    """A varied network: groups, screens targeted by id, rules everywhere, several profiles."""
    engine = make_engine(db_url)
    upgrade(engine)
    rnd = random.Random(7)
    profiles = ("led-p10", "led-billboard", "bus-strip")
    with session_factory(engine)() as session:
        for i in range(40):
            groups = rnd.sample(["g1", "g2", "g3", "g4", "g5"], rnd.randint(0, 2))
            add_screen(session, f"s{i}", rnd.choice(profiles), NOW, groups=groups)
        posters = [f"poster:{content.add_poster(session, {'lang': 'vi'}, NOW).id}" for _ in range(4)]
        for k in range(6):
            playlist = content.add_playlist(session, f"p{k}", [(rnd.choice(posters), 15)])
            content.add_schedule(session, playlist.id, groups=rnd.sample(["g1", "g2", "g3", "g4", "g5"], 1),
                                 screens=[f"s{rnd.randrange(40)}"] if k % 2 else [])
        content.add_reminder(session, posters[1], duration_s=20, every_min=15, screens=["s3"])
        content.add_override(session, posters[2], start=NOW, end=NOW + timedelta(hours=1), groups=["g5"])
        content.add_reminder(session, posters[3], duration_s=20, every_min=30, everywhere=True)
        session.flush()
        network = load_network(session)
        assert needed_renditions(session) == network.needed_renditions()
        for sid in ("s3", "s7", "s20"):  # one new screen's needs, as creating it asks
            screen = network.screens[sid]
            assert needed_renditions(session, [sid]) == {(c, screen.profile) for c in network.contents_for(screen)}
        session.rollback()
    engine.dispose()


def test_the_scheduler_builds_every_manifest_once_and_workers_only_fetch(engine):
    from playlists.manifest import Prebuilder

    ticks = [0.0]
    prebuilder = Prebuilder(engine, monotonic=lambda: ticks[0])
    assert prebuilder.run(NOW) == 2  # north and south: one manifest per rule set, not per screen
    assert prebuilder.run(NOW) == 0  # nothing changed, nothing built
    assert prebuilder.run(NOW.replace(minute=50)) == 2  # late in the hour: the next window too
    edit_north(engine)
    assert prebuilder.run(NOW.replace(minute=50)) == 2  # the north's, this hour and next; the south's stay
    # A worker whose screen already had a manifest fetches the new one instead of building it.
    executor = ManualExecutor()
    worker = ManifestCache(engine, store=ManifestStore(engine), executor=executor, prebuilt=True, clock=lambda: NOW,
                           wait_burst=0)
    network = worker.network()
    old = Built.of(b"{}")
    worker._last["a1"] = old
    assert worker.get(network, network.screens["a1"], NOW, wait=False) is old
    fresh = worker.get(network, network.screens["a1"], NOW, wait=False)
    assert fresh is not old and worker.builds == 0 and worker.shared == 1


def test_a_worker_builds_itself_when_the_prebuilt_manifest_is_late(engine):
    ticks = [0.0]
    executor = ManualExecutor()
    worker = ManifestCache(engine, store=ManifestStore(engine), executor=executor, prebuilt=True,
                           clock=lambda: NOW, monotonic=lambda: ticks[0], fallback_s=10, wait_burst=0)
    network = worker.network()
    executor.auto = False
    old = Built.of(b"{}")
    worker._last["b1"] = old
    screen = network.screens["b1"]
    for second in range(10):
        ticks[0] = float(second)
        assert worker.get(network, screen, NOW, wait=False) is old  # no scheduler: the store stays empty
        executor.run()
    assert worker.builds == 0
    ticks[0] = 10.5
    worker.get(network, screen, NOW, wait=False)
    executor.run()
    assert worker.builds == 1 and worker.get(network, screen, NOW, wait=False) is not old


def test_a_few_changed_manifests_reach_their_screens_at_the_very_next_poll_many_within_seconds(engine):
    ticks = [0.0]
    executor = ManualExecutor()  # runs at once: a poll that may wait gets the new manifest
    cache = ManifestCache(engine, store=ManifestStore(engine), executor=executor, prebuilt=True, clock=lambda: NOW,
                          monotonic=lambda: ticks[0], wait_burst=2, wait_per_s=1.0)
    network = cache.network()
    before = {sid: cache.get(network, network.screens[sid], NOW, wait=False) for sid in ("a1", "b1")}
    edit_north(engine)
    network = cache.network()
    fresh = cache.get(network, network.screens["a1"], NOW, wait=False)
    assert fresh is not before["a1"] and cache.builds == 3  # waited for its build: the next poll has it
    with session_factory(engine)() as session:  # a poster on every screen: more changes than the allowance
        content.update_poster(session, int(engine.poster.split(":")[1]), {"lang": "vi", "headline": "Mới"}, NOW)
        content.sync_renditions(session, engine.store_dir, NOW)
        session.commit()
    network = cache.network()
    assert cache.get(network, network.screens["a1"], NOW, wait=False) is not fresh  # the last of the burst
    assert cache.get(network, network.screens["b1"], NOW, wait=False) is before["b1"]  # the older one, for now
    ticks[0] = 1.0  # a second later the allowance has one more
    assert cache.get(network, network.screens["b1"], NOW, wait=False) is not before["b1"]
