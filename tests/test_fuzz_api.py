"""Property-based fuzzing of every operation of the OpenAPI document (schemathesis, in process through WSGI).

Schemathesis reads /api/v1/openapi.json and throws generated input at each operation: bodies, path parameters
and headers that fit the schemas (positive) and that break them (negative: wrong types, out of range, missing
or extra fields). Staff calls carry an admin's API token and player calls the device token of a seeded screen,
so the generated input reaches validation and the domain rather than stopping at 401. No answer may be a 5xx,
each must be one the document lists, of the declared media type, with a body that fits its schema, and input
the document calls invalid must be refused.

Bounded for CI: a few dozen examples per operation, derandomised (the same inputs every run).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from playlists import content
from playlists.db import upgrade
from playlists.screens import add_screen
from playlists.users import add_user, create_api_token
from server import create_app
from server.db import get_engine, get_session, get_store

NOW = datetime(2026, 11, 27, 1, 20, tzinfo=UTC)
SCREEN = "bx-bac-1"
EXAMPLES = 25  # per operation: enough to reach every field's refusals, small enough for CI
# No 5xx; only documented statuses and media types; answers that fit their schemas; and input the document
# calls invalid is refused (4xx), so the document is no looser than the server.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture
def fuzz_app(instance):
    """An app with a screen showing a scheduled poster, an admin with an API token, and a playlist."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "REVISION_CHECK_S": 0, "CLOCK": lambda: NOW,
                      "UPLOAD_MAX_BYTES": 100_000})
    with app.app_context():
        upgrade(get_engine())
        session = get_session()
        device = add_screen(session, SCREEN, "led-p10", NOW, groups=["stations"])
        add_user(session, "an", "admin", NOW, password="correct horse battery")
        admin = create_api_token(session, "an", "fuzz", NOW)
        poster = content.add_poster(session, {"headline": "Cài Bluezone"}, NOW, name="Bluezone")
        playlist = content.add_playlist(session, "stations", [(f"poster:{poster.id}", 15)])
        content.add_schedule(session, playlist.id, groups=["stations"])
        content.sync_renditions(session, get_store(), NOW)
        session.commit()
    app.credentials = {"staff": {"Authorization": f"Bearer {admin}"},
                       "device": {"Authorization": f"Bearer {device}"}}
    return app


def _strategy(app, operation):
    """Positive and negative cases of one operation, with the credentials its security scheme asks for."""
    security = operation.definition.raw.get("security") or []
    names = {name for requirement in security for name in requirement}
    fixed: dict = {}
    if "deviceToken" in names:
        # The seeded screen, so that a call gets past its token to the body and the schedule.
        fixed = {"headers": app.credentials["device"], "path_parameters": {"screen_id": SCREEN}}
    elif "apiToken" in names:
        fixed = {"headers": app.credentials["staff"]}
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE, **fixed),
                     operation.as_strategy(GenerationMode.NEGATIVE, **fixed))


def _fuzz(app, operation, examples: int) -> None:
    @given(case=_strategy(app, operation))
    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case):
        response = case.call(headers={"Accept-Encoding": "identity"})  # the WSGI client does not gunzip
        case.validate_response(response, checks=CHECKS)

    run()


def _closing(app):
    """The app, with each answer read whole and closed: schemathesis's WSGI client reads an answer but never
    closes it, which would leave the files of media answers open (a ResourceWarning, an error here)."""

    def wsgi(environ, start_response):
        result = app(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            if hasattr(result, "close"):
                result.close()

    return wsgi


def test_no_generated_input_gets_a_server_error(fuzz_app, subtests):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _closing(fuzz_app))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30  # every route of the document, players' and pairing included
    for operation in operations:
        # Rendering previews at print sizes is slow; a few cases show it refuses bad input like the others.
        examples = 5 if operation.path == "/api/v1/posters/preview" else EXAMPLES
        with subtests.test(msg=f"{operation.method.upper()} {operation.path}"):
            _fuzz(fuzz_app, operation, examples)
