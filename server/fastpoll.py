"""The poll path, in front of Flask: a player asking for its manifest with a valid token is answered straight
from the manifest cache, as a 304 or the cached bytes, without building a Flask request.

Everything else, and every doubt (no token, a wrong one, a screen whose media are not ready, another method or
path), goes on to the Flask app, which gives the contract's answers and errors. Both use `manifest_answer`, so
the two ways can only differ in speed. `make bench-poll` measures the difference this makes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from werkzeug.http import parse_accept_header, parse_etags

from playlists.manifest import Built, ManifestCache
from playlists.rules import RuleError
from playlists.screens import token_matches

PREFIX = "/api/v1/screens/"
SUFFIX = "/manifest"


def manifest_answer(built: Built, accept_encoding: str, if_none_match: str, server_ms: int
                    ) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a manifest request: 304 when the player's tag is current, else 200.

    Two encodings of one content have their own strong tags, and either proves the player is current.
    """
    gzipped = parse_accept_header(accept_encoding)["gzip"] > 0 if accept_encoding else False
    etag = f"{built.etag}-gzip" if gzipped else built.etag
    headers = [("ETag", f'"{etag}"'), ("Cache-Control", "no-cache"), ("Vary", "Accept-Encoding"),
               # The Date header has whole seconds; players keep in step by this finer clock.
               ("X-Server-Time", str(server_ms)),
               # The same nosniff as every answer that goes through Flask (server/security.py), which this path skips.
               ("X-Content-Type-Options", "nosniff")]
    if if_none_match:
        tags = parse_etags(if_none_match)
        if tags.star_tag or tags.contains(built.etag) or tags.contains(f"{built.etag}-gzip"):
            return 304, headers, b""
    body = built.gzipped if gzipped else built.body
    headers.append(("Content-Type", "application/json"))
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return 200, headers, body


class PollFastPath:
    """WSGI middleware answering authorised manifest polls from the cache; the rest goes to `app.wsgi_app`."""

    def __init__(self, app: Flask) -> None:
        self.app, self.next = app, app.wsgi_app
        self.cache: ManifestCache = app.extensions["signage.manifests"]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(PREFIX) and path.endswith(SUFFIX):
            answer = self._answer(environ, path[len(PREFIX):-len(SUFFIX)])
            if answer is not None:
                status, headers, body = answer
                start_response("304 NOT MODIFIED" if status == 304 else "200 OK", headers)
                return [body]
        return self.next(environ, start_response)

    def _answer(self, environ, screen_id: str):
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if "/" in screen_id or scheme.lower() != "bearer" or not token.strip():
            return None
        network = self.cache.network(wait=False)
        screen = network.screens.get(screen_id)
        if screen is None or not token_matches(screen.token_hash, token.strip()):
            return None
        clock = self.app.config.get("CLOCK")
        try:
            built = self.cache.get(network, screen, clock() if clock else datetime.now(UTC), wait=False)
        except RuleError:
            return None
        server_ms = int((clock() if clock else datetime.now(UTC)).timestamp() * 1000)
        return manifest_answer(built, environ.get("HTTP_ACCEPT_ENCODING", ""), environ.get("HTTP_IF_NONE_MATCH", ""),
                               server_ms)
