"""Load shedding: when a worker's loop runs late, players are told to come back later instead of waiting.

A worker that gets more requests than it can answer (a province's screens all booting after a power cut, or a
machine too small) would otherwise queue them: every answer grows late, players time out and ask again, and
the server goes on working for clients that have given up, so it never catches up. Instead, while the worker's
event loop is late by more than SHED_LAG_S (server.worker.LoopWatch), a player request gets an immediate 503
with Retry-After: a few bytes, no database, no manifest. Players keep showing what they have and ask again
after that delay (the web player honours it), so the load falls and the worker is back to normal within one
poll period of the overload ending. Staff pages and health checks are never shed.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from pathlib import Path

from babel.support import Translations
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from renderer.errors import N_

PLAYER_PREFIX = "/api/v1/screens/"
LANGUAGES = ("en", "vi")  # English unless the client prefers Vietnamese, as the rest of the JSON API
BUSY = N_("the server is busy: try again in %(seconds)s seconds; what the screen shows now goes on playing")
TRANSLATIONS = Path(__file__).parent / "translations"


@functools.lru_cache(maxsize=64)
def language(accept: str) -> str:
    """The language of a shed answer for an Accept-Language header (players send the same one each time, so the
    answer is cached): Vietnamese when the client prefers it, English otherwise."""
    for value, _quality in parse_accept_header(accept, LanguageAccept):  # most preferred first
        primary = value.split("-", 1)[0].split("_", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


class Shedder:
    """WSGI middleware refusing player requests with 503 while lag() exceeds max_lag_s.

    Its answers are made once, for each delay and language (the contract's JSON error: error, message, code),
    so that turning a request away costs no more than choosing one."""

    def __init__(self, app: Callable, lag: Callable[[], float], max_lag_s: float, retry_after_s: int,
                 rng: random.Random | None = None) -> None:
        self.app, self.lag, self.max_lag_s, self.retry_after_s = app, lag, max_lag_s, retry_after_s
        self.rng = rng or random.Random()
        self.shed = 0  # requests refused so far (for /metrics)
        self.low = max(1, retry_after_s // 2)
        vietnamese = Translations.load(str(TRANSLATIONS), ["vi"])
        words = {"en": str(BUSY), "vi": vietnamese.gettext(str(BUSY))}
        self.answers = {(lang, retry): self._answer(lang, text % {"seconds": retry}, retry)
                        for lang, text in words.items() for retry in range(self.low, max(self.low, retry_after_s) + 1)}

    @staticmethod
    def _answer(lang: str, message: str, retry: int) -> tuple[list[tuple[str, str]], bytes]:
        body = json.dumps({"error": "Service Unavailable", "message": message, "code": "server.busy"},
                          ensure_ascii=False).encode()
        return [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("Retry-After", str(retry)), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                ("Content-Language", lang)], body

    def __call__(self, environ, start_response):
        if self.max_lag_s > 0 and environ.get("PATH_INFO", "").startswith(PLAYER_PREFIX) \
                and self.lag() > self.max_lag_s:
            self.shed += 1
            # Spread the retries, so the screens that were turned away do not all come back at one instant.
            retry = self.rng.randint(self.low, max(self.low, self.retry_after_s))
            headers, body = self.answers[language(environ.get("HTTP_ACCEPT_LANGUAGE", "")), retry]
            start_response("503 SERVICE UNAVAILABLE", headers)
            return [body]
        return self.app(environ, start_response)
