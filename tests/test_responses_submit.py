"""The submit service: validation, scoring on write, idempotency, the change window and
the outbox, through ``response_submit`` (every channel's entry point into storage)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from responses.events import outbox_handlers
from responses.models import OutboxEvent, Response
from responses.services import outbox_dispatch_due, response_submit
from surveys.models_distribution import InvitationStatus
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import ContactFactory, InvitationFactory, published_survey

pytestmark = pytest.mark.django_db


def submit(version: Any, answers: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("channel", "link")
    kwargs.setdefault("language", "en")
    return response_submit(version=version, answers=answers, **kwargs)


def test_a_submit_is_scored_and_stamped(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        contact = ContactFactory(attributes={"segment": "gold"})
        result = submit(
            version,
            {"recommend": "3", "recommend-reason": "  Late delivery ", "value-for-money": 2},
            contact=contact,
            idempotency_key="k1",
        )
        response = Response.objects.get()
    assert result.ok
    assert result.created
    assert (response.nps, response.nps_group, response.csat, response.ces) == (
        3,
        "detractor",
        2,
        None,
    )
    assert response.comment == "Late delivery"
    assert response.touchpoint_id == version.survey.touchpoint_id
    assert response.journey_id == version.survey.touchpoint.journey_id
    assert response.contact_attributes == {"segment": "gold"}
    assert response.status == "complete"


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({}, "recommend", "Please answer this question."),
        ({"recommend": "11"}, "recommend", "Choose a value from 0 to 10."),
        ({"recommend": ["1", "2"]}, "recommend", "Choose a value from 0 to 10."),
        ({"recommend": 5, "recommend-reason": "x" * 2001}, "recommend-reason", "Please keep"),
    ],
)
def test_invalid_answers_store_nothing(
    tenant_a: Tenant, answers: dict[str, Any], field: str, message: str
) -> None:
    with tenant_context(tenant_a.organization):
        result = submit(published_survey(), answers)
        assert Response.objects.count() == 0
        assert OutboxEvent.objects.count() == 0
    assert result.response is None
    assert result.errors[field][0].startswith(message)


def test_the_same_idempotency_key_twice_gives_one_response(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        first = submit(version, {"recommend": 9}, idempotency_key="abc")
        again = submit(version, {"recommend": 9}, idempotency_key="abc")
        assert Response.objects.count() == 1
        assert OutboxEvent.objects.count() == 1
    assert again.response is not None
    assert first.response is not None
    assert again.response.pk == first.response.pk
    assert not again.changed


def test_partial_then_complete_and_change_within_the_window(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        invitation: Any = InvitationFactory(
            survey_version=version, survey=version.survey, status="sent"
        )
        step1 = submit(
            version,
            {"recommend": 10},
            invitation=invitation,
            question_ids=["recommend"],
            complete=False,
            channel="email",
        )
        assert step1.response is not None
        assert step1.response.status == "partial"
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.ANSWERED
        step2 = submit(
            version,
            {"recommend-reason": "Great"},
            invitation=invitation,
            question_ids=["recommend-reason", "value-for-money"],
            channel="email",
        )
        assert step2.response is not None
        assert step2.response.status == "complete"
        assert step2.response.comment == "Great"
        assert step2.response.nps == 10
        change = submit(
            version,
            {"recommend": 6},
            invitation=invitation,
            question_ids=["recommend"],
            complete=False,
            channel="email",
        )
        assert change.ok
        assert change.response is not None
        assert change.response.nps_group == "detractor"
        assert change.response.status == "complete"
        with time_machine.travel(timezone.now() + timedelta(days=2)):
            late = submit(
                version,
                {"recommend": 9},
                invitation=invitation,
                question_ids=["recommend"],
                complete=False,
                channel="email",
            )
            repeat = submit(
                version,
                {"recommend": 6},
                invitation=invitation,
                question_ids=["recommend"],
                complete=False,
                channel="email",
            )
        assert late.closed
        assert late.errors
        assert repeat.ok  # the same answers again are not a change
        assert Response.objects.get().nps == 6
        topics = list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))
    assert topics == ["response.created", "response.completed", "response.updated"]


def test_outbox_events_are_dispatched_and_failures_retried(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[int] = []
    calls = {"n": 0}

    def flaky(event: OutboxEvent) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("downstream failed")
        seen.append(event.pk)

    outbox_handlers.register(flaky)
    try:
        with tenant_context(tenant_a.organization):
            version = published_survey()
            with django_capture_on_commit_callbacks(execute=True):
                submit(version, {"recommend": 9})
            event = OutboxEvent.objects.get()
            assert event.dispatched_at is None
            assert event.attempts == 1
            assert "downstream failed" in event.last_error
        with time_machine.travel(timezone.now() + timedelta(minutes=1)):
            assert outbox_dispatch_due() == 1
            assert outbox_dispatch_due() == 0
        with tenant_context(tenant_a.organization):
            event.refresh_from_db()
        assert event.dispatched_at is not None
        assert seen == [event.pk]
    finally:
        outbox_handlers.unregister(flaky)
