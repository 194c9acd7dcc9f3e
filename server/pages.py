"""What every page for people shares: the favicon, the header's navigation, the language switch, error pages.

Each blueprint may add its own context; this gives every page (console, preview, monitoring, reports, login and
account pages alike) the same header, so the base layout (templates/staff/base.html) reads the same everywhere.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Flask, current_app, g, render_template, request, send_from_directory, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .auth import current_staff
from .console import SECTIONS

bp = Blueprint("pages", __name__)


@bp.get("/favicon.ico")
def favicon():
    """The Bluezone-blue screen mark (a PNG, which every browser takes at this address)."""
    return send_from_directory(current_app.static_folder, "favicon.png", mimetype="image/png", max_age=86400)


# What a person reads for an HTTP error page: a heading and what to do. The status code stays in the answer.
ERROR_WORDS = {
    400: (_l("The request was not understood"), _l("Go back, check what you typed and try again.")),
    401: (_l("Please log in"), _l("Log in, then open the page again.")),
    403: (_l("Not allowed"), _l("Your account may not open this page; ask an admin if you need it.")),
    404: (_l("Page not found"), _l("The address may be mistyped, or what it named is gone or not at your sites.")),
    405: (_l("This page cannot be opened that way"), _l("Go back and use the page's own buttons.")),
    410: (_l("This link no longer works"), _l("Ask for a new one.")),
    413: (_l("Too large"), _l("Send a smaller file.")),
    429: (_l("Too many attempts"), _l("Wait a little and try again.")),
    500: (_l("Something went wrong on the server"), _l("It has been logged. Try again in a moment.")),
    503: (_l("Not ready yet"), _l("Try again shortly.")),
}


def html_error(exc: HTTPException):
    """An HTTP error as a page with the console's header, in the reader's language: the heading and advice for
    its status, and the reason when the server gave one of its own (a refusal put into words by `say`)."""
    status = exc.code or 500
    heading, advice = ERROR_WORDS.get(status, ERROR_WORDS[500 if status >= 500 else 400])
    default = getattr(type(exc), "description", None)
    detail = exc.description if exc.description and exc.description != default else ""
    if isinstance(exc, CSRFError):
        detail = _l("The form's security code (CSRF) is missing or out of date: the page was open too long, or you "
                    "logged in again in another tab. Reload the page and send the form again.")
    g.error_page = True
    try:
        body = render_template("staff/error.html", status=status, heading=heading, advice=advice, detail=detail)
    except Exception:  # noqa: BLE001 - an error page must never fail itself: fall back to the plain one
        current_app.logger.exception("error page failed for %s", status)
        return exc
    headers = [(k, v) for k, v in exc.get_headers(request.environ) if k.lower() != "content-type"]
    return body, status, headers


def in_language(code: str) -> str:
    """This page's address in another language: the same view and query, with ?lang=code. A page shown in answer
    to a form (a POST-only address) switches on the page the form was on."""
    if g.get("error_page"):  # the same page whatever the address (another site's screen reads as an unknown one)
        return f"?lang={code}"
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
    app.extensions["html_error"] = html_error  # server/errors.py answers browsers with it
    app.context_processor(_header)
