"""The database and media store as resources of the app: created once, a session per request."""

from __future__ import annotations

import os

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from assets.store import FileStore
from playlists.db import make_engine, session_factory
from playlists.manifest import ManifestCache, ManifestStore


def default_database_url(app: Flask) -> str:
    """The embedded default: SQLite in the instance folder."""
    return "sqlite:///" + os.path.join(app.instance_path, "signage.db")


def init_app(app: Flask) -> None:
    """Fill in the default database URL and media folder, make the engine, close sessions on teardown."""
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(app)
    if not app.config.get("MEDIA_DIR"):
        app.config["MEDIA_DIR"] = os.path.join(app.instance_path, "media")
    _private_sqlite_file(app.config["DATABASE_URL"])
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["signage.engine"] = engine
    app.extensions["signage.sessions"] = session_factory(engine)
    app.extensions["signage.store"] = FileStore(app.config["MEDIA_DIR"])
    clock = app.config.get("CLOCK")
    app.extensions["signage.manifests"] = ManifestCache(
        engine, poll_after_s=int(app.config["POLL_AFTER_S"]), size=int(app.config["MANIFEST_CACHE_SIZE"]),
        check_interval_s=float(app.config["REVISION_CHECK_S"]), store=ManifestStore(engine),
        clock=(lambda: clock()) if clock else None,
    )
    app.teardown_appcontext(_close_session)


def _private_sqlite_file(url: str) -> None:
    """Create an SQLite database file owner-only (0600) before SQLite does; its -wal and -shm files take
    the database file's mode, so they are owner-only too. Other databases, and existing files, are left alone."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return
    from .security import create_private

    if os.path.isdir(os.path.dirname(os.path.abspath(path))):
        create_private(path)


def get_engine() -> Engine:
    return current_app.extensions["signage.engine"]


def get_session() -> Session:
    """The session of this request or command, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["signage.sessions"]()
    return g.db_session


def get_store() -> FileStore:
    return current_app.extensions["signage.store"]


def get_manifests() -> ManifestCache:
    """This process's cache of the network snapshot and built manifests."""
    return current_app.extensions["signage.manifests"]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
