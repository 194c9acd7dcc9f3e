"""Security headers on every answer, and owner-only modes for the instance's secret files.

One place for the browser-facing policy: a Content-Security-Policy that runs only this server's script files
(no inline script, no eval) and lets no other site frame a page, `nosniff`, a Referrer-Policy, `no-store` on
pages (they are personal, some show a secret or a login form) and on JSON answers that carry a secret, and HSTS
when the request came over HTTPS. A view that sets one of these headers itself keeps its own (the web player
has its own CSP so that kiosks may frame it).
"""

from __future__ import annotations

import os
import stat

from flask import Flask, Response, current_app, request

# Only this server's script files run; styles come from its files too, except `style="..."` attributes, which
# the preview uses for timeline positions and screen sizes (an attribute cannot run script). Composer previews
# are data: images.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
REFERRER_POLICY = "same-origin"
# JSON answers that carry a secret (a device token shown once); HTML pages all get no-store anyway.
SECRET_ENDPOINTS = frozenset({"api.create_screen", "pairing.claim"})

# Files of the instance folder that hold secrets or what protects them.
SECRET_FILES = ("config.py", "secret_key", "signage.db", "signage.db-wal", "signage.db-shm",
                "first-start-secrets.txt")


def init_app(app: Flask) -> None:
    """Add the headers to every answer."""
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = CSP
        # For browsers older than CSP's frame-ancestors; pages with their own CSP decide on framing themselves.
        headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint in SECRET_ENDPOINTS or ("Cache-Control" not in headers and response.mimetype == "text/html"):
        headers["Cache-Control"] = "no-store"
    max_age = int(current_app.config.get("HSTS_MAX_AGE") or 0)
    if request.is_secure and max_age > 0:
        # Only over HTTPS: a browser ignores it over HTTP, and a plain-HTTP test server must stay reachable.
        headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response


def readable_by_others(path: str) -> bool:
    """True when path exists and its group or others may read or write it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def warn_readable_secrets(app: Flask) -> list[str]:
    """Log a warning for each secret file of the instance (and the folder itself) that others can open.

    Returns those paths. Files this server creates are owner-only; this catches ones made by hand (config.py)
    or by an older version. `signage serve` calls it at start."""
    folder = app.instance_path
    exposed = [os.path.join(folder, name) for name in SECRET_FILES
               if readable_by_others(os.path.join(folder, name))]
    if readable_by_others(folder):
        exposed.insert(0, folder)
    for path in exposed:
        app.logger.warning("%s can be read by other users of this machine: chmod go= %s", path, path)
    return exposed


def create_private(path: str | os.PathLike) -> None:
    """Create path as an empty owner-only (0600) file if it does not exist yet; an existing file is left alone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
