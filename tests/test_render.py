"""The renderer on every built-in profile: what a person would check of each poster."""

import io
import unicodedata

import pytest
from PIL import Image

from renderer import CATALOG, DEFAULT_URL, PosterSpec, RenderError, encode, get_profile, render_poster
from renderer.spec import THEMES, default_copy
from tests.helpers import assert_layout_sound, color_share, decoded_urls

LANGS = ("vi", "en", "vi-en")


@pytest.fixture(scope="module")
def posters():
    """Every built-in profile in every language, rendered once for the module."""
    return {(name, lang): render_poster(PosterSpec(lang=lang), p) for name, p in CATALOG.items() for lang in LANGS}


@pytest.mark.parametrize("name", list(CATALOG))
@pytest.mark.parametrize("lang", LANGS)
def test_builtin_profile_poster(posters, name, lang):
    poster = posters[(name, lang)]
    profile = CATALOG[name]
    image = poster.image
    assert image.size == (profile.width, profile.height)
    assert image.mode == "RGB"
    assert_layout_sound(poster)
    roles = dict(poster.boxes)
    theme = THEMES["blue"]
    # The headline is really there, in its colour, inside its box.
    assert color_share(image, roles["headline"], theme.headline) > 0.08
    if poster.qr is not None:
        assert decoded_urls(image) == [DEFAULT_URL]
        assert poster.qr.ppm >= 2
        assert poster.qr.side == (poster.qr.modules + 8) * poster.qr.ppm
        if not profile.crisp:
            assert {"cta", "url"} <= set(roles)
    else:
        # Too small for a code: the address is written out instead, and the report says so.
        assert decoded_urls(image) == []
        assert "url" in roles and color_share(image, roles["url"], theme.headline) > 0.05
        assert "URL shown as text" in poster.report()


def test_full_size_posters_carry_every_element(posters):
    for name in ("tv-1080p", "kiosk-portrait", "lobby-4k", "a4-print", "a3-print", "led-billboard"):
        roles = dict(posters[(name, "vi")].boxes)
        assert {"headline", "body", "cta", "url", "footer", "qr"} <= set(roles), name


def test_led_panels_are_crisp_two_tone_text(posters):
    """On LED panels letters are drawn without antialiasing: only theme colours, no grey edges."""
    for name in ("led-p10", "led-p5-small"):
        image = posters[(name, "vi")].image
        colours = {c for _, c in image.getcolors(1 << 16)}
        theme = THEMES["blue"]
        assert colours <= {theme.background, theme.headline, theme.text, (0, 0, 0), (255, 255, 255),
                           theme.accent, theme.accent_text}, name


def test_same_spec_same_bytes():
    profile = get_profile("tv-1080p")
    first = encode(render_poster(PosterSpec(), profile).image, "PNG", profile)
    again = encode(render_poster(PosterSpec(), profile).image, "PNG", profile)
    assert first == again


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PDF"])
def test_other_formats_are_deterministic(fmt):
    profile = get_profile("led-billboard")
    image = render_poster(PosterSpec(), profile).image
    assert encode(image, fmt, profile) == encode(image.copy(), fmt, profile)


def test_decomposed_input_gives_the_same_image():
    copy = default_copy("install", "vi")
    nfd = {k: unicodedata.normalize("NFD", v) for k, v in copy.items()}
    assert nfd["headline"] != copy["headline"]
    profile = get_profile("kiosk-portrait")
    a = render_poster(PosterSpec(**copy), profile).image
    b = render_poster(PosterSpec(**nfd), profile).image
    assert a.tobytes() == b.tobytes()


def test_stacked_capitals_stay_inside_the_canvas():
    """Regression: 'Ồ' and 'Ễ' rise above the font's ascent; measuring by ascent would clip them."""
    poster = render_poster(PosterSpec(headline="ỒỄỘỬ ẤỖ"), get_profile("bus-strip"))
    assert_layout_sound(poster)
    top = dict(poster.boxes)["headline"][1]
    assert top >= poster.profile.height * 0.03


@pytest.mark.parametrize("theme", list(THEMES))
def test_qr_plate_is_dark_on_light_in_every_theme(theme):
    poster = render_poster(PosterSpec(theme=theme), get_profile("tv-1080p"))
    x0, y0, x1, y1 = poster.qr.box
    ppm = poster.qr.ppm
    # The quiet zone all round is white, whatever the background.
    assert color_share(poster.image, (x0, y0, x1, y0 + 4 * ppm), (255, 255, 255)) == 1.0
    assert color_share(poster.image, (x0, y1 - 4 * ppm, x1, y1), (255, 255, 255)) == 1.0
    assert decoded_urls(poster.image) == [DEFAULT_URL]


def test_custom_url_is_what_the_code_says():
    url = "https://play.google.com/store/apps/details?id=com.mic.bluezone"
    poster = render_poster(PosterSpec(url=url), get_profile("kiosk-portrait"))
    assert decoded_urls(poster.image) == [url]
    assert poster.qr.version > 2


def test_scan_distance_follows_pixel_pitch():
    poster = render_poster(PosterSpec(), get_profile("led-p10"))
    q = poster.qr
    # 25 modules x 2 px x 10 mm = 0.5 m wide; a phone reads it from about ten times that.
    assert (q.modules, q.ppm) == (25, 2)
    assert q.scan_m == pytest.approx(5.0)
    assert "5.0 m" in poster.report()


def test_empty_optional_field_is_left_out():
    poster = render_poster(PosterSpec(body="", footer=""), get_profile("tv-1080p"))
    roles = dict(poster.boxes)
    assert "body" not in roles and "footer" not in roles
    assert poster.dropped == ()


@pytest.mark.parametrize(
    ("spec", "profile", "message"),
    [
        (PosterSpec(headline="Cài đặt Bluezone 🦠"), "tv-1080p", r"U\+1F9A0"),
        (PosterSpec(body="Bluezone \u0e01"), "tv-1080p", r"U\+0E01"),
        (PosterSpec(headline="Bảo vệ mình bảo vệ cộng đồng " * 4), "led-p10", "does not fit"),
        (PosterSpec(url="bluezone.gov.vn"), "tv-1080p", "malformed URL"),
        (PosterSpec(url="javascript:alert(1)"), "tv-1080p", "malformed URL"),
        (PosterSpec(url="https://bluezone.gov.vn/" + "a" * 900), "led-p10", "no room for a scannable code"),
        (PosterSpec(url="https://bluezone.gov.vn/" + "a" * 990), "tv-1080p", "URL too long"),
        (PosterSpec(headline=""), "tv-1080p", "The headline is empty"),
        (PosterSpec(lang="fr"), "tv-1080p", "unknown language"),
        (PosterSpec(theme="pink"), "tv-1080p", "unknown theme"),
    ],
)
def test_requests_that_cannot_be_met(spec, profile, message):
    with pytest.raises(RenderError, match=message):
        render_poster(spec, get_profile(profile))


def test_long_url_fits_where_the_screen_allows():
    url = "https://bluezone.gov.vn/" + "a" * 400
    poster = render_poster(PosterSpec(url=url), get_profile("lobby-4k"))
    assert decoded_urls(poster.image) == [url]


def test_pdf_has_the_page_size_of_the_paper():
    profile = get_profile("a4-print")
    data = encode(render_poster(PosterSpec(), profile).image, "PDF", profile)
    assert data.startswith(b"%PDF")
    assert b"/MediaBox [ 0 0 595.2 841.92 ]" in data  # 2480 x 3508 px at 300 dpi, i.e. A4
    assert b"CreationDate" not in data


def test_jpeg_and_webp_keep_size_and_code():
    profile = get_profile("tv-1080p")
    image = render_poster(PosterSpec(), profile).image
    for fmt in ("JPEG", "WEBP"):
        back = Image.open(io.BytesIO(encode(image, fmt, profile)))
        assert back.size == (1920, 1080) and back.format == fmt
        assert decoded_urls(back) == [DEFAULT_URL]


def test_verification_refuses_a_damaged_code():
    from PIL import ImageDraw

    from renderer import qr

    poster = render_poster(PosterSpec(), get_profile("tv-1080p"))
    image = poster.image.copy()
    x0, y0, x1, y1 = poster.qr.box
    qr.verify(image, poster.qr.box, DEFAULT_URL, poster.qr.ppm)  # intact: passes
    ImageDraw.Draw(image).rectangle((x0, y0, (x0 + x1) // 2, (y0 + y1) // 2), fill=THEMES["blue"].background)
    with pytest.raises(RenderError, match="QR code check failed"):
        qr.verify(image, poster.qr.box, DEFAULT_URL, poster.qr.ppm)
