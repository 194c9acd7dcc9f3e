"""Offline channels: USB bundles (from the resolver's timeline), print PDFs, messaging images, CLI and downloads."""

import hashlib
import io
import re
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from assets.store import FileStore
from playlists import content
from playlists.db import make_engine, session_factory, upgrade
from playlists.export import ExportError, ExportNotFound, build_usb_bundle, write_usb_bundle
from playlists.models import Group
from playlists.network import load_network
from playlists.resolver import resolve
from playlists.screens import add_screen
from renderer import DEFAULT_URL, PosterSpec, encode, get_profile, render_poster
from renderer.printing import print_document
from tests.helpers import color_share, decoded_urls

NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # 01:30 on 28 November in Huế, 19:30 on the 27th in Berlin
DAY = date(2026, 11, 28)
HUE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "media")


def seed(session, store, *, playlist=((15, "a"), (10, "b")), every_min=15):
    """Two station LED panels under a 06:00-22:00 playlist with a 20 s reminder; a city panel with nothing."""
    add_screen(session, "bx-bac-1", "led-p10", NOW, name="Bến xe phía Bắc", groups=["stations"])
    add_screen(session, "bx-nam-1", "led-p10", NOW, groups=["stations"])
    add_screen(session, "hue-led-1", "led-p10", NOW, groups=["city"])
    add_screen(session, "bv-berlin", "led-p10", NOW, tz="Europe/Berlin", groups=["abroad"])
    keys = {
        "a": f"poster:{content.add_poster(session, {'lang': 'vi', 'headline': 'Cài Bluezone'}, NOW).id}",
        "b": f"poster:{content.add_poster(session, {'lang': 'en', 'headline': 'Get Bluezone'}, NOW).id}",
        "r": f"poster:{content.add_poster(session, {'template': 'reminder', 'lang': 'vi'}, NOW).id}",
    }
    items = [(keys[k], d) for d, k in playlist]
    pl = content.add_playlist(session, "stations", items)
    content.add_schedule(session, pl.id, groups=["stations", "abroad"], start_time=time(6), end_time=time(22))
    content.add_reminder(session, keys["r"], duration_s=20, every_min=every_min, groups=["stations", "abroad"])
    content.sync_renditions(session, store, NOW)
    session.commit()
    return keys


@pytest.fixture
def session(engine, store):
    """A seeded network of this test's own, on the suite's database (SQLite, or PostgreSQL in CI)."""
    with session_factory(engine)() as session:
        session.keys = seed(session, store)
        yield session


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One seeded network for the tests that only read it (seeding renders posters: do it once)."""
    folder = tmp_path_factory.mktemp("shared")
    engine = make_engine(f"sqlite:///{folder / 'signage.db'}")
    upgrade(engine)
    store = FileStore(folder / "media")
    with session_factory(engine)() as session:
        session.keys = seed(session, store)
        session.add(Group(name="empty"))
        session.commit()
        session.store = store
        yield session
    engine.dispose()


def open_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def rows(archive, folder=""):
    """playlist.txt as (file, milliseconds, content, source) rows, in play order."""
    text = archive.read(f"{folder}playlist.txt").decode("utf-8-sig")
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, seconds, key, source = line.split("\t")
            out.append((name, round(float(seconds) * 1000), key, source))
    return out


def day_timeline(session, screen_id, day=DAY, tz=HUE):
    net = load_network(session)
    start = datetime.combine(day, time(0), tzinfo=tz)
    return resolve(net.rules_for(net.screens[screen_id]), start, start + timedelta(days=1))


def token(seg):
    return (round((seg.end - seg.start) / timedelta(milliseconds=1)), seg.item.key, seg.source)


def assert_reproduces(loop, timeline, start, end):
    """Looping `loop` from some position gives the resolver's plays of [start, end) exactly, in order."""
    stretch = [token(s) for s in timeline if start <= s.start and s.end <= end]
    assert stretch and stretch[0] in loop
    offsets = [o for o in range(len(loop)) if all(loop[(o + i) % len(loop)] == t for i, t in enumerate(stretch))]
    assert offsets, "the loop repeated does not give the resolver's timeline"


def local(day, hour):
    return datetime.combine(day, time(hour), tzinfo=HUE) if hour < 24 else \
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=HUE)


# --- USB bundles --------------------------------------------------------------------------------------------


def test_screen_bundle_is_the_resolvers_loop_at_the_panels_size(shared):
    bundle = build_usb_bundle(shared, shared.store, screen="bx-bac-1", day=DAY, now=NOW)
    archive = open_zip(bundle.data)
    table = rows(archive)
    names = archive.namelist()
    images = [n for n in names if n.endswith(".png")]
    assert names == ["README.txt", "playlist.txt", *images]
    assert [r[0] for r in table] == images == sorted(images)  # play order is file-name order
    assert images[0].startswith("001_") and re.fullmatch(r"\d{3}_poster-\d+\.png", images[-1])
    # 15 minutes from one reminder to the next: the reminder, the clipped play it cut, then the playlist.
    assert sum(ms for _, ms, _, _ in table) == 15 * 60 * 1000
    assert table[0][2:] == (shared.keys["r"], "reminder:1") and table[0][1] == 20_000
    loop = [(ms, key, source) for _, ms, key, source in table]
    timeline = day_timeline(shared, "bx-bac-1")
    as_tokens = [token(s) for s in timeline]
    assert any(as_tokens[k:k + len(loop)] == loop for k in range(len(as_tokens)))  # a slice of the timeline
    assert_reproduces(loop, timeline, local(DAY, 6), local(DAY, 22))
    net = load_network(shared)
    for name, _, key, _ in table:
        data = archive.read(name)
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (192, 96) and image.format == "PNG"
        # The very bytes the players download for that item.
        assert hashlib.sha256(data).hexdigest() == net.renditions[(key, "led-p10")].sha256
    readme = archive.read("README.txt").decode("utf-8-sig")
    assert "06:00 đến 22:00" in readme and "06:00 to 22:00" in readme and "192x96" in readme
    assert "Bến xe phía Bắc" in readme and "playlist.txt" in readme
    assert bundle.filename == "bluezone-usb-screen-bx-bac-1-2026-11-28.zip"
    assert "loop of 72 images (15 min 0 s) repeating 06:00-22:00 (16 h of 24 h)" in bundle.report()


@pytest.mark.parametrize(("playlist", "every_min"), [(((7, "a"), (3, "b")), 13), (((15, "a"), (10, "b")), 7)])
def test_any_reminder_period_gives_a_faithful_loop(engine, store, playlist, every_min):
    """Reminders that do not divide the playlist's loop: the loop is longer, still the resolver's plays."""
    with session_factory(engine)() as session:
        seed(session, store, playlist=playlist, every_min=every_min)
        table = rows(open_zip(build_usb_bundle(session, store, screen="bx-nam-1", day=DAY, now=NOW).data))
        loop = [(ms, key, source) for _, ms, key, source in table]
        assert len(loop) <= 999 and loop[0][2] == "reminder:1"
        assert_reproduces(loop, day_timeline(session, "bx-nam-1"), local(DAY, 6), local(DAY, 22))


def test_an_override_held_all_day_is_one_image_held(session, store):
    alert = f"poster:{content.add_poster(session, {'lang': 'vi', 'headline': 'Khẩn cấp'}, NOW).id}"
    content.add_override(session, alert, start=local(DAY, 7), end=local(DAY, 19), screens=["bx-bac-1"])
    content.sync_renditions(session, store, NOW)
    session.commit()
    table = rows(open_zip(build_usb_bundle(session, store, screen="bx-bac-1", day=DAY, now=NOW).data))
    # Twelve hours of one held play cover more of the day than the schedule's two shorter stretches.
    assert [(ms, key) for _, ms, key, _ in table] == [(12 * 3600 * 1000, alert)]


def test_group_bundle_has_a_folder_per_timeline(session, store):
    add_screen(session, "bx-shop-1", "led-p5-small", NOW, groups=["stations"])
    content.sync_renditions(session, store, NOW)
    session.commit()
    bundle = build_usb_bundle(session, store, group="stations", day=DAY, now=NOW)
    archive = open_zip(bundle.data)
    folders = sorted({n.split("/")[0] for n in archive.namelist() if "/" in n})
    assert folders == ["led-p10_192x96", "led-p5-small_128x64"]
    for folder, size in (("led-p5-small_128x64", (128, 64)), ("led-p10_192x96", (192, 96))):
        table = rows(archive, folder + "/")
        assert sum(ms for _, ms, _, _ in table) == 15 * 60 * 1000
        for name, *_ in table:
            with Image.open(io.BytesIO(archive.read(f"{folder}/{name}"))) as image:
                assert image.size == size
    readme = archive.read("README.txt").decode("utf-8-sig")
    # Both LED panels share one timeline, so they share one folder.
    assert "led-p10_192x96/: cho màn hình bx-bac-1 (Bến xe phía Bắc), bx-nam-1" in readme
    assert "led-p5-small_128x64/: for screen(s) bx-shop-1" in readme


def test_default_day_is_today_on_the_screen(shared):
    hue = build_usb_bundle(shared, shared.store, screen="bx-bac-1", now=NOW)
    berlin = build_usb_bundle(shared, shared.store, screen="bv-berlin", now=NOW)
    assert hue.folders[0].day == date(2026, 11, 28) and berlin.folders[0].day == date(2026, 11, 27)
    assert "(Europe/Berlin)" in open_zip(berlin.data).read("playlist.txt").decode("utf-8-sig")


def test_bundle_bytes_are_the_same_each_time_and_written_whole(shared, tmp_path):
    first = build_usb_bundle(shared, shared.store, screen="bx-bac-1", day=DAY, now=NOW)
    again = build_usb_bundle(shared, shared.store, screen="bx-bac-1", day=DAY, now=NOW + timedelta(hours=3))
    assert first.data == again.data
    target = tmp_path / "out" / "bundle.zip"
    target.parent.mkdir()
    write_usb_bundle(first, target)
    assert target.read_bytes() == first.data and [p.name for p in target.parent.iterdir()] == ["bundle.zip"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"screen": "ghost"}, ExportNotFound, "screen: got 'ghost', but there is no such screen"),
        ({"group": "ghosts"}, ExportNotFound, "group: got 'ghosts', but there is no such group"),
        ({"group": "empty"}, ExportError, "group 'empty' has no screens"),
        ({"screen": "hue-led-1"}, ExportError, "nothing is scheduled on 2026-11-28 for hue-led-1"),
        ({"group": "city"}, ExportError, "nothing is scheduled on 2026-11-28 for hue-led-1"),
        ({"screen": "bx-bac-1", "group": "city"}, ExportError, "expected exactly one of them"),
    ],
)
def test_refusals_say_what_was_wrong(shared, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build_usb_bundle(shared, shared.store, day=DAY, now=NOW, **kwargs)


def test_content_the_panel_cannot_hold_is_refused_with_the_reason(session, store):
    add_screen(session, "tiny-1", "led-p5-small", NOW, groups=["tiny"])
    content.sync_renditions(session, store, NOW)
    long = f"poster:{content.add_poster(session, {'headline': 'Cài đặt ứng dụng Bluezone ngay hôm nay ' * 3}, NOW).id}"
    pl = content.add_playlist(session, "long", [(long, 10)])
    content.add_schedule(session, pl.id, groups=["tiny"])
    session.commit()  # not rendered: it cannot be, at 128x64
    with pytest.raises(ExportError, match=rf"{long} has no image at led-p5-small \(128x64\): the panel cannot hold "
                                          r"it \(The headline does not fit"):
        build_usb_bundle(session, store, screen="tiny-1", day=DAY, now=NOW)


# --- Print --------------------------------------------------------------------------------------------------

MM = 72 / 25.4


def pdf_pages(data: bytes):
    """(MediaBox width and height in points, the page image) of each page, read from the PDF's own bytes."""
    boxes = [tuple(float(v) for v in m.split()) for m in re.findall(rb"/MediaBox \[([^\]]*)\]", data)]
    # Pillow writes each page as one JPEG image stream: take its bytes as they are.
    streams = re.findall(rb"/Filter /DCTDecode.*?stream\r?\n(.*?)\r?\nendstream", data, re.S)
    assert len(boxes) == len(streams) == int(re.search(rb"/Count (\d+)", data).group(1))
    return [((b[2] - b[0], b[3] - b[1]), Image.open(io.BytesIO(s))) for b, s in zip(boxes, streams, strict=True)]


@pytest.fixture(scope="module", params=["A4", "A3", "A5"])
def printed(request):
    document = print_document(request.param, PosterSpec(lang="vi"))
    return request.param, document, document.pdf()


def test_each_pdf_page_has_the_paper_size_and_a_code_that_scans_in_print(printed):
    fmt, document, data = printed
    paper_mm = {"A4": (210, 297), "A3": (297, 420), "A5": (297, 210)}[fmt]  # A5 leaflets: an A4 sheet, landscape
    [(size_pt, image)] = pdf_pages(data)
    assert size_pt == pytest.approx((paper_mm[0] * MM, paper_mm[1] * MM), abs=0.01)
    # 300 dpi: the pixels over the paper's inches, to a fraction of a dot.
    assert image.width / (paper_mm[0] / 25.4) == pytest.approx(300, abs=0.2)
    assert image.height / (paper_mm[1] / 25.4) == pytest.approx(300, abs=0.2)
    # The decoder sees what the printer gets: the JPEG inside the PDF, at print resolution.
    assert decoded_urls(image) == [DEFAULT_URL] * (2 if fmt == "A5" else 1)


def test_printed_posters_carry_the_official_text_and_authority(printed):
    fmt, document, _ = printed
    page = document.pages[0].image
    margin = round(6 / 25.4 * 300)
    for poster, x in zip(document.posters, (margin, page.width // 2 + margin), strict=False):
        roles = dict(poster.boxes)
        assert poster.spec.headline == "Cài đặt Bluezone" and poster.spec.footer == "UBND tỉnh Thừa Thiên Huế"
        assert {"headline", "body", "cta", "url", "footer", "qr"} <= set(roles) and not poster.dropped
        fx0, fy0, fx1, fy1 = roles["footer"]
        footer_on_page = (fx0 + x, fy0 + margin, fx1 + x, fy1 + margin)
        assert color_share(page, footer_on_page, (222, 234, 255)) > 0.05  # the authority's name is drawn
    # Nothing but white paper in the safe margin along the left edge, where no printer reaches.
    assert page.crop((0, 0, margin, page.height)).getcolors() == [(margin * page.height, (255, 255, 255))]


def test_a5_sheet_has_cut_marks_on_the_middle_line():
    document = print_document("A5", PosterSpec(lang="en"))
    page = document.pages[0].image
    mid, mark = page.width // 2, round(4 / 25.4 * 300)
    assert page.getpixel((mid, mark)) == (0, 0, 0) and page.getpixel((mid, page.height - mark)) == (0, 0, 0)
    # The gutter either side of the cut is white (with the grey guide on the line), so a wandering cut is clean.
    gutter = page.crop((mid - 60, 0, mid + 60, page.height))
    assert {c for _, c in gutter.getcolors()} <= {(255, 255, 255), (0, 0, 0), (150, 150, 150)}
    assert "2 A5 leaflets on one A4 sheet 297 x 210 mm (841.89 x 595.28 pt)" in document.report()


# --- Messaging and web images -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "size"), [("link-preview", (1200, 630)), ("social-square", (1080, 1080)),
                                            ("wifi-banner", (1200, 400))])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_messaging_images_decode_and_carry_the_url(name, size, fmt):
    profile = get_profile(name)
    poster = render_poster(PosterSpec(lang="vi"), profile)
    with Image.open(io.BytesIO(encode(poster.image, fmt, profile))) as image:
        assert image.size == size and image.format == fmt
        assert decoded_urls(image) == [DEFAULT_URL]
    # Seen on the phone that would scan it, the address must be readable too, and who says so.
    assert {"url", "footer", "cta"} <= set(dict(poster.boxes))


# --- Command line and downloads -----------------------------------------------------------------------------


@pytest.fixture
def served(instance):
    """An app on the test instance with the seeded network and a staff API token."""
    from playlists.users import add_user, create_api_token
    from server import create_app
    from server.db import get_engine, get_session, get_store

    app = create_app({"TESTING": True, "SECRET_KEY": "t", "CLOCK": lambda: NOW})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        seed(session, get_store())
        add_user(session, "staff", "staff", NOW, password="correct horse battery")
        app.token = create_api_token(session, "staff", "tests", NOW)
        session.commit()
    return app


def test_cli_export_usb_writes_the_bundle(served, runner, tmp_path):
    out = tmp_path / "bundle.zip"
    result = runner.invoke("export", "usb", "--screen", "bx-bac-1", "--date", "2026-11-28", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 1 and "repeating 06:00-22:00" in result.output
    assert len(rows(open_zip(out.read_bytes()))) == 72


def assert_one_line_error(result, message, folder):
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert list(folder.iterdir()) == []  # no bundle, no temporary file


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["usb", "--screen", "bx-bac-1", "--date", "28/11/2026"], "expected YYYY-MM-DD"),
        (["usb", "--screen", "bx-bac-1", "--date", "2026-02-30"], "expected YYYY-MM-DD"),
        (["usb"], "give --screen ID or --group NAME"),
        (["print", "--format", "A6"], "format: got 'A6', expected one of A4, A3, A5"),
        (["print", "--format", "A4", "--lang", "fr"], "language: got 'fr'"),
    ],
)
def test_cli_export_errors_are_one_line_and_leave_no_file(runner, tmp_path, args, message):
    out = tmp_path / ("bundle.zip" if args[0] == "usb" else "poster.pdf")
    assert_one_line_error(runner.invoke("export", *args, "-o", str(out)), message, tmp_path)


def test_cli_export_refusals_of_the_network_leave_no_file(served, runner, tmp_path):
    out = tmp_path / "out" / "bundle.zip"
    out.parent.mkdir()
    for args, message in ((["--screen", "ghost"], "screen: got 'ghost', but there is no such screen"),
                          (["--group", "city"], "nothing is scheduled"),
                          (["--group", "stations", "--date", "1800-01-01"], "expected a year from 2000 to 2100")):
        assert_one_line_error(runner.invoke("export", "usb", *args, "-o", str(out)), message, out.parent)


def test_cli_export_print_writes_the_pdf(runner, tmp_path):
    out = tmp_path / "leaflets.pdf"
    result = runner.invoke("export", "print", "--format", "a5", "--lang", "en", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "2 A5 leaflets on one A4 sheet" in result.output and "[en]" in result.output
    [(size_pt, _image)] = pdf_pages(out.read_bytes())
    assert size_pt == pytest.approx((297 * MM, 210 * MM), abs=0.01)


def test_cli_export_refuses_a_wrong_extension(runner, tmp_path):
    result = runner.invoke("export", "print", "--format", "A4", "-o", str(tmp_path / "poster.png"))
    assert result.exit_code == 1 and "expected a file name ending in .pdf" in result.output
    assert list(tmp_path.iterdir()) == []


def test_staff_download_usb_and_print(served):
    client = served.test_client()
    auth = {"Authorization": f"Bearer {served.token}"}
    r = client.get("/staff/export/usb?group=stations&date=2026-11-28", headers=auth)
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == 'attachment; filename="bluezone-usb-group-stations-2026-11-28.zip"'
    assert len(rows(open_zip(r.data))) == 72  # both panels share one timeline: files at the top level
    r = client.get("/staff/export/print?format=a4&lang=en", headers=auth)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="bluezone-a4-en.pdf"'
    [(size_pt, _image)] = pdf_pages(r.data)
    assert size_pt == pytest.approx((210 * MM, 297 * MM), abs=0.01)


def test_staff_download_refusals(served):
    client = served.test_client()
    for query, status, message in (
        ("usb?screen=ghost", 404, "no such screen"),
        ("usb?screen=hue-led-1", 400, "nothing is scheduled"),
        ("usb?screen=bx-bac-1&date=tomorrow", 400, "expected a date YYYY-MM-DD"),
        ("usb?screen=bx-bac-1&date=0001-01-01", 400, "from year 2000 to 2100"),
        ("usb?screen=bx-bac-1&date=9999-12-31", 400, "from year 2000 to 2100"),
        ("usb?screen=bx-bac-1%00", 400, "control character"),
        ("print?format=A4&lang=fr", 400, "lang: got &#39;fr&#39;, expected one of vi, en, vi-en"),
        ("usb", 400, "give screen=ID or group=NAME"),
        ("print?format=B5", 400, "expected one of A4, A3, A5"),
    ):
        r = client.get(f"/staff/export/{query}{'&' if '?' in query else '?'}lang=en",
                       headers={"Authorization": f"Bearer {served.token}"})
        assert r.status_code == status and message in r.get_data(as_text=True), query
        assert "attachment" not in r.headers.get("Content-Disposition", "")


def test_a_refused_date_is_explained_in_vietnamese_by_default(served):
    r = served.test_client().get("/staff/export/usb?screen=bx-bac-1&date=2026-13-01",
                                 headers={"Authorization": f"Bearer {served.token}"})
    assert r.status_code == 400 and "cần một ngày dạng YYYY-MM-DD, năm từ 2000 đến 2100" in r.get_data(as_text=True)


def test_downloads_need_a_staff_login(served):
    r = served.test_client().get("/staff/export/print?format=A4")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
