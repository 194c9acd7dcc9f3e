"""Posters, playlists, schedules, reminders and overrides in the database, and the rules the resolver gets."""

import io
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from assets.store import FileStore
from playlists import content
from playlists.content import ContentError
from playlists.db import make_engine, session_factory, upgrade
from playlists.models import Media, OverrideRow, PlaylistRow, Poster, Rendition, ScheduleRow
from playlists.network import DEFAULT_DURATION_S, load_network, read_revision
from playlists.resolver import now as resolve_now
from playlists.screens import add_screen
from tests.helpers import decoded_urls

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 in Huế


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "media")


@pytest.fixture
def session(engine):
    with session_factory(engine)() as session:
        add_screen(session, "hue-led-1", "led-p10", NOW, groups=["city"])
        add_screen(session, "bx-bac-1", "led-p10", NOW, groups=["stations"])
        add_screen(session, "bx-nam-1", "led-p10", NOW, groups=["stations"])
        session.commit()
        yield session


def poster(session, **spec):
    return f"poster:{content.add_poster(session, {'lang': 'en', **spec}, NOW).id}"


def test_default_poster_is_rendered_for_every_profile_in_use(session, store):
    made = content.sync_renditions(session, store, NOW)
    session.commit()
    default = session.scalar(select(Poster).where(Poster.is_default))
    assert made == [(f"poster:{default.id}", "led-p10")]
    rendition = session.get(Rendition, (f"poster:{default.id}", "led-p10"))
    media = session.get(Media, rendition.sha256)
    with store.open(media.sha256, "png") as fh, Image.open(fh) as image:
        assert image.size == (192, 96) == (media.width, media.height)
    assert content.sync_renditions(session, store, NOW) == []  # nothing left to make


def test_a_scheduled_poster_is_rendered_at_its_screens_size_and_its_code_scans(session, store):
    add_screen(session, "bx-bac-tv", "tv-1080p", NOW, groups=["stations"])
    key = poster(session, url="https://bluezone.gov.vn/tai-ve")
    playlist = content.add_playlist(session, "stations", [(key, 15)])
    content.add_schedule(session, playlist.id, groups=["stations"])
    made = content.sync_renditions(session, store, NOW)
    assert (key, "tv-1080p") in made and (key, "led-p10") in made
    rendition = session.get(Rendition, (key, "tv-1080p"))
    assert json.loads(rendition.report_json)["qr_ok"] is True
    with store.open(rendition.sha256, "png") as fh, Image.open(fh) as image:
        assert image.size == (1920, 1080)
        assert decoded_urls(image) == ["https://bluezone.gov.vn/tai-ve"]


def test_targets_reach_screens_directly_through_groups_and_everywhere(session, store):
    a, b = poster(session, headline="A"), poster(session, headline="B")
    content.add_schedule(session, content.add_playlist(session, "a", [(a, 10)]).id, groups=["stations"])
    content.add_schedule(session, content.add_playlist(session, "b", [(b, 10)]).id, screens=["hue-led-1"])
    content.add_reminder(session, b, duration_s=20, every_min=15, everywhere=True)
    content.sync_renditions(session, store, NOW)
    net = load_network(session)
    bac, nam, led = (net.screens[s] for s in ("bx-bac-1", "bx-nam-1", "hue-led-1"))
    assert bac.rules_key == nam.rules_key != led.rules_key
    assert net.rules_for(bac) is net.rules_for(nam)  # one rules object for screens that show the same
    assert [s.playlist.items[0].key for s in net.rules_for(bac).schedules] == [a]
    assert [s.playlist.items[0].key for s in net.rules_for(led).schedules] == [b]
    assert all(len(net.rules_for(s).reminders) == 1 for s in (bac, led))
    assert net.rules_for(bac).default.duration_s == DEFAULT_DURATION_S


def test_rules_read_back_exactly_as_saved(session, store):
    key = poster(session)
    playlist = content.add_playlist(session, "morning", [(key, 12)])
    content.add_schedule(session, playlist.id, priority=3, start_date=date(2026, 12, 1), end_date=date(2026, 12, 31),
                         weekdays={0, 2, 4}, start_time=time(22, 30), end_time=time(6, 0), everywhere=True)
    content.sync_renditions(session, store, NOW)
    session.commit()
    net = load_network(session)
    [rule] = net.rules_for(net.screens["bx-bac-1"]).schedules
    assert (rule.priority, rule.start_date, rule.end_date, rule.weekdays, rule.start_time, rule.end_time) == (
        3, date(2026, 12, 1), date(2026, 12, 31), frozenset({0, 2, 4}), time(22, 30), time(6, 0))


def test_override_wins_and_is_stored_in_utc(session, store):
    alert = poster(session, template="reminder", headline="Emergency")
    start = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    content.add_override(session, alert, start=start, end=start + timedelta(hours=1), groups=["city"])
    content.sync_renditions(session, store, NOW)
    session.commit()
    row = session.scalar(select(OverrideRow))
    assert row.start.replace(tzinfo=UTC) == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    net = load_network(session)
    rules = net.rules_for(net.screens["hue-led-1"])
    assert resolve_now(rules, datetime(2026, 11, 27, 2, 30, tzinfo=UTC)).item.key == alert
    assert resolve_now(rules, datetime(2026, 11, 27, 3, 0, tzinfo=UTC)).source == "default"
    assert net.rules_for(net.screens["bx-bac-1"]).overrides == ()


def test_ending_an_override_early(session, store):
    alert = poster(session, headline="Emergency")
    row = content.add_override(session, alert, start=NOW, end=NOW + timedelta(hours=2), everywhere=True)
    content.end_override(session, row.id, NOW + timedelta(minutes=10))
    assert row.end.replace(tzinfo=UTC) == NOW + timedelta(minutes=10)
    later = content.add_override(session, alert, start=NOW + timedelta(days=1), end=NOW + timedelta(days=2),
                                 everywhere=True)
    content.end_override(session, later.id, NOW)
    session.flush()
    assert session.scalar(select(func.count()).select_from(OverrideRow)) == 1  # one not yet begun is dropped


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: content.add_playlist(s, "p", []), "expected at least one"),
    (lambda s: content.add_playlist(s, "p", [("poster:999", 10)]), "no poster 999"),
    (lambda s: content.add_playlist(s, "p", [("video:1", 10)]), "expected 'poster:<id>'"),
    (lambda s: content.add_playlist(s, "p", [("asset:" + "0" * 64, 10)]), "no uploaded image"),
    (lambda s: content.add_playlist(s, "p", [(poster(s), 0)]), "expected an integer from 1 to 86400"),
    (lambda s: content.add_playlist(s, "p", [(poster(s), 10**12)]), "expected an integer from 1 to 86400"),
    (lambda s: content.add_playlist(s, "\x00p", [(poster(s), 5)]), "control character U\\+0000"),
    (lambda s: content.add_playlist(s, "\u200b ", [(poster(s), 5)]), "at least one visible character"),
    (lambda s: content.add_playlist(s, "p" * 201, [(poster(s), 5)]), "got 201 characters, expected at most 200"),
    (lambda s: content.add_poster(s, {}, NOW, name="A\ud800"), "lone surrogate U\\+D800"),
    (lambda s: content.add_poster(s, {"url": "https://bluezone.gov.vn@evil.example/"}, NOW), "user-info"),
    (lambda s: content.add_schedule(s, 2**63, everywhere=True), "record id from 1 to 2147483647"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, priority=2**40,
                                    everywhere=True), "priority"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, everywhere=True,
                                    start_date=date(1999, 12, 31)), "expected a year from 2000 to 2100"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, screens=["a\x1b"]),
     "control character U\\+001B"),
    (lambda s: content.add_override(s, poster(s), start=NOW, end=NOW.replace(year=2101), everywhere=True),
     "expected a year from 2000 to 2100"),
    (lambda s: content.add_playlist(s, "", [(poster(s), 5)]), "playlist name"),
    (lambda s: content.add_schedule(s, 999, everywhere=True), "no such playlist"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id), "at least one target"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, groups=["nowhere"]),
     "unknown 'nowhere'"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, weekdays={7},
                                    everywhere=True), "subset of 0..6"),
    (lambda s: content.add_schedule(s, content.add_playlist(s, "p", [(poster(s), 5)]).id, everywhere=True,
                                    start_date=date(2026, 2, 1), end_date=date(2026, 1, 1)), "end date must not"),
    (lambda s: content.add_reminder(s, poster(s), duration_s=60, every_min=1, everywhere=True), "less than its period"),
    (lambda s: content.add_override(s, poster(s), start=NOW, end=NOW, everywhere=True), "end must be after the start"),
    (lambda s: content.add_override(s, poster(s), start=NOW.replace(tzinfo=None), end=NOW, everywhere=True),
     "naive datetime"),
    (lambda s: content.add_poster(s, {"lang": "fr"}, NOW), "unknown language"),
    (lambda s: content.add_poster(s, {"colour": "red"}, NOW), "unknown poster field"),
])
def test_bad_content_is_refused_with_a_reason_and_nothing_stored(session, call, message):
    before = read_revision(session.get_bind())
    with pytest.raises(ContentError, match=message):
        call(session)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ScheduleRow)) == 0
    assert session.scalar(select(func.count()).select_from(PlaylistRow)) == 0
    assert read_revision(session.get_bind()) == before


def test_a_poster_that_cannot_fit_a_profile_refuses_the_save(session, store):
    key = poster(session, headline="Cài đặt Bluezone " * 6)
    content.add_schedule(session, content.add_playlist(session, "p", [(key, 10)]).id, groups=["stations"])
    with pytest.raises(ContentError, match=r"on led-p10: The headline does not fit at a legible size on 192x96"):
        content.sync_renditions(session, store, NOW)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Rendition)) == 0
    assert session.scalar(select(func.count()).select_from(Poster)) == 0


def test_every_committed_change_moves_the_revision_once(session, store, engine):
    start = read_revision(engine)
    key = poster(session)
    content.add_playlist(session, "p", [(key, 5)])
    session.commit()
    assert read_revision(engine) == start + 1  # several flushes, one transaction, one step
    session.rollback()
    assert read_revision(engine) == start + 1
    content.set_playlist_items(session, session.scalar(select(PlaylistRow.id)), [(key, 7)])
    session.rollback()
    assert read_revision(engine) == start + 1  # a rolled back change leaves no trace


def test_editing_a_poster_replaces_its_images(session, store):
    key = poster(session, headline="Old")
    content.add_schedule(session, content.add_playlist(session, "p", [(key, 5)]).id, everywhere=True)
    content.sync_renditions(session, store, NOW)
    old = session.get(Rendition, (key, "led-p10")).sha256
    content.update_poster(session, int(key.split(":")[1]), {"lang": "en", "headline": "New"}, NOW)
    assert session.get(Rendition, (key, "led-p10")) is None
    content.sync_renditions(session, store, NOW)
    new = session.get(Rendition, (key, "led-p10")).sha256
    assert new != old and store.exists(old, "png")  # media are immutable: the old file stays


def test_an_uploaded_image_is_fitted_without_stretching(session, store):
    image = Image.new("RGB", (400, 100), (200, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    sha = store.put(buf.getvalue(), "png")
    session.add(Media(sha256=sha, ext="png", kind="image", width=400, height=100, bytes=len(buf.getvalue()),
                      label="banner.png", created_at=NOW))
    playlist = content.add_playlist(session, "p", [(f"asset:{sha}", 5), (f"asset:{sha}:cover", 5)])
    content.add_schedule(session, playlist.id, everywhere=True)
    content.sync_renditions(session, store, NOW)
    contain = session.get(Rendition, (f"asset:{sha}", "led-p10"))
    cover = session.get(Rendition, (f"asset:{sha}:cover", "led-p10"))
    with store.open(contain.sha256, "png") as fh, Image.open(fh) as fitted:
        assert fitted.size == (192, 96)
        assert fitted.getpixel((96, 10)) == (0, 0, 0)  # letterbox bar above a 192x48 picture
        assert fitted.getpixel((96, 48))[0] > 150
    with store.open(cover.sha256, "png") as fh, Image.open(fh) as fitted:
        assert fitted.size == (192, 96)
        assert fitted.getpixel((96, 2))[0] > 150  # filled edge to edge


def test_transparent_parts_of_an_image_show_the_background():
    from assets.derive import fit_image

    # Fully transparent pixels that store white: they must come out as the background, not white.
    image = Image.new("RGBA", (100, 50), (255, 255, 255, 0))
    image.paste((255, 0, 0, 255), (0, 0, 50, 50))
    fitted = fit_image(image, (100, 50), "contain", background=(0, 0, 0))
    assert fitted.mode == "RGB" and fitted.getpixel((10, 10)) == (255, 0, 0) and fitted.getpixel((90, 10)) == (0, 0, 0)
