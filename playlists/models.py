"""Database tables of the scheduling domain (SQLAlchemy 2; no SQLite-only features)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Time,
    event,
    false,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column, relationship


class Base(DeclarativeBase):
    pass


screen_groups = Table(
    "screen_groups",
    Base.metadata,
    Column("screen_id", ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # What people read, per language; "" means "use the identifier" (see Group.label).
    label_vi: Mapped[str] = mapped_column(String(200), default="", server_default="")
    label_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    screens: Mapped[list[Screen]] = relationship(secondary=screen_groups, back_populates="groups")

    def label(self, lang: str) -> str:
        """The display name in lang ("vi" or "en"), or the identifier when that language has none."""
        return (self.label_en if lang == "en" else self.label_vi) or self.name


class Site(Base):
    """A place with screens. Screens and users' scopes name it by name; renaming rewrites both (one transaction)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    district: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Screen(Base):
    __tablename__ = "screens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    site: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[str] = mapped_column(String(64))
    tz: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    # sha256 of the device token: tokens are long random strings, so a fast hash is enough
    # and keeps every poll cheap; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when staff retire the screen: its token no longer works and it leaves every active list;
    # its history (plays, audit) stays, and its id is not given out again.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    groups: Mapped[list[Group]] = relationship(secondary=screen_groups, back_populates="screens",
                                               order_by="Group.name")


class Media(Base):
    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    ext: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScreenStatus(Base):
    """The last heartbeat of a screen: what its player says about itself."""

    __tablename__ = "screen_status"

    screen_id: Mapped[str] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    player_version: Mapped[str] = mapped_column(String(64), default="")
    item: Mapped[str] = mapped_column(String(200), default="")
    status_json: Mapped[str] = mapped_column(Text, default="{}")


class Play(Base):
    """One proof-of-play record; the player's own record id makes a retried batch count once."""

    __tablename__ = "plays"

    screen_id: Mapped[str] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Counted into PlayHour already; only rolled records may be pruned.
    rolled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)


class PlayHour(Base):
    """Plays of one item on one screen within one hour (UTC): what is kept once raw records are pruned."""

    __tablename__ = "play_hours"

    screen_id: Mapped[str] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True)
    item: Mapped[str] = mapped_column(String(200), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    plays: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class Revision(Base):
    """One row counting committed changes to what screens show; a poll compares it to know its cache is fresh."""

    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Poster(Base):
    """A PosterSpec (as JSON) with a name; its images per profile are Renditions of "poster:<id>"."""

    __tablename__ = "posters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    spec_json: Mapped[str] = mapped_column(Text)
    # The Bluezone poster a screen shows when nothing is scheduled; exactly one poster carries it.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rendition(Base):
    """The media file showing one piece of content at one profile's exact size."""

    __tablename__ = "renditions"

    content: Mapped[str] = mapped_column(String(100), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"))
    report_json: Mapped[str] = mapped_column(Text, default="{}")
    media: Mapped[Media] = relationship(lazy="joined")


def _targets(kind: str) -> tuple[Table, Table]:
    """The screens and groups a rule of this kind applies to (besides its `everywhere` flag)."""
    screens = Table(
        f"{kind}_screens", Base.metadata,
        Column(f"{kind}_id", ForeignKey(f"{kind}s.id", ondelete="CASCADE"), primary_key=True),
        Column("screen_id", ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
    )
    groups = Table(
        f"{kind}_groups", Base.metadata,
        Column(f"{kind}_id", ForeignKey(f"{kind}s.id", ondelete="CASCADE"), primary_key=True),
        Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    )
    return screens, groups


schedule_screens, schedule_groups = _targets("schedule")
reminder_screens, reminder_groups = _targets("reminder")
override_screens, override_groups = _targets("override")


class PlaylistRow(Base):
    """Ordered items played in a loop."""

    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    items: Mapped[list[PlaylistItem]] = relationship(order_by="PlaylistItem.position", cascade="all, delete-orphan")


class PlaylistItem(Base):
    __tablename__ = "playlist_items"
    __table_args__ = (CheckConstraint("duration_s > 0", name="ck_playlist_items_duration"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(String(100))
    duration_s: Mapped[int] = mapped_column(Integer)


class ScheduleRow(Base):
    """A playlist on some dates, weekdays and a daily window, at a priority, for its targets."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    weekdays: Mapped[str] = mapped_column(String(7), default="0123456")
    start_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    end_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    everywhere: Mapped[bool] = mapped_column(Boolean, default=False)
    playlist: Mapped[PlaylistRow] = relationship()
    screens: Mapped[list[Screen]] = relationship(secondary=schedule_screens)
    groups: Mapped[list[Group]] = relationship(secondary=schedule_groups)


class ReminderRow(Base):
    """Content shown every every_min minutes for duration_s seconds, over the schedules of its targets."""

    __tablename__ = "reminders"
    __table_args__ = (CheckConstraint("duration_s > 0", name="ck_reminders_duration"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(String(100))
    duration_s: Mapped[int] = mapped_column(Integer)
    every_min: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    end_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    everywhere: Mapped[bool] = mapped_column(Boolean, default=False)
    screens: Mapped[list[Screen]] = relationship(secondary=reminder_screens)
    groups: Mapped[list[Group]] = relationship(secondary=reminder_groups)


class OverrideRow(Base):
    """An emergency takeover: content held on its targets from start to end, above everything."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(String(100))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    everywhere: Mapped[bool] = mapped_column(Boolean, default=False)
    screens: Mapped[list[Screen]] = relationship(secondary=override_screens)
    groups: Mapped[list[Group]] = relationship(secondary=override_groups)


class Pairing(Base):
    """A player asking to be given a screen: it shows the code, staff approve it, the player claims its token."""

    __tablename__ = "pairings"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    # sha256 of a secret only the asking browser knows, so nobody else can collect the token.
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    screen_id: Mapped[str | None] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Keyed hash of the asking client's address (never the address): caps the codes one client holds open.
    client: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)



user_groups = Table(
    "user_groups",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person using the console: admin (users and everything), staff (content), operator (preview only)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'staff', 'operator')", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Operators see only these sites (Screen.site, comma-free names, one per line) and groups.
    sites: Mapped[str] = mapped_column(Text, default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when an admin gave them a password (a new account's, a reset's): they choose their own at next login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    groups: Mapped[list[Group]] = relationship(secondary=user_groups, order_by="Group.name")


class ApiToken(Base):
    """A token a staff member's scripts use instead of a session; only its sha256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Written at most once a minute (see playlists.users.user_for_api_token), so a busy script costs no writes.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship(lazy="joined")


class AuditEntry(Base):
    """One change: who, what, when, and the record before and after (JSON)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    before_json: Mapped[str] = mapped_column(Text, default="null")
    after_json: Mapped[str] = mapped_column(Text, default="null")


class UserSession(Base):
    """A console login. The cookie carries a random id and only its sha256 is kept; it ends at logout, when the
    user is disabled or changes password, when an admin signs them out, or after its idle or absolute lifetime."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Failed logins of one (address, user name) pair (scope "pair") or of one address across names (scope
    "addr", username ""): the next attempt may start at next_at. One row per key, counted by compare-and-set."""

    __tablename__ = "login_throttle"
    __table_args__ = (CheckConstraint("scope IN ('pair', 'addr')", name="ck_login_throttle_scope"),)

    scope: Mapped[str] = mapped_column(String(4), primary_key=True)
    remote: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

# Rows whose changes do not alter what any screen shows.
_NOT_CONTENT = (ScreenStatus, Play, PlayHour, Revision, Pairing, User, ApiToken, AuditEntry, UserSession,
               LoginThrottle)


@event.listens_for(Session, "after_flush")
def _bump_revision(session: Session, _context) -> None:
    """Count a change to what screens show once per transaction, in that transaction, whoever made it."""
    if session.info.get("revision_bumped"):
        return
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(not isinstance(obj, _NOT_CONTENT) for obj in touched):
        session.execute(update(Revision).where(Revision.id == 1).values(value=Revision.value + 1))
        session.info["revision_bumped"] = True


@event.listens_for(Session, "after_transaction_end")
def _reset_bump(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop("revision_bumped", None)


class ScreenPresence(Base):
    """Whether a screen was last observed up or down, so each change is recorded once as a ScreenEvent."""

    __tablename__ = "screen_presence"

    screen_id: Mapped[str] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True)
    up: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScreenEvent(Base):
    """A screen going offline ("offline") or coming back ("online"): when it happened and when it was noticed."""

    __tablename__ = "screen_events"
    __table_args__ = (CheckConstraint("kind IN ('offline', 'online')", name="ck_screen_events_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    screen_id: Mapped[str] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScanCode(Base):
    """A short code behind <public base URL>/go/<code>: one poster, and one screen or none (the poster's own)."""

    __tablename__ = "scan_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    poster_id: Mapped[int] = mapped_column(ForeignKey("posters.id", ondelete="CASCADE"), index=True)
    screen_id: Mapped[str | None] = mapped_column(ForeignKey("screens.id", ondelete="CASCADE"), nullable=True)
    # The poster's own URL before it opted in: where desktop browsers go, and what opting out restores.
    website_url: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScanCount(Base):
    """How many scans one code had on one day from one kind of phone; nothing about who scanned."""

    __tablename__ = "scan_counts"
    __table_args__ = (CheckConstraint("platform IN ('ios', 'android', 'web')", name="ck_scan_counts_platform"),)

    code: Mapped[str] = mapped_column(ForeignKey("scan_codes.code", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# Monitoring and scan counting never change what a screen shows.
_NOT_CONTENT = (*_NOT_CONTENT, ScreenPresence, ScreenEvent, ScanCode, ScanCount)


# --- issue 13: believable proof of play and limits on anonymous endpoints --------------------------------------

class PlayRefusal(Base):
    """How many proof-of-play records were refused for one reason, over all workers (for /metrics)."""

    __tablename__ = "play_refusals"

    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class AnonThrottle(Base):
    """Failures of one kind (e.g. "claim": a pairing claim with a wrong code or secret) from one client, counted
    in a window that starts at the first failure. client is a keyed hash of the address, never the address."""

    __tablename__ = "anon_throttle"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    count: Mapped[int] = mapped_column(Integer)


class ScanSeen(Base):
    """When a client (keyed hash of address and user agent) last had a scan of a code counted; kept for the
    de-duplication window only."""

    __tablename__ = "scan_seen"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ManifestBuild(Base):
    """A built manifest, shared by every worker and host: named by the digest of what its bytes depend on
    (playlists.manifest.manifest_key), so it never changes once written. Pruned after its window has passed."""

    __tablename__ = "manifest_builds"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    etag: Mapped[str] = mapped_column(String(32))
    gzipped: Mapped[bytes] = mapped_column(LargeBinary)


_NOT_CONTENT = (*_NOT_CONTENT, PlayRefusal, AnonThrottle, ScanSeen, ManifestBuild)
# A site's record is its name and district for people; what screens show never depends on it.
_NOT_CONTENT = (*_NOT_CONTENT, Site)
