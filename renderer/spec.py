"""Poster content: what a poster says, in which language and colours, and where its QR points."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, fields, replace
from urllib.parse import urlsplit

from .errors import Problem, RenderError, term

DEFAULT_URL = "https://bluezone.gov.vn"
TEMPLATES = ("install", "reminder")
LANGUAGES = ("vi", "en", "vi-en")
TEXT_FIELDS = ("headline", "body", "cta", "footer")
MAX_LENGTH = {"headline": 120, "body": 400, "cta": 120, "footer": 200, "url": 1000}

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Theme:
    """Colours of a poster; the QR plate is always dark on white whatever the theme."""

    background: RGB
    headline: RGB
    text: RGB
    accent: RGB
    accent_text: RGB
    footer_bg: RGB
    footer_text: RGB


THEMES: dict[str, Theme] = {
    "blue": Theme((11, 87, 196), (255, 255, 255), (222, 234, 255), (255, 204, 41), (14, 30, 62),
                  (6, 58, 138), (222, 234, 255)),
    "light": Theme((255, 255, 255), (11, 87, 196), (33, 41, 54), (11, 87, 196), (255, 255, 255),
                   (229, 238, 252), (33, 41, 54)),
    "dark": Theme((0, 0, 0), (255, 214, 10), (255, 255, 255), (255, 214, 10), (0, 0, 0),
                  (28, 28, 28), (210, 210, 210)),
}

# The official campaign copy. "Khẩu trang điện tử" (electronic mask) is how the
# Ministry presented Bluezone; the footer is the authority that issued letter 1145.
_COPY = {
    ("install", "vi"): {
        "headline": "Cài đặt Bluezone",
        "body": "Khẩu trang điện tử phòng, chống COVID-19. Bảo vệ mình, bảo vệ cộng đồng.",
        "cta": "Quét mã QR để cài đặt",
        "footer": "UBND tỉnh Thừa Thiên Huế",
    },
    ("install", "en"): {
        "headline": "Install Bluezone",
        "body": "The electronic mask against COVID-19. Protect yourself, protect the community.",
        "cta": "Scan the QR code to install",
        "footer": "Thừa Thiên Huế Provincial People's Committee",
    },
    ("reminder", "vi"): {
        "headline": "Bạn đã cài Bluezone chưa?",
        "body": "Bảo vệ mình, bảo vệ cộng đồng.",
        "cta": "Quét mã để cài ngay",
        "footer": "UBND tỉnh Thừa Thiên Huế",
    },
    ("reminder", "en"): {
        "headline": "Have you installed Bluezone?",
        "body": "Protect yourself, protect the community.",
        "cta": "Scan to install now",
        "footer": "Thừa Thiên Huế Provincial People's Committee",
    },
}


def default_copy(template: str, lang: str) -> dict[str, str]:
    """The official text of a template in a language; bilingual stacks Vietnamese over English."""
    if lang != "vi-en":
        return dict(_COPY[(template, lang)])
    vi, en = _COPY[(template, "vi")], _COPY[(template, "en")]
    out = {k: f"{vi[k]}\n{en[k]}" for k in TEXT_FIELDS}
    out["footer"] = vi["footer"]
    return out


def normalise(text: str) -> str:
    """NFC-normalise and tidy whitespace: Vietnamese typed on some keyboards arrives decomposed (NFD)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# Characters a person never types into a poster: C0/C1 controls (line breaks and tabs excepted, normalise()
# tidies those), DEL, lone UTF-16 surrogates (they cannot even be stored as UTF-8) and Unicode non-characters.
_KEEP = "\n\r\t"


def bad_character(text: str, *, keep: str = _KEEP) -> Problem | None:
    """The first character of text that has no place in typed text, described (a Problem to use as another's
    parameter; str() is the English description); None when all are fine."""
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if char in keep:
            continue
        where = {"char": f"U+{ord(char):04X}", "position": index}
        if category == "Cs":
            return Problem("a lone surrogate %(char)s at position %(position)s", code="text.surrogate", **where)
        if category == "Cc":
            return Problem("a control character %(char)s at position %(position)s", code="text.control", **where)
        if category == "Cn" and (0xFDD0 <= ord(char) <= 0xFDEF or ord(char) & 0xFFFE == 0xFFFE):
            return Problem("a non-character %(char)s at position %(position)s", code="text.noncharacter", **where)
    return None


def has_visible(text: str) -> bool:
    """True when text shows at least one character: not only spaces, controls or invisible format marks."""
    return any(unicodedata.category(c)[0] not in "ZC" for c in text)


def check_text(field: str, value: object, max_length: int, *, error: type[ValueError] = RenderError) -> str:
    """Return value if it is text a person could have typed, of at most max_length characters; else raise error."""
    if not isinstance(value, str):
        raise error("%(what)s must be text: got %(got)s", code="text.type", field=field, what=term(field),
                    got=type(value).__name__)
    if len(value) > max_length:
        raise error("The %(what)s is too long: %(length)s characters, at most %(limit)s; shorten it",
                    code="text.too_long", field=field, what=term(field), length=len(value), limit=max_length)
    if bad := bad_character(value):
        raise error("%(what)s: got %(bad)s, expected printable text; type it again without it",
                    code="text.bad_character", field=field, what=term(field), bad=bad)
    return value


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _host_problem(host: str) -> RenderError | None:
    """Why host is not a public-looking host name or IP address; None when it is one."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or len(labels) < 2:
        return RenderError("malformed URL: got host %(host)s, expected a domain name with a dot (such as "
                           "bluezone.gov.vn) or an IP address", code="url.host", field="url", host=repr(host))
    if not all(_LABEL.match(label) for label in labels):
        return RenderError("malformed URL: got host %(host)s, expected a domain name of letters, digits and '-' "
                           "(international names in their xn-- form)", code="url.host", field="url",
                           host=repr(host))
    if labels[-1].isdigit():
        return RenderError("malformed URL: got host %(host)s, expected a domain name whose last part is not a "
                           "number, or a full IP address", code="url.host", field="url", host=repr(host))
    return None


def check_url(url: str) -> str:
    """Return the URL if a phone can open it: http(s), a real host, a valid port, no user-info; refuse with why."""
    if not isinstance(url, str):
        raise RenderError("%(what)s must be text: got %(got)s", code="text.type", field="url", what=term("url"),
                          got=type(url).__name__)
    if len(url) > MAX_LENGTH["url"]:
        raise RenderError("URL too long: got %(length)s characters, expected at most %(limit)s",
                          code="url.too_long", field="url", length=len(url), limit=MAX_LENGTH["url"])
    shown = f"{url!r:.120}"
    bad = [c for c in url if c.isspace() or not c.isprintable() or ord(c) > 0x7E]
    if bad:
        raise RenderError("malformed URL: got %(url)s, which holds %(char)s; expected printable ASCII "
                          "(percent-encode the rest) such as %(example)s", code="url.characters", field="url",
                          url=shown, char=repr(bad[0]), example=DEFAULT_URL)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RenderError("malformed URL: got %(url)s (%(why)s), expected an address such as %(example)s",
                          code="url.malformed", field="url", url=shown, why=str(exc), example=DEFAULT_URL) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RenderError("malformed URL: got %(url)s, expected an http:// or https:// address such as %(example)s",
                          code="url.scheme", field="url", url=shown, example=DEFAULT_URL)
    if "@" in parts.netloc:
        fake, _, real = parts.netloc.rpartition("@")
        raise RenderError("URL has a user-info part: got %(url)s; a phone would open %(real)s, not %(shown)s; "
                          "expected no '@' before the host", code="url.userinfo", field="url", url=shown,
                          real=repr(real), shown=repr(fake))
    if port == 0:
        raise RenderError("URL port: got %(port)s, expected 1 to 65535", code="url.port", field="url", port=port)
    if problem := _host_problem(parts.hostname or ""):
        raise problem
    return url


@dataclass(frozen=True)
class PosterSpec:
    """What a poster says. A text field left as None takes the official copy; "" leaves it out."""

    template: str = "install"
    lang: str = "vi"
    headline: str | None = None
    body: str | None = None
    cta: str | None = None
    url: str = DEFAULT_URL
    footer: str | None = None
    theme: str = "blue"

    def resolved(self) -> PosterSpec:
        """Return a copy with defaults filled in, text normalised, every field checked."""
        if self.template not in TEMPLATES:
            raise RenderError("unknown template: got %(got)s, expected one of %(expected)s", code="poster.template",
                              field="template", got=repr(self.template), expected=list(TEMPLATES))
        if self.lang not in LANGUAGES:
            raise RenderError("unknown language: got %(got)s, expected one of %(expected)s", code="poster.lang",
                              field="lang", got=repr(self.lang), expected=list(LANGUAGES))
        if self.theme not in THEMES:
            raise RenderError("unknown theme: got %(got)s, expected one of %(expected)s", code="poster.theme",
                              field="theme", got=repr(self.theme), expected=list(THEMES))
        copy = default_copy(self.template, self.lang)
        values: dict[str, str] = {}
        for name in TEXT_FIELDS:
            raw = getattr(self, name)
            if raw is not None:
                # Checked before normalising: a 1 MB string of spaces is refused, not tidied to nothing first.
                check_text(name, raw, 4 * MAX_LENGTH[name])
            text = normalise(copy[name] if raw is None else raw)
            if len(text) > MAX_LENGTH[name]:
                raise RenderError("The %(what)s is too long: %(length)s characters, at most %(limit)s; shorten it",
                                  code="text.too_long", field=name, what=term(name), length=len(text),
                                  limit=MAX_LENGTH[name])
            values[name] = text
        if not has_visible(values["headline"]):
            raise RenderError("The headline is empty: a poster needs a headline; write at least one visible "
                              "character", code="poster.headline_empty", field="headline")
        if not isinstance(self.url, str):
            raise RenderError("%(what)s must be text: got %(got)s", code="text.type", field="url", what=term("url"),
                              got=type(self.url).__name__)
        return replace(self, url=check_url(self.url.strip()), **values)

    @classmethod
    def from_dict(cls, data: object) -> PosterSpec:
        """Build a spec from parsed JSON; refuse unknown keys and non-text values."""
        if not isinstance(data, dict):
            raise RenderError("poster spec must be a JSON object: got %(got)s", code="poster.not_object",
                              got=type(data).__name__)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RenderError("unknown poster field(s): %(unknown)s; expected %(expected)s", code="poster.fields",
                              unknown=unknown, expected=sorted(known))
        for key, value in data.items():
            if value is not None and not isinstance(value, str):
                raise RenderError("%(what)s must be text: got %(got)s", code="text.type", field=key, what=term(key),
                                  got=type(value).__name__)
        return cls(**data)

    def to_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def url_label(url: str) -> str:
    """The URL as a person would type it: no scheme, no trailing slash."""
    parts = urlsplit(url)
    label = parts.netloc + parts.path.rstrip("/")
    if parts.query:
        label += "?" + parts.query
    return label
