"""Campaign reports (plays per content, site and day; QR scans per site; CSV; an SVG chart) and the /go/ redirect.

Operators get the figures of their own screens; staff and admins of all, and staff switch scan attribution on
or off per poster. /go/<code> is public: phones that scan a poster land there.
"""

from __future__ import annotations

from datetime import date, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from playlists import content
from playlists.content import ContentError
from playlists.models import Poster, ScanCode
from playlists.pairing import client_key
from playlists.spreadsheet import csv_text
from playlists.stats import (
    CAMPAIGN_TZ,
    PlayReport,
    StatsError,
    check_period,
    disable_attribution,
    enable_attribution,
    platform,
    play_report,
    record_scan,
    scan_report,
)
from playlists.users import audit
from renderer import DEFAULT_URL

from .auth import actor, current_staff, require
from .console import section
from .db import get_manifests, get_session, get_store
from .errors import refuse
from .forms import query_day
from .i18n import day, say
from .player import now
from .preview import nav
from .scope import viewer_scope

bp = Blueprint("reports", __name__, url_prefix="/reports")
bp.context_processor(nav)
section("reports.index", _l("Reports"), "operator")
go = Blueprint("go", __name__)

# Where phones are sent; instance/config.py or SIGNAGE_APP_STORE_URL / SIGNAGE_PLAY_STORE_URL may change them.
APP_STORE_URL = "https://apps.apple.com/vn/app/bluezone/id1508062685"
PLAY_STORE_URL = "https://play.google.com/store/apps/details?id=com.mic.bluezone"
DEFAULT_DAYS = 7


def _period() -> tuple[date, date]:
    """?from=&to= (YYYY-MM-DD, both included, in the supported years), by default the last DEFAULT_DAYS days;
    400 for a bad date or period."""
    end = query_day("to") or now().astimezone(ZoneInfo(CAMPAIGN_TZ)).date()
    start = query_day("from") or end - timedelta(days=DEFAULT_DAYS - 1)
    try:
        check_period(start, end)
    except StatsError as exc:
        refuse(400, exc)
    return start, end


def _report() -> PlayReport:
    start, end = _period()
    return play_report(get_session(), viewer_scope().screens(get_manifests().network()), start, end)


@bp.get("/")
@require("operator")
def index():
    """Plays per content, site and day over the period, with a chart; scans per site; attribution per poster."""
    report = _report()
    session = get_session()
    staff = current_staff()
    screens = viewer_scope().screens(get_manifests().network())
    scans = scan_report(session, screens, report.start, report.end, include_unattributed=staff.can("staff"))
    posters = session.scalars(select(Poster).order_by(Poster.id)).all() if staff.can("staff") else []
    codes = {c.poster_id: c for c in session.scalars(select(ScanCode).where(ScanCode.screen_id.is_(None),
                                                                            ScanCode.active))}
    poster_names = {p.id: p.name for p in session.scalars(select(Poster))}
    return render_template("reports/index.html", report=report, scans=scans, posters=posters, codes=codes,
                           poster_names=poster_names, base_url=_base_url(), query=request.args.to_dict())


@bp.get("/plays.csv")
@require("operator")
def plays_csv():
    """The report's rows as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Vietnamese right)."""
    report = _report()
    name = f"plays_{report.start.isoformat()}_{report.end.isoformat()}.csv"
    # Site and content names come from people and devices: no cell may become a formula (playlists.spreadsheet).
    return Response(csv_text(report.csv_rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/chart.svg")
@require("operator")
def chart_svg():
    """Plays per day as an SVG bar chart made here (no script, no library, readable offline)."""
    report = _report()
    svg = bar_chart([(day(d, year=False), n) for d, n in report.by_day().items()], _("Plays per day"))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})


@bp.post("/posters/<int:poster_id>/attribution")
@require("staff")
def attribution(poster_id: int):
    """Switch a poster's QR between its own URL and a counted /go/ code; re-renders it for every screen."""
    session = get_session()
    moment = now()
    turn_on = request.form.get("on") == "1"
    if session.get(Poster, poster_id) is None:
        abort(404)
    try:
        if turn_on:
            enable_attribution(session, poster_id, _base_url(), moment)
        else:
            disable_attribution(session, poster_id, moment)
        content.sync_renditions(session, get_store(), moment)
        audit(session, actor(), "attribution.on" if turn_on else "attribution.off", f"poster:{poster_id}", moment)
    except (StatsError, ContentError) as exc:
        session.rollback()
        flash(_("Not saved:") + " " + say(exc), "error")
        return redirect(url_for("reports.index"))
    session.commit()
    flash(_("Scan counting is on for this poster.") if turn_on else _("This poster shows its own address again."),
          "ok")
    return redirect(url_for("reports.index"))


def _base_url() -> str:
    # The address phones can reach; without configuration, the one this request came in on.
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")


@go.get("/go/<code>")
def scan(code: str):
    """Count a scan, once per phone and code within SCAN_WINDOW_MIN (only a keyed hash of address and user agent
    is kept, for that window), and send the phone to its store, or to the website."""
    session = get_session()
    agent = request.user_agent.string
    client = client_key(current_app.config["SECRET_KEY"], request.remote_addr or "", agent)
    found = record_scan(session, code, agent, now(), client=client,
                        window=timedelta(minutes=float(current_app.config["SCAN_WINDOW_MIN"])))
    session.commit()
    kind = found[1] if found else None
    website = found[0].website_url if found else DEFAULT_URL
    if kind is None:
        kind = platform(request.user_agent.string)
    target = {"ios": current_app.config.get("APP_STORE_URL", APP_STORE_URL),
              "android": current_app.config.get("PLAY_STORE_URL", PLAY_STORE_URL)}.get(kind, website)
    response = redirect(target, code=302)
    # Every scan must reach the server to be counted, and the store need not learn where it came from.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def bar_chart(bars: list[tuple[str, int]], title: str, width: int = 720, height: int = 260) -> str:
    """An SVG bar chart of (label, value) pairs with the value over each bar; values must not be negative."""
    left, right, top, bottom = 48, 12, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _label, v in bars] + [1])
    step = plot_w / max(1, len(bars))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="system-ui, Noto Sans, sans-serif" font-size="12" '
             f'role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="20" font-size="14" font-weight="700" fill="#1d2330">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#5b6475"/>']
    for i, (label, value) in enumerate(bars):
        h = plot_h * value / peak
        x = left + i * step + step * 0.15
        y = top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="#0a4fa3">'
                     f'<title>{escape(label)}: {value}</title></rect>')
        if len(bars) <= 31:  # a month still has room for each figure over its bar
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" fill="#1d2330">'
                         f'{value}</text>')
        # With many bars, label every few so labels never overlap.
        if i % max(1, round(len(bars) / 14)) == 0:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'fill="#5b6475">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
