"""Opt-outs bind close-the-loop messages too: the case page refuses, a queued message is
not sent after an opt-out, and an SMS STOP reaches organizations that only sent a case
SMS. (Invitations and reminders: tests/test_distribution_sending.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from closedloop.models import CaseMessage, MessageStatus
from closedloop.services.messages import case_message_deliver, case_message_send
from contacts.models import Channel, ConsentAction, ConsentSource, Contact
from contacts.selectors import contact_channel_consent_state
from contacts.services.consent import consent_record
from integrations.inbound import sms_inbound_process
from tenants.context import tenant_context
from tenants.services import SYSTEM, Actor
from tests.conftest import Tenant
from tests.test_closedloop_messages import PHONE, _case, _messages, _owner, _send, _url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _files(settings: Any) -> None:
    settings.SMS_BACKEND = "file"


def _withdraw(tenant: Tenant, contact_id: Any, channel: str) -> None:
    with tenant_context(tenant.organization):
        consent_record(
            contact=Contact.objects.get(pk=contact_id),
            channel=channel,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.STAFF,
            actor=SYSTEM,
        )


def _sms_files(settings: Any) -> list[Path]:
    return list((Path(settings.OUTBOX_DIR) / "sms").glob("*.json"))


def test_the_case_page_refuses_a_channel_the_customer_opted_out_of(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    _withdraw(tenant_a, case.contact_id, Channel.SMS)
    page = _send(
        tenant_a.client_for(owner),
        tenant_a,
        case,
        django_capture_on_commit_callbacks,
        channel="sms",
        body="Hi {first_name}, may I call you?",
    )
    assert page.status_code == 400
    assert "The customer has opted out of messages by SMS." in page.content.decode()
    assert "may I call you?" in page.content.decode()  # the text is kept for another try
    assert _messages(tenant_a, case) == []
    assert _sms_files(settings) == []
    # Email is still possible.
    emailed = _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    assert emailed.status_code == 302
    assert len(mail.outbox) == 1


def test_a_message_queued_before_an_opt_out_is_not_sent(tenant_a: Tenant, settings: Any) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    with tenant_context(tenant_a.organization):
        message = case_message_send(
            case=case, actor=Actor.of_user(owner), channel="sms", body="We will call you."
        )
    _withdraw(tenant_a, case.contact_id, Channel.SMS)

    outcome = case_message_deliver(organization_id=tenant_a.organization.pk, message_id=message.pk)

    assert outcome == "failed"
    assert _sms_files(settings) == []
    with tenant_context(tenant_a.organization):
        message = CaseMessage.objects.get(pk=message.pk)
    assert message.status == MessageStatus.FAILED
    assert message.error == "Not sent: the customer has opted out of this channel."
    assert message.attempts == 0  # never handed to a provider
    # Delivering again (a retry sweep) changes nothing.
    assert (
        case_message_deliver(organization_id=tenant_a.organization.pk, message_id=message.pk)
        == "skipped"
    )
    assert _sms_files(settings) == []
    page = tenant_a.client_for(owner).get(_url(tenant_a, case)).content.decode()
    assert "Not sent: the customer has opted out of this channel." in page


def test_stop_after_a_case_sms_withdraws_consent_in_that_organization(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    with tenant_context(tenant_a.organization):
        message = case_message_send(
            case=case, actor=Actor.of_user(owner), channel="sms", body="Sorry about that."
        )
    case_message_deliver(organization_id=tenant_a.organization.pk, message_id=message.pk)
    assert json.loads(_sms_files(settings)[0].read_text())["to"] == PHONE
    # The same number is a contact of organization B, which never texted it.
    other = _case(tenant_b, _owner(tenant_b))

    reply = sms_inbound_process(phone=PHONE, body="STOP", message_sid="SM-stop-1")

    assert reply == "You will receive no more SMS from us. Reply START to resubscribe."
    with tenant_context(tenant_a.organization):
        state = contact_channel_consent_state(contact_id=case.contact_id or 0, channel="sms")
    assert state == "withdrawn"
    with tenant_context(tenant_b.organization):
        state_b = contact_channel_consent_state(contact_id=other.contact_id or 0, channel="sms")
    assert state_b == "unknown"
