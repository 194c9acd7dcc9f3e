"""What the console's forms and the pages' query parameters may hold, checked before any domain call.

The console's forms are WTForms form classes (WTForms comes with Flask-WTF, already used for CSRF): each field
turns the posted text into a value of its type (whole number, date, time, one of a few choices, a list) and
checks its range, length and characters. A refusal names the field with the label the page shows and says what
was wrong in the reader's language (Babel catalogue); the view then shows the page again with what was typed.
The domain functions (playlists.content) still check everything they are given (references, targets, rule
logic), so a form only has to make sure they get values of the right type.

Query parameters (report periods, preview instants, export dates) are parsed by the small functions at the end,
which answer 400 with a sentence saying what was expected.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.fields import Field
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import TextInput

from playlists.content import MAX_DURATION_S, MAX_ID, MAX_NAME, MAX_PRIORITY
from playlists.rules import MAX_EVERY_MIN, MAX_YEAR, MIN_YEAR
from renderer import LANGUAGES, TEMPLATES, THEMES
from renderer.spec import MAX_LENGTH, bad_character, has_visible

# Longest text any single form field may hold (characters): far above every real field (the body is 400),
# so that a 10 MB field is refused before it is copied around, normalised or stored.
MAX_FIELD = 4000
# Values one repeated field (playlist rows, weekdays, screens, groups) may hold.
MAX_VALUES = 1000
# Longest content reference ("asset:<64 hex>:cover" is 77 characters).
MAX_CONTENT = 100
# Screen ids and group names (the database keeps 64 characters).
MAX_TARGET_NAME = 64
# A takeover runs for at most a week.
MAX_TAKEOVER_MIN = 7 * 24 * 60

_WHOLE = re.compile(r"^[+-]?[0-9]{1,12}$")  # ASCII only: int() would also take "١٢", "1_000" and " 12 "


class FormError(ValueError):
    """A refused form: message is the sentence to show (already translated); field is the input it concerns (the
    form field's name), for the page to mark."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.code = "form.invalid"


# --- validators ------------------------------------------------------------------------------------------------

class Typed:
    """Text a person could have typed: no control characters (line breaks only where `lines`), no lone
    surrogates or non-characters; with `visible`, at least one visible character."""

    def __init__(self, lines: bool = False, visible: bool = False) -> None:
        self.keep = "\n\r\t" if lines else ""
        self.visible = visible

    def __call__(self, form, field) -> None:
        for value in field.values() if isinstance(field, ListField) else [field.data or ""]:
            if bad_character(value, keep=self.keep):
                raise StopValidation(_("holds a control character or another invisible code; type only "
                                       "printable text"))
            if self.visible and value and not has_visible(value):
                raise StopValidation(_("needs at least one visible character"))


class Years:
    """A date or instant in MIN_YEAR..MAX_YEAR (what saved rules may name)."""

    def __call__(self, form, field) -> None:
        if field.data is not None and not MIN_YEAR <= field.data.year <= MAX_YEAR:
            raise StopValidation(_("expected a year from %(low)s to %(high)s", low=MIN_YEAR, high=MAX_YEAR))


class Each:
    """Every value of a ListField in `allowed` (a collection) and at most `max_length` characters each."""

    def __init__(self, max_length: int, allowed=None) -> None:
        self.max_length, self.allowed = max_length, allowed

    def __call__(self, form, field) -> None:
        if len(field.values()) > MAX_VALUES:
            raise StopValidation(_("got %(n)s values, expected at most %(max)s", n=len(field.values()),
                                   max=MAX_VALUES))
        for value in field.values():
            if len(value) > self.max_length:
                raise StopValidation(_("a value is %(n)s characters long, expected at most %(max)s",
                                       n=len(value), max=self.max_length))
            if self.allowed is not None and value not in self.allowed:
                raise StopValidation(_("got %(value)s, expected one of %(allowed)s", value=repr(value[:40]),
                                       allowed=", ".join(map(str, self.allowed))))


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("got more than %(max)d characters, expected at most %(max)d"))


def _range(low: int, high: int) -> NumberRange:
    return NumberRange(low, high, message=_l("expected a whole number from %(min)s to %(max)s"))


def _one_of(values) -> AnyOf:
    return AnyOf(list(values), message=_l("expected one of %(values)s"), values_formatter=", ".join)


# --- fields ----------------------------------------------------------------------------------------------------

class TextField(Field):
    """One text value as typed (outer spaces stripped), "" when absent; refused above MAX_FIELD characters."""

    widget = TextInput()

    def process_formdata(self, valuelist) -> None:
        self.data = valuelist[0] if valuelist else ""
        if len(self.data) > MAX_FIELD:
            self.data = ""
            raise ValueError(_("got more than %(max)d characters, expected at most %(max)d", max=MAX_FIELD))

    def _value(self) -> str:
        return self.data or ""


class _Parsed(TextField):
    """One value parsed from its text; None when the field is empty or absent."""

    expected = _l("a valid value")

    def parse(self, text: str):  # pragma: no cover - each subclass has its own
        raise NotImplementedError

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        finally:
            text, self.data = (self.data or "").strip(), None
        if text:
            try:
                self.data = self.parse(text)
            except (ValueError, OverflowError):
                raise ValueError(_("got %(value)s, expected %(expected)s", value=repr(text[:40]),
                                   expected=self.expected)) from None


class WholeNumberField(_Parsed):
    """An integer written with ASCII digits (an optional sign), of at most 12 digits."""

    expected = _l("a whole number")

    def parse(self, text: str) -> int:
        if not _WHOLE.match(text):
            raise ValueError(text)
        return int(text)


class DayField(_Parsed):
    """A date as the browser's date input sends it: YYYY-MM-DD."""

    expected = _l("a date such as 2026-11-28")

    def parse(self, text: str) -> date:
        return parse_iso_day(text)


class TimeOfDayField(_Parsed):
    """A time of day as the browser's time input sends it: HH:MM (or HH:MM:SS)."""

    expected = _l("a time of day such as 08:30")

    def parse(self, text: str) -> time:
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).time()
            except ValueError:
                pass
        raise ValueError(text)


class LocalDateTimeField(_Parsed):
    """A wall-clock date and time as the browser's datetime-local input sends it: YYYY-MM-DDTHH:MM[:SS]."""

    expected = _l("a date and time such as 2026-11-28T08:30")

    def parse(self, text: str) -> datetime:
        return parse_local_instant(text)


class ListField(Field):
    """Every value of a repeated field (checkboxes, parallel rows), in page order; each refused above MAX_FIELD."""

    widget = TextInput()

    def process_formdata(self, valuelist) -> None:
        self.data = list(valuelist)
        if any(len(v) > MAX_FIELD for v in self.data):
            self.data = []
            raise ValueError(_("got more than %(max)d characters, expected at most %(max)d", max=MAX_FIELD))

    def values(self) -> list[str]:
        return self.data or []


class CheckField(TextField):
    """A checkbox: true when sent with any value but "" or "off"."""

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        self.data = self.data not in ("", "off")


# --- forms -----------------------------------------------------------------------------------------------------

class ConsoleForm(Form):
    """A console form read from request.form; CSRF is checked for every session call (server/auth.py)."""

    def __init__(self, formdata: MultiDict | None = None) -> None:
        super().__init__(formdata=request.form if formdata is None else formdata)

    def refusal(self) -> str | None:
        """The first refused field as "Label: what was wrong", or None when every field is fine."""
        if self.validate():
            return None
        for field in self:
            if field.errors:
                return f"{field.label.text}: {field.errors[0]}"
        return None  # pragma: no cover - validate() failed, so some field has an error

    def explain(self, error: str | None, aliases: dict[str, str] | None = None) -> str | None:
        """A refusal (server.i18n.Refusal) made to speak of this form: its field becomes the input that shows it
        (`aliases` maps a domain field to the form's own name, a takeover's "end" to "until"), and a domain
        refusal is prefixed with that input's label, as the form shows it. Other values pass unchanged."""
        field = getattr(error, "field", None)
        if not field:
            return error
        name = (aliases or {}).get(field, field)
        words = error
        if name in self and getattr(error, "code", None) != "form.invalid" and not _names(error, self[name]):
            label = str(self[name].label.text)
            words = type(error)(f"{label}: {error}")
            words.field, words.code = error.field, error.code
        words.input = name
        return words

    def refused_field(self) -> str | None:
        """The name of the first field validate() refused (call after refusal())."""
        return next((field.name for field in self if field.errors), None)

    def checked(self) -> dict:
        """The form's values; raises FormError with the refusal (and the field) when a field is refused."""
        if message := self.refusal():
            raise FormError(message, self.refused_field())
        return self.data


def _names(sentence: object, field) -> bool:
    """True when the sentence already opens with the field's label ("Tiêu đề đang trống" for "Tiêu đề"), so that
    the label is not said twice."""
    label = re.sub(r"\s*\(.*?\)", "", str(field.label.text)).strip().lower()
    text = re.sub(r"^the ", "", str(sentence).strip().lower())
    return bool(label) and text.startswith(label)


def _name_field(label):
    return TextField(label, [_length(MAX_NAME), Typed()])


class TargetsForm(ConsoleForm):
    """Screens, groups and 'everywhere', as content.add_schedule and its kin take them."""

    screens = ListField(_l("Single screens"), [Each(MAX_TARGET_NAME), Typed()])
    groups = ListField(_l("Groups"), [Each(MAX_TARGET_NAME), Typed()])
    everywhere = CheckField(_l("Everywhere (every screen)"))

    def targets(self) -> dict:
        return {"screens": self.screens.values(), "groups": self.groups.values(),
                "everywhere": bool(self.everywhere.data)}


class ScheduleForm(TargetsForm):
    playlist = WholeNumberField(_l("Playlist"), [InputRequired(_l("choose one")), _range(1, MAX_ID)])
    name = _name_field(_l("Name (optional)"))
    priority = WholeNumberField(_l("Priority"), [Optional(), _range(-MAX_PRIORITY, MAX_PRIORITY)])
    start_date = DayField(_l("From date (optional)"), [Optional(), Years()])
    end_date = DayField(_l("Until date (optional)"), [Optional(), Years()])
    start_time = TimeOfDayField(_l("Daily from (optional)"), [Optional()])
    end_time = TimeOfDayField(_l("Daily until (optional)"), [Optional()])
    weekdays = ListField(_l("Weekdays"), [Each(1, allowed=[str(d) for d in range(7)])])


class ReminderForm(TargetsForm):
    content = TextField(_l("Content"), [InputRequired(_l("choose one")), _length(MAX_CONTENT), Typed()])
    name = _name_field(_l("Name (optional)"))
    every_min = WholeNumberField(_l("Every (minutes)"), [InputRequired(_l("required")), _range(1, MAX_EVERY_MIN)])
    duration_s = WholeNumberField(_l("For (seconds)"), [InputRequired(_l("required")), _range(1, MAX_DURATION_S)])
    start_time = TimeOfDayField(_l("Daily from (optional)"), [Optional()])
    end_time = TimeOfDayField(_l("Daily until (optional)"), [Optional()])


class TakeoverForm(TargetsForm):
    content = TextField(_l("Show"), [InputRequired(_l("choose one")), _length(MAX_CONTENT), Typed()])
    fit = TextField(_l("Images: fit"), [Optional(), _one_of(("contain", "cover"))])
    name = _name_field(_l("Name (optional)"))
    expiry = TextField(_l("Until"), [Optional(), _one_of(("duration", "until"))])
    minutes = WholeNumberField(_l("For (minutes)"), [Optional(), _range(1, MAX_TAKEOVER_MIN)])
    until = LocalDateTimeField(_l("Until (Huế time)"), [Optional(), Years()])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        chosen = self.until if self.expiry.data == "until" else self.minutes
        if ok and chosen.data is None:
            chosen.errors = [_("required")]
            return False
        return ok


class PosterForm(ConsoleForm):
    name = _name_field(_l("Name (for the lists; the headline when empty)"))
    template = TextField(_l("Template"), [Optional(), _one_of(TEMPLATES)])
    lang = TextField(_l("Language"), [Optional(), _one_of(LANGUAGES)])
    theme = TextField(_l("Colours"), [Optional(), _one_of(THEMES)])
    headline = TextField(_l("Headline"), [_length(4 * MAX_LENGTH["headline"]), Typed(lines=True)])
    body = TextField(_l("Text"), [_length(4 * MAX_LENGTH["body"]), Typed(lines=True)])
    cta = TextField(_l("Call to action"), [_length(4 * MAX_LENGTH["cta"]), Typed(lines=True)])
    footer = TextField(_l("Footer"), [_length(4 * MAX_LENGTH["footer"]), Typed(lines=True)])
    url = TextField(_l("Address of the QR code"), [_length(MAX_LENGTH["url"]), Typed()])
    poster_id = WholeNumberField("poster_id", [Optional(), _range(1, MAX_ID)])


class PlaylistForm(ConsoleForm):
    name = _name_field(_l("Name"))
    content = ListField(_l("Content"), [Each(MAX_CONTENT), Typed()])
    duration = ListField(_l("Seconds"), [Each(12)])
    fit = ListField(_l("Fit"), [Each(7, allowed=("", "contain", "cover"))])

    def items(self) -> list[tuple[str, int]]:
        """(content, seconds) rows in page order; FormError when the rows do not line up or a duration is bad."""
        self.checked()
        contents, durations, fits = self.content.values(), self.duration.values(), self.fit.values()
        if not len(contents) == len(durations) == len(fits):
            raise FormError(_("The rows of the list are incomplete: reload the page and try again."), "content")
        items = []
        for position, (key, seconds, fit) in enumerate(zip(contents, durations, fits, strict=True), start=1):
            if not _WHOLE.match(seconds.strip()) or not 1 <= int(seconds) <= MAX_DURATION_S:
                raise FormError(_("Item %(n)s: seconds: got %(value)s, expected whole seconds from 1 to %(max)s",
                                  n=position, value=repr(seconds[:20]), max=MAX_DURATION_S), "duration")
            items.append((f"{key}:cover" if fit == "cover" and key.startswith("asset:") else key, int(seconds)))
        return items


# --- query parameters and shared parsers -------------------------------------------------------------------------

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LOCAL = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?$")


def parse_iso_day(text: str) -> date:
    """YYYY-MM-DD as a date (ASCII digits only; not 20261128 nor 2026-W48-5); ValueError otherwise."""
    if not _DAY.match(text):
        raise ValueError(f"date: got {text!r:.40}, expected YYYY-MM-DD")
    return date.fromisoformat(text)


def parse_local_instant(text: str) -> datetime:
    """YYYY-MM-DDTHH:MM[:SS] as a naive wall-clock datetime; ValueError otherwise."""
    if not _LOCAL.match(text):
        raise ValueError(f"date and time: got {text!r:.40}, expected YYYY-MM-DDTHH:MM")
    return datetime.fromisoformat(text.replace(" ", "T"))


def in_years(value: date | datetime) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def query_text(name: str, max_length: int = 200) -> str | None:
    """?name= as text, None when absent or empty; 400 for control characters or too long a value."""
    value = request.args.get(name, "")
    if len(value) > max_length:
        abort(400, _("%(name)s: got %(n)s characters, expected at most %(max)s", name=name, n=len(value),
                     max=max_length))
    if bad_character(value, keep=""):
        abort(400, _("%(name)s: holds a control character or another invisible code", name=name))
    return value or None


def query_day(name: str, default: date | None = None) -> date | None:
    """?name=YYYY-MM-DD as a date in the supported years, default when absent or empty; 400 otherwise."""
    text = (query_text(name, 40) or "").strip()
    if not text:
        return default
    try:
        day = parse_iso_day(text)
    except ValueError:
        day = None
    if day is None or not in_years(day):
        abort(400, _("%(name)s: got %(value)s, expected a date YYYY-MM-DD from year %(low)s to %(high)s",
                     name=name, value=repr(text), low=MIN_YEAR, high=MAX_YEAR))
    return day


def query_instant(name: str, zone: str) -> datetime | None:
    """?name=YYYY-MM-DDTHH:MM (wall time of `zone`; an explicit UTC offset is taken as given) in the supported
    years, None when absent or empty; 400 otherwise."""
    text = (query_text(name, 40) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text) if _has_offset(text) else parse_local_instant(text)
    except ValueError:
        moment = None
    if moment is None or not in_years(moment):
        abort(400, _("%(name)s: got %(value)s, expected a date and time such as 2026-11-27T08:30, from year "
                     "%(low)s to %(high)s", name=name, value=repr(text), low=MIN_YEAR, high=MAX_YEAR))
    return moment.astimezone(ZoneInfo(zone)) if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def _has_offset(text: str) -> bool:
    return bool(re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})$",
                         text))


def query_choice(name: str, choices, default: str | None = None) -> str | None:
    """?name= as one of choices (default when absent or empty); 400 for anything else."""
    value = query_text(name, 40)
    if value is None:
        return default
    if value not in choices:
        abort(400, _("%(name)s: got %(value)s, expected one of %(choices)s", name=name, value=repr(value),
                     choices=", ".join(choices)))
    return value
