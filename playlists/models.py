"""Database tables of the scheduling domain (SQLAlchemy 2; no SQLite-only features)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    screens: Mapped[list[Screen]] = relationship(secondary=screen_groups, back_populates="groups")


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
