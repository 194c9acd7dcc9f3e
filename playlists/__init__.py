"""The scheduling domain: schedule rules for one screen and the resolver that says what it shows at any instant."""

from .resolver import MAX_RANGE, ResolveError, Segment, now, resolve
from .rules import (
    ALL_WEEKDAYS,
    DEFAULT_TZ,
    MAX_EVERY_MIN,
    Item,
    Override,
    Playlist,
    Reminder,
    RuleError,
    Schedule,
    ScreenRules,
)

__all__ = [
    "ALL_WEEKDAYS", "DEFAULT_TZ", "MAX_EVERY_MIN", "MAX_RANGE", "Item", "Override", "Playlist", "Reminder",
    "ResolveError", "RuleError", "Schedule", "ScreenRules", "Segment", "now", "resolve",
]
