"""The weekly digest email, and the dashboard settings (segments, subscription, time zone)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from closedloop.models import Case
from integrations.channels import ChannelError
from metrics.models import DailyRollup, DigestDelivery, DigestSubscription, SegmentAttribute
from metrics.services.rollups import rollups_rebuild
from metrics.services.themes import themes_retag
from metrics.tasks_digest import digest_send_due_task
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tenants.models import AuditLog, Organization
from tests.conftest import Tenant
from tests.factories import ContactFactory, case_factory, published_survey, response_factory

Capture = Callable[..., AbstractContextManager[Any]]

# Monday 23 March 2026, 08:00 in Berlin (CET): the digest of 16-22 March is due.
MONDAY_8 = datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
WEEK = date(2026, 3, 16)


def answer(version: SurveyVersion, score: int, when: datetime, comment: str = "") -> None:
    with time_machine.travel(when, tick=False):
        response_factory(version=version, answers={"recommend": score, "recommend-reason": comment})


def make_case(**fields: Any) -> None:
    # Opened (by routing) long before both weeks, so its response does not count there.
    with time_machine.travel(datetime(2026, 2, 1, 12, 0, tzinfo=UTC), tick=False):
        case = case_factory()
    Case.objects.filter(pk=case.pk).update(**fields)


@pytest.fixture
def week_data(tenant_a: Tenant) -> dict[str, Any]:
    """Two touchpoints with ten NPS answers in each week; three cases."""
    with tenant_context(tenant_a.organization):
        rising, falling = published_survey(), published_survey()
        before, during = (
            datetime(2026, 3, 11, 10, tzinfo=UTC),
            datetime(2026, 3, 18, 10, tzinfo=UTC),
        )
        for score in [10] * 5 + [3] * 5:  # NPS 0
            answer(rising, score, before)
        for _ in range(10):  # NPS 100
            answer(falling, 10, before)
        for score in [10] * 8 + [7] * 2:  # NPS 80
            answer(rising, score, during)
        for score in [10] * 5:
            answer(falling, score, during)
        for _ in range(5):  # NPS 0
            answer(falling, 2, during, "The parcel was delivered late")
        # Closed loop: k1 opened and resolved within the SLA; k2 open and overdue;
        # k3 opened before the week and resolved in it.
        make_case(
            status="resolved",
            created_at=datetime(2026, 3, 17, 9, tzinfo=UTC),
            first_responded_at=datetime(2026, 3, 17, 10, tzinfo=UTC),
            resolved_at=datetime(2026, 3, 18, 9, tzinfo=UTC),
            first_response_due_at=datetime(2026, 3, 18, 9, tzinfo=UTC),
            resolution_due_at=datetime(2026, 3, 19, 9, tzinfo=UTC),
        )
        make_case(
            status="new",
            created_at=datetime(2026, 3, 20, 9, tzinfo=UTC),
            first_response_due_at=datetime(2026, 3, 21, 9, tzinfo=UTC),
            resolution_due_at=datetime(2026, 3, 22, 9, tzinfo=UTC),
        )
        make_case(
            status="closed",
            created_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
            first_responded_at=datetime(2026, 3, 5, 10, tzinfo=UTC),
            resolved_at=datetime(2026, 3, 16, 12, tzinfo=UTC),
            closed_at=datetime(2026, 3, 16, 12, tzinfo=UTC),
            first_response_due_at=datetime(2026, 3, 6, 9, tzinfo=UTC),
            resolution_due_at=datetime(2026, 3, 7, 9, tzinfo=UTC),
        )
        rollups_rebuild()
        themes_retag()
    manager = tenant_a.member("cx_manager", username="manager@alpha.example")
    quitter = tenant_a.member("cx_manager", username="quitter@alpha.example")
    tenant_a.member("owner", username="owner@alpha.example")
    tenant_a.member("viewer", username="viewer@alpha.example")
    with tenant_context(tenant_a.organization):
        DigestSubscription.objects.create(user=quitter, subscribed=False)
    return {
        "rising": rising.survey.touchpoint,
        "falling": falling.survey.touchpoint,
        "manager": manager,
        "quitter": quitter,
    }


def run_beat(when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        digest_send_due_task.delay()


def test_monday_morning_sends_one_email_per_manager(
    tenant_a: Tenant, week_data: dict[str, Any]
) -> None:
    run_beat(MONDAY_8)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@alpha.example",
        "manager@alpha.example",
    ]
    message = mail.outbox[0]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == "ALPHA Corp: weekly CX digest, 03/16/2026 \u2013 03/22/2026"
    assert message.extra_headers["Content-Language"] == "en"
    text = message.body
    # 13 promoters, 2 passives, 5 detractors; the week before 15 and 5.
    assert "NPS: 40 (n = 20)" in text
    assert "Week before: 50 (n = 20)" in text
    assert "Change: -10.0 — not significant" in text
    assert "Responses: 20 (week before: 20)" in text
    rising, falling = week_data["rising"], week_data["falling"]
    assert f"↑ {rising.journey.name} · {rising.name}: 0 → 80 (+80.0, n = 10)" in text
    assert f"↓ {falling.journey.name} · {falling.name}: 100 → 0 (-100.0, n = 10)" in text
    assert "Cases opened: 2" in text
    assert "Cases resolved: 2" in text
    assert "SLA compliance (cases opened in the week): 50 % (1 of 2 within the SLA)" in text
    assert "Open now: 1 (1 breached)" in text
    assert "- Delivery: 5" in text
    dashboard = "http://127.0.0.1:8000/o/alpha/dashboard/?start=2026-03-16&end=2026-03-22"
    assert dashboard in text
    assert "http://127.0.0.1:8000/o/alpha/dashboard/settings/#digest" in text
    html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]
    assert mimetype == "text/html"
    assert '<html lang="en">' in html
    assert dashboard.replace("&", "&amp;") in html
    with tenant_context(tenant_a.organization):
        deliveries = DigestDelivery.objects.filter(week=WEEK)
        assert deliveries.count() == 2
        assert all(delivery.sent_at is not None for delivery in deliveries)


def test_running_twice_sends_nothing_new(tenant_a: Tenant, week_data: dict[str, Any]) -> None:
    run_beat(MONDAY_8)
    run_beat(datetime(2026, 3, 23, 8, 0, tzinfo=UTC))
    assert len(mail.outbox) == 2


def test_outside_the_window_nothing_is_sent(tenant_a: Tenant, week_data: dict[str, Any]) -> None:
    run_beat(datetime(2026, 3, 22, 19, 0, tzinfo=UTC))  # Sunday 20:00 in Berlin
    run_beat(datetime(2026, 3, 23, 5, 30, tzinfo=UTC))  # Monday 06:30 in Berlin
    run_beat(datetime(2026, 3, 25, 7, 30, tzinfo=UTC))  # Wednesday 08:30: too late
    assert mail.outbox == []
    run_beat(datetime(2026, 3, 24, 20, 0, tzinfo=UTC))  # Tuesday evening: catches up
    assert len(mail.outbox) == 2


def test_claimed_but_unsent_is_not_resent(
    tenant_a: Tenant, week_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def send(self, message: Any) -> Any:
            raise ChannelError("provider down", transient=True)

    monkeypatch.setattr("metrics.services.digest.email_channel", lambda: Broken())
    run_beat(MONDAY_8)
    monkeypatch.undo()
    run_beat(datetime(2026, 3, 23, 8, 0, tzinfo=UTC))
    # At most once: the claims stay, without sent_at, and nothing goes out again.
    assert mail.outbox == []
    with tenant_context(tenant_a.organization):
        assert list(DigestDelivery.objects.values_list("sent_at", flat=True)) == [None, None]


def test_german_organization_gets_german_email(tenant_a: Tenant, week_data: dict[str, Any]) -> None:
    Organization.objects.filter(pk=tenant_a.organization.pk).update(default_language="de")
    run_beat(MONDAY_8)
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.extra_headers["Content-Language"] == "de"
    assert "16.03.2026" in message.subject  # German date format
    assert "-10,0" in message.body  # German decimal comma
    html, _mimetype = message.alternatives[0]  # type: ignore[attr-defined]
    assert '<html lang="de">' in html


def test_other_organizations_are_untouched(
    tenant_a: Tenant, tenant_b: Tenant, week_data: dict[str, Any]
) -> None:
    Organization.objects.filter(pk=tenant_b.organization.pk).update(timezone="America/New_York")
    run_beat(MONDAY_8)  # 03:00 in New York: not yet
    assert all("bravo" not in message.to[0] for message in mail.outbox)
    run_beat(datetime(2026, 3, 23, 12, 0, tzinfo=UTC))  # 08:00 in New York
    bravo = [message for message in mail.outbox if message.to[0] == "admin@bravo.example"]
    assert len(bravo) == 1
    assert "NPS" not in bravo[0].body.split("==")[2]  # no scores in an empty week


# --- Settings -------------------------------------------------------------------------


def settings_url(tenant: Tenant, path: str = "") -> str:
    return tenant.url(f"dashboard/settings/{path}")


def test_settings_need_metrics_manage(tenant_a: Tenant) -> None:
    for role in ("owner", "viewer"):
        client = tenant_a.client_for(tenant_a.member(role))
        assert client.get(settings_url(tenant_a)).status_code == 403
        assert client.post(settings_url(tenant_a), {"other_key": "tier"}).status_code == 403
        assert client.post(settings_url(tenant_a, "digest/")).status_code == 403
    manager = tenant_a.client_for(tenant_a.member("cx_manager"))
    assert manager.get(settings_url(tenant_a)).status_code == 200
    with tenant_context(tenant_a.organization):
        assert not SegmentAttribute.objects.exists()


def test_segment_attribute_add_and_remove_rebuild_the_rollup(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        for tier in ("gold", "gold", "silver"):
            with time_machine.travel(datetime(2026, 3, 10, 10, tzinfo=UTC), tick=False):
                response_factory(version=version, contact=ContactFactory(attributes={"tier": tier}))
        ContactFactory(attributes={"region": "north", "tier": "gold"})
        rollups_rebuild()
    page = tenant_a.client.get(settings_url(tenant_a)).content.decode()
    assert '<option value="tier">tier (4 contacts)</option>' in page
    assert '<option value="region">region (1 contact)</option>' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client.post(
            settings_url(tenant_a), {"crm_key": "tier", "label": "Customer tier"}
        )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        attribute = SegmentAttribute.objects.get()
        assert (attribute.key, attribute.label) == ("tier", "Customer tier")
        rows = dict(
            DailyRollup.objects.filter(segment_key="tier").values_list("segment_value", "responses")
        )
        assert rows == {"gold": 2, "silver": 1}
        assert AuditLog.objects.filter(action="segment_attribute.create").count() == 1
    page = tenant_a.client.get(settings_url(tenant_a)).content.decode()
    assert "<code>tier</code>" in page
    assert '<option value="tier">' not in page  # already used

    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client.post(settings_url(tenant_a, f"segments/{attribute.pk}/delete/"))
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        assert not SegmentAttribute.objects.exists()
        assert not DailyRollup.objects.filter(segment_key="tier").exists()
        assert DailyRollup.objects.filter(segment_key="").exists()
        assert AuditLog.objects.filter(action="segment_attribute.delete").count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"other_key": "customer tier!"}, "Use letters, digits"),
        ({"other_key": "a__b"}, "no double underscore"),
        ({"other_key": "contains"}, "reserved word"),
        ({"other_key": "x" * 101}, "at most 100 characters"),
        ({}, "Choose or enter a CRM attribute."),
    ],
)
def test_segment_key_is_validated(tenant_a: Tenant, data: dict[str, str], error: str) -> None:
    response = tenant_a.client.post(settings_url(tenant_a), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_context(tenant_a.organization):
        assert not SegmentAttribute.objects.exists()


def test_free_key_label_and_order(tenant_a: Tenant) -> None:
    for key in ("region", "tier", "plan"):
        assert tenant_a.client.post(settings_url(tenant_a), {"other_key": key}).status_code == 302
    with tenant_context(tenant_a.organization):
        plan = SegmentAttribute.objects.get(key="plan")
    tenant_a.client.post(settings_url(tenant_a, f"segments/{plan.pk}/move/"), {"direction": "up"})
    tenant_a.client.post(settings_url(tenant_a, f"segments/{plan.pk}/"), {"label": "Tariff"})
    with tenant_context(tenant_a.organization):
        assert list(SegmentAttribute.objects.values_list("key", flat=True)) == [
            "region",
            "plan",
            "tier",
        ]
        assert SegmentAttribute.objects.get(key="plan").label == "Tariff"
        assert AuditLog.objects.filter(action="segment_attribute.move").count() == 1
    # The dashboard's segment filter offers them in this order, under their labels.
    page = tenant_a.client.get(tenant_a.url("dashboard/closed-loop/")).content.decode()
    assert (
        page.index('value="region"')
        < page.index('value="plan">Tariff')
        < page.index('value="tier"')
    )


def test_digest_subscription_toggle(tenant_a: Tenant) -> None:
    url = settings_url(tenant_a, "digest/")
    assert (
        'id="id_subscribed" checked' in tenant_a.client.get(settings_url(tenant_a)).content.decode()
    )
    assert tenant_a.client.post(url, {}).status_code == 302
    with tenant_context(tenant_a.organization):
        assert DigestSubscription.objects.get(user=tenant_a.admin).subscribed is False
    page = tenant_a.client.get(settings_url(tenant_a)).content.decode()
    assert 'id="id_subscribed" checked' not in page
    tenant_a.client.post(url, {"subscribed": "on"})
    with tenant_context(tenant_a.organization):
        assert DigestSubscription.objects.get(user=tenant_a.admin).subscribed is True


def test_timezone_change_rebuilds_the_rollup(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        # 23:30 UTC on 10 March is 00:30 on 11 March in Berlin.
        with time_machine.travel(datetime(2026, 3, 10, 23, 30, tzinfo=UTC), tick=False):
            response_factory()
        rollups_rebuild()
        assert set(DailyRollup.objects.values_list("day", flat=True)) == {date(2026, 3, 11)}
    organization = tenant_a.organization
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client.post(
            tenant_a.url("settings/"),
            {
                "name": organization.name,
                "timezone": "UTC",
                "default_language": organization.default_language,
                "brand_colour": organization.brand_colour,
            },
        )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        assert set(DailyRollup.objects.values_list("day", flat=True)) == {date(2026, 3, 10)}
    # Saving without a time zone change schedules nothing.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tenant_a.client.post(
            tenant_a.url("settings/"),
            {
                "name": "Renamed",
                "timezone": "UTC",
                "default_language": organization.default_language,
                "brand_colour": organization.brand_colour,
            },
        )
    assert callbacks == []
