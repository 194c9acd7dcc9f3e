"""Bluezone poster renderer: PosterSpec + ScreenProfile -> exact-size image with a verified QR code."""

from .encode import FORMATS, encode, format_for, write_atomic
from .errors import RenderError
from .fonts import require_raqm
from .poster import Poster, QrInfo, render_poster
from .profiles import CATALOG, ScreenProfile, custom_profile, get_profile, parse_size
from .spec import DEFAULT_URL, LANGUAGES, TEMPLATES, THEMES, PosterSpec

__all__ = [
    "CATALOG", "DEFAULT_URL", "FORMATS", "LANGUAGES", "TEMPLATES", "THEMES", "Poster", "PosterSpec",
    "QrInfo", "RenderError", "ScreenProfile", "custom_profile", "encode", "format_for", "get_profile",
    "parse_size", "render_poster", "require_raqm", "write_atomic",
]
