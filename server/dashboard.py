"""The console's home page: a dashboard that answers "is the campaign on air?" for what the viewer may see.

The data come from playlists/dashboard.py (no Flask there); this module only adds the clock, the scope and words.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l

from playlists.dashboard import NO_GROUP, STATUSES, gather
from renderer import RenderError, get_profile

from .auth import require
from .console import _sections, bp
from .db import get_manifests, get_session
from .player import now
from .preview import STATE_LABELS, limits
from .scope import viewer_scope

STATUS_LABELS = {**STATE_LABELS, "out_of_step": _l("out of step")}
CHANGE_LABELS = {"up": _l("more than the day before"), "down": _l("fewer than the day before"),
                 "same": _l("as many as the day before")}


def profile_size(name: str) -> str:
    """A screen profile as people tell it apart: its name and pixel size ("led-p10, 192×96")."""
    try:
        profile = get_profile(name)
    except RenderError:
        return name
    return f"{name}, {profile.width}×{profile.height}"


def change(pair: tuple[int, int]) -> str:
    """"up", "down" or "same": yesterday's figure against the day before's."""
    yesterday, before = pair
    return "up" if yesterday > before else "down" if yesterday < before else "same"


@bp.get("/", endpoint="home")
@require("operator")
def home():
    """The dashboard: screens by status and those needing attention, what plays now per group, takeovers,
    yesterday against the day before, uploads and renditions waiting; then what this person can open."""
    scope, network = viewer_scope(), get_manifests().network()
    dash = gather(get_session(), network, scope, now(), limits())
    return render_template("staff/home.html", dash=dash, sections=_sections(), everything=scope.everything,
                           STATUSES=STATUSES, STATUS_LABELS=STATUS_LABELS, NO_GROUP=NO_GROUP,
                           CHANGE_LABELS=CHANGE_LABELS, change=change, profile_size=profile_size,
                           network=network)
