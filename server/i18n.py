"""Console languages: Vietnamese by default, English on request; all text comes from Babel catalogues."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "vi"
babel = Babel()


def select_locale() -> str:
    """?lang=en (or vi) switches and is remembered in the session; otherwise the last choice, or Vietnamese."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    return remembered if remembered in LANGUAGES else DEFAULT


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
