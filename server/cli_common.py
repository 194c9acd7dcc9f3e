"""What every `signage` command module shares: a text option type, a database session, the clock."""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """The language of a command's messages: Vietnamese when SIGNAGE_LANG, or else the first set of LC_ALL,
    LC_MESSAGES and LANG (the POSIX order), starts with "vi"; English otherwise."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("SIGNAGE_LANG") or next(
        (environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), "")
    return "vi" if chosen.lower().startswith("vi") else "en"


def _words_app():
    """A bare app that holds only the catalogues, for commands that run without one (signage render)."""
    from flask import Flask

    from . import i18n

    app = Flask("server")
    i18n.init_app(app)
    return app


def cli_say(exc: BaseException) -> tuple[str, str]:
    """(the word "Error", the refusal's sentence) in the command line's language (cli_language)."""
    from flask import current_app, has_app_context
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from .i18n import say

    app = current_app._get_current_object() if has_app_context() else _words_app()  # type: ignore[attr-defined]
    with app.app_context(), force_locale(cli_language()):
        return _("Error"), say(exc)


class Refused(click.ClickException):
    """A refusal shown as one line on stderr, "Error: what was wrong", in the command line's language."""

    def __init__(self, exc: BaseException) -> None:
        self.word, message = cli_say(exc)
        super().__init__(message)

    def show(self, file=None) -> None:
        click.echo(f"{self.word}: {self.format_message()}", err=True, file=file)


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
        raise Refused(exc) from None
    with app.app_context():
        # Commands bring the schema up to date first, so a fresh instance just works.
        upgrade(get_engine())
        session = get_session()
        try:
            yield session
            session.commit()
        except (ScreenError, RenderError, ContentError, PairingError, UserError) as exc:
            session.rollback()
            raise Refused(exc) from None
        except SQLAlchemyError as exc:
            session.rollback()
            raise click.ClickException(f"database error: {exc.__class__.__name__}: {exc.orig or exc}") from None


def now() -> datetime:
    """The current time: commands act at the real time."""
    return datetime.now(UTC)
