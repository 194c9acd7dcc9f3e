"""What the signed-in person may see: operators their sites and groups, staff and admins every screen.

The console, the preview, monitoring and reports all ask here, so that scoping has one definition."""

from __future__ import annotations

from playlists.monitoring import Scope, scope_for

from .auth import current_staff
from .db import get_manifests, get_session


def viewer_scope() -> Scope:
    """What the signed-in person may see (staff and admins: everything)."""
    staff = current_staff()
    return scope_for(get_session(), staff.can("staff"), staff.sites, staff.group_ids)


def visible_media(scope: Scope) -> set[str]:
    """The sha256 of every media file that a screen in scope may show, at that screen's size."""
    network = get_manifests().network()
    shas = set()
    for screen in scope.screens(network):
        for key in network.contents_for(screen):
            ref = network.renditions.get((key, screen.profile))
            if ref is not None:
                shas.add(ref.sha256)
    return shas
