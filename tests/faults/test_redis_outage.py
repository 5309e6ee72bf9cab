"""Redis stops while customers submit: every answer is stored, and the follow-up work
(routing a detractor into a case, the outbox) happens once Redis is back, exactly once.

Runs on PostgreSQL (CI's second run); gunicorn and a private Redis are real processes.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.db import connection
from django.utils import timezone

from closedloop.models import Case
from responses.models import OutboxEvent, Response
from responses.services import outbox_dispatch_due
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import published_survey
from tests.faults.servers import PrivateRedis, gunicorn

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("fault tests run against PostgreSQL (the second run of .ci/run)")


def _submit(base: str, public_id: str, qid: str, score: int) -> requests.Response:
    return requests.post(
        f"{base}/l/{public_id}/",
        data={"step": "0", "idempotency_key": secrets.token_hex(8), qid: str(score)},
        allow_redirects=False,
        timeout=15,
    )


def test_answers_are_kept_while_redis_is_down_and_followed_up_after(
    tenant_a: Tenant, settings: Any
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey(open_link_enabled=True)
        qid = next(str(q["id"]) for q in version.questions if q["type"] == "nps")
    public_id = version.survey.public_id
    redis = PrivateRedis()
    redis.start()
    try:
        with gunicorn(redis.url) as base:
            before = [_submit(base, public_id, qid, 2) for _ in range(3)]
            redis.stop()  # the broker and the cache are gone
            during = [_submit(base, public_id, qid, 1) for _ in range(5)]
            survey_page = requests.get(f"{base}/l/{public_id}/", timeout=15)
            redis.start()  # back, empty: what was queued in it is lost
            after = [_submit(base, public_id, qid, 0) for _ in range(2)]
    finally:
        redis.stop()

    assert [r.status_code for r in before + during + after] == [303] * 10
    assert survey_page.status_code == 200
    with tenant_context(tenant_a.organization):
        assert Response.objects.count() == 10
        waiting = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
    assert waiting >= 5  # at least the events of the outage wait in the database

    # The beat sweep (here in-process) drains what the lost broker never delivered.
    outbox_dispatch_due(now=timezone.now() + timedelta(minutes=1))
    outbox_dispatch_due(now=timezone.now() + timedelta(minutes=1))  # a second sweep: no-op
    with tenant_context(tenant_a.organization):
        assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
        created = OutboxEvent.objects.filter(topic="response.created")
        assert created.count() == 10
        # Every answer (all detractors) was routed into its own case, once.
        assert Case.objects.count() == 10
        assert OutboxEvent.objects.filter(topic="case.created").count() == 10
        assert sorted(Case.objects.values_list("response_id", flat=True)) == sorted(
            Response.objects.values_list("pk", flat=True)
        )
