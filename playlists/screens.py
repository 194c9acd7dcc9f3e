"""Screens and their device tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from renderer.errors import N_, Problem, term
from renderer.profiles import CATALOG
from renderer.spec import bad_character

from .models import Group, Pairing, Screen, Site, User

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_GROUP = re.compile(r"^[\w][\w .-]{0,63}$")
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


class ScreenError(Problem):
    """A screen request that cannot be met; the message says what was wrong."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A device token of 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


# Profiles a screen may have; print and web profiles are for exports.
SCREEN_KINDS = ("led", "lcd")
# Names the web player's own files use under /player/.
RESERVED_IDS = {"sw.js", "player.js", "player.css", "static"}
# What the screens table keeps of a screen's name, site and district.
MAX_LABEL = 200


def check_label(field: str, value: object) -> str:
    """Return a screen's name, site or district stripped; refuse non-text, more than MAX_LABEL characters, line
    breaks, control characters and lone surrogates (which PostgreSQL would refuse with an error, not a message)."""
    if not isinstance(value, str):
        raise ScreenError("%(what)s: got %(got)s, expected text", code="text.type", field=field, what=term(field),
                          got=type(value).__name__)
    if len(value) > MAX_LABEL:
        raise ScreenError("%(what)s too long: got %(length)s characters, expected at most %(limit)s; shorten it",
                          code="text.too_long", field=field, what=term(field), length=len(value), limit=MAX_LABEL)
    if bad := bad_character(value, keep=""):
        raise ScreenError("%(what)s: got %(bad)s, expected one line of printable text", code="text.bad_character",
                          field=field, what=term(field), bad=bad)
    return value.strip()


def _check(screen_id: str, profile: str, tz: str, groups: list[str]) -> None:
    if screen_id in RESERVED_IDS:
        raise ScreenError("screen id %(id)s is reserved (the web player uses it): choose another",
                          code="screen.id_reserved", field="id", id=repr(screen_id))
    if not _ID.match(screen_id):
        raise ScreenError("bad screen id: got %(id)s, expected lowercase letters, digits, '-', '_' or '.', starting "
                          "with a letter or digit, at most 64 characters", code="screen.id_format", field="id",
                          id=repr(screen_id))
    screens = [name for name, p in CATALOG.items() if p.kind in SCREEN_KINDS]
    if profile not in screens:
        if profile in CATALOG:
            raise ScreenError("profile %(profile)s is for print or the web, not a screen: expected one of %(expected)s",
                              code="screen.profile_not_screen", field="profile", profile=repr(profile),
                              expected=screens)
        raise ScreenError("profile %(profile)s is unknown: expected one of %(expected)s", code="screen.unknown_profile",
                          field="profile", profile=repr(profile), expected=screens)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScreenError("unknown time zone: got %(tz)s, expected an IANA name such as %(example)s",
                          code="screen.tz", field="tz", tz=repr(tz), example=DEFAULT_TZ) from None
    for name in groups:
        if not _GROUP.match(name):
            raise ScreenError("bad group name: got %(name)s, expected letters, digits, spaces, '.', '-' or '_'",
                              code="group.bad_name", field="groups", name=repr(name))


def add_screen(session: Session, screen_id: str, profile: str, now: datetime, *, name: str = "", site: str = "",
               district: str = "", tz: str = DEFAULT_TZ, groups: list[str] | tuple[str, ...] = ()) -> str:
    """Register a screen and return its device token (shown once; only its hash is kept)."""
    groups = list(dict.fromkeys(groups))
    _check(screen_id, profile, tz, groups)
    name, site, district = (check_label(f, v) for f, v in (("name", name), ("site", site), ("district", district)))
    existing = session.get(Screen, screen_id)
    if existing is not None and existing.retired_at is not None:
        # Its history (plays, audit) names this id; a new screen under it would inherit that history.
        raise ScreenError("screen id %(id)s belonged to a screen that was retired; choose another id",
                          code="screen.id_retired", field="id", id=screen_id)
    if existing is not None:
        raise ScreenError("screen %(id)s exists already: choose another id", code="screen.exists", field="id",
                          id=repr(screen_id))
    if site:
        place = ensure_site(session, site, district, now)
        district = district or place.district
    token = new_token()
    screen = Screen(id=screen_id, name=name or screen_id, site=site, district=district, profile=profile, tz=tz,
                    token_hash=hash_token(token), token_issued_at=now, created_at=now)
    session.add(screen)  # before the group lookups, which flush: the screen must already be in the session
    for group_name in groups:
        group = session.scalar(select(Group).where(Group.name == group_name)) or Group(name=group_name)
        screen.groups.append(group)
    return token


def reissue_token(session: Session, screen_id: str, now: datetime) -> str:
    """Give a screen a new token; the old one stops working at once."""
    screen = session.get(Screen, screen_id)
    if screen is None:
        raise ScreenError("no screen %(id)s", code="screen.unknown", field="id", id=repr(screen_id))
    if screen.retired_at is not None:
        raise ScreenError("screen %(id)s is retired: it cannot get a new token", code="screen.retired", field="id",
                          id=screen_id)
    token = new_token()
    screen.token_hash, screen.token_issued_at = hash_token(token), now
    return token


def list_screens(session: Session, *, retired: bool = False) -> list[Screen]:
    """Screens in service by id (with retired=True, the retired ones too)."""
    query = select(Screen).order_by(Screen.id)
    return list(session.scalars(query if retired else query.where(Screen.retired_at.is_(None))))


def token_matches(token_hash: str | None, token: str) -> bool:
    """True when token hashes to token_hash; compared in constant time, and as slowly when there is no screen."""
    presented = hash_token(token)
    expected = token_hash if token_hash is not None else hash_token("")
    return hmac.compare_digest(presented, expected) and token_hash is not None


def screen_for_token(session: Session, screen_id: str, token: str) -> Screen | None:
    """The screen when token is its own; None otherwise, whichever part was wrong."""
    screen = session.get(Screen, screen_id)
    if screen is not None and screen.retired_at is not None:
        screen = None
    return screen if token_matches(screen.token_hash if screen is not None else None, token) else None


# --- managing screens, groups and sites from the console -------------------------------------------------------

def screen_in_service(session: Session, screen_id: object) -> Screen:
    """The screen screen_id; refuses an unknown or retired one."""
    screen = session.get(Screen, screen_id) if isinstance(screen_id, str) else None
    if screen is None:
        raise ScreenError("there is no screen %(id)s", code="screen.unknown", field="id", id=str(screen_id)[:64])
    if screen.retired_at is not None:
        raise ScreenError("screen %(id)s is retired", code="screen.retired", field="id", id=screen_id)
    return screen


_WORDS = {"label_vi": N_("name in Vietnamese"), "label_en": N_("name in English")}


def _text(field: str, value: object, limit: int = MAX_LABEL) -> str:
    """One line of printable text (stripped), at most limit characters; refused otherwise, naming field."""
    what = _WORDS.get(field) or term(field)
    if not isinstance(value, str):
        raise ScreenError("%(what)s must be text", code="text.not_text", field=field, what=what)
    if len(value) > limit:
        raise ScreenError("%(what)s is too long: %(count)s characters, at most %(limit)s",
                          code="text.too_long", field=field, what=what, count=len(value), limit=limit)
    if bad := bad_character(value, keep=""):
        raise ScreenError("%(what)s: got %(bad)s, expected one line of printable text; type it again without it",
                          code="text.bad_character", field=field, what=what, bad=bad)
    return value.strip()


def rename_screen(session: Session, screen_id: str, name: object) -> Screen:
    """Give a screen in service a new display name; refuses an empty or unprintable one."""
    screen = screen_in_service(session, screen_id)
    name = _text("name", name)
    if not name:
        raise ScreenError("the screen needs a name", code="screen.name_empty", field="name")
    screen.name = name
    return screen


def place_screen(session: Session, screen_id: str, site: object, district: object, now: datetime) -> Screen:
    """Put a screen in service at site (a new name becomes a site) in district ("" takes the site's district)."""
    screen = screen_in_service(session, screen_id)
    site, district = _text("site", site), _text("district", district)
    if site:
        district = district or ensure_site(session, site, district, now).district
    screen.site, screen.district = site, district
    return screen


def groups_named(session: Session, names: object, *, create: bool = False) -> list[Group]:
    """The groups of these names (each once, in order); unknown names are refused, or created with create=True."""
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise ScreenError("groups must be a list of group names", code="screen.groups_not_list", field="groups")
    names = list(dict.fromkeys(names))
    for name in names:
        check_group_name(name)
    found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(names)))} if names else {}
    missing = [n for n in names if n not in found]
    if missing and not create:
        raise ScreenError("there is no group %(names)s", code="group.unknown", field="groups", names=missing)
    for name in missing:
        found[name] = Group(name=name)
        session.add(found[name])
    return [found[n] for n in names]


def set_screen_groups(session: Session, screen_id: str, groups: object) -> Screen:
    """Make a screen in service a member of exactly these existing groups."""
    screen = screen_in_service(session, screen_id)
    screen.groups = groups_named(session, groups)
    return screen


def retire_screen(session: Session, screen_id: str, now: datetime) -> Screen:
    """Take a screen out of service now: its token stops working (replaced by one nobody knows), it leaves the
    network (manifests, lists, monitoring), its pairings are dropped; its plays and audit entries stay, and its
    id is not given to another screen."""
    screen = screen_in_service(session, screen_id)
    screen.retired_at = now
    screen.token_hash, screen.token_issued_at = hash_token(new_token()), now
    for pairing in session.scalars(select(Pairing).where(Pairing.screen_id == screen_id)):
        session.delete(pairing)
    return screen


# Groups: the identifier is what rules, scripts and scopes name; the labels are what people read.

def check_group_name(name: object) -> str:
    """A group identifier as given; refuses anything but letters, digits, spaces, '.', '-' or '_' (at most 64)."""
    if not isinstance(name, str) or not _GROUP.match(name):
        raise ScreenError("group identifier %(name)s: use letters, digits, spaces, '.', '-' or '_' (at most 64, "
                          "starting with a letter or digit)", code="group.bad_name", field="name",
                          name=str(name)[:64])
    return name


def group_by_id(session: Session, group_id: object) -> Group:
    group = session.get(Group, group_id) if isinstance(group_id, int) and 0 < group_id < 2**31 else None
    if group is None:
        raise ScreenError("there is no group %(id)s", code="group.unknown", field="id", id=str(group_id)[:20])
    return group


def save_group(session: Session, group: Group | None, name: object, label_vi: object, label_en: object) -> Group:
    """Create a group (group None) or rename one: its identifier and its display names in Vietnamese and
    English ("" shows the identifier). Refuses an identifier another group has."""
    name = check_group_name(name.strip() if isinstance(name, str) else name)
    label_vi, label_en = _text("label_vi", label_vi), _text("label_en", label_en)
    other = session.scalar(select(Group).where(Group.name == name))
    if other is not None and other is not group:
        raise ScreenError("there is already a group %(name)s", code="group.exists", field="name", name=name)
    if group is None:
        group = Group(name=name)
        session.add(group)
    group.name, group.label_vi, group.label_en = name, label_vi, label_en
    session.flush()
    return group


# Sites: screens and users' scopes name a site by its name, so a rename rewrites both in the same transaction.

def ensure_site(session: Session, name: str, district: str, now: datetime) -> Site:
    """The site of this name, made (with district) if there is none."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        site = Site(name=name, district=district, created_at=now)
        session.add(site)
        session.flush()
    return site


def site_by_id(session: Session, site_id: object) -> Site:
    site = session.get(Site, site_id) if isinstance(site_id, int) and 0 < site_id < 2**31 else None
    if site is None:
        raise ScreenError("there is no site %(id)s", code="site.unknown", field="id", id=str(site_id)[:20])
    return site


def save_site(session: Session, site: Site | None, name: object, district: object, now: datetime) -> Site:
    """Create a site (site None) or rename one; a rename also renames it on its screens (and sets their district)
    and in the scopes of users who see it. Refuses an empty name or one another site has."""
    name, district = _text("name", name), _text("district", district)
    if not name:
        raise ScreenError("the site needs a name", code="site.name_empty", field="name")
    other = session.scalar(select(Site).where(Site.name == name))
    if other is not None and other is not site:
        raise ScreenError("there is already a site %(name)s", code="site.exists", field="name", name=name)
    if site is None:
        site = Site(name=name, district=district, created_at=now)
        session.add(site)
        session.flush()
        return site
    old = site.name
    for screen in session.scalars(select(Screen).where(Screen.site == old)):
        screen.site, screen.district = name, district
    if name != old:
        for user in session.scalars(select(User).where(User.sites.contains(old))):
            lines = user.sites.split("\n")
            if old in lines:
                user.sites = "\n".join(dict.fromkeys(name if line == old else line for line in lines))
    site.name, site.district = name, district
    session.flush()
    return site
