"""Error responses: JSON for machine-facing paths, HTML pages for everything else."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

JSON_PREFIXES = ("/api/", "/healthz", "/metrics")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def error_response(status: int, message: str):
    """The contract's JSON error: {"error": reason phrase, "message": what was wrong}."""
    body = jsonify(error=HTTP_STATUS_CODES.get(status, "Unknown Error"), message=message)
    return body, status


def _handle_http(exc: HTTPException):
    if not wants_json():
        return exc
    return error_response(exc.code or 500, exc.description or "")


def _handle_unexpected(exc: Exception):
    # Unexpected failures are logged by Flask; callers get the reason phrase, not internals.
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    if not wants_json():
        return InternalServerError()
    return error_response(500, "the server failed to answer this request; it has been logged")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
