"""Encoding finished posters to bytes and writing them atomically."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from .errors import RenderError
from .profiles import ScreenProfile

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".pdf": "PDF"}


def format_for(path: str | os.PathLike) -> str:
    """The image format an output path asks for by its extension."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise RenderError("unknown output format: got %(got)s, expected one of %(expected)s", code="render.format",
                          got=repr(ext or "no extension"), expected=list(FORMATS))
    return FORMATS[ext]


def encode(image: Image.Image, fmt: str, profile: ScreenProfile) -> bytes:
    """Encode to PNG, JPEG, WebP or PDF; no timestamps, so equal images give equal bytes."""
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG")
    elif fmt == "JPEG":
        # Full chroma resolution keeps the QR modules' edges sharp.
        image.save(out, "JPEG", quality=92, subsampling=0)
    elif fmt == "WEBP":
        image.save(out, "WEBP", lossless=True, quality=50, method=4)
    elif fmt == "PDF":
        dpi = profile.dpi or 300
        image.save(out, "PDF", resolution=float(dpi), quality=95, subsampling=0,
                   title="Bluezone", creationDate=None, modDate=None)
    else:
        raise RenderError("unknown output format: got %(got)s, expected PNG, JPEG, WEBP or PDF", code="render.format",
                          got=repr(fmt))
    return out.getvalue()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path so that a crash leaves the old file or the new one, never a part."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0600 would hide the file from a web server
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
