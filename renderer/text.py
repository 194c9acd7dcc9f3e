"""Fitting text into a box: wrap at spaces, measure the real ink, take the largest size that fits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageDraw

from .fonts import get_font

Box = tuple[int, int, int, int]
LINE_ADVANCE = 1.22  # baseline-to-baseline, in font sizes
LINE_GAP = 0.06  # the least clear space between two lines' ink, in font sizes


@lru_cache(maxsize=8192)
def ink_box(text: str, weight: str, size: int, crisp: bool) -> tuple[int, int, int, int]:
    """Ink bounds of one line relative to its left baseline origin (stacked marks rise above the ascent)."""
    return get_font(weight, size).getbbox(text, mode="1" if crisp else "", anchor="ls")


@dataclass(frozen=True)
class TextBlock:
    """Lines of text at one size, with their baselines measured from the block's top."""

    lines: tuple[str, ...]
    weight: str
    size: int
    crisp: bool
    baselines: tuple[int, ...]
    width: int
    height: int

    def draw(self, draw: ImageDraw.ImageDraw, box: Box, fill, align: str = "center") -> Box:
        """Draw the block inside box (centred vertically); return the bounding box of its ink."""
        x0, y0, x1, y1 = box
        top = y0 + (y1 - y0 - self.height) // 2
        font = get_font(self.weight, self.size)
        draw.fontmode = "1" if self.crisp else "L"
        ink = [x1, y1, x0, y0]
        for line, base in zip(self.lines, self.baselines, strict=False):
            l, t, r, b = ink_box(line, self.weight, self.size, self.crisp)
            x = x0 - l if align == "left" else x0 + (x1 - x0 - (r - l)) // 2 - l
            y = top + base
            draw.text((x, y), line, font=font, anchor="ls", fill=fill)
            ink = [min(ink[0], x + l), min(ink[1], y + t), max(ink[2], x + r), max(ink[3], y + b)]
        return (ink[0], ink[1], ink[2], ink[3])


def _wrap(text: str, weight: str, size: int, crisp: bool, max_w: int) -> list[str] | None:
    """Greedy wrap at spaces; None when a single word is wider than max_w."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            cand = f"{line} {word}" if line else word
            l, _, r, _ = ink_box(cand, weight, size, crisp)
            if r - l <= max_w:
                line = cand
                continue
            if not line:
                return None
            lines.append(line)
            l, _, r, _ = ink_box(word, weight, size, crisp)
            if r - l > max_w:
                return None
            line = word
        if line:
            lines.append(line)
    return lines


def layout(text: str, weight: str, size: int, crisp: bool, max_w: int,
           max_lines: int | None = None) -> TextBlock | None:
    """Lay text out at one size within max_w; None when it cannot be done."""
    lines = _wrap(text, weight, size, crisp, max_w)
    if not lines or (max_lines is not None and len(lines) > max_lines):
        return None
    boxes = [ink_box(line, weight, size, crisp) for line in lines]
    baselines = [-boxes[0][1]]
    for prev, cur in zip(boxes, boxes[1:], strict=False):
        step = max(round(size * LINE_ADVANCE), prev[3] - cur[1] + max(1, round(size * LINE_GAP)))
        baselines.append(baselines[-1] + step)
    width = max(r - l for l, _, r, _ in boxes)
    height = baselines[-1] + boxes[-1][3]
    return TextBlock(tuple(lines), weight, size, crisp, tuple(baselines), width, height)


@lru_cache(maxsize=2048)
def fit(text: str, weight: str, max_w: int, max_h: int, min_size: int, max_size: int,
        crisp: bool, max_lines: int | None = None) -> TextBlock | None:
    """The largest block of text within max_w x max_h with min_size <= size <= max_size; None if none fits."""
    if max_w <= 0 or max_h <= 0 or max_size < min_size:
        return None

    def attempt(size: int) -> TextBlock | None:
        block = layout(text, weight, size, crisp, max_w, max_lines)
        return block if block is not None and block.height <= max_h else None

    best = attempt(min_size)
    if best is None:
        return None
    lo, hi = min_size + 1, max_size
    while lo <= hi:
        mid = (lo + hi) // 2
        block = attempt(mid)
        if block is not None:
            best, lo = block, mid + 1
        else:
            hi = mid - 1
    return best
