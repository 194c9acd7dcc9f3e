"""Files that hold secrets are owner-only from their creation: the instance folder, the SQLite database and its
-wal/-shm, the secret key, backups, the first-start secrets; the demo's secrets are shown once, kept in that
file, and later starts print only its path."""

import logging
import os
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from playlists import jobs
from playlists.db import upgrade
from playlists.demo import (
    FIRST_START_SECRETS,
    first_start_secrets,
    forget_first_start_secrets,
    keep_first_start_secrets,
)
from server import create_app
from server.db import get_engine, get_session
from server.security import warn_readable_secrets

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
SQLITE_ONLY = pytest.mark.skipif(bool(os.environ.get("SIGNAGE_TEST_POSTGRES_URL")),
                                 reason="the SQLite files exist only on the embedded default")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most machines have (group and others may read new files unless the code says otherwise)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_instance_folder_and_secret_key_are_owner_only(instance):
    app = create_app({"TESTING": True})  # no SECRET_KEY: the instance makes its own
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600
    assert len(app.config["SECRET_KEY"]) == 64


@SQLITE_ONLY
def test_sqlite_database_and_its_wal_and_shm_are_owner_only(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        session.execute(text("UPDATE revision SET value = value + 1"))
        session.commit()
        # While a connection is open, the write-ahead log and the shared-memory index exist beside the database.
        with get_engine().connect() as conn:
            conn.execute(text("SELECT value FROM revision"))
            files = {p.name: mode(p) for p in instance.glob("signage.db*")}
        get_engine().dispose()
    assert {"signage.db", "signage.db-wal", "signage.db-shm"} <= set(files)
    assert set(files.values()) == {0o600}, files


@SQLITE_ONLY
def test_backups_and_their_folder_are_owner_only(instance):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        folder = instance / "backups"
        path = jobs.backup_sqlite(get_engine(), folder, NOW, keep=3)
        get_engine().dispose()
    assert mode(folder) == 0o700
    assert mode(path) == 0o600
    assert not list(folder.glob("*.partial"))


def test_first_start_secrets_are_kept_owner_only_until_the_admin_changes_the_password(tmp_path):
    path = keep_first_start_secrets(tmp_path, "log in as admin with this password:\nS3cret-pass\n")
    assert path == tmp_path / FIRST_START_SECRETS and mode(path) == 0o600
    assert path.read_text(encoding="utf-8").splitlines()[-1] == "S3cret-pass"
    assert first_start_secrets(tmp_path) == path
    assert forget_first_start_secrets(tmp_path, "binh") is False  # someone else's password: the file stays
    assert path.exists()
    assert forget_first_start_secrets(tmp_path, "admin") is True
    assert not path.exists() and first_start_secrets(tmp_path) is None
    assert forget_first_start_secrets(tmp_path, "admin") is False  # already gone: nothing to do


def test_serve_shows_the_demo_secrets_once_and_later_starts_print_only_the_path(instance, capsys):
    from server.serve import _print_demo, _seed_demo

    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        seeded = _seed_demo(app)
    password, tokens = seeded
    _print_demo("http://127.0.0.1:8000", password, tokens)
    first = capsys.readouterr().out
    assert first.splitlines()[-1] == password  # alone on the last line, as every command that makes a secret
    kept = instance / FIRST_START_SECRETS
    assert mode(kept) == 0o600
    saved = kept.read_text(encoding="utf-8")
    assert password in saved and all(f"#token={token}" in saved for token in tokens.values())

    with app.app_context():
        assert _seed_demo(app) is None  # not empty any more: nothing seeded, nothing returned
    later = capsys.readouterr().out
    assert str(kept) in later
    assert password not in later and not any(token in later for token in tokens.values())

    forget_first_start_secrets(instance, "admin")
    with app.app_context():
        _seed_demo(app)
    assert str(kept) not in capsys.readouterr().out


def test_a_start_deletes_first_start_secrets_whose_password_no_longer_works(instance, capsys):
    """A password changed by a path that did not delete the file: the next start finds it stale and deletes it."""
    from playlists.users import add_user
    from server.serve import _seed_demo

    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        upgrade(get_engine())
        add_user(get_session(), "admin", "admin", NOW, password="the one that works now")
        get_session().commit()
        keep_first_start_secrets(instance, "log in as admin with this password:\nthe one that works now\n")
        assert _seed_demo(app) is None
        assert (instance / FIRST_START_SECRETS).exists()  # still the admin's password: kept
        keep_first_start_secrets(instance, "log in as admin with this password:\nan older one\n")
        _seed_demo(app)
    out = capsys.readouterr().out
    assert f"the admin's password was changed: deleted {instance / FIRST_START_SECRETS}" in out
    assert first_start_secrets(instance) is None and "an older one" not in out


def test_secret_files_that_others_can_read_are_named_at_start(instance, caplog):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"})
    config = instance / "config.py"
    config.write_text("SECRET_KEY = 'x'\n")
    config.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        exposed = warn_readable_secrets(app)
    assert exposed == [str(config)]
    assert f"chmod go= {config}" in caplog.text
    config.chmod(0o600)
    assert warn_readable_secrets(app) == []
