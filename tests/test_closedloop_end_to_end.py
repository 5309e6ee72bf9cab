"""The whole closed loop with frozen time, through the real entry points: a detractor
answers on the survey page -> a case in the owner's inbox -> a reminder at 75 % of the
first-contact time -> the breach, the team lead notified -> the owner writes to the
customer from the case page -> the customer's email reply comes back through the
inbound webhook -> the owner resolves with the follow-up survey -> the customer answers
9 and "yes" -> the case is recovered. Every step is on the timeline."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client

from closedloop.models import Case, CaseEvent, CaseFollowUp, CaseMessage, Notification
from closedloop.tasks import escalation_sweep_task
from surveys.models import Invitation
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.distribution_support import make_contact
from tests.factories import (
    InvitationFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchpointFactory,
    published_survey,
)

pytestmark = pytest.mark.django_db

SITE = "https://feedback.example"
SECRET = "hook:s3cret"
# A Tuesday morning; the default detractor policy counts every hour (no business hours).
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    settings.DEFAULT_FROM_EMAIL = "feedback@feedback.example"
    settings.CLOSEDLOOP_REPLY_ADDRESS = ""


def _to(address: str) -> list[Any]:
    return [m for m in mail.outbox if address in m.to]


def _notifications(tenant: Tenant, user: Any) -> list[tuple[str, str]]:
    with tenant_context(tenant.organization):
        return list(
            Notification.objects.filter(user=user).order_by("id").values_list("kind", "title")
        )


def test_a_detractor_is_called_back_and_recovered(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    captured = django_capture_on_commit_callbacks
    owner = tenant_a.member(
        Role.OWNER, username="olga@alpha.example", first_name="Olga", last_name="Owner"
    )
    lead = tenant_a.member(
        Role.OWNER, username="lea@alpha.example", first_name="Lea", last_name="Lead"
    )
    owner_client = tenant_a.client_for(owner)
    customer = Client()

    with time_machine.travel(T0 - HOUR, tick=False), tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Delivery", lead=lead)
        TeamMemberFactory(team=team, user=owner)
        touchpoint = TouchpointFactory(name="Parcel delivery", team=team)
        version = published_survey(touchpoint=touchpoint)
        contact = make_contact(
            "kim",
            first_name="Kim",
            last_name="Kunde",
            email="kim@example.com",
            language="en",
            grant=("email",),
        )
        invitation: Any = InvitationFactory(
            contact=contact,
            survey=version.survey,
            survey_version=version,
            channel="email",
            status="sent",
            sent_at=T0 - HOUR,
            expires_at=T0 + timedelta(days=14),
        )

    # 1. The detractor answers on the survey page (score, then the comment).
    survey_url = f"/s/{invitation.token}/"
    with time_machine.travel(T0, tick=False), captured(execute=True):
        first = customer.post(survey_url, {"step": "0", "recommend": "2", "lang": "en"})
        assert first.status_code == 303
        done = customer.post(
            survey_url,
            {"step": "1", "recommend-reason": "The parcel came a week late.", "lang": "en"},
        )
        assert done.status_code == 303
    with tenant_context(tenant_a.organization):
        case = Case.objects.get(contact=contact)
        assert Invitation.objects.get(pk=invitation.pk).status == "answered"
    assert (case.owner_id, case.team_id, case.status) == (owner.pk, team.pk, "new")
    assert case.first_response_due_at == T0 + 24 * HOUR
    assert case.resolution_due_at == T0 + 48 * HOUR
    case_url = tenant_a.url(f"cases/{case.number}/")

    # ... and it is in the owner's inbox.
    with time_machine.travel(T0 + HOUR, tick=False):
        inbox = owner_client.get(tenant_a.url("cases/"))
    assert inbox.status_code == 200
    assert case_url in inbox.content.decode()
    assert "NPS 2 at Parcel delivery" in inbox.content.decode()

    # 2. At 75 % of the first-contact time the owner is reminded (in the app and by email).
    mail.outbox.clear()
    with (
        time_machine.travel(T0 + 18 * HOUR + timedelta(minutes=1), tick=False),
        captured(execute=True),
    ):
        assert escalation_sweep_task() == 1
    reminder = f"Reminder: case #{case.number} is due soon (First contact)"
    assert ("escalation_remind_owner", reminder) in _notifications(tenant_a, owner)
    [reminder_email] = _to("olga@alpha.example")
    assert reminder in reminder_email.subject
    assert f"{SITE}{case_url}" in reminder_email.body
    assert _to("lea@alpha.example") == []

    # 3. Past the due time: the breach is recorded and the team lead notified.
    with (
        time_machine.travel(T0 + 24 * HOUR + timedelta(minutes=1), tick=False),
        captured(execute=True),
    ):
        assert escalation_sweep_task() == 2
        assert escalation_sweep_task() == 0  # each step fires once
    with tenant_context(tenant_a.organization):
        breached = Case.objects.get(pk=case.pk)
    assert breached.first_response_breached_at == T0 + 24 * HOUR + timedelta(minutes=1)
    escalated = f"Escalation: case #{case.number} missed its First contact target"
    assert ("escalation_notify_team_lead", escalated) in _notifications(tenant_a, lead)
    [lead_email] = _to("lea@alpha.example")
    assert escalated in lead_email.subject

    # 4. The owner writes to the customer from the case page; the email goes out with
    #    the case's reply address.
    with time_machine.travel(T0 + 25 * HOUR, tick=False), captured(execute=True):
        sent = owner_client.post(
            f"{case_url}messages/",
            {
                "channel": "email",
                "language": "en",
                "subject": "Your parcel",
                "body": "Dear {first_name}, I am sorry about the delay. {owner_name}",
            },
        )
    assert sent.status_code == 302
    assert sent["Location"] == f"{case_url}#reply-heading"
    [reply] = _to("kim@example.com")
    assert reply.subject == "Your parcel"
    assert reply.body == "Dear Kim, I am sorry about the delay. Olga Owner"
    assert reply.reply_to == [f"reply+{case.token}@feedback.example"]
    with tenant_context(tenant_a.organization):
        contacted = Case.objects.get(pk=case.pk)
    assert contacted.first_responded_at == T0 + 25 * HOUR
    assert contacted.status == "in_progress"

    # 5. The customer replies by email: Postmark posts it to the inbound webhook.
    address = reply.reply_to[0]
    inbound = {
        "From": "kim@example.com",
        "FromFull": {"Email": "kim@example.com", "Name": "Kim Kunde", "MailboxHash": ""},
        "To": address,
        "ToFull": [{"Email": address, "Name": "", "MailboxHash": case.token}],
        "CcFull": [],
        "BccFull": [],
        "OriginalRecipient": address,
        "MailboxHash": case.token,
        "Subject": "Re: Your parcel",
        "MessageID": "0f4e3b1c-inbound-1",
        "Date": "Wed, 2 Dec 2026 11:00:00 +0100",
        "TextBody": (
            "Thank you for calling back, it is fine now.\n\n"
            "On Wed, 2 Dec 2026, Olga Owner <feedback@feedback.example> wrote:\n"
            "> Dear Kim, I am sorry about the delay."
        ),
        "Headers": [{"Name": "Message-ID", "Value": "<abc@mail.example.com>"}],
        "Attachments": [],
    }
    auth = base64.b64encode(SECRET.encode()).decode()
    with time_machine.travel(T0 + 26 * HOUR, tick=False), captured(execute=True):
        webhook = Client().post(
            "/integrations/anymail/postmark/inbound/",
            data=inbound,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {auth}",
        )
    assert webhook.status_code == 200
    with tenant_context(tenant_a.organization):
        replied = Case.objects.get(pk=case.pk)
    assert replied.customer_replied_at == T0 + 26 * HOUR  # flagged in the owner's inbox
    assert ("case_customer_replied", f"Case #{case.number}: the customer replied") in (
        _notifications(tenant_a, owner)
    )

    # 6. The owner resolves with a summary and the follow-up survey.
    mail.outbox.clear()
    with time_machine.travel(T0 + 27 * HOUR, tick=False), captured(execute=True):
        resolved = owner_client.post(
            f"{case_url}status/",
            {
                "to_status": "resolved",
                "resolution_summary": "Refunded the shipping fee.",
                "send_follow_up": "on",
            },
        )
    assert resolved.status_code == 302
    with tenant_context(tenant_a.organization):
        follow_up = CaseFollowUp.objects.get(case=case)
    [follow_up_email] = _to("kim@example.com")
    link = f"{SITE}/f/{follow_up.token}/"
    assert link in follow_up_email.body

    # 7. The customer answers 9 and "yes": recovered.
    path = re.sub(r"^https://feedback\.example", "", link)
    with time_machine.travel(T0 + 28 * HOUR, tick=False), captured(execute=True):
        page = customer.get(path)
        assert page.status_code == 200
        answered = customer.post(path, {"resolved": "yes", "nps": "9", "lang": "en"})
    assert answered.status_code == 303
    with tenant_context(tenant_a.organization):
        final = Case.objects.get(pk=case.pk)
        messages = list(CaseMessage.objects.filter(case=case).order_by("id"))
        timeline = list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))
    assert final.status == "resolved"
    assert final.recovered is True
    assert final.resolved_at == T0 + 27 * HOUR
    assert [(m.direction, m.status, m.is_follow_up) for m in messages] == [
        ("out", "sent", False),
        ("in", "received", False),
        ("out", "sent", True),
    ]

    # Every step on the timeline, in order, with who did it and when.
    steps = [
        (event.kind, event.actor_label, event.actor_id, event.created_at, event.data.get("action"))
        for event in timeline
    ]
    sla = T0 + 24 * HOUR + timedelta(minutes=1)
    assert steps == [
        ("opened", "routing", None, T0, None),
        ("assigned", "routing", None, T0, None),
        ("escalation", "SLA", None, T0 + 18 * HOUR + timedelta(minutes=1), "remind_owner"),
        ("sla_breached", "SLA", None, sla, None),
        ("escalation", "SLA", None, sla, "notify_team_lead"),
        # The reply is the first contact: the case is in progress from then on.
        ("status", owner.get_username(), owner.pk, T0 + 25 * HOUR, None),
        ("message_out", owner.get_username(), owner.pk, T0 + 25 * HOUR, None),
        ("message_in", "customer", None, T0 + 26 * HOUR, None),
        ("status", owner.get_username(), owner.pk, T0 + 27 * HOUR, None),
        ("follow_up_sent", owner.get_username(), owner.pk, T0 + 27 * HOUR, None),
        ("follow_up_answered", "customer", None, T0 + 28 * HOUR, None),
    ]
    by_kind = {event.kind: event for event in timeline}
    assert timeline[5].data == {"from": "new", "to": "in_progress", "reopened": False}
    assert by_kind["sla_breached"].data["target"] == "first_response"
    assert by_kind["message_out"].text == "Dear Kim, I am sorry about the delay. Olga Owner"
    assert by_kind["message_in"].text == "Thank you for calling back, it is fine now."
    assert by_kind["status"].data == {"from": "in_progress", "to": "resolved", "reopened": False}
    assert by_kind["status"].text == "Refunded the shipping fee."
    assert by_kind["follow_up_answered"].data["nps"] == 9
    assert by_kind["follow_up_answered"].data["recovered"] is True
    assert (
        "case_follow_up_answered",
        f"Case #{case.number}: the customer is recovered (NPS 9)",
    ) in _notifications(tenant_a, owner)

    # The owner sees it all on the case page.
    with time_machine.travel(T0 + 29 * HOUR, tick=False):
        case_page = owner_client.get(case_url)
    assert case_page.status_code == 200
    body = case_page.content.decode()
    assert "Thank you for calling back, it is fine now." in body
    assert "Refunded the shipping fee." in body
