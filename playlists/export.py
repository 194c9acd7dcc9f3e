"""USB bundles for LED controllers that play offline: one local day of a screen's timeline as a looped list.

An LED controller in asynchronous mode (playing from a USB stick or from its vendor's software) knows no
schedule: it plays a list of images, each for its duration, and starts again. So a day of the resolver's
timeline becomes one list, like this:

1. Resolve the screen's local day (midnight to midnight, as the resolver counts days) with the one resolver.
2. Find the stretch of that day that repeats one sequence of plays for the longest time: for every period p
   (in plays), the longest run where play i equals play i + p (same item, same reason, same length) and
   that holds at least two whole passes. The stretch covering the most time wins (then the shorter period,
   then the earlier one). On a typical day this is the daytime schedule with its reminders: "reminder
   20 s, then the playlist, cut where the next reminder comes" repeated every 15 minutes.
3. One pass of that stretch is the loop: a contiguous excerpt of the resolver's timeline, so its order and
   durations are exactly the resolver's, clipped plays included. Looped by the controller it reproduces
   the whole stretch play for play. It starts at a reminder if it holds one, else at the first item of the
   schedule's playlist, so the list reads naturally.

What the stretch leaves out (say the night-time default poster) is said in the README and playlist.txt:
a controller that loops one list cannot follow the clock.

A group gets one folder per distinct timeline (screens of one profile, time zone and rules share one),
because a controller must get images at its own panel's pixel size; a group mixing a P10 panel and a TV
gets two folders and the README says which screen takes which.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from assets.store import MediaStore
from renderer import PosterSpec, RenderError, ScreenProfile, get_profile, render_poster, write_atomic
from renderer.errors import Problem

from .models import Group, Poster
from .network import MediaRef, Network, ScreenEntry, load_network
from .resolver import Segment, _local_instant, _to_dt, resolve
from .rules import RuleError, ScreenRules
from .spreadsheet import safe_cell

# Three-digit names keep the files in play order in any controller's name sort.
MAX_FILES = 999
_US = 1_000_000
_BOM = "\ufeff"  # Notepad on older Windows reads UTF-8 as ANSI without it, garbling Vietnamese
_NONZERO = re.compile(b"[^\x00]")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ExportError(Problem):
    """An export request that cannot be met; the message says what was got and what was expected."""


class ExportNotFound(ExportError):
    """The screen or group an export names does not exist."""


@dataclass(frozen=True)
class Loop:
    """One pass of the list a controller repeats: segments[a:a+p] of the day, reproducing [stretch) when looped."""

    plays: tuple[Segment, ...]
    stretch: tuple[datetime, datetime]
    day: tuple[datetime, datetime]
    scheduled: bool  # whether anything but the default poster plays that day

    @property
    def seconds(self) -> float:
        return sum((s.end - s.start) / timedelta(seconds=1) for s in self.plays)


@dataclass(frozen=True)
class Folder:
    """The files of one timeline: the screens that share it, their panel, the loop and one media file per play."""

    path: str  # "" for the root of the archive
    screens: tuple[ScreenEntry, ...]
    profile: ScreenProfile
    day: date
    loop: Loop
    media: tuple[MediaRef, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The image files in play order: 001_poster-3.png, 002_poster-1.png, ..."""
        return tuple(f"{i:03d}_{_slug(seg.item.key)}.{m.ext}"
                     for i, (seg, m) in enumerate(zip(self.loop.plays, self.media, strict=True), 1))


@dataclass(frozen=True)
class UsbBundle:
    """A finished bundle: the zip bytes, a file name to offer, its folders and a one-line report."""

    target: str
    folders: tuple[Folder, ...]
    data: bytes

    @property
    def filename(self) -> str:
        return f"bluezone-usb-{_ascii(self.target)}-{self.folders[0].day.isoformat()}.zip"

    def report(self) -> str:
        parts = [f"{_where(f) if f.path else ''}{_summary(f)}".strip() for f in self.folders]
        return f"{self.target}: " + "; ".join(parts)


def build_usb_bundle(session: Session, store: MediaStore, *, screen: str | None = None, group: str | None = None,
                     day: date | None = None, now: datetime) -> UsbBundle:
    """The zip of a screen's (or a group's) looped day; day defaults to today in each screen's time zone.

    Refuses (ExportNotFound) an unknown screen or group, and (ExportError) a group without screens, a day
    on which nothing but the default poster is scheduled, a day the resolver refuses, and content that has
    no image at a screen's size (saying why, such as text that cannot fit). A loop holds at most 999 images:
    a pattern that only repeats over more plays yields the longest stretch that a shorter loop reproduces.
    """
    network = load_network(session)
    screens, named = _screens(session, network, screen, group)
    target = str(named)
    folders = []
    by_timeline: dict[tuple, list[ScreenEntry]] = {}
    for entry in screens:
        by_timeline.setdefault(entry.rules_key, []).append(entry)
    for members in by_timeline.values():
        _check_rendered(session, network, members[0])
        folders.append(_folder(network, tuple(members), day, now))
    _check_not_empty(folders, named)
    folders = _name_folders(folders)
    return UsbBundle(target, tuple(folders), _zip(folders, store, target))


def parse_day(text: str) -> date:
    """YYYY-MM-DD as a date; refuses other forms (fromisoformat alone would take 20261128 and 2026-W48-5)."""
    if isinstance(text, str) and _DAY.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ExportError("date: got %(got)s, expected YYYY-MM-DD such as 2026-11-28", code="export.date", field="date",
                      got=repr(text))


def write_usb_bundle(bundle: UsbBundle, path) -> None:
    """Write the bundle to path atomically: a crash leaves the old file or the new one, never a part."""
    write_atomic(path, bundle.data)


def _screens(session: Session, network: Network, screen: str | None, group: str | None):
    if (screen is None) == (group is None):
        raise ExportError("export target: got screen=%(screen)s and group=%(group)s, expected exactly one of them; "
                          "choose a screen or a group", code="export.target", field="screen", screen=repr(screen),
                          group=repr(group))
    if screen is not None:
        if screen not in network.screens:
            raise ExportNotFound("screen: got %(id)s, but there is no such screen", code="screen.unknown",
                                 field="screen", id=repr(screen))
        return [network.screens[screen]], Problem("screen %(id)s", id=screen)
    if session.scalar(select(Group.id).where(Group.name == group)) is None:
        raise ExportNotFound("group: got %(name)s, but there is no such group", code="group.unknown",
                             field="group", name=repr(group))
    members = [s for s in network.screens.values() if group in s.groups]
    if not members:
        raise ExportError("group %(name)s has no screens: got an empty group, expected at least one screen; add "
                          "screens to it first", code="export.empty_group", field="group", name=repr(group))
    return members, Problem("group %(name)s", name=group)


def _check_rendered(session: Session, network: Network, entry: ScreenEntry) -> None:
    """Refuse a screen some of whose content has no image at its size; the resolver would skip it silently."""
    missing = sorted(c for c in network.contents_for(entry) if (c, entry.profile) not in network.renditions)
    if not missing:
        return
    profile = get_profile(entry.profile)
    reason = _why_not_rendered(session, missing[0], profile)
    raise ExportError("screen %(id)s: %(content)s has no image at %(profile)s (%(size)s): %(reason)s",
                      code="export.not_rendered", id=entry.id, content=missing[0], profile=profile.name,
                      size=f"{profile.width}x{profile.height}", reason=reason)


def _why_not_rendered(session: Session, content: str, profile: ScreenProfile) -> Problem:
    if content.startswith("poster:"):
        poster = session.get(Poster, int(content.split(":")[1]))
        try:
            render_poster(PosterSpec.from_dict(json.loads(poster.spec_json)), profile)
        except RenderError as exc:
            return Problem("the panel cannot hold it (%(why)s)", why=exc)
    return Problem("its image is not made yet; save the content again (that makes the images of every screen)")


def _folder(network: Network, screens: tuple[ScreenEntry, ...], day: date | None, now: datetime) -> Folder:
    entry = screens[0]
    zone = ZoneInfo(entry.tz)
    local_day = day if day is not None else now.astimezone(zone).date()
    try:
        rules = network.rules_for(entry)
        start, end = _day_range(local_day, zone)
        segments = resolve(rules, start, end)
    except RuleError as exc:
        raise ExportError("screen %(id)s: %(why)s", code=exc.code, field=exc.field, id=entry.id, why=exc) from None
    loop = _loop(segments, rules)
    profile = get_profile(entry.profile)
    media = tuple(network.media_for(seg.item, entry.profile) for seg in loop.plays)
    for ref, seg in zip(media, loop.plays, strict=True):
        if (ref.width, ref.height) != profile.size:
            raise ExportError("screen %(id)s: the image of %(item)s is %(got)s, expected the panel's %(size)s",
                              code="export.wrong_size", id=entry.id, item=seg.item.key, got=f"{ref.width}x{ref.height}",
                              size=f"{profile.width}x{profile.height}")
    return Folder("", screens, profile, local_day, loop, media)


def _day_range(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of day to that of the next, as the resolver counts days (DST days are 23 or 25 h)."""
    return (_to_dt(_local_instant(day, time(0), zone)),
            _to_dt(_local_instant(day + timedelta(days=1), time(0), zone)))


def _check_not_empty(folders: list[Folder], target: Problem) -> None:
    """Refuse a timeline with nothing scheduled: it would only repeat the default poster."""
    empty = [f for f in folders if not f.loop.scheduled]
    if not empty:
        return
    ids = [s.id for f in empty for s in f.screens]
    raise ExportError("%(target)s: nothing is scheduled on %(day)s for %(ids)s (got only the default poster all day, "
                      "expected a schedule, reminder or override); schedule content first, or use the default poster "
                      "alone as a single image", code="export.nothing_scheduled", target=target, day=empty[0].day,
                      ids=ids)


def _loop(segments: list[Segment], rules: ScreenRules) -> Loop:
    start, period, stop = _dominant_run(segments, MAX_FILES)
    first = _natural_start(segments, start, period, rules)
    plays = tuple(segments[first:first + period])
    return Loop(plays, (segments[start].start, segments[stop - 1].end), (segments[0].start, segments[-1].end),
                any(seg.source != "default" for seg in segments))


def _dominant_run(segments: list[Segment], max_period: int) -> tuple[int, int, int]:
    """(start, period, stop): segments[start:stop] repeats segments[start:start+period], covering the most time.

    A run needs two whole passes at least; the longest single play (an override held for hours) competes too.
    Ties go to the shorter period, then the earlier start.
    """
    ids: dict[tuple, int] = {}
    tokens = [ids.setdefault((s.item, s.source, s.end - s.start), len(ids)) for s in segments]
    cum = [0]
    for s in segments:
        cum.append(cum[-1] + (s.end - s.start) // timedelta(microseconds=1))
    n = len(tokens)
    i = max(range(n), key=lambda k: (cum[k + 1] - cum[k], -k))
    best_key, best = (cum[i + 1] - cum[i], -1, -i), (i, 1, i + 1)
    # Each play as w bytes: XOR-ing the sequence with itself shifted by p plays leaves zero bytes exactly where
    # play k equals play k + p, so one big-integer XOR and one regex scan test a period (a Python loop over
    # the plays for each period would take seconds for a day of 10-second items).
    w = max(1, (len(ids).bit_length() + 7) // 8)
    seq = b"".join(t.to_bytes(w, "big") for t in tokens)
    for p in range(1, min(max_period, n // 2) + 1):
        size = (n - p) * w
        diff = (int.from_bytes(seq[:size], "big") ^ int.from_bytes(seq[p * w:], "big")).to_bytes(size, "big")
        # At least p equal plays in a row is two whole passes or more: look for p plays' worth of zero bytes.
        needle, pos = bytes(p * w), 0
        while (found := diff.find(needle, pos)) >= 0:
            nonzero = _NONZERO.search(diff, found + len(needle))
            end = nonzero.start() if nonzero else size
            first, last = -(-found // w), end // w  # the whole plays inside the run of zero bytes
            pos = end
            if last - first < p:
                continue
            start, stop = first, last + p
            key = (cum[stop] - cum[start], -p, -start)
            if key > best_key:
                best_key, best = key, (start, p, stop)
    return best


def _natural_start(segments: list[Segment], start: int, period: int, rules: ScreenRules) -> int:
    """Where one pass should begin: a reminder, else an unclipped first item of the schedule's playlist.

    Any start in [start, start + period) gives a whole pass inside the run, so this only rotates the loop.
    """
    window = range(start, start + period)
    for k in window:
        if segments[k].source.startswith("reminder:"):
            return k
    firsts = {f"schedule:{sc.id}": sc.playlist.items[0] for sc in rules.schedules}
    for k in window:
        seg = segments[k]
        if firsts.get(seg.source) == seg.item and seg.start == seg.occurrence_start:
            return k
    return start


def _name_folders(folders: list[Folder]) -> list[Folder]:
    """One screen or one timeline: files at the root; several: a folder each, named by profile and size."""
    if len(folders) == 1:
        return folders
    counts = Counter(f.profile.name for f in folders)
    named = []
    for f in sorted(folders, key=lambda f: (f.profile.name, f.screens[0].id)):
        path = f"{f.profile.name}_{f.profile.width}x{f.profile.height}"
        if counts[f.profile.name] > 1:
            path += f"_{f.screens[0].id}"
        named.append(Folder(path, f.screens, f.profile, f.day, f.loop, f.media))
    return named


def _zip(folders: list[Folder], store: MediaStore, target: str) -> bytes:
    """The archive, byte for byte the same for the same content: fixed timestamps, fixed order."""
    out = io.BytesIO()
    stamp = (folders[0].day.year, folders[0].day.month, folders[0].day.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "README.txt", _readme(folders, target).encode("utf-8"), stamp)
        for f in folders:
            prefix = f"{f.path}/" if f.path else ""
            _add(archive, f"{prefix}playlist.txt", _playlist(f).encode("utf-8"), stamp)
            for name, ref in zip(f.names, f.media, strict=True):
                _add(archive, prefix + name, _read(store, ref), stamp)
    return out.getvalue()


def _add(archive: zipfile.ZipFile, name: str, data: bytes, stamp: tuple) -> None:
    info = zipfile.ZipInfo(name, date_time=stamp)
    # Images are compressed already; deflating them again costs time for nothing.
    info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".txt") else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _read(store: MediaStore, ref: MediaRef) -> bytes:
    try:
        with store.open(ref.sha256, ref.ext) as fh:
            return fh.read()
    except FileNotFoundError:
        raise ExportError("media %(name)s is missing from the store: got no file, expected the image the database "
                          "names", code="media.missing", name=f"{ref.sha256}.{ref.ext}") from None


def _slug(key: str) -> str:
    """A file-name-safe form of a content key: poster:3 -> poster-3, asset:<sha256>:cover -> asset-<12 hex>-cover."""
    parts = key.split(":")
    if parts[0] == "asset" and len(parts) > 1:
        parts[1] = parts[1][:12]
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def _ascii(text: str) -> str:
    """ASCII for a file name: Vietnamese letters lose their marks (đ -> d), anything else becomes '-'."""
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-") or "bundle"


def _seconds(delta: timedelta) -> str:
    """Seconds as a controller takes them: whole where whole, else to the millisecond."""
    us = delta // timedelta(microseconds=1)
    return str(us // _US) if us % _US == 0 else f"{us / _US:.3f}".rstrip("0")


def _clock(moment: datetime, zone: ZoneInfo, day_end: datetime) -> str:
    """HH:MM local; the end of the day reads 24:00 rather than 00:00."""
    return "24:00" if moment == day_end else moment.astimezone(zone).strftime("%H:%M")


_UNITS = {"en": ("h", "min", "s"), "vi": ("giờ", "phút", "giây")}


def _hours(delta: timedelta, lang: str = "en") -> str:
    h, m, _s = _UNITS[lang]
    minutes = round(delta / timedelta(minutes=1))
    return f"{minutes // 60} {h} {minutes % 60:02d} {m}" if minutes % 60 else f"{minutes // 60} {h}"


def _span(f: Folder, lang: str = "en") -> tuple[str, str, str, str]:
    """(from, to, stretch length, day length) of what the loop reproduces, in the screens' local time."""
    zone = ZoneInfo(f.screens[0].tz)
    (s, e), (ds, de) = f.loop.stretch, f.loop.day
    return _clock(s, zone, de), _clock(e, zone, de), _hours(e - s, lang), _hours(de - ds, lang)


def _length(seconds: float, lang: str = "en") -> str:
    _h, m, s = _UNITS[lang]
    whole = round(seconds)
    return f"{whole // 60} {m} {whole % 60} {s}" if whole >= 60 else f"{whole} {s}"


def _dmy(day: date) -> str:
    """A day as the bundle's readers write it: dd/mm/yyyy (the file name keeps yyyy-mm-dd, to sort)."""
    return day.strftime("%d/%m/%Y")


def _summary(f: Folder) -> str:
    a, b, stretch, day = _span(f)
    return (f"{f.profile.name} {f.profile.width}x{f.profile.height}, {f.day.isoformat()}: loop of "
            f"{len(f.loop.plays)} images ({_length(f.loop.seconds)}) repeating {a}-{b} ({stretch} of {day})")


def _where(f: Folder) -> str:
    return f"{f.path}/ for {', '.join(s.id for s in f.screens)}: "


def _common_seconds(f: Folder) -> str:
    counts = Counter(_seconds(seg.end - seg.start) for seg in f.loop.plays)
    return counts.most_common(1)[0][0]


def _playlist(f: Folder) -> str:
    """playlist.txt: a short bilingual header, then one tab-separated line per image in play order."""
    a, b, stretch, day = _span(f)
    tz = f.screens[0].tz
    lines = [
        "# Bluezone - USB playlist / danh sách phát USB",
        f"# screens / màn hình: {', '.join(s.id for s in f.screens)}",
        f"# panel / màn hình LED: {f.profile.name} {f.profile.width}x{f.profile.height} px",
        f"# day / ngày: {_dmy(f.day)} ({tz})",
        f"# loop / vòng lặp: {len(f.loop.plays)} images / ảnh, {_length(f.loop.seconds)}; "
        f"repeats {a}-{b} / lặp lại khung giờ {a}-{b} ({stretch} of / trên {day})",
        "# Play the files in this order, each for its seconds, then start again from the first.",
        "# Phát các tệp theo đúng thứ tự này, mỗi tệp đúng số giây ghi bên cạnh, hết thì lặp lại từ đầu.",
        "#",
        "# file\tseconds\tcontent\twhy",
    ]
    for name, seg in zip(f.names, f.loop.plays, strict=True):
        cells = (name, _seconds(seg.end - seg.start), seg.item.key, seg.source)
        lines.append("\t".join(str(safe_cell(cell)) for cell in cells))  # opened in spreadsheets too
    return _BOM + "\r\n".join(lines) + "\r\n"


def _readme(folders: list[Folder], target: str) -> str:
    """README.txt in Vietnamese then English: what is in the bundle and how to load it on a controller."""
    vi = ["BLUEZONE - GÓI NỘI DUNG USB CHO MÀN HÌNH LED", "=" * 44, ""]
    en = ["BLUEZONE - USB BUNDLE FOR LED SCREENS", "=" * 37, ""]
    for f in folders:
        a, b, stretch, day = _span(f, "vi")
        where_vi = f"Thư mục {f.path}/" if f.path else "Các tệp ở thư mục gốc"
        names = ", ".join(s.id + (f" ({s.name})" if s.name and s.name != s.id else "") for s in f.screens)
        vi += [f"{where_vi}: cho màn hình {names}",
               f"  Kích thước: {f.profile.width}x{f.profile.height} điểm ảnh ({f.profile.name}); "
               f"ngày {_dmy(f.day)} ({f.screens[0].tz})",
               f"  Vòng lặp {len(f.loop.plays)} ảnh, dài {_length(f.loop.seconds, 'vi')}: lặp lại đúng những gì "
               f"màn hình phát từ {a} đến {b} ({stretch} trên {day}).", ""]
        a, b, stretch, day = _span(f)
        where_en = f"Folder {f.path}/" if f.path else "The files at the top level"
        en += [f"{where_en}: for screen(s) {names}",
               f"  Size: {f.profile.width}x{f.profile.height} pixels ({f.profile.name}); "
               f"day {_dmy(f.day)} ({f.screens[0].tz})",
               f"  A loop of {len(f.loop.plays)} images, {_length(f.loop.seconds)} long: it repeats exactly what "
               f"the screen shows from {a} to {b} ({stretch} of {day}).", ""]
    common = _common_seconds(folders[0])
    vi += [
        "Cách nạp vào bộ điều khiển LED (chế độ không đồng bộ, phát từ USB):",
        "1. Giải nén tệp zip. Mỗi ảnh đã đúng kích thước điểm ảnh của màn hình: không phóng to, thu nhỏ hay cắt.",
        "2. Trong phần mềm của bộ điều khiển (ví dụ NovaStar ViPlex, Huidu HDPlayer), tạo chương trình đúng "
        "kích thước màn hình,",
        "   thêm các ảnh 001_, 002_, ... theo thứ tự tên tệp, đặt thời gian của từng ảnh theo cột \"seconds\" "
        "trong playlist.txt,",
        "   tắt hiệu ứng chuyển cảnh và chọn phát lặp lại.",
        "3. Xuất chương trình ra USB (hoặc gửi qua mạng) rồi cắm USB vào bộ điều khiển theo hướng dẫn của hãng.",
        "   Với bộ điều khiển chỉ phát ảnh trên USB theo thứ tự tên tệp: chép các ảnh vào thư mục gốc của USB "
        "(FAT32).",
        f"4. Nếu chỉ đặt được một thời gian chung cho mọi ảnh, chọn {common} giây: thứ tự vẫn đúng, chỉ thời lượng "
        "khác đi.",
        "Vòng lặp không theo đồng hồ: ngoài khung giờ trên, màn hình vẫn phát vòng lặp này.",
        "Nội dung thay đổi thì xuất gói mới.", "",
    ]
    en += [
        "How to load it on an LED controller (asynchronous mode, playing from USB):",
        "1. Unzip. Every image is already at the panel's exact pixel size: do not scale, stretch or crop it.",
        "2. In the controller's software (NovaStar ViPlex, Huidu HDPlayer, ...), make a program of the "
        "screen's size,",
        "   add the images 001_, 002_, ... in file-name order, give each the duration in the \"seconds\" column "
        "of playlist.txt,",
        "   switch transitions off and set the program to loop.",
        "3. Export the program to the USB stick (or send it over the network) and plug the stick into the "
        "controller as its maker says.",
        "   Controllers that just play a stick's images in file-name order: copy the images to the stick's "
        "top folder (FAT32).",
        f"4. If only one duration can be set for every image, use {common} seconds: the order stays right, "
        "only the timing changes.",
        "The loop does not follow the clock: outside the hours above the screen keeps playing this loop too.",
        "When the content changes, export a new bundle.", "",
    ]
    head = f"{target} - Bluezone, {_dmy(folders[0].day)}"
    return _BOM + "\r\n".join([head, "", *vi, *en]) + "\r\n"
