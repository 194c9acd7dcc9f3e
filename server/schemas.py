"""One pydantic model per JSON request body and per answer of the HTTP API.

The same models validate what clients send (load) and write the OpenAPI document (components), so the document
cannot drift from what the server accepts. Fields reuse the domain's own checks (renderer.spec for poster text
and URLs, playlists.content for names), so the console forms and the CLI refuse the same values for the same
reasons. Nothing here imports Flask: load() takes bytes and raises BodyError, and the views choose the answer.
"""

from __future__ import annotations

import re
import reprlib
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, TypeVar

import pydantic_core
from flask import has_request_context
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import models_json_schema

from playlists import content
from playlists.content import MAX_DURATION_S, MAX_ID, MAX_ITEMS, MAX_NAME, MAX_PRIORITY, MAX_TARGETS
from playlists.reports import MAX_BATCH, REASONS
from playlists.rules import MAX_EVERY_MIN, MAX_YEAR, MIN_YEAR, RuleError, check_year
from playlists.screens import DEFAULT_TZ, SCREEN_KINDS
from renderer import CATALOG, PosterSpec, RenderError
from renderer.errors import Problem
from renderer.spec import LANGUAGES, MAX_LENGTH, TEMPLATES, THEMES, check_text, check_url

from .i18n import say

# How deep a JSON body may nest: the deepest body the API takes (a playlist's items) is 3 levels.
MAX_DEPTH = 32
# Longest override (minutes): a week; anything longer is a schedule.
MAX_OVERRIDE_MIN = 7 * 24 * 60
MAX_PREVIEWS = 6

M = TypeVar("M", bound=BaseModel)
_show = reprlib.Repr()  # short reprs of what a client sent (Python 3.11's Repr takes no keywords)
_show.maxstring, _show.maxother, _show.maxlist, _show.maxdict, _show.maxlevel = 60, 60, 4, 4, 2


class BodyError(ValueError):
    """A request body that is not what the route takes; status is 400, 413 or 415.

    Made from a Problem (or several: the first few of one body's faults), it says them in the reader's language
    when there is a request to read them, else in English; code and field are the first fault's."""

    def __init__(self, problem: Problem | str, status: int = 400, code: str | None = None, field: str | None = None,
                 message: str | None = None) -> None:
        problem = problem if isinstance(problem, Problem) else Problem(problem)
        self.message = message if message is not None else _words(problem)
        super().__init__(self.message)
        self.problem, self.status = problem, status
        self.code = code or problem.code or ("body.too_large" if status == 413 else "body.invalid")
        self.field = field or problem.field


# --- reading a body ---------------------------------------------------------------------------------------

def depth(value: object) -> int:
    """How deeply value nests lists and objects (a scalar is 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse(raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON body; refuse (BodyError) more than max_bytes (413), malformed JSON, NaN or Infinity, strings
    with lone surrogates, and nesting deeper than max_depth.

    The parser (pydantic-core's jiter) stops at 200 levels while it parses, so a body of a million brackets
    costs no more than a short one; the tighter max_depth is then checked on what it built."""
    if len(raw) > max_bytes:
        raise BodyError(Problem("body too large: got %(size)s bytes or more, expected at most %(limit)s",
                                code="body.too_large", size=len(raw), limit=max_bytes), 413)
    try:
        data = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise BodyError(_malformed(str(exc), max_depth)) from None
    if (levels := depth(data)) > max_depth:
        raise BodyError(_too_deep(levels, max_depth))
    return data


def load(model: type[M], raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> M:
    """Parse and validate a JSON body as model; BodyError names the first fields that were wrong and why."""
    parse(raw, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = fault(errors[0]) if errors else _malformed("", max_depth)
        where = _where(errors[0]["loc"]) if errors and errors[0]["loc"] else None
        raise BodyError(first, field=where, message=describe(exc)) from None


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "body"


def _words(error: object) -> str:
    """A domain refusal in the reader's language when there is a request to read it; else its English."""
    if isinstance(error, Problem) and has_request_context():
        return say(error)
    return str(error)


_POSITION = re.compile(r"^(?P<what>.*?) at line (?P<line>\d+) column (?P<column>\d+)$")
_PARSER_DEPTH = 200  # where pydantic-core's JSON parser stops nesting


def _malformed(detail: str, max_depth: int) -> Problem:
    """The parser's complaint as a Problem: where the body stops being JSON."""
    found = _POSITION.match(detail)
    if found and found["what"] == "recursion limit exceeded":
        return _too_deep(_PARSER_DEPTH, max_depth, more=True)
    if found:
        return Problem("malformed JSON body: it stops being JSON at line %(line)s, column %(column)s; expected a "
                       "JSON object such as {\"name\": \"...\"}", code="body.json_invalid",
                       line=found["line"], column=found["column"])
    return Problem("malformed JSON body: expected a JSON object such as {\"name\": \"...\"}",
                   code="body.json_invalid")


def _too_deep(levels: int, limit: int, more: bool = False) -> Problem:
    if more:
        return Problem("JSON body nests too deeply: got more than %(levels)s levels, expected at most %(limit)s",
                       code="body.too_deep", levels=levels, limit=limit)
    return Problem("JSON body nests too deeply: got %(levels)s levels, expected at most %(limit)s",
                   code="body.too_deep", levels=levels, limit=limit)


def _choices(expected: str) -> str:
    """pydantic's "'vi', 'en' or 'vi-en'" as "'vi', 'en', 'vi-en'" (the word "or" belongs to a language)."""
    found = re.findall(r"'(?:[^'\\]|\\.)*'|[^,' ]+", expected.replace(" or ", ", "))
    return ", ".join(found) or expected


def fault(error: dict) -> Problem:
    """One of pydantic's errors as a Problem: a sentence of the catalogue naming the field by its path
    (items[2].duration_s), what it got and what it expects, with the limits of the rule; a domain check's own
    Problem (raised inside a validator) is kept with its code, its field becoming the full path."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    where = _where(loc)
    if kind == "value_error" and isinstance(ctx.get("error"), Problem):
        return ctx["error"]
    got = _show.repr(error.get("input"))
    if kind == "missing":
        return Problem("%(path)s: missing, expected a value; add it to the body", code="body.missing",
                       field=where, path=where)
    if kind == "extra_forbidden":
        return Problem("%(path)s: not a field of this body (unknown fields are refused); remove it or check its "
                       "spelling", code="body.unknown_field", field=where, path=where)
    if kind in ("string_type", "string_unicode"):
        return Problem("%(path)s: got %(got)s, expected a valid string (text in quotes)", code="body.type",
                       field=where, path=where, got=got)
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return Problem("%(path)s: got %(got)s, expected a valid integer (a whole number without quotes)",
                       code="body.type", field=where, path=where, got=got)
    if kind in ("float_type", "float_parsing", "finite_number"):
        return Problem("%(path)s: got %(got)s, expected a number (without quotes)", code="body.type",
                       field=where, path=where, got=got)
    if kind in ("bool_type", "bool_parsing"):
        return Problem("%(path)s: got %(got)s, expected true or false (without quotes)", code="body.type",
                       field=where, path=where, got=got)
    if kind in ("list_type", "tuple_type", "set_type"):
        return Problem("%(path)s: got %(got)s, expected a valid array (a JSON list in square brackets)",
                       code="body.type", field=where, path=where, got=got)
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return Problem("%(path)s: got %(got)s, expected an object (a JSON object in curly brackets)",
                       code="body.type", field=where, path=where, got=got)
    if kind == "greater_than_equal":
        return Problem("%(path)s: got %(got)s, expected at least %(limit)s", code="body.too_small",
                       field=where, path=where, got=got, limit=ctx.get("ge"))
    if kind == "greater_than":
        return Problem("%(path)s: got %(got)s, expected more than %(limit)s", code="body.too_small",
                       field=where, path=where, got=got, limit=ctx.get("gt"))
    if kind == "less_than_equal":
        return Problem("%(path)s: got %(got)s, expected at most %(limit)s", code="body.too_big",
                       field=where, path=where, got=got, limit=ctx.get("le"))
    if kind == "less_than":
        return Problem("%(path)s: got %(got)s, expected less than %(limit)s", code="body.too_big",
                       field=where, path=where, got=got, limit=ctx.get("lt"))
    length = len(error["input"]) if isinstance(error.get("input"), (str, list, dict)) else "?"
    if kind == "string_too_long":
        return Problem("%(path)s: got %(length)s characters, expected at most %(limit)s; shorten it",
                       code="body.too_long", field=where, path=where, length=length, limit=ctx.get("max_length"))
    if kind == "string_too_short":
        return Problem("%(path)s: got %(length)s characters, expected at least %(limit)s", code="body.too_short",
                       field=where, path=where, length=length, limit=ctx.get("min_length"))
    if kind == "too_long":
        return Problem("%(path)s: got %(length)s items, expected at most %(limit)s", code="body.too_many",
                       field=where, path=where, length=ctx.get("actual_length", length), limit=ctx.get("max_length"))
    if kind == "too_short":
        return Problem("%(path)s: got %(length)s items, expected at least %(limit)s", code="body.too_few",
                       field=where, path=where, length=ctx.get("actual_length", length), limit=ctx.get("min_length"))
    if kind in ("literal_error", "enum"):
        return Problem("%(path)s: got %(got)s, expected one of %(choices)s", code="body.choice",
                       field=where, path=where, got=got, choices=_choices(str(ctx.get("expected", ""))))
    if kind == "string_pattern_mismatch":
        return Problem("%(path)s: got %(got)s, expected text of the form %(pattern)s", code="body.pattern",
                       field=where, path=where, got=got, pattern=ctx.get("pattern", ""))
    if kind == "timezone_aware":
        return Problem("%(path)s: got %(got)s, expected an ISO 8601 time with a UTC offset such as "
                       "2026-11-27T09:00:00+07:00", code="body.timezone", field=where, path=where, got=got)
    if kind.startswith("datetime_"):
        return Problem("%(path)s: got %(got)s, expected a date and time with a UTC offset such as "
                       "2026-11-27T09:00:00+07:00", code="body.datetime", field=where, path=where, got=got)
    if kind.startswith("date_"):
        return Problem("%(path)s: got %(got)s, expected a date such as 2026-11-27 (year-month-day)",
                       code="body.date", field=where, path=where, got=got)
    if kind.startswith("time_"):
        return Problem("%(path)s: got %(got)s, expected a time of day such as 09:00 or 21:30:00 (24-hour, no UTC "
                       "offset)", code="body.time", field=where, path=where, got=got)
    if kind.startswith("url_"):
        return Problem("%(path)s: got %(got)s, expected a web address such as https://bluezone.gov.vn",
                       code="body.url", field=where, path=where, got=got)
    if kind == "json_invalid":
        return Problem("malformed JSON body: expected a JSON object such as {\"name\": \"...\"}",
                       code="body.json_invalid", field=where if loc else None)
    return Problem("%(path)s: got %(got)s, which this field does not take; see /api/v1/openapi.json for what it "
                   "takes", code="body.invalid", field=where, path=where, got=got)


def describe(exc: ValidationError, limit: int = 3) -> str:
    """Pydantic's errors as one line for a person, in the reader's language: 'field: got X, expected Y; ...'."""
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        problem, loc = fault(error), error["loc"]
        text = _words(problem)
        if error["type"] == "value_error" and problem is error["ctx"]["error"]:
            # Domain checks already say "<field>: got X, expected Y": keep their words, and the full path.
            field = str(loc[-1]) if loc else ""
            parent = _where(loc[:-1]) if len(loc) > 1 else ""
            if field and text.startswith(field):
                text = f"{parent}.{text}" if parent else text
            elif loc:
                text = f"{_where(loc)}: {text}"
        parts.append(text)
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(_words(Problem("and %(count)s more", code="body.more", count=more)))
    return "; ".join(parts)


# --- field types ------------------------------------------------------------------------------------------

def _field(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _name(value: str, info: ValidationInfo) -> str:
    return content.check_name(_field(info), value)


def _optional_name(value: str, info: ValidationInfo) -> str:
    return content.check_name(_field(info), value, required=False)


def _year(value: date | datetime, info: ValidationInfo) -> date | datetime:
    try:
        check_year(_field(info), value)
    except RuleError as exc:
        raise exc from None  # the refusal itself: its code, and its words in the reader's language
    return value


def _url(value: str) -> str:
    try:
        return check_url(value.strip())
    except RenderError as exc:
        raise exc from None  # the refusal itself: its code, and its words in the reader's language


def _text(limit: int):
    def check(value: str, info: ValidationInfo) -> str:
        try:
            return check_text(_field(info), value, limit)
        except RenderError as exc:
            raise exc from None  # the refusal itself: its code, and its words in the reader's language

    return check


Id = Annotated[int, Field(ge=1, le=MAX_ID, description="a record id")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, description="one line with a visible character"),
                 AfterValidator(_name)]
OptionalName = Annotated[str, Field(max_length=MAX_NAME, description="one line; empty for none"),
                         AfterValidator(_optional_name)]
ScreenId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", examples=["bx-phia-bac-1"])]
GroupName = Annotated[str, Field(pattern=r"^\w[\w .-]{0,63}$", max_length=64, examples=["stations"])]
ContentRef = Annotated[str, Field(pattern=r"^(poster:[0-9]{1,9}|asset:[0-9a-f]{64}(:(contain|cover))?)$",
                                  description="'poster:<id>', 'asset:<sha256>' (letterboxed) or "
                                              "'asset:<sha256>:cover' (cropped to fill)", examples=["poster:1"])]
Duration = Annotated[int, Field(ge=1, le=MAX_DURATION_S, description="seconds on screen")]
Day = Annotated[date, Field(description=f"a local date, years {MIN_YEAR} to {MAX_YEAR}"), AfterValidator(_year)]
Clock = Annotated[time, Field(description="a local wall time HH:MM[:SS] without a UTC offset")]
Instant = Annotated[AwareDatetime, Field(description=f"ISO 8601 with a UTC offset, years {MIN_YEAR} to {MAX_YEAR}"),
                    AfterValidator(_year)]
REFUSAL_REASONS = Literal[REASONS]  # type: ignore[valid-type]
PreviewProfile = Literal[tuple(CATALOG)]  # type: ignore[valid-type]
ScreenProfileName = Literal[tuple(n for n, p in CATALOG.items() if p.kind in SCREEN_KINDS)]  # type: ignore[valid-type]


def _poster_text(name: str):
    return Annotated[str | None, Field(max_length=4 * MAX_LENGTH[name],
                                       description=f"null: the official copy; \"\": left out; at most "
                                                   f"{MAX_LENGTH[name]} characters once whitespace is tidied"),
                     AfterValidator(lambda v, info: None if v is None else _text(4 * MAX_LENGTH[name])(v, info))]


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """An answer body (documented; the views build it)."""


# --- requests ---------------------------------------------------------------------------------------------

class PosterSpecIn(Body):
    """What a poster says; the server checks it exactly as it will render it."""

    template: Literal[TEMPLATES] = "install"  # type: ignore[valid-type]
    lang: Literal[LANGUAGES] = "vi"  # type: ignore[valid-type]
    headline: _poster_text("headline") = None
    body: _poster_text("body") = None
    cta: _poster_text("cta") = None
    url: Annotated[str, Field(max_length=MAX_LENGTH["url"],
                              description="http(s), a real host, a valid port, no user-info"),
                   AfterValidator(_url)] = "https://bluezone.gov.vn"
    footer: _poster_text("footer") = None
    theme: Literal[tuple(THEMES)] = "blue"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _renders(self) -> PosterSpecIn:
        try:
            self.spec().resolved()
        except RenderError as exc:
            raise exc from None  # the refusal itself: its code, and its words in the reader's language
        return self

    def spec(self) -> PosterSpec:
        return PosterSpec(**self.model_dump())


class PosterCreate(Body):
    name: OptionalName = ""
    spec: PosterSpecIn = Field(default_factory=PosterSpecIn)


class PosterUpdate(Body):
    spec: PosterSpecIn = Field(default_factory=PosterSpecIn)


class PreviewRequest(Body):
    spec: PosterSpecIn = Field(default_factory=PosterSpecIn)
    profiles: list[PreviewProfile] = Field(default_factory=lambda: ["tv-1080p"], min_length=1,
                                           max_length=MAX_PREVIEWS)


class PlaylistItemIn(Body):
    content: ContentRef
    duration_s: Duration


class PlaylistCreate(Body):
    name: Name
    items: list[PlaylistItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class PlaylistUpdate(Body):
    items: list[PlaylistItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class Targets(Body):
    """Where a rule applies: screens, groups, or everywhere (at least one)."""

    screens: list[ScreenId] = Field(default_factory=list, max_length=MAX_TARGETS)
    groups: list[GroupName] = Field(default_factory=list, max_length=MAX_TARGETS)
    everywhere: bool = False

    def targets(self) -> dict:
        return {"screens": self.screens, "groups": self.groups, "everywhere": self.everywhere}


class ScheduleCreate(Targets):
    playlist_id: Id
    name: OptionalName = ""
    priority: int = Field(default=0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="higher wins")
    start_date: Day | None = None
    end_date: Day | None = Field(default=None, description="inclusive")
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: list(range(7)), min_length=1,
                                                             max_length=7, description="0 = Monday")
    start_time: Clock | None = None
    end_time: Clock | None = Field(default=None, description="at or before start_time: the window crosses midnight")


class ReminderCreate(Targets):
    content: ContentRef
    duration_s: Duration
    every_min: int = Field(ge=1, le=MAX_EVERY_MIN)
    name: OptionalName = ""
    start_time: Clock | None = None
    end_time: Clock | None = None


class OverrideCreate(Targets):
    content: ContentRef
    start: Instant | None = Field(default=None, description="default: now")
    end: Instant | None = Field(default=None, description="give end, or minutes")
    minutes: int | None = Field(default=None, ge=1, le=MAX_OVERRIDE_MIN)
    name: OptionalName = ""

    @model_validator(mode="after")
    def _until(self) -> OverrideCreate:
        if self.end is None and self.minutes is None:
            raise Problem("end: missing; give end (an instant) or minutes from 1 to %(limit)s",
                          code="override.no_end", field="end", limit=MAX_OVERRIDE_MIN)
        return self


class ScreenCreate(Body):
    id: ScreenId
    profile: ScreenProfileName
    name: OptionalName = ""
    site: OptionalName = ""
    district: OptionalName = ""
    tz: str = Field(default=DEFAULT_TZ, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}$", description="IANA time zone")
    groups: list[GroupName] = Field(default_factory=list, max_length=MAX_TARGETS)


class HeartbeatIn(BaseModel):
    """A player's status (checked by playlists.reports): these fields are kept, any other field is dropped.
    Text has no control characters, lone surrogates or directional formatting."""

    model_config = ConfigDict(extra="allow")
    version: str | None = Field(default=None, max_length=64, description="the player's version")
    item: str | None = Field(default=None, max_length=200, description="the item on screen now")
    manifest_etag: str | None = Field(default=None, max_length=100, description="the manifest the player holds")
    window: str | None = Field(default=None, max_length=40)
    clock_offset_ms: int | float | None = Field(default=None, ge=-10**12, le=10**12,
                                                description="the player's clock minus the server's")
    pending_plays: int | float | None = Field(default=None, ge=0, le=10**9,
                                              description="proof-of-play records not yet sent")
    offline_ready: bool | None = None


class PlayIn(Body):
    """One showing: it is accepted only if the item was in the screen's schedule then, fits its slot, and is
    neither in the future nor older than the retention window (otherwise refused, counted by reason)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="made by the player; a retry is not counted twice")
    item: str | None = Field(default=None, max_length=200, description="the manifest item's key")
    sha256: str | None = Field(default=None, pattern=r"^([0-9a-f]{64})?$")
    started_at: AwareDatetime = Field(description="ISO 8601 with a UTC offset (stored as the same instant in UTC)")
    duration_s: float = Field(gt=0, le=MAX_DURATION_S)


class PlaysIn(Body):
    plays: list[PlayIn] = Field(max_length=MAX_BATCH)


class PairingSecret(Body):
    secret: str = Field(pattern=r"^[A-Za-z0-9_-]{32,128}$", description="random, made and kept by the player")


# --- answers ----------------------------------------------------------------------------------------------

class Error(Answer):
    error: str = Field(description="the HTTP reason phrase", examples=["Bad Request"])
    message: str = Field(description="what was wrong, naming the field, and what to do, in the language the client "
                         "asks for (Accept-Language or ?lang=vi|en; English by default)",
                         examples=["The end must be after the start (10:00 on 01/01/2020 is not after 20:00 on "
                                   "01/12/2026)"])
    code: str = Field(description="a stable name of the rule that was broken, for programs (the message's words "
                      "may change; the code does not); http.<status> when there is no more precise one",
                      examples=["override.end_before_start", "upload.svg", "body.invalid", "http.404"])
    field: str | None = Field(default=None, description="the input the refusal concerns, when it concerns one "
                              "(a body field's path such as items[0].duration_s, or a form field's name)",
                              examples=["end"])


class Rendition(Answer):
    model_config = ConfigDict(extra="allow")
    profile: str
    url: str


class PosterOut(Answer):
    id: int
    name: str
    content: str
    default: bool
    spec: dict[str, str | None]
    renditions: list[Rendition]


class Preview(Answer):
    profile: str
    width: int | None = None
    height: int | None = None
    qr_ok: bool | None = None
    scan_m: float | None = None
    report: str | None = None
    image: str | None = Field(default=None, description="data:image/png;base64,...")
    error: str | None = Field(default=None, description="why this profile cannot show the poster")


class Previews(Answer):
    previews: list[Preview]


class MediaOut(Answer):
    sha256: str
    kind: Literal["image", "video", "audio", "rendition"]
    width: int
    height: int
    bytes: int
    label: str
    content: str
    url: str
    notes: list[str] = Field(default_factory=list, description="what the upload cleaning changed")
    duration_s: float | None = None


class PlaylistItemOut(Answer):
    content: str
    duration_s: int


class PlaylistOut(Answer):
    id: int
    name: str
    items: list[PlaylistItemOut]


class TargetsOut(Answer):
    screens: list[str]
    groups: list[str]
    everywhere: bool


class ScheduleOut(TargetsOut):
    id: int
    name: str
    playlist_id: int
    priority: int
    start_date: date | None
    end_date: date | None
    weekdays: list[int]
    start_time: time | None
    end_time: time | None


class ReminderOut(TargetsOut):
    id: int
    name: str
    content: str
    duration_s: int
    every_min: int
    start_time: time | None
    end_time: time | None


class OverrideOut(TargetsOut):
    id: int
    name: str
    content: str
    start: datetime
    end: datetime


class ScreenOut(Answer):
    id: str
    name: str
    site: str
    district: str
    profile: str
    tz: str
    groups: list[str]


class ScreenCreated(ScreenOut):
    token: str = Field(description="the device token, shown once")


class GroupOut(Answer):
    name: str
    label_vi: str = Field(default="", description="display name in Vietnamese; empty: the name")
    label_en: str = Field(default="", description="display name in English; empty: the name")
    screens: list[str]


class GroupLabels(Body):
    """A group's display names; empty shows its name (identifier) instead."""

    label_vi: OptionalName = ""
    label_en: OptionalName = ""


class ScreenRetired(Answer):
    id: str
    retired: Literal[True]


class Deleted(Answer):
    id: int
    deleted: Literal[True]


class Ended(Answer):
    id: int
    ended: Literal[True]


class ProfileOut(Answer):
    name: str
    width: int
    height: int


class ManifestItem(Answer):
    key: str
    duration_s: int
    url: str
    sha256: str
    bytes: int
    width: int
    height: int


class Manifest(Answer):
    manifest_version: int
    profile: ProfileOut
    tz: str
    poll_after_s: int
    from_: str = Field(alias="from", description="UTC, on the hour")
    until: str
    items: list[ManifestItem]
    sources: list[str]
    timeline: list[list[int]] = Field(description="[duration_ms, item index, source index], back to back")


class PlaysAnswer(Answer):
    accepted: int = Field(description="records stored now")
    duplicates: int = Field(description="records already known (a retried batch)")
    refused: int = Field(description="records that could not have happened")
    refused_by_reason: dict[REFUSAL_REASONS, int] = Field(  # type: ignore[valid-type]
        description="refused records by reason")
    refused_ids: dict[REFUSAL_REASONS, list[str]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="the ids of the refused records, by reason")


class PairingOut(Answer):
    code: str
    expires_in_s: int
    poll_after_s: int
    approve_url: str


class PairingWaiting(Answer):
    status: Literal["waiting"]


class PairingClaimed(Answer):
    screen_id: str
    token: str


class Health(Answer):
    status: Literal["ok", "error"]
    checks: dict[str, str]


REQUESTS: tuple[type[BaseModel], ...] = (
    PosterCreate, PosterUpdate, PreviewRequest, PlaylistCreate, PlaylistUpdate, ScheduleCreate, ReminderCreate,
    OverrideCreate, ScreenCreate, HeartbeatIn, PlaysIn, PairingSecret, GroupLabels)
ANSWERS: tuple[type[BaseModel], ...] = (
    Error, PosterOut, Previews, MediaOut, PlaylistOut, ScheduleOut, ReminderOut, OverrideOut, ScreenOut,
    ScreenCreated, GroupOut, Deleted, Ended, Manifest, PlaysAnswer, PairingOut, PairingWaiting, PairingClaimed,
    Health, ScreenRetired)


def components() -> tuple[dict, dict]:
    """(model -> {"$ref": ...}, the OpenAPI schemas component) for every request and answer model."""
    pairs = [(m, "validation") for m in REQUESTS] + [(m, "serialization") for m in ANSWERS]
    refs, defs = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    return {model: ref for (model, _mode), ref in refs.items()}, defs.get("$defs", {})
