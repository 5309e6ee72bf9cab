"""The metrics API: the dashboard's aggregates for a CRM, with scopes and isolation."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from metrics.models import SegmentAttribute
from tenants.context import tenant_context
from tenants.services import SYSTEM, api_key_create
from tests.conftest import Tenant
from tests.factories import ContactFactory, published_survey, response_factory

Capture = Callable[..., AbstractContextManager[Any]]
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SCORES = [10, 9, 9, 8, 3, 0]  # 3 promoters, 1 passive, 2 detractors: NPS 16.7


@pytest.fixture
def seeded(tenant_a: Tenant, django_capture_on_commit_callbacks: Capture) -> dict[str, Any]:
    with tenant_context(tenant_a.organization):
        SegmentAttribute.objects.create(key="tier")
        version = published_survey()
        gold: Any = ContactFactory(attributes={"tier": "gold"})
        with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False):
            for index, score in enumerate(SCORES):
                with django_capture_on_commit_callbacks(execute=True):
                    response_factory(
                        version=version,
                        answers={"recommend": score},
                        contact=gold if index < 2 else None,
                        channel="email" if index % 2 else "link",
                    )
        return {"touchpoint": version.survey.touchpoint_id, "survey": version.survey_id}


def get(tenant: Tenant, path: str, key: str | None = None) -> Any:
    with time_machine.travel(NOW, tick=False):
        return Client().get(
            f"/api/v1/metrics/{path}", HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}"
        )


def test_scores_of_a_period_with_interval_and_change(tenant_a: Tenant, seeded: Any) -> None:
    response = get(tenant_a, "scores/?start=2026-03-01&end=2026-03-31")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {
        "start": "2026-03-01",
        "end": "2026-03-31",
        "timezone": "Europe/Berlin",
    }
    assert body["previous_period"]["end"] == "2026-02-28"
    nps = body["scores"]["nps"]
    assert (nps["promoters"], nps["passives"], nps["detractors"]) == (3, 1, 2)
    assert nps["score"] == pytest.approx(100 * (3 - 2) / 6)
    assert nps["ci_low"] < nps["score"] < nps["ci_high"]
    assert nps["small_sample"] is True
    assert body["previous"]["responses"] == 0
    assert body["changes"]["nps"]["significant"] is False


def test_presets_filters_trend_and_breakdowns(tenant_a: Tenant, seeded: Any) -> None:
    # "30d" ends on 20 March (local): the responses of 10 March are inside.
    assert get(tenant_a, "scores/?period=30d").json()["scores"]["responses"] == 6
    email = get(tenant_a, "scores/?period=30d&channel=email").json()
    assert email["scores"]["responses"] == 3
    trend = get(tenant_a, "trend/?start=2026-03-01&end=2026-03-31&grain=week").json()
    assert [p["start"] for p in trend["points"]][:2] == ["2026-03-01", "2026-03-02"]
    assert sum(p["scores"]["responses"] for p in trend["points"]) == 6
    by_tier = get(tenant_a, "breakdown/?period=30d&by=segment&segment=tier").json()
    assert {row["key"]: row["scores"]["responses"] for row in by_tier["rows"]} == {
        "gold": 2,
        "": 4,
    }
    by_touchpoint = get(tenant_a, "breakdown/?period=30d&by=touchpoint").json()
    assert [row["key"] for row in by_touchpoint["rows"]] == [seeded["touchpoint"]]
    assert by_touchpoint["rows"][0]["label"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("scores/?period=forever", "period"),
        ("scores/?start=2026-03-31&end=2026-03-01", "end"),
        ("scores/?start=yesterday", "start"),
        ("scores/?journey=999999", "journey"),
        ("scores/?segment=nope", "segment"),
        ("scores/?value=gold", "value"),
        ("breakdown/?by=planet", "by"),
        ("breakdown/?by=segment", "segment"),
        ("trend/?grain=decade", "grain"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_field(
    tenant_a: Tenant, seeded: Any, query: str, field: str
) -> None:
    response = get(tenant_a, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_another_organizations_ids_are_unknown_and_its_data_invisible(
    tenant_a: Tenant, tenant_b: Tenant, seeded: Any
) -> None:
    # B's key: A's touchpoint does not exist for it, and B has no responses.
    response = get(tenant_b, f"scores/?touchpoint={seeded['touchpoint']}")
    assert response.status_code == 400
    assert "touchpoint" in response.json()["errors"]
    assert get(tenant_b, "scores/?period=30d").json()["scores"]["responses"] == 0
    assert get(tenant_b, "breakdown/?period=30d&by=touchpoint").json()["rows"] == []


def test_a_key_without_metrics_read_gets_403(tenant_a: Tenant, seeded: Any) -> None:
    with tenant_context(tenant_a.organization):
        _key, raw = api_key_create(actor=SYSTEM, name="No metrics", scopes=["organization:read"])
    for path in ("scores/", "trend/", "breakdown/?by=channel"):
        assert get(tenant_a, path, key=raw).status_code == 403


def test_schema_documents_the_metrics_endpoints(db: None) -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()
    for path in ("scores", "trend", "breakdown"):
        operation = schema["paths"][f"/api/v1/metrics/{path}/"]["get"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"period", "start", "end", "touchpoint", "segment"} <= names
