"""The read-only API of journeys, touchpoints and surveys (scope ``surveys:read``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from surveys.models import Journey, Survey, SurveyVersion, Touchpoint
from surveys.services.lifecycle import survey_archive, survey_draft_create, survey_publish
from tenants.context import tenant_context
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import (
    JourneyFactory,
    TeamFactory,
    TouchpointFactory,
    api_key_with_secret,
    published_survey,
    survey_with_draft,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
T0_TEXT = "2026-03-02T09:30:00Z"


def get(tenant: Tenant, path: str, key: str | None = None, **params: Any) -> Any:
    return Client().get(
        f"/api/v1/{path}", params, HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}"
    )


def data_queries(tenant: Tenant, url: str) -> int:
    """The queries of a GET beyond those of every API request (the key, its last use,
    and on PostgreSQL the row-level security settings and savepoints): measured against
    ``/api/v1/organization/``, which reads nothing else."""

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as context:
            response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
            assert response.status_code == 200
        return len(context.captured_queries)

    count("/api/v1/organization/")  # the key's last use is written at most once a minute
    baseline = count("/api/v1/organization/")
    return count(url) - baseline


@pytest.fixture
def model(tenant_a: Tenant) -> dict[str, Any]:
    """Purchase journey: checkout (published NPS survey with an open link, a team) and
    delivery (a draft CSAT survey); a second journey with one touchpoint."""
    with tenant_context(tenant_a.organization), time_machine.travel(T0, tick=False):
        team: Any = TeamFactory(name="Shop")
        purchase: Any = JourneyFactory(name="Purchase", description="From cart to parcel")
        checkout: Any = TouchpointFactory(
            journey=purchase,
            name="Checkout",
            process="online_shop",
            process_detail="Shopware",
            team=team,
            weight=Decimal("2.50"),
        )
        delivery: Any = TouchpointFactory(journey=purchase, name="Delivery")
        support: Any = JourneyFactory(name="Support")
        hotline: Any = TouchpointFactory(journey=support, name="Hotline", process="call_centre")
        version = published_survey(touchpoint=checkout, open_link_enabled=True)
        draft = survey_with_draft("purchase-csat", touchpoint=delivery, name="Delivery CSAT")
    return {
        "team": team,
        "purchase": purchase,
        "checkout": checkout,
        "delivery": delivery,
        "support": support,
        "hotline": hotline,
        "version": version,
        "survey": version.survey,
        "draft": draft,
    }


def touchpoint_json(tp: Touchpoint, **overrides: Any) -> dict[str, Any]:
    return {
        "id": tp.pk,
        "journey": tp.journey_id,
        "position": tp.position,
        "name": tp.name,
        "description": "",
        "process": tp.process,
        "process_detail": tp.process_detail,
        "team": tp.team_id,
        "weight": float(tp.weight),
        "surveys": [],
        "created_at": T0_TEXT,
        "updated_at": T0_TEXT,
        **overrides,
    }


# --- Journeys ------------------------------------------------------------------------------


def test_journey_detail_has_its_touchpoints_in_order(
    tenant_a: Tenant, model: dict[str, Any]
) -> None:
    purchase = model["purchase"]
    response = get(tenant_a, f"journeys/{purchase.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": purchase.pk,
        "name": "Purchase",
        "description": "From cart to parcel",
        "touchpoints": [
            touchpoint_json(
                model["checkout"],
                process="online_shop",
                process_detail="Shopware",
                team=model["team"].pk,
                weight=2.5,
                surveys=[model["survey"].pk],
            ),
            touchpoint_json(model["delivery"], surveys=[model["draft"].pk]),
        ],
        "created_at": T0_TEXT,
        "updated_at": T0_TEXT,
    }


def test_journey_list_pages_with_a_cursor(tenant_a: Tenant, model: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        for n in range(3):
            JourneyFactory(name=f"Extra {n}")
        expected = list(Journey.objects.order_by("-id").values_list("id", flat=True))
    first = get(tenant_a, "journeys/", limit=3)
    assert first.status_code == 200
    page = first.json()
    assert page["previous"] is None
    seen = [j["id"] for j in page["results"]]
    second = Client().get(page["next"], HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}").json()
    seen += [j["id"] for j in second["results"]]
    assert second["next"] is None
    assert seen == expected  # 5 journeys, no duplicates, none missing
    support = next(j for j in second["results"] if j["name"] == "Support")
    assert [tp["name"] for tp in support["touchpoints"]] == ["Hotline"]


def test_journey_queries_do_not_grow_with_rows(tenant_a: Tenant, model: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        for n in range(10):
            journey: Any = JourneyFactory(name=f"Bulk {n}")
            for _ in range(3):
                survey_with_draft(touchpoint=TouchpointFactory(journey=journey), name=f"S{n}")
    assert len(get(tenant_a, "journeys/").json()["results"]) == 12
    # Journeys, their touchpoints, the touchpoints' surveys.
    assert data_queries(tenant_a, "/api/v1/journeys/") == 3
    assert data_queries(tenant_a, f"/api/v1/journeys/{model['purchase'].pk}/") == 3


# --- Touchpoints ---------------------------------------------------------------------------


def test_touchpoint_detail(tenant_a: Tenant, model: dict[str, Any]) -> None:
    hotline = model["hotline"]
    response = get(tenant_a, f"touchpoints/{hotline.pk}/")
    assert response.status_code == 200
    assert response.json() == touchpoint_json(hotline, process="call_centre")


def test_touchpoints_filter_by_journey(tenant_a: Tenant, model: dict[str, Any]) -> None:
    all_ids = [tp["id"] for tp in get(tenant_a, "touchpoints/").json()["results"]]
    assert all_ids == sorted(
        [model["checkout"].pk, model["delivery"].pk, model["hotline"].pk], reverse=True
    )
    filtered = get(tenant_a, "touchpoints/", journey=model["purchase"].pk).json()["results"]
    assert {tp["id"] for tp in filtered} == {model["checkout"].pk, model["delivery"].pk}
    assert get(tenant_a, "touchpoints/", journey=999_999).json()["results"] == []


def test_touchpoint_queries_are_bounded(tenant_a: Tenant, model: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        for _ in range(10):
            survey_with_draft(touchpoint=TouchpointFactory(journey=model["support"]))
    assert len(get(tenant_a, "touchpoints/").json()["results"]) == 13
    assert data_queries(tenant_a, "/api/v1/touchpoints/") == 2  # touchpoints, surveys
    assert data_queries(tenant_a, f"/api/v1/touchpoints/{model['hotline'].pk}/") == 2


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("touchpoints/", {"journey": "abc"}, "journey"),
        ("touchpoints/", {"journey": "0"}, "journey"),
        ("surveys/", {"status": "deleted"}, "status"),
        ("surveys/", {"touchpoint": "x"}, "touchpoint"),
        ("surveys/", {"journey": str(2**64)}, "journey"),
        ("journeys/", {"limit": "5", "cursor": "garbage"}, None),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(
    tenant_a: Tenant, model: dict[str, Any], path: str, params: dict[str, str], field: str | None
) -> None:
    response = get(tenant_a, path, **params)
    if field is None:  # a cursor that is no cursor: DRF's 404 "Invalid cursor"
        assert response.status_code == 404
        return
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == [field]


# --- Surveys -------------------------------------------------------------------------------


def test_survey_detail_has_the_current_version_with_questions_and_open_link(
    tenant_a: Tenant, model: dict[str, Any], settings: Any
) -> None:
    settings.SITE_URL = "https://feedback.example.com"
    survey: Survey = model["survey"]
    response = get(tenant_a, f"surveys/{survey.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": survey.pk,
        "name": "Relationship NPS",
        "status": "active",
        "touchpoint": model["checkout"].pk,
        "journey": model["purchase"].pk,
        "default_language": "en",
        "current_version": 1,
        "open_link_url": f"https://feedback.example.com/l/{survey.public_id}/",
        "widget_enabled": False,
        "created_at": T0_TEXT,
        "updated_at": T0_TEXT,
        "archived_at": None,
        "version": {
            "number": 1,
            "published_at": T0_TEXT,
            "languages": ["en", "de"],
            "default_language": "en",
            "questions": [
                {
                    "id": "recommend",
                    "type": "nps",
                    "required": True,
                    "text": {
                        "en": "How likely are you to recommend us to a friend or colleague?",
                        "de": "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder "
                        "Kollegen weiterempfehlen?",
                    },
                    "scale": {"min": 0, "max": 10},
                    "scale_labels": {
                        "low": {"en": "Not at all likely", "de": "Überhaupt nicht wahrscheinlich"},
                        "high": {"en": "Extremely likely", "de": "Äußerst wahrscheinlich"},
                    },
                    "options": None,
                    "multiple": False,
                    "max_length": None,
                    "follow_up_for": None,
                    "texts_by_group": None,
                },
                {
                    "id": "recommend-reason",
                    "type": "text",
                    "required": False,
                    "text": {
                        "en": "What is the main reason for your score?",
                        "de": "Was ist der wichtigste Grund für Ihre Bewertung?",
                    },
                    "scale": None,
                    "scale_labels": None,
                    "options": None,
                    "multiple": False,
                    "max_length": 2000,
                    "follow_up_for": "recommend",
                    "texts_by_group": {
                        "detractor": {
                            "en": "What should we improve?",
                            "de": "Was sollten wir verbessern?",
                        },
                        "passive": {
                            "en": "What would it take for you to rate us higher?",
                            "de": "Was müssten wir tun, damit Sie uns besser bewerten?",
                        },
                        "promoter": {
                            "en": "What did you like most?",
                            "de": "Was hat Ihnen am besten gefallen?",
                        },
                    },
                },
                {
                    "id": "value-for-money",
                    "type": "csat",
                    "required": False,
                    "text": {
                        "en": "How satisfied are you with the value for money?",
                        "de": "Wie zufrieden sind Sie mit dem Preis-Leistungs-Verhältnis?",
                    },
                    "scale": {"min": 1, "max": 5},
                    "scale_labels": {
                        "low": {"en": "Very dissatisfied", "de": "Sehr unzufrieden"},
                        "high": {"en": "Very satisfied", "de": "Sehr zufrieden"},
                    },
                    "options": None,
                    "multiple": False,
                    "max_length": None,
                    "follow_up_for": None,
                    "texts_by_group": None,
                },
            ],
        },
    }


def test_choice_questions_list_their_options(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey("purchase-csat")
    body = get(tenant_a, f"surveys/{version.survey_id}/").json()
    topic = body["version"]["questions"][1]
    assert topic["id"] == "purchase-topic"
    assert topic["type"] == "single_choice"
    assert topic["multiple"] is False
    assert topic["scale"] is None
    assert topic["options"][0] == {
        "id": "product",
        "label": {"en": "The product", "de": "Das Produkt"},
    }
    assert [o["id"] for o in topic["options"]] == [
        "product",
        "price",
        "ordering",
        "delivery",
        "service",
    ]
    assert body["open_link_url"] is None


def test_a_draft_survey_has_no_version_yet(tenant_a: Tenant, model: dict[str, Any]) -> None:
    body = get(tenant_a, f"surveys/{model['draft'].pk}/").json()
    assert body["status"] == "draft"
    assert body["current_version"] is None
    assert body["version"] is None


def test_a_new_version_becomes_the_current_one(tenant_a: Tenant, model: dict[str, Any]) -> None:
    survey = model["survey"]
    with tenant_context(tenant_a.organization):
        survey_draft_create(actor=SYSTEM, survey=survey)
        survey_publish(actor=SYSTEM, survey=survey)
        assert SurveyVersion.objects.filter(survey=survey).count() == 2
    body = get(tenant_a, f"surveys/{survey.pk}/").json()
    assert body["current_version"] == 2
    assert body["version"]["number"] == 2
    listed = get(tenant_a, "surveys/").json()["results"]
    assert next(s for s in listed if s["id"] == survey.pk)["current_version"] == 2


def test_surveys_filter_by_status_touchpoint_and_journey(
    tenant_a: Tenant, model: dict[str, Any]
) -> None:
    with tenant_context(tenant_a.organization):
        archived = published_survey(touchpoint=model["hotline"], name="Old hotline").survey
        survey_archive(actor=SYSTEM, survey=archived)

    def ids(**params: Any) -> set[int]:
        response = get(tenant_a, "surveys/", **params)
        assert response.status_code == 200
        return {s["id"] for s in response.json()["results"]}

    survey, draft = model["survey"].pk, model["draft"].pk
    assert ids() == {survey, draft, archived.pk}
    assert ids(status="active") == {survey}
    assert ids(status="draft") == {draft}
    assert ids(status="archived") == {archived.pk}
    assert ids(touchpoint=model["delivery"].pk) == {draft}
    assert ids(journey=model["purchase"].pk) == {survey, draft}
    assert ids(journey=model["support"].pk, status="active") == set()


def test_survey_list_pages_and_bounds_its_queries(tenant_a: Tenant, model: dict[str, Any]) -> None:
    with tenant_context(tenant_a.organization):
        for n in range(8):
            published_survey(touchpoint=model["hotline"], name=f"Hotline {n}")
        expected = list(Survey.objects.order_by("-id").values_list("id", flat=True))
    seen: list[int] = []
    url: str | None = "/api/v1/surveys/?limit=4"
    pages = 0
    while url:
        assert data_queries(tenant_a, url) == 1  # the surveys with their current number
        body = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}").json()
        seen += [s["id"] for s in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == expected
    # The survey, its current version.
    assert data_queries(tenant_a, f"/api/v1/surveys/{model['survey'].pk}/") == 2


# --- Access --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["journeys/", "touchpoints/", "surveys/"])
def test_a_key_without_surveys_read_gets_403(
    tenant_a: Tenant, model: dict[str, Any], path: str
) -> None:
    with tenant_context(tenant_a.organization):
        _key, raw = api_key_with_secret(scopes=["responses:read", "contacts:read"])
    assert get(tenant_a, path, key=raw).status_code == 403
    detail = f"{path}{model['survey'].pk if path == 'surveys/' else model['purchase'].pk}/"
    if path == "touchpoints/":
        detail = f"{path}{model['checkout'].pk}/"
    response = get(tenant_a, detail, key=raw)
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"


def test_another_organizations_objects_are_404_and_not_listed(
    tenant_a: Tenant, tenant_b: Tenant, model: dict[str, Any]
) -> None:
    for path in (
        f"journeys/{model['purchase'].pk}/",
        f"touchpoints/{model['checkout'].pk}/",
        f"surveys/{model['survey'].pk}/",
    ):
        assert get(tenant_b, path).status_code == 404
    for path in ("journeys/", "touchpoints/", "surveys/"):
        assert get(tenant_b, path).json()["results"] == []


def test_the_api_is_read_only(tenant_a: Tenant, model: dict[str, Any]) -> None:
    response = Client().post(
        "/api/v1/surveys/",
        {"name": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}",
    )
    assert response.status_code == 405
