"""Schemathesis against the service's own OpenAPI schema, every route, a real server on loopback:
no 5xx, every status, header and body as the schema declares (`gazeserve.server.schemas`), for
valid requests (positive) and invalid ones (negative).

Driven through Hypothesis directly: schemathesis' lazy pytest loader (`from_fixture`) does not
run under pytest 9, and loading the schema at import would need the server before collection.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.hardening import ServerProcess

EXAMPLES_PER_ROUTE = 40
"""Per route and mode; about 1 s per route and mode on 2 cores."""
OPERATIONS = [
    ("POST", "/v1/gaze"),
    ("POST", "/v1/gaze/landmarks"),
    ("POST", "/v1/streams/{stream_id}/calibration"),
    ("GET", "/v1/streams/{stream_id}/calibration"),
    ("DELETE", "/v1/streams/{stream_id}/calibration"),
    ("GET", "/v1/streams/{stream_id}/summary"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/metrics.json"),
]


NO_INPUT = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/metrics.json")}
"""Routes without parameters or body: no invalid request to generate."""
SEMANTIC = [positive_data_acceptance]
"""Not run: a request valid by the schema may still be refused with a 4xx for what a schema
cannot say (the bytes must be an image; 468 or 478 landmarks, not 470; samples or an exported
calibration, not both)."""


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def test_every_route_is_covered(api_schema: schemathesis.BaseSchema) -> None:
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


CASES = [(method, path, mode) for method, path in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or (method, path) not in NO_INPUT]


@pytest.mark.parametrize(("method", "path", "mode"), CASES,
                         ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_route_answers_as_its_schema_says(api_schema: schemathesis.BaseSchema, method: str,
                                          path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def check(case: Case) -> None:
        case.call_and_validate(excluded_checks=SEMANTIC)

    check()
