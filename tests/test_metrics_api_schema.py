"""The metrics API answers exactly as its OpenAPI schema says: every field typed, nothing
missing or extra, numbers null where they are undefined (no answers, n < 2)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import time_machine
from django.test import Client

from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import published_survey, response_factory

Capture = Callable[..., AbstractContextManager[Any]]
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
COMPONENTS = {
    "scores": "MetricsScores",
    "trend": "MetricsTrend",
    "breakdown": "MetricsBreakdown",
}


def _strict(schema: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 -> JSON Schema: resolve references, ``nullable`` becomes a null
    alternative, and an object with properties allows no others (exact shape)."""
    if isinstance(schema, list):
        return [_strict(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _strict(components[schema["$ref"].rsplit("/", 1)[1]], components)
    out = {
        key: _strict(value, components)
        for key, value in schema.items()
        if key not in ("nullable", "readOnly", "example", "description")
    }
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
        out["required"] = sorted(out["properties"])
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture
def response_schemas(db: None) -> dict[str, Any]:
    schema = Client().get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    out = {}
    for path, name in COMPONENTS.items():
        operation = schema["paths"][f"/api/v1/metrics/{path}/"]["get"]
        documented = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert documented == {"$ref": f"#/components/schemas/{name}"}
        out[path] = _strict(documented, components)
    return out


def _get(tenant: Tenant, query: str) -> Any:
    with time_machine.travel(NOW, tick=False):
        response = Client().get(
            f"/api/v1/metrics/{query}", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}"
        )
    assert response.status_code == 200, response.content
    return response.json()


QUERIES = [
    ("scores", "scores/?start=2026-03-01&end=2026-03-31"),
    ("trend", "trend/?start=2026-03-01&end=2026-03-31&grain=week"),
    ("trend", "trend/?period=7d&grain=day"),
    ("breakdown", "breakdown/?period=30d&by=touchpoint"),
    ("breakdown", "breakdown/?period=30d&by=team"),
    ("breakdown", "breakdown/?period=30d&by=channel"),
]


@pytest.mark.parametrize(("kind", "query"), QUERIES)
def test_answers_without_data_match_the_schema(
    tenant_a: Tenant, response_schemas: dict[str, Any], kind: str, query: str
) -> None:
    body = _get(tenant_a, query)
    jsonschema.validate(body, response_schemas[kind])
    if kind == "scores":
        nps = body["scores"]["nps"]
        assert (nps["n"], nps["score"], nps["ci_low"]) == (0, None, None)
        assert body["changes"]["nps"]["difference"] is None
        assert body["scores"]["nps_histogram"] == {str(value): 0 for value in range(11)}


@pytest.mark.parametrize(("kind", "query"), QUERIES)
def test_answers_with_data_match_the_schema(
    tenant_a: Tenant,
    response_schemas: dict[str, Any],
    django_capture_on_commit_callbacks: Capture,
    kind: str,
    query: str,
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False):
            for score in (10, 9, 8, 3, 0):
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(version=version, answers={"recommend": score})
    body = _get(tenant_a, query)
    jsonschema.validate(body, response_schemas[kind])
    if kind == "scores":
        assert body["scores"]["nps"]["n"] == 5
        assert isinstance(body["scores"]["nps"]["ci_low"], float)
        assert body["scores"]["nps_histogram"]["10"] == 1
    if kind == "breakdown" and "touchpoint" in query:
        assert body["rows"][0]["key"] == version.survey.touchpoint_id
