"""Screen profiles: the exact pixel size and physical facts of each kind of screen."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RenderError

# "web": images seen on a phone or a computer (link previews, chat and social posts, Wi-Fi sign-in pages).
KINDS = ("led", "lcd", "print", "web")
MIN_SHORT_SIDE = 16
MIN_LONG_SIDE = 32
MAX_SIDE = 10_000
MAX_PIXELS = 40_000_000

# A side of at most this many pixels is a tiny LED panel: a one-module sign.
TINY_SIDE = 64
# Below this many pixels on the short side text is drawn bold and without
# antialiasing: LED pixels are discrete lamps, grey edges only blur the letters.
CRISP_SIDE = 200


def check_size(width: int, height: int) -> None:
    """Refuse a canvas that is too small to hold a poster or too large to render."""
    if min(width, height) < MIN_SHORT_SIDE or max(width, height) < MIN_LONG_SIDE:
        raise RenderError("screen too small: got %(size)s, expected at least 32x16 (or 16x32)",
                          code="screen.too_small", field="size", size=f"{width}x{height}")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise RenderError(
            "screen too large: got %(size)s, expected sides up to %(side)s px and at most %(megapixels)s megapixels",
            code="screen.too_large", field="size", size=f"{width}x{height}", side=MAX_SIDE,
            megapixels=MAX_PIXELS // 1_000_000)


@dataclass(frozen=True)
class ScreenProfile:
    """One kind of screen: its pixel size, technology and, where known, pixel pitch."""

    name: str
    width: int
    height: int
    kind: str
    pitch_mm: float | None = None
    viewing_m: float | None = None
    dpi: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        check_size(self.width, self.height)
        if self.kind not in KINDS:
            raise RenderError("unknown screen kind: got %(got)s, expected one of %(expected)s", code="screen.kind",
                              got=repr(self.kind), expected=list(KINDS))
        if self.pitch_mm is not None and not 0 < self.pitch_mm <= 100:
            raise RenderError("pixel pitch out of range: got %(pitch)s mm, expected 0 < pitch <= 100",
                              code="screen.pitch", field="pitch_mm", pitch=self.pitch_mm)

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def shape(self) -> str:
        """Return the layout family: tiny, strip, tall-strip, landscape, square or portrait."""
        if min(self.width, self.height) <= TINY_SIDE:
            return "tiny"
        if self.aspect >= 3:
            return "strip"
        if self.aspect <= 1 / 3:
            return "tall-strip"
        if self.aspect >= 1.15:
            return "landscape"
        if self.aspect > 1 / 1.15:
            return "square"
        return "portrait"

    @property
    def crisp(self) -> bool:
        """True where text must be drawn bold and without antialiasing (LED-sized screens)."""
        return min(self.width, self.height) < CRISP_SIDE

    @property
    def physical_mm(self) -> tuple[float, float] | None:
        if self.pitch_mm is None:
            return None
        return (self.width * self.pitch_mm, self.height * self.pitch_mm)


def _print(name: str, label: str, w_mm: float, h_mm: float, dpi: int = 300) -> ScreenProfile:
    px = lambda mm: round(mm / 25.4 * dpi)  # noqa: E731
    return ScreenProfile(name, px(w_mm), px(h_mm), "print", 25.4 / dpi, 1.0, dpi, label)


# Pitch of the LCDs is their panel's: a 43" 1080p TV is 0.49 mm, a 65" 4K 0.37 mm,
# a 28" 1920x540 bar display 0.32 mm. Viewing distances are the typical ones
# of each place (a bus-station hall, a kiosk at arm's length, a street corner).
CATALOG: dict[str, ScreenProfile] = {
    p.name: p
    for p in (
        ScreenProfile("led-p10", 192, 96, "led", 10.0, 15.0, None,
                      "Outdoor LED panel P10 (1.92 x 0.96 m), city centre"),
        ScreenProfile("led-p5-small", 128, 64, "led", 5.0, 6.0, None,
                      "Small indoor LED sign P5 (64 x 32 cm), shop front or counter"),
        ScreenProfile("led-billboard", 800, 400, "led", 10.0, 30.0, None,
                      "Large outdoor LED billboard P10 (8 x 4 m)"),
        ScreenProfile("tv-1080p", 1920, 1080, "lcd", 0.49, 4.0, None,
                      "Landscape TV 1920x1080, bus and train stations"),
        ScreenProfile("kiosk-portrait", 1080, 1920, "lcd", 0.49, 1.5, None,
                      "Portrait kiosk 1080x1920, hospitals and administration centres"),
        ScreenProfile("lobby-4k", 3840, 2160, "lcd", 0.37, 5.0, None,
                      "Lobby screen 3840x2160, hotels"),
        ScreenProfile("bus-strip", 1920, 540, "lcd", 0.32, 2.5, None,
                      "Wide strip screen 1920x540 inside buses"),
        _print("a4-print", "A4 poster, 300 dpi", 210, 297),
        _print("a3-print", "A3 poster, 300 dpi", 297, 420),
        # Sizes from the platforms' published recommendations: Facebook asks for link-share images of at
        # least 1200x630 (1.91:1, the Open Graph size that Zalo, Messenger and most chat apps also show);
        # Instagram and Facebook show square posts at 1080x1080. Wi-Fi sign-in pages have no standard: the
        # banner fills the width of a phone (about 360-414 CSS px, so 1200 px is 3x density) and 3:1 keeps
        # the headline readable there while leaving the sign-in form on the first screen.
        ScreenProfile("link-preview", 1200, 630, "web", None, None, None,
                      "Link preview image (Open Graph) for Facebook, Zalo and chat apps"),
        ScreenProfile("social-square", 1080, 1080, "web", None, None, None,
                      "Square image for chat messages and social posts"),
        ScreenProfile("wifi-banner", 1200, 400, "web", None, None, None,
                      "Banner for public Wi-Fi sign-in pages"),
    )
}

_SIZE_RE = re.compile(r"^\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """Parse "WIDTHxHEIGHT"; refuse anything else."""
    m = _SIZE_RE.match(text)
    if not m:
        raise RenderError("malformed size: got %(got)s, expected WIDTHxHEIGHT such as 1920x1080",
                          code="screen.size_format", field="size", got=repr(text))
    width, height = int(m.group(1)), int(m.group(2))
    check_size(width, height)
    return width, height


def custom_profile(width: int, height: int, pitch_mm: float | None = None) -> ScreenProfile:
    """A profile for any size; screens under 200 px on a side are treated as LED panels."""
    kind = "led" if min(width, height) < CRISP_SIDE else "lcd"
    return ScreenProfile(f"{width}x{height}", width, height, kind, pitch_mm, None, None, "Custom size")


def get_profile(name: str) -> ScreenProfile:
    """Return a built-in profile by name; refuse unknown names, listing the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise RenderError("unknown profile: got %(got)s, expected one of %(expected)s", code="screen.unknown_profile",
                          field="profile", got=repr(name), expected=list(CATALOG)) from None
