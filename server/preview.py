"""The operator preview: each visible screen's content now, later today and at any chosen time, from the resolver.

Operators see only their sites and groups; staff and admins see every screen. A screen outside someone's scope
answers 404, exactly as an unknown one, so ids of other sites cannot be probed.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from playlists.monitoring import day_view, screen_states, thresholds
from playlists.network import ScreenEntry
from playlists.rules import RuleError
from playlists.stats import content_names
from renderer import get_profile

from .auth import current_staff, require
from .console import SECTIONS, section
from .db import get_manifests, get_session
from .errors import refuse
from .forms import query_instant
from .i18n import clock
from .player import now
from .scope import viewer_scope

bp = Blueprint("preview", __name__, url_prefix="/preview")
section("preview.index", _l("Preview"), "operator")

STATE_LABELS = {"online": _l("online"), "late": _l("late"), "offline": _l("offline"), "never": _l("never seen")}


def nav() -> dict:
    """The console's navigation, for the pages of the preview, monitoring and reports blueprints."""
    staff = current_staff()
    return {"nav_sections": [(e, label) for e, label, role in SECTIONS if staff and staff.can(role)]}


bp.context_processor(nav)


# Why a screen shows something, as the preview and the dashboard name it ("Lịch phát: Ban ngày").
SOURCE_KINDS = {"schedule": _l("Schedule"), "reminder": _l("Reminder"), "override": _l("Emergency takeover")}


def _words(text: str) -> set[str]:
    return {w.casefold() for w in re.findall(r"\w+", text)}


@bp.app_template_global("describe_source")
def source_label(source: str, network=None) -> str:
    """A segment's source in words: the kind and the rule's name ("Lịch phát: Ban ngày", "Schedule #3"); the kind
    is left out when the name already says it (a reminder named "Nhắc lại định kỳ" reads as just that, never
    "Nhắc nhở Nhắc lại định kỳ"); the default poster is named as such."""
    kind, _sep, rid = source.partition(":")
    if kind not in SOURCE_KINDS:
        return str(_l("Default poster"))
    label = str(SOURCE_KINDS[kind])
    rules = getattr(network, {"schedule": "schedules", "reminder": "reminders", "override": "overrides"}[kind], {})
    rule = rules.get(int(rid)) if rid.isdigit() else None
    name = getattr(rule, "name", "") or ""
    if not name:
        return f"{label} #{rid}"
    if _words(label) & _words(name):
        return name
    return f"{label}: {name}"


def visible_screen(screen_id: str) -> ScreenEntry:
    """The screen, if the viewer may see it; 404 otherwise (unknown and out-of-scope look the same)."""
    screen = get_manifests().network().screens.get(screen_id)
    if screen is None or not viewer_scope().allows(screen):
        abort(404)
    return screen


def limits():
    return thresholds(float(current_app.config["POLL_AFTER_S"]))


def _chosen_instant(screen: ScreenEntry) -> datetime:
    """?at=YYYY-MM-DDTHH:MM (the screen's wall time; with a UTC offset, that instant) or now; 400 for anything
    else, and for years outside the supported ones."""
    return query_instant("at", screen.tz) or now()


@bp.get("/")
@require("operator")
def index():
    """Sites grouped by district, each with its screens and their state."""
    network = get_manifests().network()
    screens = viewer_scope().screens(network)
    states = screen_states(get_session(), network, screens, now(), limits())
    districts: dict[str, dict[str, list]] = {}
    for state in states:
        districts.setdefault(state.screen.district, {}).setdefault(state.screen.site, []).append(state)
    return render_template("preview/index.html", districts=districts, STATE_LABELS=STATE_LABELS)


@bp.get("/screens/<screen_id>")
@require("operator")
def screen_page(screen_id: str):
    """One screen: now (or ?at=) at its true size, the day as a timeline, the next changes, its state."""
    screen = visible_screen(screen_id)
    network = get_manifests().network()
    at = _chosen_instant(screen)
    try:
        view = day_view(network.rules_for(screen), at)
    except RuleError:
        return render_template("preview/screen.html", screen=screen, view=None, STATE_LABELS=STATE_LABELS), 503
    media = network.media_for(view.current.item, screen.profile)
    [state] = screen_states(get_session(), network, [screen], now(), limits())
    keys = {view.current.item.key, state.reported_item, state.expected_item or ""}
    keys.update(key for run in view.runs for key in run.items)
    return render_template(
        "preview/screen.html", screen=screen, view=view, media=media, state=state, profile=get_profile(screen.profile),
        names=content_names(get_session(), keys), zone=ZoneInfo(screen.tz), network=network,
        chosen=bool(request.args.get("at")), server_ms=int(now().timestamp() * 1000), STATE_LABELS=STATE_LABELS)


@bp.get("/screens/<screen_id>/now.json")
@require("operator")
def now_json(screen_id: str):
    """What the screen shows now (or at ?at=): item, source, media and until when; 503 before it is rendered."""
    screen = visible_screen(screen_id)
    network = get_manifests().network()
    try:
        view = day_view(network.rules_for(screen), _chosen_instant(screen))
    except RuleError as exc:
        refuse(503, exc)
    seg, media = view.current, network.media_for(view.current.item, screen.profile)
    upcoming = [{"start": _iso(r.start), "end": _iso(r.end), "source": r.source, "items": list(r.items)}
                for r in view.upcoming()]
    name = content_names(get_session(), [seg.item.key]).get(seg.item.key, seg.item.key)
    return jsonify(screen=screen.id, at=_iso(view.at), item=seg.item.key, name=name, source=seg.source,
                   start=_iso(seg.start),
                   end=_iso(seg.end), url=media.url, sha256=media.sha256, width=media.width, height=media.height,
                   upcoming=upcoming, why=source_label(seg.source, network),
                   until=_("until %(time)s", time=clock(seg.end, screen.tz, seconds=True)))


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@bp.get("/screens/<screen_id>/manifest")
@require("operator")
def manifest(screen_id: str):
    """The screen's player manifest, byte for byte, for the web player in preview mode (signed-in, no token)."""
    screen = visible_screen(screen_id)
    moment = now()
    try:
        built = get_manifests().get(get_manifests().network(), screen, moment)
    except RuleError as exc:
        refuse(503, exc)
    headers = {"ETag": f'"{built.etag}"', "Cache-Control": "no-cache, private",
               "X-Server-Time": str(int(moment.timestamp() * 1000))}
    if request.if_none_match.contains(built.etag):
        return Response(status=304, headers=headers)
    return Response(built.body, mimetype="application/json", headers=headers)
