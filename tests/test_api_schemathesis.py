"""The API answers as its OpenAPI schema says, for generated input (schemathesis).

The schema is loaded from the app itself (``/api/v1/schema/`` over WSGI, in process), so
every operation a route module adds is tested without being listed here. The requests
run with an API key of an organization that has data: contacts, a published survey with
invitations and responses, a case and a webhook endpoint; the object ids in paths are
those objects' ids (and a missing one, for the 404s), so happy paths and errors are both
checked against the schema.

Checks per answer: no 5xx, a documented status code, a documented content type, a body
and headers that match the documented schema. Hypothesis runs bounded and
derandomized, so a failure reproduces.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_support import seed_api_objects
from tests.conftest import Tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 12  # per operation; with the coverage phase ~4-8 s per operation


# The live schema, served by the app in process at collection time (the schema view is
# public and reads no table; the session's test settings are not applied yet, hence
# plain HTTP here).
with override_settings(SECURE_SSL_REDIRECT=False):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json",
        WSGIHandler(),
        config=schemathesis.Config.from_dict(
            {
                "seed": 1,
                "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
                "phases": {"stateful": {"enabled": False}},
            }
        ),
    )


@dataclass
class Seeded:
    key: str
    ids: dict[str, Any]


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """The WSGI handler sends request_started/finished, whose close_old_connections
    would close the connection of the test's open transaction (on PostgreSQL). Django's
    test client disconnects them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(tenant_a: Tenant, settings: Any, keep_connection: None) -> Seeded:
    settings.API_RATE_LIMIT = "1000000/min"  # generated traffic, not a throttle test
    return Seeded(tenant_a.raw_key, seed_api_objects(tenant_a))


def _use_seeded_ids(case: Any, ids: dict[str, Any]) -> None:
    """Most requests name the seeded objects (happy paths); about one in five keeps the
    generated id (mostly a missing object: the 404 answer is checked too)."""
    for name, value in (case.path_parameters or {}).items():
        assert name in ids, f"give seed_api_objects() an object for the path parameter {name!r}"
        if zlib.crc32(repr(value).encode()) % 5:
            case.path_parameters[name] = ids[name]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any, seeded: Seeded) -> None:
    _use_seeded_ids(case, seeded.ids)
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {seeded.key}"})
