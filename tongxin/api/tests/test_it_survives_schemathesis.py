"""Property-based robustness: schemathesis generates requests from the OpenAPI document
for every operation, as worker_a; no answer may be a 5xx or break the document."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tongxin.demands.testing import ensure_categories
from tongxin.wsgi import application

MAX_EXAMPLES = 20


@pytest.fixture
def connection_kept():
    """The WSGI application closes database connections at the end of each request;
    in a test that would close the test's own transaction. Django's test client keeps
    it open the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_it_survives_generated_requests(api_world, settings, connection_kept, mode):
    settings.TONGXIN_API_RATE_KEY = 10**6
    settings.TONGXIN_API_RATE_ANONYMOUS = 10**6
    ensure_categories()
    headers = {"Authorization": f"Bearer {api_world.keys['worker_a']}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for operation in operations:

        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing to get wrong: an operation without parameters (GET /categories).
            assert mode == GenerationMode.NEGATIVE
