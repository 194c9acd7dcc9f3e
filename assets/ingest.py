"""Uploads checked and cleaned before anything is stored: still images only, judged by their content, decoded
fully, and re-encoded from their pixels alone.

Decisions (the server only adapts these to HTTP):

- Accepted: PNG, JPEG, WebP and GIF, recognised by their magic bytes, then opened by that one Pillow plugin
  only (a hostile file never reaches the other decoders). The name and the declared MIME type are ignored.
- Output is one of two formats every player, browser and LED controller's software decodes:
  PNG for lossless sources (PNG, GIF, lossless WebP) and for anything with real transparency, because
  staff mostly upload graphics with text and logos, which JPEG would blur; JPEG (quality 90, baseline,
  4:4:4 chroma so coloured text stays sharp) for lossy sources without transparency (JPEG, lossy WebP),
  where PNG would be several times larger for nothing visible.
- Pixels are RGB, or RGBA only when some pixel is not fully opaque; CMYK, greyscale, 16-bit and palette
  images are converted (16-bit is scaled, not clipped).
- Size: an image over the pixel limit (max_pixels, the IMAGE_MAX_PIXELS setting) is refused from its header,
  before any decoding. One over WORK_MAX_PIXELS (25 MP) is stored reduced by a whole factor, box-averaged
  (JPEG decoded at the reduced size by libjpeg itself), and `notes` says so: the largest accepted upload then
  costs a worker under 300 MB, returned afterwards (tests/test_memory.py).
- Animated GIF, APNG and WebP: the first frame is kept as a still and `notes` says so. Players show stills;
  animation and video are not yet supported.
- Colour: an embedded ICC profile is applied (converted to sRGB) and then dropped, because players and the
  renderer take pixels as sRGB: dropping a Display P3, Adobe RGB or CMYK profile unapplied would shift
  colours. A profile that cannot be applied is ignored and the pixels are taken as sRGB.
- EXIF orientation is applied, then nothing but pixels crosses over: no EXIF (so no GPS), XMP, ICC,
  comments, text chunks or bytes after the image. That also defeats polyglots (an image whose comment or
  trailing bytes are HTML): the stored file holds no byte the uploader chose.
- The encoders write no timestamps, so the same upload gives the same bytes and the same sha256 (with the
  same Pillow, libjpeg and zlib; an upgrade may give a new hash for the same upload, never a changed file).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from renderer.errors import N_, Problem

MAX_BYTES = 25 * 1024 * 1024
# 50 megapixels takes a 48 MP phone photo (8064x6048); 4K screens need 8.3 MP and an A3 print at 300 dpi 17 MP.
# Decoded as RGBA that is 200 MB at most: the one full-size copy an upload may cost (see WORK_MAX_PIXELS).
MAX_PIXELS = 50_000_000
# Images above this are stored reduced by a whole factor (2, 3, ...) to at most this many pixels: still more
# than a 4K screen (8.3 MP) needs, and small enough that the cleaning steps, each of which copies the image,
# stay within a worker's memory budget (300 MB of growth for the largest accepted upload, tests/test_memory.py).
# JPEG is decoded at the reduced size directly (libjpeg scales while decoding); other formats are decoded at full
# size and then reduced band by band, so that only one full-size copy ever exists.
WORK_MAX_PIXELS = 25_000_000
# Bytes read from the start of a file to tell its format (and what it is when it is refused).
_HEAD = 4096
MAX_LABEL = 120
JPEG_QUALITY = 90
ACCEPTED = N_("PNG, JPEG, WebP or GIF")

# Magic bytes of the formats we take, mapped to the one Pillow plugin allowed to open each.
_ACCEPTED_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
_LABELS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "WEBP": "WebP"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
# Other images people try to upload, named so the refusal can say what was got.
_OTHER_IMAGES = (
    (b"BM", N_("a BMP image")),
    (b"II*\x00", N_("a TIFF image")),
    (b"MM\x00*", N_("a TIFF image")),
    (b"%PDF", N_("a PDF document")),
    (b"%!PS", N_("a PostScript document")),
    (b"\xc5\xd0\xd3\xc6", N_("an EPS document")),
    (b"8BPS", N_("a Photoshop (PSD) image")),
    (b"\x00\x00\x01\x00", N_("an ICO icon")),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", N_("a JPEG 2000 image")),
    (b"\xff\x4f\xff\x51", N_("a JPEG 2000 image")),
    (b"\xff\x0a", N_("a JPEG XL image")),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", N_("a JPEG XL image")),
    (b"qoif", N_("a QOI image")),
    (b"PK\x03\x04", N_("a ZIP archive (or an Office document)")),
)
_VIDEOS = (
    (b"\x1a\x45\xdf\xa3", N_("a WebM/Matroska video")),
    (b"FLV\x01", N_("an FLV video")),
    (b"\x00\x00\x01\xba", N_("an MPEG video")),
    (b"\x00\x00\x01\xb3", N_("an MPEG video")),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", N_("a WMV/ASF video")),
    (b"OggS", N_("an Ogg video (or audio)")),
)


class IngestError(Problem):
    """An upload refused; `status` is the HTTP status the server answers with (400, 413 or 415)."""

    def __init__(self, status: int, text: str, code: str | None = None, field: str | None = None,
                 **params: object) -> None:
        super().__init__(text, code, field, **params)
        self.status = status
        self.message = str(self)


@dataclass(frozen=True)
class Ingested:
    """A cleaned upload, ready to store: `data` hashes to `sha256`; `notes` say what cleaning changed."""

    data: bytes
    sha256: str
    ext: str
    kind: str
    width: int
    height: int
    label: str
    source_format: str
    notes: tuple[str, ...] = ()


def ingest(source: bytes | BinaryIO, filename: str, *, max_bytes: int = MAX_BYTES,
           max_pixels: int = MAX_PIXELS) -> Ingested:
    """Check and clean one upload (its bytes, or a seekable binary file such as the request's spooled temporary
    file, read from the start and never held whole in memory); returns the bytes to store (PNG or JPEG, no
    metadata) and their facts. Images over WORK_MAX_PIXELS are stored reduced.

    Refuses (IngestError) an empty, truncated or corrupt file (400), a file over max_bytes or an image over
    max_pixels (413), and anything that is not a PNG, JPEG, WebP or GIF image by its content (415)."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if not size:
        raise IngestError(400, "empty file: got 0 bytes, expected a PNG, JPEG, WebP or GIF image; choose the file "
                               "again", code="upload.empty", field="file")
    if size > max_bytes:
        raise IngestError(413, "file too large: got %(size)s bytes, expected at most %(limit)s; make it smaller and "
                               "upload it again", code="upload.too_large", field="file", size=f"{size:,}",
                          limit=f"{max_bytes:,}")
    fmt = sniff(stream.read(_HEAD))
    lossless = _lossless_source(fmt, stream)
    image, animated, reduced = _decode(stream, fmt, max_pixels)
    image, notes = _clean(image, fmt)
    if reduced:
        notes.insert(0, f"reduced from {reduced[0]}x{reduced[1]} to {image.width}x{image.height} "
                        f"(at most {WORK_MAX_PIXELS:,} pixels are kept)")
    if animated:
        notes.insert(0, "more than one frame (animation or multi-picture): only the first is kept")
    encoded, ext = _encode(image, lossless=lossless)
    width, height = image.size
    del image  # the pixels are no longer needed: give their memory back before the caller stores the bytes
    return Ingested(data=encoded, sha256=hashlib.sha256(encoded).hexdigest(), ext=ext, kind="image",
                    width=width, height=height, label=clean_label(filename),
                    source_format=_LABELS[fmt], notes=tuple(notes))


def sniff(data: bytes) -> str:
    """The Pillow format ("PNG", "JPEG", "GIF", "WEBP") that data's magic bytes announce.

    Refuses (415) everything else, saying what it looks like: video, another image format, SVG, HTML, text."""
    for magic, fmt in _ACCEPTED_MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if video := _video_kind(data):
        raise IngestError(415, "got %(what)s: video is not yet supported; expected a %(accepted)s image",
                          code="upload.video", field="file", what=video, accepted=ACCEPTED)
    if other := _other_image_kind(data):
        raise IngestError(415, "got %(what)s, expected a %(accepted)s image; save it in one of these formats and "
                               "upload that", code="upload.format", field="file", what=other, accepted=ACCEPTED)
    what = _text_kind(data)
    if what == "an SVG drawing":
        raise IngestError(415, "SVG drawings are not accepted (got an SVG drawing, expected a %(accepted)s image; "
                               "SVG can carry scripts): export it as PNG or JPEG and upload that",
                          code="upload.svg", field="file", accepted=ACCEPTED)
    raise IngestError(415, "got %(what)s, not an image; expected a %(accepted)s image", code="upload.not_image",
                      field="file", what=what, accepted=ACCEPTED)


def _video_kind(data: bytes) -> str | None:
    """The name of a video container, or None; ISO media (MP4, MOV, 3GP) is told apart from HEIC/AVIF stills."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS or brand in _AUDIO_BRANDS:
            return None
        return N_("a QuickTime (MOV) video") if brand == b"qt  " else N_("an MP4 video")
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return N_("an AVI video")
    if len(data) > 376 and data[0] == data[188] == data[376] == 0x47:  # MPEG-TS: a sync byte every 188
        return N_("an MPEG-TS video")
    return next((name for magic, name in _VIDEOS if data.startswith(magic)), None)


def _other_image_kind(data: bytes) -> str | None:
    """The name of an image (or document or audio) format we do not take, or None."""
    if data[4:8] == b"ftyp":
        return N_("a HEIC/AVIF image") if data[8:12] in _HEIF_BRANDS else N_("an audio file (M4A)")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return N_("an audio file (WAV)")
    return next((name for magic, name in _OTHER_IMAGES if data.startswith(magic)), None)


def _text_kind(data: bytes) -> str:
    """What a file that is no known binary format seems to be, for the refusal message."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").replace(b"\x00", b"").lower()
    if b"<svg" in head:
        return N_("an SVG drawing")
    if head.startswith((b"<!doctype html", b"<html")) or b"<script" in head:
        return N_("an HTML page")
    if head.startswith(b"<?xml"):
        return N_("an XML document")
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < min(len(data), 4096) - 3:  # not merely a character cut in two at the slice's end
            return N_("unrecognised binary data")
    return N_("a text file")


def webp_is_lossless(data: bytes | BinaryIO) -> bool:
    """True when a WebP's (first) bitstream is VP8L, lossless; False for VP8, lossy."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    pos = 12
    while True:
        stream.seek(pos)
        header = stream.read(8)
        if len(header) < 8:
            return False
        fourcc, size = header[:4], int.from_bytes(header[4:], "little")
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        # An animation frame holds a 16-byte header and then its own chunks: step inside it.
        pos += 8 + 16 if fourcc == b"ANMF" else 8 + size + (size & 1)


def _decode(stream: BinaryIO, fmt: str, max_pixels: int
            ) -> tuple[Image.Image, bool, tuple[int, int] | None]:
    """The first frame, decoded and reduced to at most WORK_MAX_PIXELS; whether there were more frames; and the
    original size when it was reduced. Refuses an image over the pixel limit before decoding it (413) and a file
    that does not decode (400)."""
    # Never above Pillow's own limit, so that its DecompressionBombWarning can only announce our refusal.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        stream.seek(0)
        with Image.open(stream, formats=[fmt]) as probe:
            _check_pixels(probe.size, limit)
            probe.verify()  # chunk checksums and the end marker, which load() alone does not insist on
        stream.seek(0)
        image = Image.open(stream, formats=[fmt])
        animated = bool(getattr(image, "is_animated", False))
        image.seek(0)
        declared = image.size
        _check_pixels(declared, limit)
        if fmt == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 of the size directly: the full-size pixels never exist.
            factor = _factor(declared)
            image.draft(None, (-(-declared[0] // factor), -(-declared[1] // factor)))
        image.load()
        _check_pixels(image.size, limit)  # a GIF frame may be larger than its declared screen
        if image.width * image.height > WORK_MAX_PIXELS:
            image = _reduce(image, _factor(image.size))
        return image, animated, (declared if image.size != declared else None)
    except IngestError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        got = f"{int(found[1]):,} pixels" if found else N_("more pixels than Pillow allows")
        raise IngestError(413, "image too large: got %(got)s, expected at most %(limit)s", code="upload.pixels",
                          field="file", got=got, limit=f"{limit:,}") from None
    except UnidentifiedImageError:
        raise IngestError(400, "broken %(format)s file: it starts like one but its header is unreadable; expected a "
                               "complete, undamaged image", code="upload.broken", field="file",
                          format=_LABELS[fmt]) from None
    except MemoryError:
        raise
    except Exception as exc:
        # Hostile input fails decoders in many ways (OSError, SyntaxError, ValueError, EOFError,
        # struct.error, ...); each means the file cannot be shown.
        raise IngestError(400, "broken %(format)s file: %(why)s; expected a complete, undamaged image",
                          code="upload.broken", field="file", format=_LABELS[fmt],
                          why=str(exc) or type(exc).__name__) from None


def _factor(size: tuple[int, int]) -> int:
    """The smallest whole factor that brings size to at most WORK_MAX_PIXELS."""
    return max(1, math.ceil(math.sqrt(size[0] * size[1] / WORK_MAX_PIXELS)))


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """image reduced factor times (box average), built from bands of at most 2 MP so that, besides the source,
    only the result and one band are in memory (Pillow's own reduce() first copies a whole RGBA image).
    Palette and 1-bit images become RGB(A) or L, 16-bit ones 32-bit I, so that averaging means colours."""
    width, height = image.size
    rows = max(factor, (2_000_000 // width) // factor * factor)
    out = None
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        if band.mode in ("P", "PA"):
            band = band.convert("RGBA" if "A" in band.mode or "transparency" in band.info else "RGB")
        elif band.mode == "1":
            band = band.convert("L")
        elif band.mode.startswith("I;16"):
            band = band.convert("I")
        elif "transparency" in band.info and band.mode in ("L", "RGB"):
            band = band.convert("LA" if band.mode == "L" else "RGBA")  # a colour key: averaged as alpha
        band = band.reduce(factor)
        if out is None:
            out = Image.new(band.mode, (-(-width // factor), -(-height // factor)))
        out.paste(band, (0, top // factor))
    out.info = dict(image.info)  # the ICC profile and EXIF orientation still apply; the rest is dropped later
    out.info.pop("transparency", None)
    return out


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise IngestError(400, "image has no pixels: got %(size)s", code="upload.no_pixels", field="file",
                          size=f"{width}x{height}")
    if width * height > limit:
        raise IngestError(413, "image too large: got %(size)s = %(pixels)s pixels, expected at most %(limit)s",
                          code="upload.pixels", field="file", size=f"{width}x{height}",
                          pixels=f"{width * height:,}", limit=f"{limit:,}")


def _clean(image: Image.Image, fmt: str) -> tuple[Image.Image, list[str]]:
    """The decoded image upright, in sRGB, as RGB or RGBA without metadata; and notes on what changed.
    Refuses (400) pixel data that cannot be converted."""
    try:
        image, turned = _upright(image)
        image, converted = _to_srgb(_flatten_mode(image))
        return _final_mode(image), turned + converted
    except Exception as exc:
        # Unusual modes from hostile or exotic files (LAB JPEGs, say) can fail to convert: a 4xx, not a 500.
        raise IngestError(400, "unsupported %(format)s pixel data: %(why)s; expected an RGB, greyscale, palette or "
                               "CMYK image", code="upload.pixel_data", field="file", format=_LABELS[fmt],
                          why=str(exc) or type(exc).__name__) from None


def _lossless_source(fmt: str, stream: BinaryIO) -> bool:
    """Whether the upload was lossless (PNG, GIF, lossless WebP), so that re-encoding it must be too."""
    return fmt in ("PNG", "GIF") or (fmt == "WEBP" and webp_is_lossless(stream))


def _upright(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """The image turned the way its EXIF orientation says; a broken EXIF block leaves it as it is."""
    try:
        orientation = image.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(image)
    except Exception:
        # Orientation is a hint about the pixels, not the pixels: unreadable EXIF is dropped with the rest.
        return image, ["unreadable EXIF ignored"]
    return upright, ([f"turned upright (EXIF orientation {orientation})"] if orientation not in (1, None) else [])


def _flatten_mode(image: Image.Image) -> Image.Image:
    """The image as 8-bit L, RGB, RGBA or CMYK (the modes a colour profile applies to), transparency kept."""
    if image.mode.startswith("I"):
        # 16-bit samples scaled to 8 bits: convert("L") alone would clip everything above 255 to white.
        return image.convert("I").point(lambda v: v / 257).convert("L")
    if image.mode in ("L", "RGB", "RGBA", "CMYK") and "transparency" not in image.info:
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _to_srgb(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """The image converted from its embedded ICC profile to sRGB (RGB or RGBA); unchanged without one."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image, []
    out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image, ["colour profile could not be applied: taken as sRGB"]
    return converted, ["colours converted to sRGB from the embedded profile"]


def _final_mode(image: Image.Image) -> Image.Image:
    """A new RGB image, or RGBA when some pixel is see-through, carrying no metadata at all."""
    keep_alpha = image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255
    clean = image.convert("RGBA" if keep_alpha else "RGB")
    clean.info = {}  # convert() copies info (ICC, comment, EXIF...), and encoders read it
    return clean


def _encode(image: Image.Image, lossless: bool) -> tuple[bytes, str]:
    """The image as PNG (lossless source or transparency) or JPEG, and its extension; no timestamps."""
    out = io.BytesIO()
    if lossless or image.mode == "RGBA":
        image.save(out, "PNG", compress_level=6)
        return out.getvalue(), "png"
    image.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False, progressive=False)
    return out.getvalue(), "jpg"


def clean_label(filename: str) -> str:
    """A display label from an uploaded name: its last path component, without control or bidi characters,
    whitespace collapsed, at most MAX_LABEL characters; "upload" when nothing is left. Never a path."""
    name = unicodedata.normalize("NFC", str(filename or ""))
    name = name.replace("\\", "/").rstrip("/ ").rsplit("/", 1)[-1]
    # Category C covers control, format (bidi overrides, zero-width), private-use and unassigned characters.
    name = "".join(ch if not unicodedata.category(ch).startswith("C") else " " for ch in name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_LABEL:
        stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and 0 < len(ext) <= 10 else ""
        name = name[:MAX_LABEL - len(keep) - 1].rstrip() + "…" + keep
    return name or "upload"
