"""Screens, device tokens and the schema migrations, on a real database."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from playlists.db import current_revision, head_revision, make_engine, session_factory, upgrade
from playlists.models import Group, Screen
from playlists.screens import ScreenError, add_screen, hash_token, list_screens, reissue_token, screen_for_token

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with session_factory(engine)() as session:
        yield session


def test_migrations_create_the_schema_and_rerun_harmlessly(engine):
    assert current_revision(engine) == head_revision()
    upgrade(engine)
    assert {"screens", "groups", "screen_groups", "media", "screen_status", "plays"} <= set(
        inspect(engine).get_table_names())


def test_migrations_match_the_models(engine):
    """A model changed without its migration would make an upgraded database differ from the code."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from playlists.models import Base

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_keeps_existing_rows(empty_db_url):
    engine = make_engine(empty_db_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO screens (id, name, site, district, profile, tz, token_hash, token_issued_at, created_at) "
            "VALUES ('old', 'Old', '', '', 'tv-1080p', 'Asia/Ho_Chi_Minh', 'h', '2026-01-01', '2026-01-01')")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with session_factory(engine)() as session:
        assert [s.id for s in list_screens(session)] == ["old"]
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas: this run is on PostgreSQL")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_add_screen_keeps_only_the_token_hash(session):
    token = add_screen(session, "ben-xe-phia-bac-1", "tv-1080p", NOW, name="Bến xe phía Bắc",
                       groups=["stations", "tv", "stations"])
    session.commit()
    screen = session.get(Screen, "ben-xe-phia-bac-1")
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert screen.token_hash == hash_token(token) and token not in screen.token_hash
    assert [g.name for g in screen.groups] == ["stations", "tv"]
    assert screen.tz == "Asia/Ho_Chi_Minh" and screen.created_at is not None


def test_groups_are_shared_between_screens(session):
    add_screen(session, "a", "tv-1080p", NOW, groups=["stations"])
    add_screen(session, "b", "kiosk-portrait", NOW, groups=["stations"])
    session.commit()
    group = session.scalar(select(Group).where(Group.name == "stations"))
    assert sorted(s.id for s in group.screens) == ["a", "b"]


def test_token_opens_only_its_own_screen(session):
    ta = add_screen(session, "a", "tv-1080p", NOW)
    tb = add_screen(session, "b", "tv-1080p", NOW)
    session.commit()
    assert screen_for_token(session, "a", ta).id == "a"
    assert screen_for_token(session, "a", tb) is None
    assert screen_for_token(session, "nope", ta) is None
    assert screen_for_token(session, "a", "") is None


def test_reissued_token_revokes_the_old_one(session):
    old = add_screen(session, "a", "tv-1080p", NOW)
    new = reissue_token(session, "a", NOW)
    session.commit()
    assert new != old
    assert screen_for_token(session, "a", old) is None
    assert screen_for_token(session, "a", new).id == "a"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"screen_id": "Bad Id"}, "bad screen id"),
        ({"profile": "plasma"}, "is unknown"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"groups": ["../x"]}, "bad group name"),
    ],
)
def test_bad_screens_are_refused_and_nothing_is_stored(session, kwargs, message):
    args = {"screen_id": "ok", "profile": "tv-1080p", "tz": "Asia/Ho_Chi_Minh", "groups": []} | kwargs
    with pytest.raises(ScreenError, match=message):
        add_screen(session, args.pop("screen_id"), args.pop("profile"), NOW, **args)
    session.commit()
    assert list_screens(session) == []


def test_duplicate_screen_is_refused(session):
    add_screen(session, "a", "tv-1080p", NOW)
    session.commit()
    with pytest.raises(ScreenError, match="exists already"):
        add_screen(session, "a", "tv-1080p", NOW)


def test_reissue_for_unknown_screen(session):
    with pytest.raises(ScreenError, match="no screen"):
        reissue_token(session, "ghost", NOW)


def test_ids_the_web_player_uses_are_reserved(session):
    with pytest.raises(ScreenError, match="reserved"):
        add_screen(session, "sw.js", "tv-1080p", NOW)


@pytest.mark.parametrize(("profile", "message"), [("a4-print", "not a screen"), ("link-preview", "not a screen"),
                                                  ("tv-4k", "is unknown")])
def test_a_screen_needs_a_screen_profile(session, profile, message):
    with pytest.raises(ScreenError, match=message):
        add_screen(session, "x", profile, NOW)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("name", "x" * 201, "name too long: got 201 characters"),
    ("site", "Bến xe\x00", "site: got"),
    ("district", "Huế\ud800", "district: got"),
    ("name", "Sảnh\nchờ", "name: got"),
])
def test_labels_that_the_database_cannot_keep_are_refused_with_a_reason(session, field, value, says):
    with pytest.raises(ScreenError, match=re.escape(says)):
        add_screen(session, "bx-bac-9", "tv-1080p", NOW, **{field: value})
    assert session.get(Screen, "bx-bac-9") is None
