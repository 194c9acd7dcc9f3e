"""QR codes that scan: whole pixels per module, a 4-module quiet zone, verified by decoding."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import qrcode
import zxingcpp
from PIL import Image
from qrcode.exceptions import DataOverflowError

from .errors import RenderError

QUIET = 4  # modules of light margin on every side, as the QR standard asks
MIN_PPM = 2  # pixels per module below which phone cameras stop resolving modules
SCAN_FACTOR = 10  # a phone reads a code from about ten times its width

_EC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
       "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


@dataclass(frozen=True)
class Matrix:
    version: int
    ec: str
    modules: int
    bits: bytes  # one byte per module, 0 dark / 255 light, row-major

    def plate_side(self, ppm: int) -> int:
        """Pixel side of the code with its quiet zone at ppm pixels per module."""
        return (self.modules + 2 * QUIET) * ppm

    def ppm_for(self, side: int) -> int:
        """The most whole pixels per module that fit in side (quiet zone included)."""
        return side // (self.modules + 2 * QUIET)


@lru_cache(maxsize=256)
def matrix(url: str, ec: str = "M") -> Matrix:
    """The smallest QR matrix for url at error-correction level ec; refuse data that no QR holds."""
    if ec not in _EC:
        raise RenderError("unknown QR error correction: got %(got)s, expected one of L, M, Q, H", code="qr.ec",
                          got=repr(ec))
    code = qrcode.QRCode(error_correction=_EC[ec], border=0)
    code.add_data(url.encode("utf-8"), optimize=0)
    try:
        code.make(fit=True)
    except (DataOverflowError, ValueError):
        raise RenderError("URL too long for a QR code: got %(length)s characters; use a shorter address",
                          code="qr.too_long", field="url", length=len(url)) from None
    rows = code.get_matrix()
    bits = bytes(0 if dark else 255 for row in rows for dark in row)
    return Matrix(code.version, ec, len(rows), bits)


@lru_cache(maxsize=64)
def plate(m: Matrix, ppm: int) -> Image.Image:
    """The code as an RGB image, dark modules on white, quiet zone included (RGB so pasting needs no conversion)."""
    if ppm < MIN_PPM:
        raise RenderError("QR module too small: got %(ppm)s px per module, expected at least %(min)s",
                          code="qr.module_too_small", ppm=ppm, min=MIN_PPM)
    core = Image.frombytes("L", (m.modules, m.modules), m.bits)
    side = m.modules + 2 * QUIET
    framed = Image.new("L", (side, side), 255)
    framed.paste(core, (QUIET, QUIET))
    return framed.resize((side * ppm, side * ppm), Image.Resampling.NEAREST).convert("RGB")


def decode(image: Image.Image) -> list[str]:
    """Every QR text zxing-cpp finds in an image."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found if r.valid]


def verify(image: Image.Image, box: tuple[int, int, int, int], url: str, ppm: int) -> None:
    """Decode the code inside box of the finished image; refuse unless it yields exactly url."""
    region = image.crop(box).convert("L")
    # Large codes are averaged down to about 3 px per module first: the decoder needs no more,
    # and a smudge on the composed pixels still shows in the average.
    if ppm >= 6:
        region = region.reduce(ppm // 3)
    texts = decode(region)
    if texts != [url]:
        raise RenderError("QR code check failed: decoded %(got)s, expected [%(url)s]", code="qr.check_failed",
                          got=repr(texts), url=repr(url))


def scan_distance_m(m: Matrix, ppm: int, pitch_mm: float | None) -> float | None:
    """Conservative scanning distance in metres (ten times the code's width), if the pitch is known."""
    if pitch_mm is None:
        return None
    return SCAN_FACTOR * m.modules * ppm * pitch_mm / 1000
