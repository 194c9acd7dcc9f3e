"""Screen profiles and poster specs: the catalog, sizes, defaults and validation."""

import pytest

from renderer import CATALOG, PosterSpec, RenderError, custom_profile, get_profile, parse_size
from renderer.fonts import check_drawable, coverage
from renderer.spec import DEFAULT_URL, check_url, default_copy, url_label


def test_catalog_covers_the_letters_channels():
    sizes = {name: (p.width, p.height, p.kind) for name, p in CATALOG.items()}
    assert sizes["led-p10"] == (192, 96, "led")
    assert sizes["tv-1080p"] == (1920, 1080, "lcd")
    assert sizes["kiosk-portrait"] == (1080, 1920, "lcd")
    assert sizes["lobby-4k"] == (3840, 2160, "lcd")
    assert sizes["a4-print"] == (2480, 3508, "print")  # 210 x 297 mm at 300 dpi
    assert sizes["a3-print"] == (3508, 4961, "print")
    assert CATALOG["bus-strip"].shape == "strip"
    assert CATALOG["led-p5-small"].shape == "tiny"
    assert {p.shape for p in CATALOG.values()} >= {"tiny", "strip", "landscape", "portrait"}


def test_catalog_has_images_for_messaging_and_web():
    """Sizes the platforms publish: Open Graph link shares, square posts; a 3:1 banner for Wi-Fi sign-in pages."""
    sizes = {name: (p.width, p.height, p.kind) for name, p in CATALOG.items() if p.kind == "web"}
    assert sizes == {"link-preview": (1200, 630, "web"), "social-square": (1080, 1080, "web"),
                     "wifi-banner": (1200, 400, "web")}
    assert [CATALOG[n].shape for n in sizes] == ["landscape", "square", "strip"]
    assert not any(CATALOG[n].crisp for n in sizes)  # full text, antialiased, with footer


@pytest.mark.parametrize(("text", "size"), [("1920x1080", (1920, 1080)), (" 32X16 ", (32, 16)), ("16x32", (16, 32))])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [("1920", "malformed size"), ("axb", "malformed size"), ("31x16", "too small"), ("32x15", "too small"),
     ("20000x100", "too large"), ("9000x9000", "too large")],
)
def test_parse_size_refuses(text, message):
    with pytest.raises(RenderError, match=message):
        parse_size(text)


def test_custom_profile_kind_follows_size():
    assert custom_profile(256, 128).kind == "led" and custom_profile(256, 128).crisp
    assert custom_profile(1366, 768).kind == "lcd" and not custom_profile(1366, 768).crisp


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(RenderError, match="expected one of led-p10"):
        get_profile("plasma")


def test_defaults_are_the_official_copy():
    spec = PosterSpec().resolved()
    assert spec.headline == "Cài đặt Bluezone"
    assert "Bảo vệ mình, bảo vệ cộng đồng" in spec.body
    assert spec.cta == "Quét mã QR để cài đặt"
    assert spec.url == DEFAULT_URL
    en = PosterSpec(lang="en").resolved()
    assert en.headline == "Install Bluezone"
    both = PosterSpec(lang="vi-en").resolved()
    assert both.headline == "Cài đặt Bluezone\nInstall Bluezone"


def test_every_default_text_is_drawable():
    for template in ("install", "reminder"):
        for lang in ("vi", "en", "vi-en"):
            for field, text in default_copy(template, lang).items():
                check_drawable(text, field)


def test_font_covers_all_vietnamese_letters():
    letters = "ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
    for weight in ("regular", "bold"):
        for ch in letters + letters.upper():
            assert ord(ch) in coverage(weight), (weight, ch)


def test_text_is_normalised_to_nfc_and_tidied():
    spec = PosterSpec(headline="Ca\u0300i \u0111a\u0323\u0306t   Bluezone ", body=None).resolved()
    assert spec.headline == "Cài đặt Bluezone"


@pytest.mark.parametrize(
    "url", ["", "bluezone.gov.vn", "ftp://bluezone.gov.vn", "https://", "https://bad host.vn", "https://localhost",
            "https://bluezone.gov.vn/\u00e9", "https://[::1"]
)
def test_check_url_refuses(url):
    with pytest.raises(RenderError, match="malformed URL"):
        check_url(url)


def test_url_label_is_what_people_type():
    assert url_label("https://bluezone.gov.vn/") == "bluezone.gov.vn"
    assert url_label("https://x.vn/a/?b=1") == "x.vn/a?b=1"


@pytest.mark.parametrize(
    ("data", "message"),
    [([], "must be a JSON object"), ({"colour": "red"}, "unknown poster field"), ({"headline": 3}, "must be text")],
)
def test_spec_from_dict_refuses(data, message):
    with pytest.raises(RenderError, match=message):
        PosterSpec.from_dict(data)


def test_spec_round_trips_through_dict():
    spec = PosterSpec(lang="en", headline="Install now", theme="dark")
    assert PosterSpec.from_dict(spec.to_dict()) == spec


def test_text_too_long_is_refused():
    with pytest.raises(RenderError, match="headline is too long"):
        PosterSpec(headline="a" * 121).resolved()
