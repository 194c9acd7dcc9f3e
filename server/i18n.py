"""Languages: Vietnamese by default in pages, English on request; all text comes from Babel catalogues.

Also where the server turns things into words for a reader: `say` gives a domain refusal (renderer.errors.Problem)
in the reader's language, and the `when`/`day`/`clock`/`span` helpers (template filters of the same names) write
instants, dates and ranges the way that language writes them: dd/mm/yyyy and the 24-hour clock in both, the time
zone named when it is not the province's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from playlists.screens import DEFAULT_TZ
from renderer.errors import Problem, Term

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "vi"
# Machine-facing answers keep English unless the client asks (Accept-Language, ?lang) or its session chose.
API_DEFAULT = "en"
API_PREFIXES = ("/api/",)
babel = Babel()


def select_locale() -> str:
    """?lang=en (or vi) switches and is remembered in the session; otherwise the last choice; otherwise, for the
    JSON API, the client's Accept-Language (English when it names neither); otherwise Vietnamese."""
    if not has_request_context():
        return DEFAULT
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        if not request.path.startswith(API_PREFIXES):
            session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        return remembered
    if request.path.startswith(API_PREFIXES):
        return request.accept_languages.best_match(list(LANGUAGES)) or API_DEFAULT
    return DEFAULT


def language() -> str:
    return str(get_locale() or DEFAULT)


# --- instants, dates and ranges in words ----------------------------------------------------------------------

def _zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or DEFAULT_TZ)


def zone_name(zone: ZoneInfo) -> str:
    """How a time zone is named after a time: "giờ Việt Nam" for the province's own, else its UTC offset."""
    if zone.key in (DEFAULT_TZ, "Asia/Bangkok", "Asia/Saigon"):
        return _("Vietnam time")
    offset = datetime.now(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def clock(moment: datetime | time | None, tz: str | ZoneInfo | None = None, seconds: bool = False) -> str:
    """24-hour wall time: 07:05 (07:05:09 with seconds)."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = _aware(moment).astimezone(_zone(tz)).time()
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def day(moment: date | datetime | None, tz: str | ZoneInfo | None = None, year: bool = True) -> str:
    """A date as dd/mm/yyyy (dd/mm without the year)."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = _aware(moment).astimezone(_zone(tz)).date()
    return moment.strftime("%d/%m/%Y" if year else "%d/%m")


def when(moment: datetime | None, tz: str | ZoneInfo | None = None, named: bool = False,
         seconds: bool = False) -> str:
    """An instant in the reader's words: "10:00 ngày 01/01/2020" / "10:00 on 01/01/2020", in the zone `tz` (the
    province's by default); `named` adds the zone's name."""
    if moment is None:
        return ""
    zone = _zone(tz)
    text = _("%(time)s on %(date)s", time=clock(moment, zone, seconds), date=day(moment, zone))
    return f"{text} ({zone_name(zone)})" if named else text


def span(start: date | datetime | None, end: date | datetime | None, tz: str | ZoneInfo | None = None) -> str:
    """A range of dates or instants with open ends in words: "từ 01/12/2026, không hạn" / "from 01/12/2026, no
    end", "đến 31/12/2026" / "until 31/12/2026", "mọi ngày" / "every day", or "01/12/2026 – 31/12/2026"."""
    def one(value):
        return when(value, tz) if isinstance(value, datetime) else day(value)
    if start is None and end is None:
        return _("every day")
    if end is None:
        return _("from %(start)s, no end", start=one(start))
    if start is None:
        return _("until %(end)s", end=one(end))
    return f"{one(start)} – {one(end)}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- refusals in words ----------------------------------------------------------------------------------------

def _word(value: object, tz: ZoneInfo | None) -> str:
    if isinstance(value, datetime):
        return when(value, tz or (value.tzinfo if isinstance(value.tzinfo, ZoneInfo) else None))
    if isinstance(value, date):
        return day(value)
    if isinstance(value, time):
        return clock(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_word(v, tz) for v in value)
    if isinstance(value, Problem):
        return say(value)
    if isinstance(value, Term):
        return _(value)
    return str(value)


def say(exc: BaseException, tz: str | ZoneInfo | None = None) -> str:
    """What a person reads for a refusal: a Problem's sentence from the catalogue in the reader's language with
    its parameters written for that language; any other exception's own text."""
    if not isinstance(exc, Problem):
        return str(exc)
    zone = _zone(tz) if tz else None
    words = {name: _word(value, zone) for name, value in exc.params.items()}
    try:
        return _(exc.text, **words) if words else _(exc.text)
    except (KeyError, ValueError, TypeError):  # a translation whose placeholders do not match: say it in English
        try:
            return exc.text % words
        except (KeyError, ValueError, TypeError):
            return exc.english()


class Refusal(str):
    """What a person reads for a refusal (say()), carrying the input it concerns (`field`) and its `code`, so that
    a page can mark the field; it is the sentence wherever a string is expected."""

    field: str | None = None
    code: str | None = None
    input: str | None = None  # the form input that shows it, when a form explained it (forms.ConsoleForm.explain)


def invalid(error: object, *names: str, cls: str = "") -> Markup:
    """The attributes that mark a form input as refused when `error` concerns one of `names` (template global):
    aria-invalid and the class "invalid", added to the input's own classes `cls`."""
    concerned = getattr(error, "input", None) or getattr(error, "field", None)
    if error and concerned in names:
        return Markup(' aria-invalid="true" class="{}"').format(f"invalid {cls}".strip())
    return Markup(' class="{}"').format(cls) if cls else Markup("")


def refusal(exc: BaseException, tz: str | ZoneInfo | None = None) -> Refusal:
    """say(exc) with exc's field and code (a domain Problem's, or a form error's) attached."""
    words = Refusal(say(exc, tz))
    words.field, words.code = getattr(exc, "field", None), getattr(exc, "code", None)
    return words


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale, say=say, invalid=invalid)
    app.jinja_env.filters.update(when=when, day=day, clock=clock, span=span, zone_name=lambda tz: zone_name(_zone(tz)))
