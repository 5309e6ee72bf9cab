"""GDPR retention: personal data older than an organization's period is anonymised by the
nightly task; scores and aggregates stay; runs are resumable and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from closedloop.models import CaseMessage
from contacts.models import Contact
from contacts.services import retention
from contacts.services.retention import months_before
from contacts.tasks import retention_run_task
from metrics.models import COUNT_FIELDS, DailyRollup
from metrics.services.rollups import rollups_rebuild
from responses.models import Response
from tenants.context import tenant_context
from tenants.models import AuditLog, Organization
from tests.conftest import Tenant
from tests.factories import ContactFactory, case_factory, case_message_factory, response_factory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - timedelta(days=800)


def _totals() -> dict[str, Any]:
    return DailyRollup.objects.aggregate(**{name: Sum(name) for name in COUNT_FIELDS})


def _world(tenant: Tenant) -> dict[str, Any]:
    """Old and recent data of one organization."""
    with tenant_context(tenant.organization):
        with time_machine.travel(LONG_AGO, tick=False):
            gone = ContactFactory(first_name="Greta", email="greta@example.com")
            response_factory(contact=gone, answers={"recommend": 3, "recommend-reason": "Slow"})
            active = ContactFactory(first_name="Anton", email="anton@example.com")
            old_of_active = response_factory(
                contact=active, answers={"recommend": 10, "recommend-reason": "Great staff"}
            )
            anonymous = response_factory(answers={"recommend": 6, "recommend-reason": "Meh"})
            waiting = ContactFactory(first_name="Wanda", email="wanda@example.com")
            open_case = case_factory(
                contact=waiting, answers={"recommend": 1, "recommend-reason": "Broken"}
            )
            old_message = case_message_factory(case=open_case, body="Dear Wanda, sorry")
        recent = response_factory(
            contact=active, answers={"recommend": 9, "recommend-reason": "Fine now"}
        )
    return {
        "gone": gone,
        "active": active,
        "old_of_active": old_of_active,
        "anonymous": anonymous,
        "waiting": waiting,
        "old_message": old_message,
        "recent": recent,
    }


def _set_retention(organization: Organization, months: int | None) -> None:
    Organization.objects.filter(pk=organization.pk).update(retention_months=months)


def test_months_before_clamps_to_the_end_of_the_month() -> None:
    moment = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)
    assert months_before(moment, 1) == datetime(2026, 2, 28, 2, 0, tzinfo=UTC)
    assert months_before(moment, 14) == datetime(2025, 1, 31, 2, 0, tzinfo=UTC)


def test_the_nightly_task_anonymises_old_personal_data_and_keeps_the_numbers(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    world = _world(tenant_a)
    other = _world(tenant_b)
    _set_retention(tenant_a.organization, 12)
    with tenant_context(tenant_a.organization):
        rollups_rebuild()
        before = _totals()
        assert before["responses"] == 5

    retention_run_task.delay()

    with tenant_context(tenant_a.organization):
        gone = Contact.objects.get(pk=world["gone"].pk)
        assert gone.erased_at is not None
        assert (gone.first_name, gone.email) == ("", "")
        active = Contact.objects.get(pk=world["active"].pk)
        assert (active.first_name, active.email) == ("Anton", "anton@example.com")
        waiting = Contact.objects.get(pk=world["waiting"].pk)
        assert waiting.erased_at is None  # an open case keeps its customer

        old = Response.objects.get(pk=world["old_of_active"].pk)
        assert old.comment == ""
        assert old.answers["recommend-reason"] == ""
        assert old.answers["recommend"] == 10
        assert old.free_text_removed_at is not None
        assert Response.objects.get(pk=world["anonymous"].pk).comment == ""
        recent = Response.objects.get(pk=world["recent"].pk)
        assert recent.comment == "Fine now"
        assert recent.free_text_removed_at is None

        message = CaseMessage.objects.get(pk=world["old_message"].pk)
        assert message.body == "[erased]"
        assert message.to_address == ""

        after = _totals()
        assert {k: v for k, v in after.items() if k != "comments"} == {
            k: v for k, v in before.items() if k != "comments"
        }
        assert after["comments"] == before["comments"] - 4

        entry = AuditLog.objects.get(action="privacy.retention")
        assert entry.actor_label == "retention"
        assert entry.changes["contacts_erased"] == [None, 1]
        assert entry.changes["responses_scrubbed"] == [None, 4]
        assert entry.changes["case_messages_scrubbed"] == [None, 1]
        assert "Greta" not in str(entry.changes)

    # Organization B has no retention period: nothing of it changed.
    with tenant_context(tenant_b.organization):
        assert Contact.objects.get(pk=other["gone"].pk).erased_at is None
        assert Response.objects.get(pk=other["old_of_active"].pk).comment == "Great staff"
        assert not AuditLog.objects.filter(action="privacy.retention").exists()

    # A second run finds nothing left and writes no entry.
    retention_run_task.delay()
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="privacy.retention").count() == 1


def test_a_run_that_crashes_half_way_is_finished_by_the_next(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant_context(tenant_a.organization), time_machine.travel(LONG_AGO, tick=False):
        for index in range(5):
            response_factory(answers={"recommend": index, "recommend-reason": f"text {index}"})
    _set_retention(tenant_a.organization, 6)
    monkeypatch.setattr(retention, "BATCH", 2)
    calls = {"n": 0}
    real_refresh = retention.rollup_refresh

    def crash_on_second_chunk(**kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return real_refresh(**kwargs)

    monkeypatch.setattr(retention, "rollup_refresh", crash_on_second_chunk)
    with pytest.raises(RuntimeError):
        retention_run_task()  # in the worker's process, as the crash would hit it
    with tenant_context(tenant_a.organization):
        # The first chunk is done; the crashed chunk rolled back whole.
        assert Response.objects.filter(free_text_removed_at__isnull=False).count() == 2
        assert Response.objects.filter(free_text_removed_at__isnull=True, comment="").count() == 0

    retention_run_task.delay()
    with tenant_context(tenant_a.organization):
        assert Response.objects.filter(free_text_removed_at__isnull=True).count() == 0
        assert set(Response.objects.values_list("comment", flat=True)) == {""}


def test_the_command_previews_and_applies(tenant_a: Tenant) -> None:
    _world(tenant_a)
    out = StringIO()
    call_command("retention_run", "--org", "alpha", "--dry-run", stdout=out)
    assert "alpha: no retention period set, nothing to do" in out.getvalue()

    _set_retention(tenant_a.organization, 12)
    out = StringIO()
    call_command("retention_run", "--dry-run", stdout=out)
    assert "would anonymise" in out.getvalue()
    assert "1 contacts, 4 responses' free text, 1 case messages" in out.getvalue()
    with tenant_context(tenant_a.organization):
        assert not Contact.objects.filter(erased_at__isnull=False).exists()

    out = StringIO()
    call_command("retention_run", stdout=out)
    assert "alpha: anonymised" in out.getvalue()
    with tenant_context(tenant_a.organization):
        assert Contact.objects.filter(erased_at__isnull=False).count() == 1


def test_an_administrator_sets_the_period_on_the_settings_page(tenant_a: Tenant) -> None:
    url = tenant_a.url("settings/")
    page = tenant_a.client.get(url).content.decode()
    assert "Keep personal data for (months)" in page
    form = {
        "name": tenant_a.organization.name,
        "timezone": "Europe/Berlin",
        "default_language": "en",
        "brand_colour": "#1f5f8b",
        "retention_months": "0",
    }
    refused = tenant_a.client.post(url, form)
    assert "Ensure this value is greater than or equal to 1." in refused.content.decode()
    saved = tenant_a.client.post(url, {**form, "retention_months": "24"})
    assert saved.status_code == 302
    assert Organization.objects.get(pk=tenant_a.organization.pk).retention_months == 24
    with tenant_context(tenant_a.organization):
        entry = AuditLog.objects.get(action="organization.update")
    assert entry.changes["retention_months"] == [None, 24]
