"""Staff downloads of the offline channels: a USB bundle for a screen or a group, a print-ready PDF."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_babel import gettext as _

from playlists.export import ExportError, ExportNotFound, build_usb_bundle
from renderer import PosterSpec, RenderError
from renderer.printing import FORMATS, print_document

from .auth import require
from .db import get_session, get_store
from .errors import refuse
from .forms import query_choice, query_day, query_text
from .player import now

bp = Blueprint("exports", __name__, url_prefix="/staff/export")

PRINT_LANGS = ("vi", "en", "vi-en")


def _attachment(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Made for one person on request: no shared cache should keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/usb")
@require("staff")
def usb():
    """?screen=ID or ?group=NAME [&date=YYYY-MM-DD]: the zip for a USB stick; 404 unknown, 400 refused."""
    screen, group = query_text("screen", 64), query_text("group", 64)
    if (screen is None) == (group is None):
        abort(400, _("give screen=ID or group=NAME (one of them)"))
    day = query_day("date")
    try:
        bundle = build_usb_bundle(get_session(), get_store(), screen=screen, group=group, day=day, now=now())
    except ExportNotFound as exc:
        refuse(404, exc)
    except ExportError as exc:
        refuse(400, exc)
    return _attachment(bundle.data, "application/zip", bundle.filename)


@bp.get("/print")
@require("staff")
def print_pdf():
    """?format=A4|A3|A5 [&lang=vi|en|vi-en]: the official poster (or two A5 leaflets on A4) as a PDF; 400 refused."""
    fmt = (query_text("format", 40) or "").upper()
    if fmt not in FORMATS:
        abort(400, _("format: got %(got)s, expected one of %(expected)s", got=f"{request.args.get('format')!r:.40}",
                     expected=", ".join(FORMATS)))
    lang = query_choice("lang", PRINT_LANGS, "vi")
    try:
        document = print_document(fmt, PosterSpec(lang=lang))
    except RenderError as exc:  # pragma: no cover - the official copy fits every format
        refuse(400, exc)
    return _attachment(document.pdf(), "application/pdf", f"bluezone-{fmt.lower()}-{lang}.pdf")
