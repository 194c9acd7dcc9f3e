"""Every text a person reads: every message in the code (refusals of the domain packages included) and the
templates has a Vietnamese translation, compiled."""

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "server" / "translations" / "vi" / "LC_MESSAGES"


def catalogue_keywords() -> dict:
    """The keywords `make translations` extracts with (the Makefile's ERROR_KEYWORDS), as Babel takes them."""
    make = (ROOT / "Makefile").read_text()
    block = re.search(r"^ERROR_KEYWORDS := ((?:.*\\\n)*.*)$", make, re.M).group(1)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    for spec in re.findall(r"-k (\S+)", block):
        name, _sep, arg = spec.partition(":")
        keywords[name] = (int(arg),) if arg else None
    return keywords


def source_messages() -> set:
    method_map = [(f"{package}/**.py", "python") for package in ("server", "playlists", "assets", "renderer")]
    method_map.append(("server/templates/**.html", "jinja2"))
    keywords = catalogue_keywords()
    assert {"ContentError", "RenderError", "IngestError"} <= set(keywords)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, keywords=keywords):
        found.add(message)
    return found


def test_every_console_message_is_translated_to_vietnamese():
    with (CATALOG / "messages.po").open("rb") as fh:
        po = read_po(fh, locale="vi")
    translated = {m.id: m.string for m in po if m.id and m.string and "fuzzy" not in m.flags}
    untranslated = sorted(str(m) for m in source_messages() if m not in translated)
    assert untranslated == [], "run `make translations` and translate these in messages.po"


def test_the_compiled_catalogue_matches_the_po_file():
    with (CATALOG / "messages.po").open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh, locale="vi") if m.id and "fuzzy" not in m.flags}
    with (CATALOG / "messages.mo").open("rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == po, "run `make translations` (pybabel compile) after editing messages.po"


def test_the_console_speaks_vietnamese_by_default_and_english_on_request(client):
    page = client.get("/staff/login").get_data(as_text=True)
    assert "Đăng nhập" in page and 'lang="vi"' in page
    english = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert "Log in" in english and "Đăng nhập" not in english
    assert "Log in" in client.get("/staff/login").get_data(as_text=True)  # the choice is remembered
