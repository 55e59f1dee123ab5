"""Property-based run over the OpenAPI schema (schemathesis): whatever it sends, no 5xx, and
every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi as st_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from parallizer.config import Settings
from parallizer.service import create_app

from ..conftest import write
from ..hermetic import scrub
from .kit import Echo, Grep, Sleepy, app_with, settings_for

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The schema is the app's own OpenAPI document (building an app runs nothing); the requests
# go to the app of the fixture below, whose lifespan schemathesis starts on first use. Built
# at collection, before any fixture: scrubbed here (an API token in the environment would
# change the document).
with pytest.MonkeyPatch.context() as _mp:
    scrub(_mp)
    schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory):
    root = Path(tmp_path_factory.mktemp("schema"))
    write(root, "repo/src/a.py", "class RetryPolicy:\n    pass\n")
    app = app_with(
        settings_for(root, max_document_bytes=64 * 1024), Echo(), Grep(), Sleepy(delay=0.01)
    )
    yield app
    st_asgi.shutdown_lifespans()  # the app's shutdown: runs cancelled, runtime closed


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_documented_answers(case, live_app):
    case.call_and_validate(checks=CHECKS, app=live_app)
