"""The bundled fonts: loading with the raqm layout engine, and glyph coverage checks."""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources

from fontTools.ttLib import TTFont
from PIL import ImageFont, features

from .errors import RenderError, term

FONT_FILES = {"regular": "NotoSans-Regular.ttf", "bold": "NotoSans-Bold.ttf"}
FONT_NAME = "Noto Sans"


def require_raqm() -> None:
    """Fail loudly when Pillow has no raqm layout: without it diacritics can land in the wrong place."""
    if not features.check_feature("raqm"):
        raise RuntimeError(
            "Pillow's raqm text layout is not available; install the FriBiDi library "
            "(Debian: apt-get install libfribidi0) and restart"
        )


@cache
def font_path(weight: str) -> str:
    """Path of the bundled font file of a weight ("regular" or "bold")."""
    if weight not in FONT_FILES:
        raise RenderError("unknown font weight: got %(got)s, expected one of %(expected)s", code="render.font_weight",
                          got=repr(weight), expected=list(FONT_FILES))
    path = resources.files("assets") / "fonts" / FONT_FILES[weight]
    return str(path)


@lru_cache(maxsize=512)
def get_font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached font of a weight and pixel size, laid out by raqm."""
    require_raqm()
    return ImageFont.truetype(font_path(weight), size, layout_engine=ImageFont.Layout.RAQM)


@cache
def coverage(weight: str) -> frozenset[int]:
    """The code points the font of a weight can draw."""
    with TTFont(font_path(weight), lazy=True) as font:
        return frozenset(font.getBestCmap())


def check_drawable(text: str, field: str) -> None:
    """Refuse text with characters that no bundled weight can draw, naming each one."""
    missing: list[str] = []
    for ch in dict.fromkeys(text):
        if ch == "\n":
            continue
        if any(ord(ch) not in coverage(w) for w in FONT_FILES) and ch not in missing:
            missing.append(ch)
    if missing:
        named = [f"{ch!r} (U+{ord(ch):04X})" for ch in missing[:8]]
        named += [f"+{len(missing) - 8}"] if len(missing) > 8 else []
        raise RenderError("The %(what)s has characters the font %(font)s cannot draw: %(chars)s; remove them or write "
                          "them in letters", code="poster.undrawable", field=field, what=term(field), font=FONT_NAME,
                          chars=named)
