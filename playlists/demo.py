"""The demo network `signage serve` seeds on an empty instance: real places of Thừa Thiên Huế, each with the
kind of screen it really has, Bluezone posters in Vietnamese and English, and the periodic reminder the
provincial letter asks for ("nhắc lại định kỳ").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assets.store import MediaStore

from . import content
from .models import Group, Screen, User
from .screens import add_screen
from .users import add_user, audit, authenticate

# The administrator the demo creates, and the owner-only file in the instance folder that keeps the secrets made
# at first start (this admin's password, the players' links with their tokens) until that password is changed.
DEMO_ADMIN = "admin"
FIRST_START_SECRETS = "first-start-secrets.txt"


@dataclass(frozen=True)
class DemoScreen:
    id: str
    profile: str
    name: str
    site: str
    district: str
    groups: tuple[str, ...]


SCREENS = (
    DemoScreen("hue-trung-tam-led", "led-p10", "Màn hình LED trung tâm thành phố Huế", "Trung tâm thành phố Huế",
               "TP Huế", ("led", "outdoor")),
    DemoScreen("bx-phia-bac-tv", "tv-1080p", "Bến xe phía Bắc – sảnh chờ", "Bến xe phía Bắc", "TP Huế",
               ("stations",)),
    DemoScreen("bx-phia-nam-tv", "tv-1080p", "Bến xe phía Nam – sảnh chờ", "Bến xe phía Nam", "TP Huế",
               ("stations",)),
    DemoScreen("ga-hue-tv", "tv-1080p", "Ga Huế – phòng chờ", "Ga Huế", "TP Huế", ("stations",)),
    DemoScreen("bv-tw-hue-kiosk", "kiosk-portrait", "Bệnh viện Trung ương Huế – kiosk tiếp đón",
               "Bệnh viện Trung ương Huế", "TP Huế", ("hospital",)),
    DemoScreen("bv-tw-hue-board", "led-billboard", "Bệnh viện Trung ương Huế – bảng điện tử cổng chính",
               "Bệnh viện Trung ương Huế", "TP Huế", ("hospital", "led")),
    DemoScreen("hcc-tinh-tv", "tv-1080p", "Trung tâm Phục vụ hành chính công tỉnh – sảnh",
               "Trung tâm Phục vụ hành chính công tỉnh", "TP Huế", ("public-service",)),
    DemoScreen("ks-le-loi-lobby", "lobby-4k", "Khách sạn trên đường Lê Lợi – sảnh", "Khách sạn đường Lê Lợi",
               "TP Huế", ("hotels",)),
    DemoScreen("bus-tuyen-1-strip", "bus-strip", "Xe buýt tuyến 1 – màn hình trong xe", "Xe buýt tuyến 1",
               "TP Huế", ("buses",)),
)

# Each group's display names (Vietnamese, English): people read these, rules and scripts name the identifier.
GROUP_LABELS = {
    "led": ("Màn hình LED", "LED screens"),
    "outdoor": ("Ngoài trời", "Outdoor"),
    "stations": ("Bến xe và nhà ga", "Bus and train stations"),
    "hospital": ("Bệnh viện", "Hospitals"),
    "public-service": ("Trung tâm hành chính công", "Public administration centres"),
    "hotels": ("Khách sạn", "Hotels"),
    "buses": ("Xe buýt", "Buses"),
}


def is_empty(session: Session) -> bool:
    """True for a fresh instance: no screens and no users yet."""
    return not session.scalar(select(func.count()).select_from(Screen)) and \
        not session.scalar(select(func.count()).select_from(User))


def seed(session: Session, store: MediaStore, now: datetime) -> tuple[str, dict[str, str]]:
    """Create the demo network and an admin; returns (admin password, {screen id: device token}), shown once."""
    tokens = {s.id: add_screen(session, s.id, s.profile, now, name=s.name, site=s.site, district=s.district,
                               groups=s.groups) for s in SCREENS}
    for group in session.scalars(select(Group).where(Group.name.in_(GROUP_LABELS))):
        group.label_vi, group.label_en = GROUP_LABELS[group.name]
    vi = content.add_poster(session, {"lang": "vi"}, now, name="Cài đặt Bluezone (tiếng Việt)")
    en = content.add_poster(session, {"lang": "en"}, now, name="Install Bluezone (English)")
    both = content.add_poster(session, {"lang": "vi-en", "theme": "light"}, now, name="Bluezone (song ngữ)")
    reminder = content.add_poster(session, {"template": "reminder", "lang": "vi"}, now, name="Nhắc lại: Bluezone")
    p = {name: f"poster:{poster.id}" for name, poster in (("vi", vi), ("en", en), ("both", both),
                                                         ("reminder", reminder))}
    local = content.add_playlist(session, "Người dân (tiếng Việt trước)", [(p["vi"], 20), (p["both"], 15)])
    visitors = content.add_playlist(session, "Khách du lịch (English first)", [(p["en"], 20), (p["vi"], 15)])
    led = content.add_playlist(session, "Màn hình LED", [(p["vi"], 15), (p["en"], 10)])
    content.add_schedule(session, local.id, name="Ban ngày", groups=["stations", "hospital", "public-service"],
                         start_time=time(5, 30), end_time=time(22, 0), priority=1)
    content.add_schedule(session, visitors.id, name="Khách sạn và xe buýt", groups=["hotels", "buses"], priority=1)
    content.add_schedule(session, led.id, name="LED ngoài trời", groups=["led"], priority=2)
    content.add_reminder(session, p["reminder"], duration_s=20, every_min=15, everywhere=True,
                         name="Nhắc lại định kỳ")
    admin, password = add_user(session, DEMO_ADMIN, "admin", now)
    # The person who started the server is this admin and the only one who saw the password: nobody else
    # chose it for them, so they are not made to change it at first login (the README says how).
    admin.must_change_password = False
    audit(session, "serve", "demo.seed", "network", now, after={"screens": [s.id for s in SCREENS]})
    content.sync_renditions(session, store, now)
    return password, tokens


def keep_first_start_secrets(instance_path: str | os.PathLike, text: str) -> Path:
    """Write text to the instance's first-start secrets file, owner-only (0600) from its creation; returns its path.

    Written whole or not at all (temporary file, fsync, rename)."""
    path = Path(instance_path) / FIRST_START_SECRETS
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def first_start_secrets(instance_path: str | os.PathLike) -> Path | None:
    """The path of the first-start secrets file, or None once it is gone."""
    path = Path(instance_path) / FIRST_START_SECRETS
    return path if path.is_file() else None


def forget_first_start_secrets(instance_path: str | os.PathLike, username: str) -> bool:
    """Delete the first-start secrets file when `username` is the demo's admin (call it after that user's
    password changed: the file's password no longer works). True when a file was deleted."""
    if username != DEMO_ADMIN:
        return False
    try:
        (Path(instance_path) / FIRST_START_SECRETS).unlink()
    except FileNotFoundError:
        return False
    return True


def forget_changed_first_start_secrets(session: Session, instance_path: str | os.PathLike) -> Path | None:
    """Delete the first-start secrets file if the password it holds no longer logs the demo's admin in (changed
    by a path that did not call forget_first_start_secrets); returns the deleted file's path, else None."""
    path = first_start_secrets(instance_path)
    if path is None:
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines and authenticate(session, DEMO_ADMIN, lines[-1]) is not None:
        return None
    path.unlink(missing_ok=True)
    return path
