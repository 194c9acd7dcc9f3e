"""Print-ready PDFs: A4 and A3 posters, and A5 leaflets two to an A4 sheet with cut marks, at 300 dpi.

Every page has the exact ISO paper size in points and carries the official copy with its issuing authority.
The art sits inside a white safe margin: office printers cannot print the last few millimetres of a sheet,
and a leaflet cut by hand wanders by a millimetre or two, so nothing that matters may touch an edge.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from . import qr
from .errors import RenderError
from .poster import Poster, render_poster
from .profiles import ScreenProfile
from .spec import PosterSpec

DPI = 300
MM_PER_INCH = 25.4
PT_PER_INCH = 72
# ISO 216 sizes in millimetres, portrait.
PAPER_MM = {"A3": (297.0, 420.0), "A4": (210.0, 297.0), "A5": (148.0, 210.0)}
FORMATS = ("A4", "A3", "A5")
# Office printers leave 3 to 5 mm unprinted at the edges; 6 mm keeps the footer and the QR quiet zone clear.
SAFE_MARGIN_MM = 6.0
# Cut marks: hairlines a cutter can line a blade up with, kept out of the art.
MARK_MM = (0.25, 5.0)  # width, length
GUIDE_GREY = (150, 150, 150)


def mm_to_px(mm: float, dpi: int = DPI) -> int:
    return round(mm / MM_PER_INCH * dpi)


def mm_to_pt(mm: float) -> float:
    return mm / MM_PER_INCH * PT_PER_INCH


@dataclass(frozen=True)
class PrintPage:
    """One sheet: its image at about 300 dpi and its exact paper size in millimetres (width, height)."""

    image: Image.Image
    size_mm: tuple[float, float]

    @property
    def size_pt(self) -> tuple[float, float]:
        return (mm_to_pt(self.size_mm[0]), mm_to_pt(self.size_mm[1]))


@dataclass(frozen=True)
class PrintDocument:
    """A print export: its pages, the posters on them (QR checked on the page) and a one-line report."""

    format: str
    pages: tuple[PrintPage, ...]
    posters: tuple[Poster, ...]

    def pdf(self) -> bytes:
        """The PDF bytes: one page per sheet, each MediaBox the exact paper size; no timestamps."""
        return pdf_bytes(self.pages)

    def report(self) -> str:
        """One line: what is printed, on which paper, the QR code's module size and check."""
        poster = self.posters[0]
        page = self.pages[0]
        w_mm, h_mm = page.size_mm
        w_pt, h_pt = page.size_pt
        paper = f"{_mm(w_mm)} x {_mm(h_mm)} mm ({w_pt:.2f} x {h_pt:.2f} pt) at {DPI} dpi"
        if self.format == "A5":
            what = f"{len(self.posters)} A5 leaflets on one A4 sheet {paper}, cut along the marks"
        else:
            what = f"{self.format} poster {paper}"
        q = poster.qr
        module_mm = q.ppm / DPI * MM_PER_INCH
        return (f"{what} [{poster.spec.lang}]: QR version {q.version}-{q.ec}, {q.ppm} px/module "
                f"({module_mm:.1f} mm), decoded OK on the page, scan from up to {q.scan_m:.1f} m; "
                f"footer: {poster.spec.footer.splitlines()[0]}")


def _mm(value: float) -> str:
    return f"{value:g}"


def print_document(fmt: str, spec: PosterSpec | None = None) -> PrintDocument:
    """Render fmt ("A4", "A3" or "A5") from spec (default: the official install poster in Vietnamese).

    Refuses an unknown format, a spec that does not fit, and any page whose QR code does not decode to the URL.
    """
    spec = spec or PosterSpec()
    if fmt not in FORMATS:
        raise RenderError("unknown print format: got %(got)s, expected one of %(expected)s", code="print.format",
                          field="format", got=repr(fmt), expected=list(FORMATS))
    if fmt == "A5":
        return _leaflet_sheet(spec)
    page_mm = PAPER_MM[fmt]
    page_px = (mm_to_px(page_mm[0]), mm_to_px(page_mm[1]))
    margin = mm_to_px(SAFE_MARGIN_MM)
    poster = _render_art(spec, f"{fmt.lower()}-print-art", page_px[0] - 2 * margin, page_px[1] - 2 * margin,
                         f"{fmt} poster art inside a {SAFE_MARGIN_MM:g} mm margin")
    sheet = Image.new("RGB", page_px, (255, 255, 255))
    sheet.paste(poster.image, (margin, margin))
    _verify_on_page(sheet, poster, (margin, margin))
    return PrintDocument(fmt, (PrintPage(sheet, page_mm),), (poster,))


def _leaflet_sheet(spec: PosterSpec) -> PrintDocument:
    """Two A5 leaflets side by side on an A4 landscape sheet, cut in half along the marks in the middle.

    An A4 sheet halves into two 148.5 x 210 mm pieces (ISO A5 is 148 x 210: the half millimetre is the
    cut). Each half keeps the safe margin, so the gutter between the two leaflets is twice that wide.
    """
    page_mm = (PAPER_MM["A4"][1], PAPER_MM["A4"][0])
    page_px = (mm_to_px(page_mm[0]), mm_to_px(page_mm[1]))
    half = page_px[0] // 2
    margin = mm_to_px(SAFE_MARGIN_MM)
    poster = _render_art(spec, "a5-leaflet-art", half - 2 * margin, page_px[1] - 2 * margin,
                         f"A5 leaflet art inside a {SAFE_MARGIN_MM:g} mm margin")
    sheet = Image.new("RGB", page_px, (255, 255, 255))
    for x in (margin, half + margin):
        sheet.paste(poster.image, (x, margin))
        _verify_on_page(sheet, poster, (x, margin))
    _draw_cut_marks(sheet, half, margin)
    return PrintDocument("A5", (PrintPage(sheet, page_mm),), (poster, poster))


def _render_art(spec: PosterSpec, name: str, width: int, height: int, label: str) -> Poster:
    # Print kind: one printed pixel per 300 dpi dot, read from about half a metre.
    profile = ScreenProfile(name, width, height, "print", MM_PER_INCH / DPI, 0.5, DPI, label)
    poster = render_poster(spec, profile)
    # A printed poster is an official notice: it names who issued it, and it must scan.
    if not poster.spec.footer or "footer" in poster.dropped:
        raise RenderError("print needs the issuing authority: got no footer on the %(paper)s, expected a footer such "
                          "as the official one; fill in the footer", code="print.no_footer", field="footer",
                          paper=label)
    if poster.qr is None:  # pragma: no cover - every print size holds a code
        raise RenderError("no room for a QR code on the %(paper)s", code="print.no_room_for_code", paper=label)
    return poster


def _verify_on_page(sheet: Image.Image, poster: Poster, offset: tuple[int, int]) -> None:
    """Decode the poster's code where it landed on the sheet: the page is what gets printed."""
    x0, y0, x1, y1 = poster.qr.box
    dx, dy = offset
    qr.verify(sheet, (x0 + dx, y0 + dy, x1 + dx, y1 + dy), poster.spec.url, poster.qr.ppm)


def _draw_cut_marks(sheet: Image.Image, cut_x: int, margin: int) -> None:
    """Marks on the cut line in the top and bottom margins, and a dashed grey guide between the leaflets.

    The marks stop short of the art; the guide lies in the white gutter, so a cut that wanders stays white.
    """
    draw = ImageDraw.Draw(sheet)
    width = max(1, mm_to_px(MARK_MM[0]))
    length = min(mm_to_px(MARK_MM[1]), margin - mm_to_px(1))
    left = cut_x - width // 2
    height = sheet.height
    draw.rectangle((left, 0, left + width - 1, length - 1), fill=(0, 0, 0))
    draw.rectangle((left, height - length, left + width - 1, height - 1), fill=(0, 0, 0))
    dash, gap = mm_to_px(3), mm_to_px(2)
    y = length + gap
    while y + dash <= height - length - gap:
        draw.rectangle((left, y, left + width - 1, y + dash - 1), fill=GUIDE_GREY)
        y += dash + gap


def pdf_bytes(pages: tuple[PrintPage, ...]) -> bytes:
    """Encode pages as one PDF whose MediaBoxes are the exact paper sizes in points; refuses no pages or
    pages of different sizes (Pillow gives every page the first one's resolution).

    Pillow sizes a page as pixels * 72 / dpi; giving each axis the resolution that the rounded pixel count
    really has (299.9 to 300.1 dpi) makes the box exactly the ISO size rather than off by up to 0.1 pt.
    """
    if not pages:
        raise RenderError("a PDF needs at least one page: got none", code="print.no_pages")
    first = pages[0]
    if any((p.image.size, p.size_mm) != (first.image.size, first.size_mm) for p in pages[1:]):
        raise RenderError("pages of one PDF must share one paper size: got several", code="print.mixed_sizes")
    dpi = tuple(px * MM_PER_INCH / mm for px, mm in zip(first.image.size, first.size_mm, strict=True))
    out = io.BytesIO()
    first.image.save(out, "PDF", save_all=True, append_images=[p.image for p in pages[1:]], dpi=dpi,
                     quality=95, subsampling=0, title="Bluezone", creationDate=None, modDate=None)
    return out.getvalue()
