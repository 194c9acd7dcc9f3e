"""Every page a person reads, in both languages: nothing left untranslated, dates written the Vietnamese way, a
title that says where you are, the favicon and the same header everywhere.

The pages are found, not listed: every GET route of the app that answers HTML is fetched with ?lang=vi and
?lang=en after the demo network is seeded (its URL parameters filled with the demo's own ids), so a page added
later is checked without touching this file.
"""

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from playlists import content
from playlists.db import upgrade
from playlists.demo import seed
from playlists.models import Group, PlaylistRow, Poster, ReminderRow, ScheduleRow, Screen, User
from playlists.users import set_password, user_named
from renderer.spec import default_copy
from server import create_app
from server.db import get_engine, get_session, get_store
from tests.helpers import app_on, seeded_instance

NOW = datetime(2026, 11, 27, 3, 7, tzinfo=UTC)  # 10:07 in Huế
PASSWORD = "correct horse battery"
CONFIG = {"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW}
PRODUCT = {"vi": "Màn hình Bluezone", "en": "Bluezone signage"}  # _("Bluezone signage")
PO = Path(__file__).resolve().parent.parent / "server" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"

# Routes that answer something other than a page for people: the players' full-screen pages, media, files, JSON.
SKIP_ENDPOINTS = {"static", "webplayer.player_page", "webplayer.pairing_page", "webplayer.service_worker"}
SKIP_PREFIXES = ("/api/", "/media/", "/go/", "/healthz", "/metrics")
SKIP_SUFFIXES = (".json", ".csv", ".svg", ".png", ".pdf", ".js", "/thumb", "/manifest", "/usb", "/print")

# Pages of other helpers that fail a check here for a reason of theirs: {endpoint: reason} (xfail, not skipped).
THEIRS: dict[str, str] = {}

# Words that are Vietnamese in both languages: the language switch's own name, and real places given as
# examples in placeholders (they are data, like the demo's sites).
EXAMPLES = ("Tiếng Việt", "Chợ Đông Ba")

VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.I)
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def seed_pages(app) -> None:
    """The demo network (its admin's password set to PASSWORD), a takeover in force, rules with open and closed
    date ranges."""
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        seed(session, get_store(), NOW)
        set_password(session, user_named(session, "admin"), PASSWORD, NOW)
        poster = session.scalars(select(Poster).order_by(Poster.id)).first()
        playlist = session.scalars(select(PlaylistRow).order_by(PlaylistRow.id)).first()
        content.add_override(session, f"poster:{poster.id}", start=NOW - timedelta(minutes=5),
                             end=NOW + timedelta(hours=2), name="Khẩn cấp bão số 9", everywhere=True)
        content.add_schedule(session, playlist.id, name="Tết", start_date=date(2026, 12, 1),
                             groups=["stations"], start_time=time(6), end_time=time(9))
        content.add_schedule(session, playlist.id, name="Mùa mưa", start_date=date(2026, 10, 1),
                             end_date=date(2026, 12, 31), groups=["hotels"])
        content.add_schedule(session, playlist.id, name="Đến cuối năm", end_date=date(2026, 12, 31),
                             groups=["buses"])
        session.commit()
        session.close()
        get_engine().dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The seeded instance, made once per module on SQLite and copied by each test; None on PostgreSQL."""
    return seeded_instance(tmp_path_factory, "pages", seed_pages, CONFIG)


@pytest.fixture
def app(instance, seeded):
    return app_on(instance, seeded, seed_pages, CONFIG)


def _token(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(app, lang: str):
    client = app.test_client()
    page = client.get(f"/staff/login?lang={lang}").get_data(as_text=True)
    r = client.post("/staff/login", data={"username": "admin", "password": PASSWORD, "csrf_token": _token(page)})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


# --- what a page says ------------------------------------------------------------------------------------------

class Reader(HTMLParser):
    """The words a person reads on a page: text outside scripts, styles and form fields' typed content, plus
    title, placeholder, aria-label, alt and button labels. Parts in another language (lang="...") are kept apart,
    and so is the header's HTML (to compare headers between pages)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, lang: str):
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, foreign)
        self.words: list[str] = []
        self.title = ""
        self.in_title = False
        self.header: list[str] = []
        self.links: list[dict] = []

    def _hidden(self) -> bool:
        return any(hidden for _, hidden, _f in self.stack)

    def _foreign(self) -> bool:
        return any(foreign for _, _h, foreign in self.stack)

    def _in_header(self) -> bool:
        return any(tag == "header" for tag, _h, _f in self.stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link":
            self.links.append(a)
        foreign = bool(a.get("lang")) and a["lang"] != self.lang
        if self._in_header() or tag == "header":
            # What may differ between pages: the current section, the CSRF token, the language link's address.
            kept = {k: v for k, v in a.items() if k not in ("aria-current", "value" if tag == "input" else "")}
            if a.get("hreflang"):
                kept.pop("href", None)
            self.header.append(f"<{tag} {sorted(kept.items())}>")
        if not (self._hidden() or self._foreign() or foreign):
            for name in ("title", "placeholder", "aria-label", "alt"):
                if a.get(name):
                    self.words.append(a[name])
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.words.append(a["value"])
        if tag == "title":
            self.in_title = True
        if tag not in self.VOID:
            self.stack.append((tag, tag in ("script", "style", "textarea", "template"), foreign))

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if self._in_header():
            self.header.append(f"</{tag}>")
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.in_title:
            self.title += data
            return
        if self._in_header() and data.strip():
            self.header.append(data.strip())
        if not (self._hidden() or self._foreign()) and data.strip():
            self.words.append(data.strip())


def read(html: str, lang: str) -> Reader:
    reader = Reader(lang)
    reader.feed(html)
    reader.close()
    return reader


def _untranslated_labels() -> set[str]:
    """One-word English labels of the catalogue ("Delete", "Show") whose Vietnamese differs: a Vietnamese page
    that shows one of them as a whole label (a button, a heading, a cell) left it untranslated."""
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    return {m.id for m in catalog if isinstance(m.id, str) and re.fullmatch(r"[A-Za-z]{3,}", m.id)
            and isinstance(m.string, str) and m.string and m.string != m.id}


def _untranslated_phrases() -> list[str]:
    """English phrases of the catalogue (2+ words, placeholders cut out) that a Vietnamese page would only show
    if they were left untranslated: those whose Vietnamese text does not contain them."""
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    phrases = set()
    for message in catalog:
        if not message.id or isinstance(message.id, tuple):
            continue
        translated = message.string if isinstance(message.string, str) else ""
        for part in re.split(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]*\}", message.id):
            part = part.strip(" .,:;!?()·–-…\"'")
            if len(part.split()) >= 2 and len(part) >= 8 and part not in translated:
                phrases.add(part)
    return sorted(phrases, key=len, reverse=True)


def data_texts(app) -> list[str]:
    """What people typed or the demo named: screens, sites, districts, groups, content and rule names, users and
    the posters' default words; these may be in either language on any page."""
    with app.app_context():
        session = get_session()
        texts = set()
        for screen in session.scalars(select(Screen)):
            texts.update((screen.name, screen.site, screen.district, screen.id))
        for group in session.scalars(select(Group)):
            texts.update(str(v) for k, v in vars(group).items() if not k.startswith("_") and isinstance(v, str))
        for kind in (Poster, PlaylistRow, ScheduleRow, ReminderRow):
            texts.update(row.name for row in session.scalars(select(kind)))
        texts.update(user.username for user in session.scalars(select(User)))
        from playlists.models import OverrideRow
        texts.update(row.name for row in session.scalars(select(OverrideRow)))
        for lang in ("vi", "en"):
            for template in ("install", "reminder"):
                for line in default_copy(template, lang).values():
                    texts.update(str(line).splitlines())
        texts.update(EXAMPLES)
    return sorted((t for t in texts if t), key=len, reverse=True)


def without(text: str, known: list[str]) -> str:
    for value in known:
        text = text.replace(value, " ")
    return text


# --- which pages ---------------------------------------------------------------------------------------------

def _fill(arguments, ids: dict[str, str]) -> dict | None:
    values = {}
    for name in arguments:
        if name not in ids:
            return None
        values[name] = ids[name]
    return values


def _reset_token(app, user) -> str:
    """A working password reset link's token for user (as an admin's "send a link" makes it)."""
    from itsdangerous import URLSafeSerializer

    from playlists.users import password_fingerprint
    from server.console_people import RESET_SALT

    return URLSafeSerializer(app.secret_key, salt=RESET_SALT).dumps(
        [user.id, password_fingerprint(user), int(NOW.timestamp())])


def demo_ids(app) -> dict[str, str]:
    with app.app_context():
        session = get_session()
        first = {kind: session.scalars(select(kind.id).order_by(kind.id)).first() for kind in
                 (Poster, PlaylistRow, ScheduleRow, ReminderRow, User)}
        screen = session.get(Screen, "ga-hue-tv") or session.scalars(select(Screen)).first()
        group = session.scalars(select(Group)).first()
        admin = user_named(session, "admin")
        token = _reset_token(app, admin)
    return {"token": token, "screen_id": screen.id, "poster_id": first[Poster], "playlist_id": first[PlaylistRow],
            "schedule_id": first[ScheduleRow], "reminder_id": first[ReminderRow], "user_id": first[User],
            "site": screen.site, "district": screen.district, "group": group.name, "group_id": group.id}


def html_routes(app) -> tuple[list[tuple[str, str]], list[str]]:
    """[(endpoint, url)] of every GET route that may answer a page, and the routes whose parameters could not be
    filled from the demo (for the test that says so)."""
    ids, pages, unfilled = demo_ids(app), [], []
    with app.test_request_context():
        from flask import url_for
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS:
                continue
            if rule.rule.startswith(SKIP_PREFIXES) or rule.rule.endswith(SKIP_SUFFIXES):
                continue
            values = _fill(rule.arguments - set(rule.defaults or {}), ids)
            if values is None:
                unfilled.append(rule.rule)
                continue
            pages.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return pages, unfilled


# Pages that answered 5xx while fetched: {(url, lang): status}.
FAILED_PAGES: dict[tuple[str, str], int] = {}


def fetch_all(app) -> dict[tuple[str, str], tuple[str, str]]:
    """{(endpoint or url, lang): (url, html)} for every page that answers HTML with 200."""
    pages, _unfilled = html_routes(app)
    out = {}
    for lang in ("vi", "en"):
        client = login(app, lang)
        for endpoint, url in pages:
            r = client.get(f"{url}{'&' if '?' in url else '?'}lang={lang}")
            if r.status_code == 200 and r.mimetype == "text/html":
                out[(url, lang)] = (endpoint, r.get_data(as_text=True))
            elif r.status_code >= 500:
                FAILED_PAGES[(url, lang)] = r.status_code
            r.close()
        anonymous = app.test_client()
        r = anonymous.get(f"/staff/login?lang={lang}")
        out[("/staff/login (signed out)", lang)] = ("auth.login", r.get_data(as_text=True))
    return out


@pytest.fixture(scope="module")
def _fetched(seeded):
    """On SQLite, the pages fetched once for the module (from the seeded instance itself); None on PostgreSQL."""
    if seeded is None:
        return None
    previous = os.environ.get("SIGNAGE_INSTANCE")
    os.environ["SIGNAGE_INSTANCE"] = str(seeded)
    try:
        site = create_app(CONFIG)
        return site, fetch_all(site)
    finally:
        if previous is None:
            del os.environ["SIGNAGE_INSTANCE"]
        else:
            os.environ["SIGNAGE_INSTANCE"] = previous


@pytest.fixture
def site(request, _fetched):
    """(site): the app the pages came from and {(url, lang): (endpoint, html)}."""
    if _fetched is not None:
        return _fetched
    app = request.getfixturevalue("app")
    return app, fetch_all(app)


def _problems(app, pages, check) -> list[str]:
    problems = []
    for (url, lang), (endpoint, html) in sorted(pages.items()):
        if endpoint in THEIRS:
            continue
        problems.extend(f"{url} [{lang}]: {p}" for p in check(url, lang, html))
    return problems


# --- the checks ------------------------------------------------------------------------------------------------

def test_every_page_is_reached_and_there_are_many(site):
    app, pages = site
    _pages, unfilled = html_routes(app)
    assert not unfilled, f"routes whose URL parameters this test cannot fill from the demo (add them to demo_ids): " \
                         f"{unfilled}"
    endpoints = {endpoint for endpoint, _html in pages.values()}
    assert {"console.home", "console.schedules", "console.takeover", "preview.index", "preview.screen_page",
            "monitoring.dashboard", "reports.index", "auth.login", "auth.account_password"} <= endpoints


def test_no_page_fails(site):
    _app, pages = site
    assert not FAILED_PAGES, f"pages answering a server error: {FAILED_PAGES}"


def test_vietnamese_pages_show_no_english_phrase_of_the_catalogue(site):
    app, pages = site
    phrases, labels, known = _untranslated_phrases(), _untranslated_labels(), data_texts(app)

    def check(url, lang, html):
        if lang != "vi":
            return []
        words = read(html, lang).words
        text = without(" | ".join(words), known)
        found = [f"untranslated {p!r}" for p in phrases if re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", text)]
        found += [f"untranslated label {w!r}" for w in words if w in labels and w not in known]
        return found

    problems = _problems(app, pages, check)
    assert not problems, "\n".join(problems)


def test_english_pages_show_no_vietnamese_outside_data(site):
    app, pages = site
    known = data_texts(app)

    def check(url, lang, html):
        if lang != "en":
            return []
        found = []
        for words in read(html, lang).words:
            rest = without(words, known)
            if VIETNAMESE.search(rest):
                found.append(f"Vietnamese words {rest.strip()!r}")
        return found

    problems = _problems(app, pages, check)
    assert not problems, "\n".join(problems)


def test_no_page_shows_an_iso_date(site):
    app, pages = site
    def check(url, lang, html):
        found = []
        for words in read(html, lang).words:
            if ISO_INSTANT.search(words) or ISO_DATE.search(words):
                found.append(f"machine date in {words!r}")
        return found

    problems = _problems(app, pages, check)
    assert not problems, "\n".join(problems)


def test_every_page_has_a_title_the_favicon_and_the_same_header(site):
    app, pages = site
    headers: dict[tuple[str, str], tuple[str, str]] = {}

    def check(url, lang, html):
        reader = read(html, lang)
        found = []
        title = " ".join(reader.title.split())
        if not title.endswith(PRODUCT[lang]):
            found.append(f"title {title!r} does not end with the product's name")
        if endpoint_of(url) != "console.home" and " · " not in title:
            found.append(f"title {title!r} does not say which page this is")
        if not any("icon" in (link.get("rel") or "") and link.get("href") for link in reader.links):
            found.append("no favicon link")
        if not reader.header:
            found.append("no header")
        signed_in = "signed out" not in url
        header = "".join(reader.header)
        seen = headers.setdefault((lang, str(signed_in)), (url, header))
        if seen[1] != header:
            found.append(f"header differs from the one on {seen[0]}:\n  {header}\n  {seen[1]}")
        return found

    def endpoint_of(url):
        return pages[(url, "vi")][0] if (url, "vi") in pages else ""

    problems = _problems(app, pages, check)
    assert not problems, "\n".join(problems)


def test_the_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.mimetype in ("image/svg+xml", "image/png", "image/x-icon", "image/vnd.microsoft.icon")
    r.close()


def test_no_page_repeats_a_word(site):
    """No label runs into a name that says the same ("Nhắc nhở Nhắc lại định kỳ"), no word comes twice in a row."""
    app, pages = site
    known = [t for t in data_texts(app) if len(t.split()) > 1]

    def check(url, lang, html):
        found = []
        for words in read(html, lang).words:
            # Within a run of words (punctuation such as "·", "," or "(" separates what may repeat).
            for run in re.split(r"[^\w\s]|_", words):
                tokens = re.findall(r"[^\W\d_]+", run)
                for i, token in enumerate(tokens):
                    near = [t.casefold() for t in tokens[i + 1:i + 3]]
                    if len(token) > 1 and token.casefold() not in ("as",) and token.casefold() in near:
                        phrase = " ".join(tokens[i:i + 3])
                        if not any(phrase in value for value in known):
                            found.append(f"{token!r} twice in {words!r}")
        return found

    problems = _problems(app, pages, check)
    assert not problems, "\n".join(problems)


def test_open_ranges_and_the_screens_zone_read_in_words(site):
    app, pages = site
    text = {lang: " ".join(" ".join(read(pages[("/staff/schedules", lang)][1], lang).words).split())
            for lang in ("vi", "en")}
    assert "từ 01/12/2026, không hạn" in text["vi"] and "đến 31/12/2026" in text["vi"]
    assert "01/10/2026 – 31/12/2026" in text["vi"]
    assert "from 01/12/2026, no end" in text["en"] and "until 31/12/2026" in text["en"]
    preview = {lang: " ".join(read(pages[("/preview/screens/ga-hue-tv", lang)][1], lang).words)
               for lang in ("vi", "en")}
    assert "27/11/2026 (giờ Việt Nam)" in preview["vi"] and "27/11/2026 (Vietnam time)" in preview["en"]


def test_a_source_is_named_once(app):
    """The kind of rule is left out when its name already says it; otherwise "kind: name"."""
    from types import SimpleNamespace

    from server.preview import source_label

    network = SimpleNamespace(schedules={1: SimpleNamespace(name="Ban ngày")},
                              reminders={2: SimpleNamespace(name="Nhắc lại định kỳ"), 3: SimpleNamespace(name="")},
                              overrides={4: SimpleNamespace(name="Khẩn cấp bão số 9")})
    with app.test_request_context("/?lang=vi"):
        assert source_label("schedule:1", network) == "Lịch phát: Ban ngày"
        assert source_label("reminder:2", network) == "Nhắc lại định kỳ"
        assert source_label("reminder:3", network) == "Nhắc nhở #3"
        assert source_label("override:4", network) == "Khẩn cấp bão số 9"
        assert source_label("default", network) == "Áp phích mặc định"
    with app.test_request_context("/?lang=en"):
        assert source_label("reminder:2", network) == "Reminder: Nhắc lại định kỳ"
        assert source_label("override:4", network) == "Emergency takeover: Khẩn cấp bão số 9"


def test_the_header_marks_where_you_are(site):
    app, pages = site

    def current(url):
        html = pages[(url, "en")][1]
        return re.findall(r'<a href="([^"]+)" aria-current="page">', html[:html.index("</header>")])

    assert current("/staff/posters") == ["/staff/posters"]
    assert current("/staff/posters/1") == ["/staff/posters"]
    assert current("/preview/screens/ga-hue-tv") == ["/preview/"]
    assert current("/staff/account/password") == []


def test_the_language_switch_keeps_the_page(app):
    client = login(app, "vi")
    page = client.get("/preview/screens/ga-hue-tv?at=2026-11-27T12:00").get_data(as_text=True)
    assert 'href="/preview/screens/ga-hue-tv?at=2026-11-27T12:00&amp;lang=en" lang="en"' in page
    # A page shown in answer to a form switches on the page the form was on.
    token = _token(client.get("/staff/schedules").get_data(as_text=True))
    r = client.post("/staff/schedules", data={"csrf_token": token, "playlist": ""},
                    headers={"Referer": "http://localhost/staff/schedules"})
    assert r.status_code == 400
    assert 'href="/staff/schedules?lang=en" lang="en"' in r.get_data(as_text=True)


def test_the_previews_live_caption_is_worded_by_the_server(app):
    """preview.js refreshes "why" and "until" from now.json, which words them in the page's language."""
    for lang, why, until in (("vi", "Khẩn cấp bão số 9", "đến 12:07:00"),
                             ("en", "Emergency takeover: Khẩn cấp bão số 9", "until 12:07:00")):
        client = login(app, lang)
        now = client.get("/preview/screens/ga-hue-tv/now.json").get_json()
        assert (now["why"], now["until"]) == (why, until)


def test_error_pages_for_people_have_the_header_and_say_what_to_do(app):
    client = login(app, "vi")
    r = client.get("/preview/screens/no-such-screen")
    page = r.get_data(as_text=True)
    reader = read(page, "vi")
    assert r.status_code == 404 and reader.header and reader.title == "Không tìm thấy trang · Màn hình Bluezone"
    assert any("bị gõ sai" in words for words in reader.words)
    assert 'href="?lang=en"' in page  # the same page for any address: an unknown screen and another site's alike
    r = client.get("/staff/no-such-page?lang=en")
    assert r.status_code == 404 and "<title>Page not found · Bluezone signage</title>" in r.get_data(as_text=True)
    assert client.get("/api/v1/no-such-thing").mimetype == "application/json"  # the API still answers JSON


def test_a_form_sent_without_its_security_code_says_what_to_do(app):
    r = app.test_client().post("/staff/login?lang=vi", data={"username": "admin", "password": PASSWORD})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Hãy tải lại trang rồi gửi lại biểu mẫu" in page and "<header" in page
