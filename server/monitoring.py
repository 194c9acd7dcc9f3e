"""Screen monitoring: online, late, offline and out-of-step screens of one's scope, and their online/offline events.

Events are recorded when they are observed. Until a scheduler job observes every minute, the dashboard does it
each time it loads (observe is idempotent, so reloads and two people at once record each change once).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_babel import lazy_gettext as _l

from playlists.monitoring import observe, recent_events, screen_states, tallies, trouble_first
from playlists.stats import content_names

from .auth import require
from .console import section
from .db import get_manifests, get_session
from .player import now
from .preview import STATE_LABELS, limits, nav
from .scope import viewer_scope

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")
bp.context_processor(nav)
section("monitoring.dashboard", _l("Screen monitoring"), "operator")


def _states():
    network = get_manifests().network()
    screens = viewer_scope().screens(network)
    return screens, screen_states(get_session(), network, screens, now(), limits())


@bp.get("/")
@require("operator")
def dashboard():
    """Counts per district and site, the screens (offline first), and the latest online/offline events."""
    session = get_session()
    observe(session, now(), limits())
    session.commit()
    screens, states = _states()
    districts, sites = tallies(states)
    names = {s.id: s for s in screens}
    events = recent_events(session, names)
    items = content_names(session, {k for s in states for k in (s.reported_item, s.expected_item) if k})
    return render_template("preview/monitoring.html", states=trouble_first(states), districts=districts,
                           sites=sites, events=events, screens=names, items=items, limits=limits(),
                           STATE_LABELS=STATE_LABELS)


@bp.get("/status.json")
@require("operator")
def status_json():
    """Every visible screen's state, last heartbeat, player version and reported versus expected item."""
    _screens, states = _states()
    return jsonify(screens=[{
        "id": s.screen.id, "name": s.screen.name, "site": s.screen.site, "district": s.screen.district,
        "state": s.state, "last_seen": s.last_seen.isoformat() if s.last_seen else None,
        "player_version": s.player_version, "reported_item": s.reported_item, "expected_item": s.expected_item,
        "out_of_step": s.out_of_step} for s in trouble_first(states)])
