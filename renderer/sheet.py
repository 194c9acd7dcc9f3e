"""A contact sheet of every built-in profile, for reviewers: python -m renderer.sheet OUT.png."""

from __future__ import annotations

import sys

from PIL import Image, ImageDraw

from .encode import write_atomic
from .fonts import get_font
from .poster import render_poster
from .profiles import CATALOG
from .spec import PosterSpec

CELL_W, CELL_H, LABEL = 480, 340, 44


def contact_sheet(langs: tuple[str, ...] = ("vi", "en")) -> Image.Image:
    """Every built-in profile in each language, scaled into equal cells with its one-line report."""
    profiles = list(CATALOG.values())
    sheet = Image.new("RGB", (CELL_W * len(profiles), (CELL_H + LABEL) * len(langs)), (236, 238, 242))
    draw = ImageDraw.Draw(sheet)
    font = get_font("regular", 13)
    bold = get_font("bold", 14)
    for row, lang in enumerate(langs):
        for col, profile in enumerate(profiles):
            poster = render_poster(PosterSpec(lang=lang), profile)
            thumb = poster.image.copy()
            # LED panels are scaled up by whole pixels so each lamp stays visible.
            if thumb.width * 2 <= CELL_W - 20 and thumb.height * 2 <= CELL_H - 20:
                k = min((CELL_W - 20) // thumb.width, (CELL_H - 20) // thumb.height)
                thumb = thumb.resize((thumb.width * k, thumb.height * k), Image.Resampling.NEAREST)
            thumb.thumbnail((CELL_W - 20, CELL_H - 20), Image.Resampling.LANCZOS)
            x0, y0 = col * CELL_W, row * (CELL_H + LABEL)
            sheet.paste(thumb, (x0 + (CELL_W - thumb.width) // 2, y0 + 10 + (CELL_H - 20 - thumb.height) // 2))
            q = poster.qr
            detail = f"QR v{q.version} {q.ppm} px/module" if q else "URL as text"
            if q and q.scan_m:
                detail += f", scan <= {q.scan_m:.1f} m"
            draw.text((x0 + 10, y0 + CELL_H), f"{profile.name} {profile.width}x{profile.height} [{lang}]",
                      font=bold, fill=(20, 20, 20))
            draw.text((x0 + 10, y0 + CELL_H + 20), detail, font=font, fill=(70, 70, 70))
    return sheet


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m renderer.sheet OUT.png", file=sys.stderr)
        return 2
    import io

    buf = io.BytesIO()
    contact_sheet().save(buf, "PNG", optimize=True)
    write_atomic(argv[0], buf.getvalue())
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
