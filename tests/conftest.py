"""Fixtures shared by the suite.

Database-backed tests run on SQLite by default. With SIGNAGE_TEST_POSTGRES_URL set to a PostgreSQL URL whose
role may create databases (`.ci/run` does this), they run on PostgreSQL instead: one database migrated once
per run and emptied before each test, which apps built by create_app, `signage` commands, live servers and the
db_url fixture all use.
"""

import gc
import os
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from playlists.db import make_engine, upgrade
from playlists.models import Base
from server import create_app
from server.cli import main

POSTGRES = os.environ.get("SIGNAGE_TEST_POSTGRES_URL")


def _admin_execute(sql: str) -> None:
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _database(name: str) -> str:
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_database():
    """One PostgreSQL database for the run, migrated once; each test starts from it emptied (see db_url)."""
    if not POSTGRES:
        yield None
        return
    name = f"signage_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_database(name))
    upgrade(engine)
    yield engine
    engine.dispose()
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(tmp_path, _pg_database):
    """A migrated, empty database for one test: SQLite under tmp_path, or the run's PostgreSQL database emptied."""
    if _pg_database is None:
        return f"sqlite:///{tmp_path / 'signage.db'}"
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with _pg_database.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO revision (id, value) VALUES (1, 1)"))
    return _pg_database.url.render_as_string(hide_password=False)


@pytest.fixture
def empty_db_url(tmp_path, _pg_database):
    """A database with no schema at all, for migration tests."""
    if _pg_database is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"signage_empty_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    yield _database(name)
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _postgres_for_everything(request, monkeypatch):
    """On the PostgreSQL run, point every app of this test (in-process or a subprocess) at its own database."""
    if not POSTGRES:
        yield
        return
    url = request.getfixturevalue("db_url")
    monkeypatch.setattr("server.db.default_database_url", lambda app: url)
    monkeypatch.setenv("SIGNAGE_DATABASE_URL", url)
    engines = []

    def tracked(*args, **kwargs):
        engine = make_engine(*args, **kwargs)
        engines.append(engine)
        return engine

    # Apps keep pooled connections; close them before the database is dropped (psycopg warns otherwise).
    monkeypatch.setattr("server.db.make_engine", tracked)
    yield
    for engine in engines:
        engine.dispose()
    # A connection left open must be reported against this test, not whichever test the collector runs in.
    gc.collect()


@pytest.fixture(autouse=True)
def _quick_password_hashing(request, monkeypatch):
    """Argon2id at its lowest cost, so that the many logins of the suite take a millisecond, not a quarter second
    each on a busy machine. Hashes carry their parameters, so a live server checks them as quickly. Tests marked
    real_password_hashing keep the product's parameters (and test_auth checks those)."""
    if request.node.get_closest_marker("real_password_hashing"):
        return
    from argon2 import PasswordHasher

    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr("playlists.users._HASHER", quick)
    monkeypatch.setattr("playlists.users._DUMMY_HASH", quick.hash("not a password of anyone"))


@pytest.fixture
def instance(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(path))
    return path


@pytest.fixture
def app(instance):
    return create_app({"TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(instance):
    """Invoke the `signage` command line with the test instance."""

    class Runner:
        def invoke(self, *args):
            return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return Runner()
