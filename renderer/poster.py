"""Poster composition: a PosterSpec and a ScreenProfile in, an exact-size image with a verified QR out."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from . import qr
from .errors import RenderError
from .fonts import check_drawable
from .profiles import ScreenProfile
from .spec import THEMES, PosterSpec, Theme, url_label
from .text import TextBlock, fit

Box = tuple[int, int, int, int]

# Share of the free height each text element may take, before gaps.
_BUDGET = {"headline": 0.44, "body": 0.24, "cta": 0.18, "url": 0.12}
# Largest font size of each element relative to the headline's, for a clear hierarchy.
_RELATIVE = {"body": 0.55, "cta": 0.7, "url": 0.42, "footer": 0.4}
# Shares of the height the code may take in a vertical layout, largest first (see place_vertical).
_VERTICAL_QR_SHARES = (0.45, 0.4, 0.35)


@dataclass(frozen=True)
class QrInfo:
    """What the poster's QR code is and how well it scans."""

    version: int
    ec: str
    modules: int
    ppm: int
    box: Box
    scan_m: float | None  # conservative scanning distance, when the pixel pitch is known

    @property
    def side(self) -> int:
        return self.box[2] - self.box[0]


@dataclass(frozen=True)
class Poster:
    """A rendered poster: the image and what a reviewer needs to trust it."""

    image: Image.Image
    profile: ScreenProfile
    spec: PosterSpec
    qr: QrInfo | None
    boxes: tuple[tuple[str, Box], ...]
    dropped: tuple[str, ...] = ()

    def report(self) -> str:
        """One line: size, QR version, pixels per module, decoding, scan distance."""
        p = self.profile
        head = f"{p.width}x{p.height} {p.name} [{self.spec.lang}]"
        if self.qr is None:
            body = "no QR code: screen too small for a scannable code, URL shown as text"
        else:
            q = self.qr
            dist = ("scan distance unknown (no pixel pitch)" if q.scan_m is None
                    else f"scan from up to {q.scan_m:.1f} m")
            body = (f"QR version {q.version}-{q.ec}, {q.modules} modules at {q.ppm} px/module "
                    f"({q.side} px with quiet zone), decoded OK, {dist}")
        tail = f"; left out: {', '.join(self.dropped)}" if self.dropped else ""
        return f"{head}: {body}{tail}"


@dataclass
class _Item:
    role: str
    block: TextBlock | None = None
    height: int = 0
    width: int = 0
    pad: tuple[int, int] = (0, 0)  # pill padding (x, y) for the call to action


class _Composer:
    def __init__(self, spec: PosterSpec, profile: ScreenProfile) -> None:
        self.spec, self.profile = spec, profile
        self.theme: Theme = THEMES[spec.theme]
        self.W, self.H = profile.size
        self.crisp = profile.crisp
        short = min(self.W, self.H)
        self.margin = max(2, round(short * 0.05))
        self.gap = max(2, round(short * 0.035))
        # Vietnamese marks need about 10 px of type to stay distinct on lamps or pixels.
        self.min_px = max(10, round(short / 50))
        self.matrix = qr.matrix(spec.url)
        self.dropped: list[str] = []
        self.url_only = False

    def weight(self, role: str) -> str:
        return "bold" if self.crisp or role in ("headline", "cta") else "regular"

    def text_of(self, role: str) -> str:
        return url_label(self.spec.url) if role == "url" else getattr(self.spec, role)

    def fit_item(self, role: str, max_w: int, max_h: int, head_size: int | None, pill: bool) -> _Item | None:
        """Fit one text element; a pill reserves padding around its text."""
        text = self.text_of(role)
        if not text:
            return None
        cap = max(self.min_px, round(head_size * _RELATIVE[role])) if head_size else max_h
        pad_y = max(1, round(max_h * 0.12)) if pill else 0
        pad_x = max(2, round(max_h * 0.3)) if pill else 0
        block = fit(text, self.weight(role), max_w - 2 * pad_x, max_h - 2 * pad_y,
                    self.min_px, min(cap, max_h), self.crisp)
        if block is None:
            return None
        if pill:
            # Pads in proportion to the type, within what the budget left.
            pad_y = min(max(1, round(block.size * 0.3)), (max_h - block.height) // 2)
            pad_x = min(max(2, round(block.size * 0.55)), (max_w - block.width) // 2)
        return _Item(role, block, block.height + 2 * pad_y, block.width + 2 * pad_x, (pad_x, pad_y))

    def fit_stack(self, roles: list[str], max_w: int, avail_h: int, head_size: int | None = None) -> list[_Item]:
        """Fit the text elements of a column in order; drop optional ones that cannot be legible.

        Sizes are capped relative to the headline's (head_size when the headline sits in another column).
        """
        shares = {r: _BUDGET[r] for r in roles}
        total = sum(shares.values())
        free = avail_h - self.gap * (len(roles) - 1)
        items: list[_Item] = []
        for role in roles:
            max_h = int(free * shares[role] / total)
            item = self.fit_item(role, max_w, max_h, head_size, role == "cta")
            if item is None:
                if role == "headline":
                    raise RenderError(
                        "The headline does not fit at a legible size on %(size)s (it needs type of at least %(px)s "
                        "px): shorten it or use a larger screen", code="poster.headline_does_not_fit",
                        field="headline", size=f"{self.W}x{self.H}", px=self.min_px)
                if role == "url" and self.url_only:
                    need = self.matrix.plate_side(qr.MIN_PPM)
                    raise RenderError(
                        "no room for a scannable code of this web address at %(size)s: its QR code (version "
                        "%(version)s) needs %(need)s px, and the address does not fit as legible text either; use a "
                        "shorter address or a larger screen", code="poster.no_room_for_code", field="url",
                        size=f"{self.W}x{self.H}", version=self.matrix.version, need=f"{need}x{need}")
                if self.text_of(role):
                    self.dropped.append(role)
                continue
            if role == "headline":
                head_size = item.block.size
            items.append(item)
        return items


    def footer(self) -> tuple[int, TextBlock | None]:
        """Height of the footer band and its text; LED panels and small screens go without."""
        text = self.spec.footer
        if not text or self.crisp:
            if text:
                self.dropped.append("footer")
            return 0, None
        band = round(self.H * (0.06 if self.H > self.W else 0.075))
        block = fit(text, "regular", self.W - 2 * self.margin, round(band * 0.6), self.min_px,
                    band, self.crisp)
        if block is None:
            self.dropped.append("footer")
            return 0, None
        return band, block

    def compose(self) -> Poster:
        W, H, m = self.W, self.H, self.margin
        image = Image.new("RGB", (W, H), self.theme.background)
        draw = ImageDraw.Draw(image)
        boxes: list[tuple[str, Box]] = []
        band, footer = self.footer()
        if footer is not None:
            fb = (0, H - band, W, H)
            draw.rectangle(fb, fill=self.theme.footer_bg)
            boxes.append(("footer", footer.draw(draw, fb, self.theme.footer_text)))
        area = (m, m, W - m, H - m - band)
        horizontal = self.profile.shape in ("landscape", "strip") or (self.profile.shape == "tiny" and W >= H)
        place = self.place_horizontal if horizontal else self.place_vertical
        qr_box, items = place(area)
        for role, item, box, align in items:
            boxes.append((role, self.draw_item(draw, item, box, align)))
        info = None
        if qr_box is not None:
            ppm = self.matrix.ppm_for(qr_box[2] - qr_box[0])
            image.paste(qr.plate(self.matrix, ppm), qr_box[:2])
            boxes.append(("qr", qr_box))
            qr.verify(image, qr_box, self.spec.url, ppm)
            info = QrInfo(self.matrix.version, self.matrix.ec, self.matrix.modules, ppm, qr_box,
                          qr.scan_distance_m(self.matrix, ppm, self.profile.pitch_mm))
        return Poster(image, self.profile, self.spec, info, tuple(boxes), tuple(self.dropped))

    def roles(self, with_qr: bool) -> list[str]:
        roles = ["headline"]
        if not self.crisp:
            roles.append("body")
        elif self.spec.body:
            self.dropped.append("body")
        if with_qr:
            roles += ["cta", "url"] if not self.crisp else ["cta"]
        else:
            self.url_only = True
            roles.append("url")
            if self.spec.cta:
                self.dropped.append("cta")
        return roles

    def qr_side(self, limit: int) -> int | None:
        """Plate side for a square of limit px, or None when no scannable code fits."""
        ppm = self.matrix.ppm_for(limit)
        return self.matrix.plate_side(ppm) if ppm >= qr.MIN_PPM else None

    def place_horizontal(self, area: Box):
        x0, y0, x1, y1 = area
        w, h = x1 - x0, y1 - y0
        share = 0.42 if self.profile.shape != "strip" else 0.3
        side = self.qr_side(min(h, round(w * share)))
        qr_box = None
        if side is not None:
            qx = x1 - side
            qy = y0 + (h - side) // 2
            qr_box = (qx, qy, qx + side, qy + side)
            x1 = qx - self.gap * 2
        return qr_box, self.stack((x0, y0, x1, y1), self.roles(side is not None), "left")

    def place_vertical(self, area: Box):
        """Headline and body above the code, the call to action and URL below it.

        The code takes the first share of the height in _VERTICAL_QR_SHARES that leaves legible room for the
        call to action and the URL (a bilingual call to action takes two lines, which a square's bottom strip
        cannot hold at the first share); when none does, the layout of the first share stands.
        """
        h = area[3] - area[1]
        first = None
        for share in _VERTICAL_QR_SHARES:
            if first is not None and self.qr_side(min(area[2] - area[0], round(h * share))) is None:
                break  # a smaller code would not scan: keep the first layout
            before = list(self.dropped)
            qr_box, items = self.vertical(area, share)
            if first is None:
                first = (qr_box, items, list(self.dropped))
            if qr_box is None or not {"cta", "url"} & (set(self.dropped) - set(before)):
                return qr_box, items
            self.dropped = before
        qr_box, items, self.dropped = first
        return qr_box, items

    def vertical(self, area: Box, share: float):
        x0, y0, x1, y1 = area
        w, h = x1 - x0, y1 - y0
        side = self.qr_side(min(w, round(h * share)))
        roles = self.roles(side is not None)
        if side is None:
            return None, self.stack(area, roles, "center")
        # Text above the code takes the headline and body; below it, the call to action.
        above = [r for r in roles if r in ("headline", "body")]
        below = [r for r in roles if r not in above]
        free = h - side - 2 * self.gap
        share_above = sum(_BUDGET[r] for r in above) / sum(_BUDGET[r] for r in roles)
        top_h = int(free * share_above)
        top = self.stack((x0, y0, x1, y0 + top_h), above, "center")
        qy = y0 + top_h + self.gap
        qx = x0 + (w - side) // 2
        qr_box = (qx, qy, qx + side, qy + side)
        bottom = self.stack((x0, qy + side + self.gap, x1, y1), below, "center", top[0][1].block.size)
        return qr_box, top + bottom

    def stack(self, area: Box, roles: list[str], align: str, head_size: int | None = None):
        """Fit roles into area and spread them evenly top to bottom; returns (role, item, box)."""
        x0, y0, x1, y1 = area
        if not roles:
            return []
        items = self.fit_stack(roles, x1 - x0, y1 - y0, head_size)
        if not items:
            return []
        # The budgets kept one gap between neighbours; what is left widens the gaps a little.
        spare = (y1 - y0) - sum(i.height for i in items) - self.gap * (len(items) - 1)
        gap = self.gap + min(max(0, spare) // (len(items) + 1), self.gap * 2)
        y = y0 + max(0, (y1 - y0 - sum(i.height for i in items) - gap * (len(items) - 1)) // 2)
        placed = []
        for item in items:
            if align == "left":
                box = (x0, y, x0 + item.width, y + item.height)
            else:
                left = x0 + (x1 - x0 - item.width) // 2
                box = (left, y, left + item.width, y + item.height)
            placed.append((item.role, item, box, align))
            y += item.height + gap
        return placed

    def draw_item(self, draw: ImageDraw.ImageDraw, item: _Item, box: Box, align: str) -> Box:
        """Draw one element in its box; return the box of what was drawn."""
        if item.role == "cta":
            draw.rounded_rectangle(box, radius=0 if self.crisp else item.height // 2, fill=self.theme.accent)
            pad_x, pad_y = item.pad
            inner = (box[0] + pad_x, box[1] + pad_y, box[2] - pad_x, box[3] - pad_y)
            item.block.draw(draw, inner, self.theme.accent_text)
            return box
        # Without a code the URL is the call to action, so it gets the headline's colour.
        strong = item.role == "headline" or (item.role == "url" and self.url_only)
        return item.block.draw(draw, box, self.theme.headline if strong else self.theme.text, align)


def render_poster(spec: PosterSpec, profile: ScreenProfile) -> Poster:
    """Compose spec at profile's exact size; refuse what cannot be drawn legibly or scanned."""
    spec = spec.resolved()
    for name in ("headline", "body", "cta", "footer"):
        check_drawable(getattr(spec, name), name)
    return _Composer(spec, profile).compose()
