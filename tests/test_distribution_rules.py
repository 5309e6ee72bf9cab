"""Distribution rules, the contact budget, consent, quiet hours and manual sends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from surveys.models import DistributionRule, Invitation, SuppressedSend, Survey
from surveys.services.distribution import (
    crm_event_process,
    distribution_rule_create,
    distribution_settings_update,
    manual_send,
)
from surveys.services.invitations import invitation_send
from tenants.context import tenant_context
from tenants.models import Role
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation

# Monday 2026-11-23, 10:00 UTC = 11:00 in Berlin (the organizations' default time zone).
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _rule(survey: Survey, **fields: Any) -> DistributionRule:
    options: dict[str, Any] = {
        "name": "Order completed",
        "event_type": "order_completed",
        "survey": survey,
        "channel": "preferred",
        "delay": timedelta(hours=2),
        "defer_when_blocked": False,
        "is_active": True,
        **fields,
    }
    return distribution_rule_create(actor=SYSTEM, **options)


def _event(contact: Contact, at: datetime = MONDAY_MORNING, **kwargs: Any) -> list[Any]:
    return crm_event_process(
        event_type="order_completed", contact=contact, occurred_at=at, actor=SYSTEM, **kwargs
    )


def test_event_schedules_an_invitation_after_the_delay(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule = _rule(published_survey())
        contact = make_contact("c-1", email="a@example.com")
        [outcome] = _event(contact)
        invitation = Invitation.objects.get()
    assert outcome.result == "scheduled"
    assert outcome.rule_id == rule.pk
    assert invitation.channel == "email"
    assert invitation.status == "scheduled"
    assert invitation.send_at == MONDAY_MORNING + timedelta(hours=2)
    assert invitation.trigger == "rule"
    assert invitation.event_type == "order_completed"


def test_rule_conditions_match_contact_and_event_attributes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _rule(published_survey(), conditions={"segment": "B2B"})
        contact = make_contact("c-1", email="a@example.com", attributes={"segment": "b2c"})
        [miss] = _event(contact)
        [hit] = _event(contact, attributes={"segment": "b2b"})
    assert miss.result == "not_matching"
    assert hit.result == "scheduled"


def test_frequency_budget_holds_across_channels(tenant_a: Tenant) -> None:
    """Surveyed by SMS yesterday: no email today (the budget is per contact)."""
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=30)
        survey = published_survey()
        other = published_survey(name="Other")
        _rule(survey, channel="email")
        contact = make_contact("c-1", email="a@example.com", phone="+491701234567")
        scheduled_invitation(
            contact, other, channel="sms", send_at=MONDAY_MORNING - timedelta(days=1)
        )
        [outcome] = _event(contact)
        suppressed = SuppressedSend.objects.get()
    assert outcome.result == "suppressed"
    assert outcome.reason == "frequency"
    assert suppressed.reason == "frequency"
    assert suppressed.deferred_until is None
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.filter(survey=survey).count() == 0


def test_frequency_block_is_deferred_when_the_rule_says_so(tenant_a: Tenant) -> None:
    yesterday = MONDAY_MORNING - timedelta(days=1)
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=7)
        survey = published_survey()
        _rule(survey, channel="email", defer_when_blocked=True)
        contact = make_contact("c-1", email="a@example.com", last_surveyed_at=yesterday)
        [outcome] = _event(contact)
        invitation = Invitation.objects.get()
        suppressed = SuppressedSend.objects.get()
    assert outcome.result == "deferred"
    assert invitation.send_at == yesterday + timedelta(days=7)
    assert suppressed.reason == "frequency"
    assert suppressed.deferred_until == invitation.send_at
    assert suppressed.invitation_id == invitation.pk


def test_a_survey_has_its_own_minimum_interval(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=0)
        survey = published_survey()
        _rule(survey, channel="email", survey_min_days=90)
        contact = make_contact("c-1", email="a@example.com")
        invitation = scheduled_invitation(
            contact, survey, send_at=MONDAY_MORNING - timedelta(days=40)
        )
        Invitation.objects.filter(pk=invitation.pk).update(status="answered")
        [outcome] = _event(contact)
    assert outcome.reason == "frequency"


def test_an_open_invitation_to_the_same_survey_is_a_duplicate(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=0)
        _rule(published_survey(), channel="email")
        contact = make_contact("c-1", email="a@example.com")
        first, second = _event(contact)[0], _event(contact)[0]
    assert first.result == "scheduled"
    assert (second.result, second.reason) == ("suppressed", "duplicate")


@pytest.mark.parametrize(
    ("contact_fields", "policy", "reason"),
    [
        ({"email": ""}, False, "unreachable"),
        ({"email": "a@example.com", "withdraw": ("email",)}, False, "opt_out"),
        ({"email": "a@example.com"}, True, "no_consent"),
    ],
)
def test_email_needs_an_address_and_consent_per_policy(
    tenant_a: Tenant, contact_fields: dict[str, Any], policy: bool, reason: str
) -> None:
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, require_explicit_email_consent=policy)
        _rule(published_survey(), channel="email")
        contact = make_contact("c-1", **contact_fields)
        [outcome] = _event(contact)
        suppressed = SuppressedSend.objects.get()
    assert outcome.reason == reason
    assert suppressed.reason == reason


def test_sms_always_needs_a_grant(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _rule(published_survey(), channel="sms")
        unknown = make_contact("c-1", phone="+491701234567")
        granted = make_contact("c-2", phone="+491701234568", grant=("sms",))
        [no] = _event(unknown)
        [yes] = _event(granted)
    assert no.reason == "no_consent"
    assert yes.result == "scheduled"


def test_preferred_channel_is_email_else_sms(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _rule(published_survey())
        emailable = make_contact(
            "c-1", email="a@example.com", phone="+491701234567", grant=("sms",)
        )
        texter = make_contact("c-2", phone="+491701234568", grant=("sms",))
        opted_out = make_contact(
            "c-3", email="c@example.com", phone="+491701234569", withdraw=("email",), grant=("sms",)
        )
        channels = [_event(c)[0].channel for c in (emailable, texter, opted_out)]
    assert channels == ["email", "sms", "sms"]


def test_sms_quiet_hours_in_the_contacts_time_zone_defer_to_the_morning(tenant_a: Tenant) -> None:
    # 20:30 in New York on a Monday = 01:30 UTC Tuesday.
    evening = datetime(2026, 11, 24, 1, 30, tzinfo=UTC) - timedelta(hours=2)
    with tenant_context(tenant_a.organization):
        distribution_settings_update(
            actor=SYSTEM, quiet_hours_start=time(20, 0), quiet_hours_end=time(9, 0)
        )
        _rule(published_survey(), channel="sms", defer_when_blocked=True)
        contact = make_contact(
            "c-1", phone="+12125550100", timezone_name="America/New_York", grant=("sms",)
        )
        [outcome] = _event(contact, at=evening)
        suppressed = SuppressedSend.objects.get()
    assert outcome.result == "deferred"
    assert suppressed.reason == "quiet_hours"
    # 09:00 on Tuesday in New York (EST, UTC-5) = 14:00 UTC.
    assert outcome.send_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_no_sms_on_sundays_and_no_deferral_without_the_flag(tenant_a: Tenant) -> None:
    sunday_noon = datetime(2026, 11, 29, 11, 0, tzinfo=UTC) - timedelta(hours=2)
    with tenant_context(tenant_a.organization):
        distribution_settings_update(actor=SYSTEM, min_days_between_invitations=0)
        survey = published_survey()
        _rule(survey, channel="sms", defer_when_blocked=False)
        _rule(
            published_survey(name="Deferred"),
            name="Deferring",
            channel="sms",
            defer_when_blocked=True,
        )
        contact = make_contact("c-1", phone="+491701234567", grant=("sms",))
        deferred, dropped = _event(contact, at=sunday_noon)  # by rule name
    assert (dropped.result, dropped.reason) == ("suppressed", "quiet_hours")
    assert dropped.send_at is None
    assert (deferred.result, deferred.reason) == ("deferred", "quiet_hours")
    # Monday 09:00 in Berlin (CET) = 08:00 UTC.
    assert deferred.send_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_frozen_time_sends_only_when_due(tenant_a: Tenant) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=False):
        with tenant_context(tenant_a.organization):
            _rule(published_survey(), channel="email")
            contact = make_contact("c-1", email="a@example.com")
            [outcome] = _event(contact, at=MONDAY_MORNING)
        early = invitation_send(
            organization_id=tenant_a.organization.pk, invitation_id=outcome.invitation_id
        )
    with time_machine.travel(MONDAY_MORNING + timedelta(hours=2, seconds=1), tick=False):
        due = invitation_send(
            organization_id=tenant_a.organization.pk, invitation_id=outcome.invitation_id
        )
    assert (early.result, early.detail) == ("skipped", "not due")
    assert due.result == "sent"


def test_dry_run_writes_nothing(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _rule(published_survey(), channel="email")
        contact = make_contact("c-1", email="a@example.com")
        [outcome] = _event(contact, dry_run=True)
        assert outcome.result == "scheduled"
        assert Invitation.objects.count() == 0
        assert SuppressedSend.objects.count() == 0


def test_crm_event_command_prints_the_outcome_per_rule(tenant_a: Tenant, capsys: Any) -> None:
    with tenant_context(tenant_a.organization):
        _rule(published_survey(), channel="email")
        make_contact("crm-42", email="a@example.com")
    call_command("crm_event", tenant_a.organization.slug, "order_completed", "crm-42")
    out = capsys.readouterr().out
    assert '"result": "scheduled"' in out
    call_command("crm_event", tenant_a.organization.slug, "order_completed", "crm-42")
    assert '"reason": "duplicate"' in capsys.readouterr().out
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.count() == 1


# --- Manual sends and pages -------------------------------------------------------------


def _contacts_for_manual_send() -> Survey:
    distribution_settings_update(actor=SYSTEM, min_days_between_invitations=30)
    survey = published_survey()
    make_contact("m-1", email="1@example.com", attributes={"segment": "b2b"})
    make_contact("m-2", email="2@example.com", attributes={"segment": "b2b"})
    make_contact("m-3", email="", attributes={"segment": "b2b"})
    make_contact("m-4", email="4@example.com", withdraw=("email",), attributes={"segment": "b2b"})
    make_contact(
        "m-5",
        email="5@example.com",
        attributes={"segment": "b2b"},
        last_surveyed_at=datetime.now(UTC) - timedelta(days=1),
    )
    make_contact("m-6", email="6@example.com", attributes={"segment": "b2c"})
    return survey


def test_manual_send_dry_run_then_confirm(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = _contacts_for_manual_send()
    url = tenant_a.url("distribution/send/")
    data = {
        "survey": survey.pk,
        "channel": "email",
        "attribute_key": "segment",
        "attribute_operator": "eq",
        "attribute_value": "b2b",
    }
    preview = tenant_a.client.post(url, data)
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert (plan.total, plan.scheduled, plan.deferred) == (5, 2, 0)
    assert plan.skipped == {"unreachable": 1, "opt_out": 1, "frequency": 1}
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.count() == 0
    done = tenant_a.client.post(url, {**data, "confirm": "1"})
    assert done.status_code == 302
    with tenant_context(tenant_a.organization):
        invited = set(Invitation.objects.values_list("contact__crm_id", flat=True))
        reasons = sorted(SuppressedSend.objects.values_list("reason", flat=True))
    assert invited == {"m-1", "m-2"}
    assert reasons == ["frequency", "opt_out", "unreachable"]


def test_manual_send_is_bulk_not_per_contact(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        for n in range(30):
            make_contact(f"b-{n}", email=f"{n}@example.com")
        with CaptureQueriesContext(connection) as queries:
            plan = manual_send(
                actor=SYSTEM,
                survey=survey,
                channel="email",
                contacts=Contact.objects.all(),
                dry_run=False,
            )
        assert Invitation.objects.count() == 30
    assert plan.scheduled == 30
    assert len(queries) < 30


@pytest.mark.parametrize(
    ("role", "status"), [(Role.VIEWER, 403), (Role.OWNER, 403), (Role.CX_MANAGER, 200)]
)
def test_only_managers_send_and_edit_rules(tenant_a: Tenant, role: str, status: int) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    assert client.get(tenant_a.url("distribution/send/")).status_code == status
    assert client.get(tenant_a.url("distribution/rules/new/")).status_code == status


@pytest.mark.parametrize(("role", "status"), [(Role.VIEWER, 403), (Role.OWNER, 200)])
def test_owners_see_invitations_viewers_do_not(tenant_a: Tenant, role: str, status: int) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for path in ("distribution/", "distribution/invitations/", "distribution/suppressed/"):
        assert client.get(tenant_a.url(path)).status_code == status


def test_only_admins_edit_distribution_settings(tenant_a: Tenant) -> None:
    manager = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    url = tenant_a.url("distribution/settings/")
    assert manager.get(url).status_code == 403
    data = {
        "min_days_between_invitations": 14,
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "quiet_on_sundays": "on",
        "reminder_days": 2,
        "expires_days": 10,
    }
    assert tenant_a.client.post(url, data).status_code == 302
    with tenant_context(tenant_a.organization):
        from surveys.selectors import distribution_settings_get

        saved = distribution_settings_get()
    assert saved.min_days_between_invitations == 14
    assert saved.quiet_hours_start == time(21, 0)
    assert saved.reminder_after == timedelta(days=2)
    assert not saved.require_explicit_email_consent


def test_rule_pages_create_edit_test_and_delete(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        make_contact("crm-7", email="a@example.com")
    created = tenant_a.client.post(
        tenant_a.url("distribution/rules/new/"),
        {
            "name": "After delivery",
            "event_type": "order_delivered",
            "survey": survey.pk,
            "channel": "email",
            "delay_hours": 4,
            "conditions": "segment = b2b",
            "survey_min_days": 0,
            "is_active": "on",
        },
    )
    assert created.status_code == 302
    with tenant_context(tenant_a.organization):
        rule = DistributionRule.objects.get()
    assert rule.delay == timedelta(hours=4)
    assert rule.conditions == {"segment": "b2b"}
    bad = tenant_a.client.post(
        tenant_a.url(f"distribution/rules/{rule.pk}/"),
        {
            "name": "",
            "event_type": "x",
            "survey": survey.pk,
            "channel": "email",
            "delay_hours": 1,
            "survey_min_days": 0,
            "conditions": "no equals sign",
        },
    )
    assert bad.status_code == 200
    assert bad.context["form"].errors.keys() >= {"name", "conditions"}
    tested = tenant_a.client.post(
        tenant_a.url(f"distribution/rules/{rule.pk}/test/"),
        {"crm_id": "crm-7", "attributes": "segment = b2b", "dry_run": "on"},
    )
    assert tested.status_code == 200
    assert [o.result for o in tested.context["outcomes"]] == ["scheduled"]
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.count() == 0
    overview = tenant_a.client.get(tenant_a.url("distribution/"))
    assert "After delivery" in overview.content.decode()
    assert (
        tenant_a.client.post(tenant_a.url(f"distribution/rules/{rule.pk}/delete/")).status_code
        == 302
    )
    with tenant_context(tenant_a.organization):
        assert not DistributionRule.objects.exists()


def test_list_pages_do_not_query_per_row(tenant_a: Tenant) -> None:
    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert tenant_a.client.get(tenant_a.url(path)).status_code == 200
        return len(queries)

    with tenant_context(tenant_a.organization):
        survey = published_survey()
        contact = make_contact("c-0", email="0@example.com")
        scheduled_invitation(contact, survey)
        SuppressedSend.objects.create(
            contact=contact, survey=survey, reason="frequency", trigger="manual"
        )
    few = {path: count(path) for path in ("distribution/invitations/", "distribution/suppressed/")}
    with tenant_context(tenant_a.organization):
        for n in range(10):
            other = make_contact(f"c-{n + 1}", email=f"{n}@example.com")
            scheduled_invitation(other, survey)
            SuppressedSend.objects.create(
                contact=other, survey=survey, reason="opt_out", trigger="manual"
            )
    for path, queries in few.items():
        assert count(path) == queries, path


def test_demo_data_shows_invitations_and_suppressed_sends(db: None) -> None:
    import io

    from tenants.models import Organization

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    demo = Organization.objects.get(slug="demo")
    with tenant_context(demo):
        # The distribution demo's invitations (the year of demo customers' invitations
        # of responses.demo_history aside).
        statuses = dict(
            Invitation.objects.exclude(contact__crm_id__startswith="KD-").values_list(
                "contact__crm_id", "status"
            )
        )
        reasons = dict(SuppressedSend.objects.values_list("contact__crm_id", "reason"))
        answered = Invitation.objects.get(contact__crm_id="DIST-1001")
        assert answered.responses.count() == 1  # the demo answer is a real response
    assert statuses == {
        "DIST-1001": "answered",
        "DIST-1002": "bounced",
        "DIST-1003": "sent",
        # Open invitations to the NPS survey: the sample link and the SMS reply demo.
        "DEMO-LINK": "sent",
        "DEMO-SMS": "sent",
    }
    assert reasons == {
        "DIST-1004": "frequency",
        "DIST-1005": "opt_out",
        "DIST-1006": "unreachable",
    }


def test_contact_page_says_why_the_customer_was_not_surveyed(tenant_a: Tenant) -> None:
    yesterday = MONDAY_MORNING - timedelta(days=1)
    with tenant_context(tenant_a.organization):
        _rule(published_survey(), channel="email")
        contact = make_contact("c-1", email="a@example.com", last_surveyed_at=yesterday)
        _event(contact)
    page = tenant_a.client.get(tenant_a.url(f"contacts/{contact.pk}/"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Not surveyed: why" in body
    assert "Contact budget (frequency)" in body
    assert "at most once in 30 days" in body
