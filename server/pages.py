"""What every page for people shares: the favicon, the header's navigation and the language switch.

Each blueprint may add its own context; this gives every page (console, preview, monitoring, reports, login and
account pages alike) the same header, so the base layout (templates/staff/base.html) reads the same everywhere.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Flask, current_app, request, send_from_directory, url_for

from .auth import current_staff
from .console import SECTIONS

bp = Blueprint("pages", __name__)


@bp.get("/favicon.ico")
def favicon():
    """The Bluezone-blue screen mark (a PNG, which every browser takes at this address)."""
    return send_from_directory(current_app.static_folder, "favicon.png", mimetype="image/png", max_age=86400)


def in_language(code: str) -> str:
    """This page's address in another language: the same view and query, with ?lang=code. A page shown in answer
    to a form (a POST-only address) switches on the page the form was on."""
    if request.url_rule is not None and "GET" in request.url_rule.methods and request.endpoint:
        args = {k: v for k, v in request.args.items() if k != "lang"}
        return url_for(request.endpoint, **(request.view_args or {}), **args, lang=code)
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        query = [(k, v) for k, v in parse_qsl(referrer.query) if k != "lang"] + [("lang", code)]
        return f"{referrer.path}?{urlencode(query)}"
    return f"?lang={code}"


def is_current(endpoint: str) -> bool:
    """Whether a header section is where the person is: its own page, a page of its kind ("console.posters" for
    "console.poster_form"), or any page of a blueprint that has only that section ("preview.screen_page")."""
    here = request.endpoint or ""
    if here == endpoint:
        return True
    blueprint, _dot, view = endpoint.partition(".")
    here_blueprint, _dot, here_view = here.partition(".")
    if blueprint != here_blueprint:
        return False
    if sum(1 for e, _label, _role in SECTIONS if e.partition(".")[0] == blueprint) == 1:
        return True
    return here_view.startswith(view.rstrip("s") + "_")


def _header() -> dict:
    staff = current_staff()
    return {"nav_sections": [(e, label) for e, label, role in SECTIONS if staff and staff.can(role)],
            "in_language": in_language, "is_current": is_current}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_header)
