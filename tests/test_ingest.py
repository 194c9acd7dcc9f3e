"""Uploads: a corpus of bad files made here, each refused with the right status and nothing stored; good
files cleaned (upright, sRGB, RGB or RGBA, no metadata) and stored once."""

import io
import shutil
import struct
import unicodedata
import zlib
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageCms
from sqlalchemy import func, select

from assets.ingest import MAX_LABEL, Ingested, IngestError, clean_label, ingest
from assets.store import FileStore
from playlists.content import store_ingested
from playlists.db import make_engine, session_factory, upgrade
from playlists.models import Media

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
FIRST_FRAME_ONLY = "more than one frame (animation or multi-picture): only the first is kept"


# --- files made by the tests ---------------------------------------------------------------------------

def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def halves(size=(40, 20), left=RED, right=BLUE, mode="RGB") -> Image.Image:
    """Left half one colour, right half another: shows which way an image was turned."""
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes, *extra: bytes) -> bytes:
    """A PNG written by hand (for what Pillow will not write: 16-bit RGB, lying sizes, text bombs)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(extra)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_claiming(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header declares width x height: a decompression bomb's calling card."""
    return raw_png(width, height, 8, 0, b"\x00" * 16)


def damaged(png: bytes, kind: bytes) -> bytes:
    """The PNG with one bit flipped inside the first chunk of that kind, so its checksum no longer matches."""
    pos = png.index(kind) + 6
    return png[:pos] + bytes([png[pos] ^ 1]) + png[pos + 1:]


def png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def jpeg_markers(data: bytes) -> set[int]:
    """The segment markers before the image data (APP1 = EXIF/XMP, APP2 = ICC, COM = comment, ...)."""
    markers, pos = set(), 2
    while data[pos + 1] != 0xDA:
        markers.add(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return markers


def phone_photo() -> bytes:
    """What a phone sends: sideways pixels with orientation 6, GPS, XMP, a colour profile and a comment."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (16.0, 27.0, 50.0), 3: "E", 4: (107.0, 35.0, 0.0)}  # Huế
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(halves(), "JPEG", quality=95, exif=exif.tobytes(), comment=b"taken at home",
                  xmp=b"<x:xmpmeta><exif:GPSLatitude>16,27.8N</exif:GPSLatitude></x:xmpmeta>", icc_profile=srgb)


def animated(fmt: str, **params) -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)


def palette_with_transparency() -> bytes:
    """Red, with one see-through pixel in the top-left corner (palette entry 0 marked transparent)."""
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, *RED])
    image.putpixel((0, 0), 0)
    return encode(image, "PNG", transparency=0)


def gif_with_script() -> bytes:
    """A real GIF whose comment extension is an HTML page: a browser sniffing it might run the script."""
    return encode(halves((8, 8)), "GIF", comment=b"<html><script>alert(document.cookie)</script></html>")


def png_with_html() -> bytes:
    """A real PNG with HTML in a text chunk and more HTML after its end."""
    rows = b"".join(b"\x00" + bytes(RED) * 4 for _ in range(4))
    text = chunk(b"tEXt", b"Comment\x00<html><script>alert(1)</script></html>")
    return raw_png(4, 4, 8, 2, rows, text) + b"<html><script>alert(2)</script></html>"


def jpeg_with_html() -> bytes:
    return encode(halves(), "JPEG", comment=b"<script>alert(3)</script>")


# --- database and store --------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "media")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A database file with the schema, made once: each test gets its own copy in milliseconds."""
    path = tmp_path_factory.mktemp("db") / "signage.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def session(migrated, db_url):
    if db_url.startswith("sqlite"):  # PostgreSQL runs get a migrated database of their own already
        shutil.copyfile(migrated, db_url.removeprefix("sqlite:///"))
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def upload(session, store, data: bytes, filename: str = "poster.png", **limits) -> tuple[Media, bool]:
    """What the server does with one upload: check and clean, then store and record, then commit."""
    media, created = store_ingested(session, store, ingest(data, filename, **limits), NOW)
    session.commit()
    return media, created


def state(session, store) -> tuple[list[str], int]:
    files = sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*")) if store.root.exists() else []
    return files, session.scalar(select(func.count()).select_from(Media))


def stored(store, media: Media) -> bytes:
    with store.open(media.sha256, media.ext) as fh:
        return fh.read()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_near(actual, expected, tolerance=8):
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


def assert_no_metadata(data: bytes) -> None:
    """Only the chunks or segments needed for the pixels; nothing a person or a browser could read."""
    image = decoded(data)
    assert not {"exif", "xmp", "icc_profile", "comment", "Comment", "XML:com.adobe.xmp"} & image.info.keys()
    assert len(image.getexif()) == 0
    if data.startswith(b"\x89PNG"):
        assert set(png_chunks(data)) <= {b"IHDR", b"IDAT", b"IEND"}
    else:
        # SOI, APP0 (JFIF), quantisation and Huffman tables, start of frame; no APPn/COM with content.
        assert jpeg_markers(data) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xDD}


# --- refused: the right status, a message that says what was got, and nothing stored ----------------------

def _video(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00isomiso2" + b"\x00" * 64


REFUSED = {
    "zero bytes": (b"", {}, 400, ["empty file", "got 0 bytes"]),
    "over the size limit": (lambda: encode(halves(), "PNG"), {"max_bytes": 50}, 413,
                            ["file too large", "expected at most 50"]),
    "truncated PNG": (lambda: encode(Image.effect_noise((64, 64), 50), "PNG")[:600], {}, 400, ["broken PNG"]),
    "PNG without its end": (lambda: encode(halves(), "PNG")[:-12], {}, 400, ["broken PNG", "truncated"]),
    "PNG with a damaged chunk": (lambda: damaged(encode(halves(), "PNG"), b"IDAT"), {}, 400,
                                 ["broken PNG", "checksum"]),
    "PNG with an unknown critical chunk": (lambda: encode(halves(), "PNG").replace(b"IDAT", b"IDAX"), {}, 400,
                                           ["broken PNG", "header is unreadable"]),
    "truncated JPEG": (lambda: jpeg_with_html()[:300], {}, 400, ["broken JPEG"]),
    "JPEG without its end": (lambda: encode(Image.effect_noise((64, 64), 50), "JPEG")[:-40], {}, 400,
                             ["broken JPEG", "truncated"]),
    "JPEG magic then garbage": (b"\xff\xd8\xff" + bytes(range(256)) * 4, {}, 400, ["broken JPEG"]),
    "GIF magic then garbage": (b"GIF89a" + b"\x01" * 40, {}, 400, ["broken GIF"]),
    "WebP header only": (b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 24, {}, 400, ["broken WebP"]),
    "random bytes": (bytes(range(128, 256)) * 8, {}, 415, ["unrecognised binary data", "not an image"]),
    "PNG declaring 50000x50000": (png_claiming(50000, 50000), {}, 413, ["got 2,500,000,000 pixels"]),
    "PNG declaring 10000x10000": (png_claiming(10000, 10000), {}, 413, ["got 100,000,000 pixels"]),
    "PNG declaring 8000x8000": (png_claiming(8000, 8000), {}, 413, ["got 8000x8000 = 64,000,000 pixels"]),
    "GIF declaring 65535x65535": (lambda: (g := encode(halves((8, 8)), "GIF"))[:6] + b"\xff" * 4 + g[10:],
                                  {}, 413, ["image too large: got 4,294,836,225 pixels"]),
    "over a small pixel limit": (lambda: encode(halves(), "PNG"), {"max_pixels": 100}, 413,
                                 ["got 40x20 = 800 pixels", "at most 100"]),
    "PNG with a zTXt bomb": (raw_png(1, 1, 8, 0, b"\x00\x00", chunk(b"zTXt", b"Comment\x00\x00"
                                                                    + zlib.compress(b"A" * 3_000_000))),
                             {}, 400, ["broken PNG", "too large"]),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {}, 415,
            ["got an SVG drawing", "export it as PNG"]),
    "SVG with a BOM and an XML declaration": (b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg width="10"/>', {}, 415,
                                              ["got an SVG drawing"]),
    "HTML": (b"<!DOCTYPE html><html><body>hi</body></html>", {}, 415, ["got an HTML page", "not an image"]),
    "text named .png": (b"Bluezone - khau trang - khoang cach\n", {}, 415, ["got a text file", "not an image"]),
    "text with a letter across the 4 KB sniffed": (b"Bluezone " * 455 + "đồng".encode(), {}, 415,
                                                    ["got a text file"]),
    "XML": (b'<?xml version="1.0"?><poster/>', {}, 415, ["got an XML document"]),
    "MP4": (_video(b"isom"), {}, 415, ["got an MP4 video", "video is not yet supported"]),
    "MOV": (_video(b"qt  "), {}, 415, ["QuickTime (MOV)", "video is not yet supported"]),
    "WebM": (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"webm" + b"\x00" * 32, {}, 415,
             ["WebM/Matroska", "video is not yet supported"]),
    "AVI": (b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 32, {}, 415, ["AVI", "video is not yet supported"]),
    "HEIC": (_video(b"heic"), {}, 415, ["got a HEIC/AVIF image", "expected a PNG, JPEG, WebP or GIF"]),
    "BMP": (lambda: encode(halves(), "BMP"), {}, 415, ["got a BMP image", "expected a PNG, JPEG, WebP or GIF"]),
    "TIFF": (lambda: encode(halves(), "TIFF"), {}, 415, ["got a TIFF image", "expected a PNG, JPEG, WebP or GIF"]),
    "PDF": (lambda: encode(halves(), "PDF"), {}, 415, ["got a PDF document", "expected a PNG, JPEG, WebP or GIF"]),
    "ZIP": (b"PK\x03\x04" + b"\x00" * 40, {}, 415, ["ZIP archive"]),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_upload_is_refused_and_nothing_is_stored(case, session, store):
    data, limits, status, fragments = REFUSED[case]
    data = data() if callable(data) else data
    upload(session, store, encode(halves(left=GREEN), "PNG"), "earlier.png")  # neither store nor table empty
    before = state(session, store)
    with pytest.raises(IngestError) as refused:
        upload(session, store, data, "poster.png", **limits)
    assert refused.value.status == status
    for fragment in fragments:
        assert fragment in refused.value.message
    assert "expected" in refused.value.message
    session.rollback()
    assert state(session, store) == before


# --- accepted: judged by content, cleaned, stored once -------------------------------------------------------

def test_a_jpeg_named_png_is_taken_as_the_jpeg_it_is(session, store):
    media, created = upload(session, store, encode(halves(), "JPEG"), "poster.png")
    assert created and (media.ext, media.kind, media.width, media.height) == ("jpg", "image", 40, 20)
    assert media.label == "poster.png"
    image = decoded(stored(store, media))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert_near(image.getpixel((5, 10)), RED)
    assert_near(image.getpixel((35, 10)), BLUE)


def test_the_same_upload_twice_is_stored_once(session, store):
    first, created = upload(session, store, phone_photo(), "a.jpg")
    again, created_again = upload(session, store, phone_photo(), "b.jpg")
    assert created and not created_again
    assert again is first and again.label == "a.jpg"
    assert session.scalar(select(func.count()).select_from(Media)) == 1
    assert len(list(store.root.rglob("*.jpg"))) == 1
    assert store.verify(first.sha256, "jpg")
    assert len(stored(store, first)) == first.bytes


@pytest.mark.parametrize("make", [phone_photo, gif_with_script, png_with_html,
                                  lambda: animated("WEBP", lossless=True), lambda: animated("GIF")])
def test_cleaning_is_deterministic(make):
    assert ingest(make(), "x").sha256 == ingest(make(), "y").sha256


def test_a_phone_photo_is_turned_upright_and_loses_gps_and_all_metadata(session, store):
    original = decoded(phone_photo())
    assert original.getexif().get_ifd(0x8825)[1] == "N"  # the upload really carries GPS
    media, _ = upload(session, store, phone_photo(), "IMG_0001.JPG")
    data = stored(store, media)
    image = decoded(data)
    assert (media.width, media.height) == image.size == (20, 40)
    # Orientation 6: turned 90 degrees clockwise, so what was on the left is now on top.
    assert_near(image.getpixel((10, 5)), RED)
    assert_near(image.getpixel((10, 35)), BLUE)
    assert_no_metadata(data)
    for secret in (b"PhoneMaker", b"GPS", b"Exif", b"taken at home", b"xmpmeta", b"lcms"):
        assert secret not in data
    assert "turned upright (EXIF orientation 6)" in ingest(phone_photo(), "x").notes


@pytest.mark.parametrize("make", [gif_with_script, png_with_html, jpeg_with_html])
def test_a_polyglot_is_kept_as_an_image_without_its_html(make, session, store):
    assert b"<script>" in make()
    media, _ = upload(session, store, make(), "poster.gif")
    data = stored(store, media)
    assert b"<script" not in data.lower() and b"<html" not in data.lower()
    assert_no_metadata(data)
    assert decoded(data).size == (media.width, media.height)


def test_a_cmyk_jpeg_becomes_rgb(session, store):
    cmyk = encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG")
    assert decoded(cmyk).mode == "CMYK"
    media, _ = upload(session, store, cmyk)
    image = decoded(stored(store, media))
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert_near(image.getpixel((4, 4)), RED)


def test_16_bit_greyscale_is_scaled_not_clipped(session, store):
    grey = Image.new("I;16", (4, 1))
    for x, value in enumerate((0, 25700, 40000, 65535)):
        grey.putpixel((x, 0), value)
    media, _ = upload(session, store, encode(grey, "PNG"))
    image = decoded(stored(store, media))
    assert (image.format, image.mode) == ("PNG", "RGB")
    assert [image.getpixel((x, 0))[0] for x in range(4)] == [0, 100, 155, 255]


def test_16_bit_rgb_becomes_8_bit_rgb(session, store):
    rows = b"\x00" + struct.pack(">6H", 65535, 0, 0, 0, 0, 65535)
    media, _ = upload(session, store, raw_png(2, 1, 16, 2, rows))
    image = decoded(stored(store, media))
    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(2)] == [RED, BLUE]


def test_a_palette_png_with_transparency_becomes_rgba(session, store):
    media, _ = upload(session, store, palette_with_transparency())
    data = stored(store, media)
    image = decoded(data)
    assert (image.format, image.mode) == ("PNG", "RGBA")
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((1, 1)) == (*RED, 255)
    assert_no_metadata(data)


@pytest.mark.parametrize(("mode", "colour"), [("P", 1), ("RGBA", (*RED, 255)), ("L", 76), ("1", 1)])
def test_opaque_images_become_plain_rgb(mode, colour):
    image = Image.new(mode, (4, 4), colour)
    if mode == "P":
        image.putpalette([0, 0, 0, *RED])
    cleaned = ingest(encode(image, "PNG"), "x.png")
    assert (cleaned.ext, decoded(cleaned.data).mode) == ("png", "RGB")


def test_greyscale_with_alpha_becomes_rgba():
    cleaned = ingest(encode(Image.new("LA", (4, 4), (200, 100)), "PNG"), "x.png")
    assert decoded(cleaned.data).getpixel((0, 0)) == (200, 200, 200, 100)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_keeps_its_first_frame(fmt, session, store):
    data = animated(fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    assert Image.open(io.BytesIO(data)).n_frames == 2
    cleaned = ingest(data, "anim")
    assert cleaned.notes[0] == FIRST_FRAME_ONLY
    media, _ = store_ingested(session, store, cleaned, NOW)
    image = decoded(stored(store, media))
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("PNG", (8, 8), 1)
    assert image.getpixel((4, 4))[:3] == RED


def test_a_multi_picture_jpeg_keeps_its_first_picture():
    pictures = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]
    cleaned = ingest(encode(pictures[0], "MPO", save_all=True, append_images=pictures[1:]), "stereo.jpg")
    assert (cleaned.source_format, cleaned.ext, cleaned.notes) == ("JPEG", "jpg", (FIRST_FRAME_ONLY,))
    assert_near(decoded(cleaned.data).getpixel((4, 4)), RED)


@pytest.mark.parametrize(("params", "ext", "mode"), [
    ({"quality": 80}, "jpg", "RGB"),   # lossy WebP: a photo, stays lossy
    ({"lossless": True}, "png", "RGB"),
])
def test_webp_becomes_jpeg_or_png_by_how_it_was_compressed(params, ext, mode):
    cleaned = ingest(encode(halves(), "WEBP", **params), "x.webp")
    assert (cleaned.source_format, cleaned.ext, decoded(cleaned.data).mode) == ("WebP", ext, mode)


def test_webp_with_transparency_becomes_rgba_png():
    image = halves(mode="RGBA", left=(*RED, 255), right=(0, 0, 0, 0))
    cleaned = ingest(encode(image, "WEBP", quality=80), "x.webp")
    out = decoded(cleaned.data)
    assert (cleaned.ext, out.mode, out.getpixel((35, 10))[3]) == ("png", "RGBA", 0)


def swapped_primaries_profile() -> bytes:
    """An sRGB profile whose red and blue colorants are swapped: under it, the bytes (255, 0, 0) mean blue."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", icc[128:132])
    entry = {bytes(icc[132 + 12 * i:136 + 12 * i]): 136 + 12 * i for i in range(count)}
    red, blue = entry[b"rXYZ"], entry[b"bXYZ"]
    icc[red:red + 8], icc[blue:blue + 8] = icc[blue:blue + 8], icc[red:red + 8]
    return bytes(icc)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_the_colour_profile_is_applied_then_dropped(fmt):
    upload = encode(Image.new("RGB", (8, 8), RED), fmt, icc_profile=swapped_primaries_profile())
    cleaned = ingest(upload, "wide-gamut")
    assert "colours converted to sRGB from the embedded profile" in cleaned.notes
    assert_near(decoded(cleaned.data).getpixel((4, 4)), BLUE)
    assert_no_metadata(cleaned.data)


def test_an_unreadable_colour_profile_is_ignored():
    cleaned = ingest(encode(halves(), "JPEG", icc_profile=b"not a profile"), "x.jpg")
    assert "colour profile could not be applied: taken as sRGB" in cleaned.notes
    assert_no_metadata(cleaned.data)


def test_a_rendition_uploaded_again_becomes_an_asset(session, store):
    cleaned = ingest(encode(halves(), "PNG"), "downloaded.png")
    session.add(Media(sha256=cleaned.sha256, ext="png", kind="rendition", width=40, height=20,
                      bytes=len(cleaned.data), label="poster:1 @ led-p10", created_at=NOW))
    session.commit()
    media, created = store_ingested(session, store, cleaned, NOW)
    assert not created and (media.kind, media.label) == ("image", "downloaded.png")


def test_ingested_is_what_store_ingested_records(session, store):
    cleaned = ingest(encode(halves(), "PNG"), "x.png")
    assert isinstance(cleaned, Ingested)
    media, _ = upload(session, store, encode(halves(), "PNG"), "x.png")
    assert (media.sha256, media.ext, media.bytes, media.width, media.height) == (
        cleaned.sha256, cleaned.ext, len(cleaned.data), cleaned.width, cleaned.height)
    assert media.created_at.replace(tzinfo=UTC) == NOW


# --- the uploaded name: a label, never a path ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "label"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\x\\y.png", "y.png"),
    ("/var/www/", "www"),
    ("..", "upload"),
    ("", "upload"),
    ("poster\x00.png\r\n", "poster .png"),
    ("invoice\u202egnp.exe", "invoice gnp.exe"),        # a right-to-left override hiding ".exe"
    (unicodedata.normalize("NFD", "Áp phích   Bluezone.png"), "Áp phích Bluezone.png"),  # recomposed (NFC)
    ("<script>alert(1)</script>.png", "script>.png"),     # a label: the templates escape it
])
def test_the_uploaded_name_becomes_a_safe_label(name, label):
    assert clean_label(name) == label


def test_a_long_name_is_cut_keeping_its_extension():
    label = clean_label("a" * 500 + ".png")
    assert len(label) == MAX_LABEL and label.endswith("….png")


def test_the_label_is_stored_but_never_used_as_a_path(session, store):
    media, _ = upload(session, store, encode(halves(), "PNG"), "../../../../tmp/evil.png")
    assert media.label == "evil.png"
    assert [p.name for p in store.root.rglob("*.png")] == [f"{media.sha256}.png"]
