"""The scheduler's jobs, called with a fake clock, and the lock that lets only one scheduler run."""

import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from playlists import content, jobs
from playlists.db import upgrade
from playlists.models import AuditEntry, ManifestBuild, OverrideRow, Play, PlayHour, Rendition, ScreenEvent
from playlists.reports import record_heartbeat, record_plays
from playlists.screens import add_screen
from server import create_app
from server import scheduler as sched
from server.db import get_engine, get_manifests, get_session, get_store
from tests.helpers import Clock

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(instance):
    clock = Clock(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": clock, "REVISION_CHECK_S": 0})
    app.clock = clock
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        add_screen(session, "bx-bac-1", "led-p10", NOW)
        add_screen(session, "bx-nam-1", "led-p10", NOW)
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
    return app


def job(job_id):
    return next(j for j in sched.JOBS if j.id == job_id)


def count(app, model, *where):
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model).where(*where))


def plays(n, start, screen="bx-bac-1", prefix="r"):
    return {"plays": [{"id": f"{prefix}{i}", "item": "poster:1", "started_at": (start + timedelta(seconds=15 * i))
                       .isoformat(), "duration_s": 15} for i in range(n)]}


def test_job_ids_are_stable_and_unique():
    assert [j.id for j in sched.JOBS] == ["build-manifests", "mark-offline", "retire-overrides", "render-missing",
                                          "roll-up-plays", "prune-manifests", "verify-media", "backup-sqlite"]


def test_mark_offline_records_each_change_once(app):
    with app.app_context():
        record_heartbeat(get_session(), "bx-bac-1", {"version": "1"}, NOW)
        get_session().commit()
    sched.run_job(app, job("mark-offline"), NOW)
    later = NOW + timedelta(minutes=10)
    sched.run_job(app, job("mark-offline"), later)
    sched.run_job(app, job("mark-offline"), later + timedelta(seconds=30))  # nothing new: nothing recorded
    with app.app_context():
        events = get_session().execute(select(ScreenEvent.screen_id, ScreenEvent.kind)
                                       .where(ScreenEvent.screen_id == "bx-bac-1")).all()
    assert ("bx-bac-1", "offline") in events
    assert len([e for e in events if e[1] == "offline"]) == 1


def test_retire_overrides_removes_only_long_ended_ones(app):
    with app.app_context():
        session = get_session()
        poster = content.add_poster(session, {"lang": "vi"}, NOW)
        old = content.add_override(session, f"poster:{poster.id}", start=NOW - timedelta(days=3),
                                   end=NOW - timedelta(days=2), everywhere=True)
        live = content.add_override(session, f"poster:{poster.id}", start=NOW - timedelta(hours=1),
                                    end=NOW + timedelta(hours=1), everywhere=True)
        session.commit()
        old_id, live_id = old.id, live.id
    assert sched.run_job(app, job("retire-overrides"), NOW) == [old_id]
    assert sched.run_job(app, job("retire-overrides"), NOW) == []
    with app.app_context():
        assert [o.id for o in get_session().scalars(select(OverrideRow))] == [live_id]
        assert get_session().scalar(select(AuditEntry.action).where(AuditEntry.target == f"override:{old_id}")) \
            == "override.retire"


def test_render_missing_makes_media_for_a_new_profile(app):
    with app.app_context():
        session = get_session()
        add_screen(session, "tiny", "led-p5-small", NOW)  # added without its media
        session.commit()
    made = sched.run_job(app, job("render-missing"), NOW)
    assert [p for _, p in made] == ["led-p5-small"]
    assert count(app, Rendition, Rendition.profile == "led-p5-small") == 1
    assert sched.run_job(app, job("render-missing"), NOW) == []


def test_plays_roll_up_once_and_raw_records_are_pruned_after_keep_days(app):
    with app.app_context():
        session = get_session()
        record_plays(session, "bx-bac-1", plays(300, NOW - timedelta(days=100)), NOW)  # 75 min of plays
        session.commit()
    counted, pruned = sched.run_job(app, job("roll-up-plays"), NOW)
    assert (counted, pruned) == (300, 300)  # older than 90 days: counted, then pruned
    assert sched.run_job(app, job("roll-up-plays"), NOW) == (0, 0)
    with app.app_context():
        session = get_session()
        hours = session.execute(select(PlayHour.hour, PlayHour.plays, PlayHour.seconds).order_by(PlayHour.hour)).all()
        assert [h[1] for h in hours] == [240, 60] and sum(h[2] for h in hours) == 300 * 15
        # A late batch for an hour already counted adds to it; recent records stay raw for the reports.
        record_plays(session, "bx-bac-1", plays(4, NOW - timedelta(days=100), prefix="late"), NOW)
        record_plays(session, "bx-bac-1", plays(2, NOW - timedelta(hours=2), prefix="new"), NOW)
        session.commit()
    assert sched.run_job(app, job("roll-up-plays"), NOW) == (6, 4)
    assert count(app, Play) == 2 and count(app, Play, Play.rolled.is_(True)) == 2
    with app.app_context():
        assert get_session().scalar(select(func.sum(PlayHour.plays))) == 306


def test_plays_roll_up_in_small_transactions(app, monkeypatch):
    """Each batch is committed on its own, so screens reporting meanwhile wait for one batch at most."""
    monkeypatch.setattr(jobs, "ROLL_BATCH", 100)
    with app.app_context():
        session = get_session()
        record_plays(session, "bx-bac-1", plays(250, NOW - timedelta(days=100)), NOW)
        session.commit()
        commits = []
        assert jobs.roll_up_plays(session, NOW, timedelta(days=90), lambda: commits.append(session.commit())) \
            == (250, 250)
        assert len(commits) == 6  # 3 batches counted, 3 pruned
        session.commit()
    assert count(app, Play) == 0


def test_shared_manifests_are_pruned_once_their_window_has_passed(app):
    with app.app_context():
        cache = get_manifests()
        network = cache.network()
        for hours in (-3, -2, 0):
            cache.get(network, network.screens["bx-bac-1"], NOW + timedelta(hours=hours))
    assert count(app, ManifestBuild) == 3
    assert sched.run_job(app, job("prune-manifests"), NOW) == 2
    assert count(app, ManifestBuild) == 1


def test_verify_media_finds_changed_and_missing_files(app):
    with app.app_context():
        store = get_store()
        renditions = get_session().scalars(select(Rendition)).all()
        media = [(r.sha256, r.media.ext) for r in renditions]
    report = sched.run_job(app, job("verify-media"), NOW)
    assert report.checked >= 1 and report.missing == report.corrupt == []
    sha, ext = media[0]
    path = store.path(sha, ext)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"x")
    report = sched.run_job(app, job("verify-media"), NOW)
    assert report.corrupt == [sha]
    path.unlink()
    assert sched.run_job(app, job("verify-media"), NOW).missing == [sha]


def test_sqlite_backups_are_consistent_copies_and_only_the_last_few_are_kept(app):
    with app.app_context():
        if get_engine().dialect.name != "sqlite":
            assert sched.run_job(app, job("backup-sqlite"), NOW) is None
            return
    app.config["BACKUP_KEEP"] = 2
    paths = [sched.run_job(app, job("backup-sqlite"), NOW + timedelta(days=d)) for d in range(3)]
    folder = Path(app.instance_path) / "backups"
    assert sorted(folder.iterdir()) == paths[1:]
    with sqlite3.connect(paths[-1]) as db:
        assert {r[0] for r in db.execute("SELECT id FROM screens")} == {"bx-bac-1", "bx-nam-1"}
    assert not list(folder.glob("*.partial"))


class Scheduler:
    """A `signage scheduler` process whose output goes to files (pipes left unread could block it)."""

    def __init__(self, instance, tmp_path, *args):
        env = {**os.environ, "SIGNAGE_INSTANCE": str(instance)}
        self.out, self.err = (tmp_path / f"{id(self)}.{n}" for n in ("out", "err"))
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "server", "scheduler", *args], cwd=ROOT, env=env,
                                         stdout=out, stderr=err, text=True)

    def wait_for(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.out.read_text():
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {text!r}; stderr: {self.err.read_text()[-2000:]}")

    def stop(self):
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 30 s after SIGTERM; stderr: {self.err.read_text()[-2000:]}") from None
        assert code == 0, self.err.read_text()[-2000:]


def test_only_one_scheduler_runs(app, instance, tmp_path):
    first = Scheduler(instance, tmp_path)
    waiting = None
    try:
        first.wait_for("scheduler running")
        second = Scheduler(instance, tmp_path)
        assert second.proc.wait(timeout=60) == 1
        assert "another scheduler is running" in second.err.read_text() and "--wait" in second.err.read_text()
        once = Scheduler(instance, tmp_path, "--once", "render-missing")
        assert once.proc.wait(timeout=60) == 1  # not even one job beside a running scheduler
        waiting = Scheduler(instance, tmp_path, "--wait")
        time.sleep(1.0)
        assert waiting.proc.poll() is None and "scheduler running" not in waiting.out.read_text()
        first.stop()
        waiting.wait_for("scheduler running")  # took over once the first stopped
        waiting.stop()
    finally:
        for proc in (first, waiting):
            if proc is not None and proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait()
