"""What every `signage` command module shares: a text option type, a database session, the clock."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from playlists.content import ContentError
from playlists.pairing import PairingError
from playlists.screens import ScreenError
from playlists.users import UserError
from renderer import RenderError
from renderer.spec import bad_character


class Text(click.ParamType):
    """One line of text a person could type: at most max_length characters, no control characters or lone
    surrogates (a terminal paste or a script's bug must not end up in the database or a report)."""

    name = "text"

    def __init__(self, max_length: int = 200) -> None:
        self.max_length = max_length

    def convert(self, value, param, ctx):
        if not isinstance(value, str):  # pragma: no cover - click passes text
            return value
        if len(value) > self.max_length:
            self.fail(f"got {len(value)} characters, expected at most {self.max_length}", param, ctx)
        if bad := bad_character(value, keep=""):
            self.fail(f"got {bad}, expected one line of printable text", param, ctx)
        return value


@contextmanager
def app_session():
    """An app context and a database session for a command; commits on success, rolls back on error."""
    from playlists.db import upgrade

    from . import create_app
    from .db import get_engine, get_session

    try:
        app = create_app()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    with app.app_context():
        # Commands bring the schema up to date first, so a fresh instance just works.
        upgrade(get_engine())
        session = get_session()
        try:
            yield session
            session.commit()
        except (ScreenError, RenderError, ContentError, PairingError, UserError) as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            session.rollback()
            raise click.ClickException(f"database error: {exc.__class__.__name__}: {exc.orig or exc}") from None


def now() -> datetime:
    """The current time: commands act at the real time."""
    return datetime.now(UTC)
