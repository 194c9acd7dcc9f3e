"""The staff console's HTML pages (server-rendered, a little JavaScript, no build step)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from .auth import current_staff, require

bp = Blueprint("console", __name__, url_prefix="/staff")

# Role names as people read them (templates show _(role)).
ROLE_LABELS = {"admin": _l("admin"), "staff": _l("staff"), "operator": _l("operator")}

# (endpoint, label, role needed): the home page lists what the person may open.
SECTIONS: list[tuple[str, object, str]] = []


@bp.get("/")
@require("operator")
def home():
    """The start page: what this person can do here."""
    staff = current_staff()
    sections = [(endpoint, label) for endpoint, label, role in SECTIONS if staff.can(role)]
    return render_template("staff/home.html", sections=sections)


def section(endpoint: str, label, role: str) -> None:
    """Announce a console page on the home page (pages register themselves as they are added)."""
    SECTIONS.append((endpoint, label, role))


section("console.audit_log", _l("Audit log"), "admin")


@bp.get("/audit")
@require("admin")
def audit_log():
    """The latest changes, newest first (admins only)."""
    from sqlalchemy import select

    from playlists.models import AuditEntry

    from .db import get_session

    entries = get_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)).all()
    return render_template("staff/audit.html", entries=entries)
