"""Provider webhooks: anymail (Postmark) tracking, Twilio status callbacks and inbound
SMS with STOP/START, all authenticated; requests built as the providers build them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from contacts.models import ConsentEvent, Contact
from contacts.selectors import contact_consent_state
from integrations.inbound import InboundSms, inbound_sms_handlers
from surveys.models import Invitation
from surveys.services.invitations import invitation_transition
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation

SITE = "https://feedback.example"
TOKEN = "twilio-auth-token"
PHONE = "+491701234567"
WEBHOOK_SECRET = "hook:s3cret"


@pytest.fixture(autouse=True)
def _providers(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def _sent(tenant: Tenant, *, channel: str, message_id: str, crm_id: str = "c-1") -> Invitation:
    with tenant_context(tenant.organization):
        survey = published_survey()
        contact = make_contact(crm_id, email="kim@example.com", phone=PHONE, grant=("email", "sms"))
        invitation = scheduled_invitation(contact, survey, channel=channel)
        return invitation_transition(
            invitation=invitation,
            to_status="sent",
            reason="test",
            provider="postmark" if channel == "email" else "twilio",
            provider_message_id=message_id,
        )


def _status(tenant: Tenant, invitation: Invitation) -> str:
    with tenant_context(tenant.organization):
        return Invitation.objects.get(pk=invitation.pk).status


def _consent(tenant: Tenant, invitation: Invitation) -> dict[str, str]:
    with tenant_context(tenant.organization):
        return contact_consent_state(Contact.objects.get(pk=invitation.contact_id))


# --- Postmark through anymail ----------------------------------------------------------


def _postmark(payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> Any:
    auth = base64.b64encode(secret.encode()).decode()
    return Client().post(
        "/integrations/anymail/postmark/tracking/",
        data=payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def test_postmark_delivery_and_open_move_the_invitation(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="email", message_id="pm-1")
    delivered = {
        "RecordType": "Delivery",
        "MessageID": "pm-1",
        "Recipient": "kim@example.com",
        "DeliveredAt": "2026-11-23T10:00:00Z",
        "Metadata": {},
    }
    assert _postmark(delivered).status_code == 200
    assert _status(tenant_a, invitation) == "delivered"
    opened = {
        "RecordType": "Open",
        "MessageID": "pm-1",
        "Recipient": "kim@example.com",
        "ReceivedAt": "2026-11-23T10:05:00Z",
    }
    assert _postmark(opened).status_code == 200
    assert _status(tenant_a, invitation) == "opened"
    assert _postmark(delivered).status_code == 200  # late and repeated: ignored
    assert _status(tenant_a, invitation) == "opened"


def test_postmark_hard_bounce_ends_the_invitation_and_opts_out(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="email", message_id="pm-2")
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "pm-2",
        "Email": "kim@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
        "Description": "The server was unable to deliver your message",
    }
    assert _postmark(bounce).status_code == 200
    assert _status(tenant_a, invitation) == "bounced"
    assert _consent(tenant_a, invitation)["email"] == "withdrawn"
    with tenant_context(tenant_a.organization):
        latest = ConsentEvent.objects.filter(contact_id=invitation.contact_id).first()
    assert latest is not None
    assert latest.source == "bounce"


def test_postmark_soft_bounce_changes_nothing(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="email", message_id="pm-3")
    soft = {
        "RecordType": "Bounce",
        "Type": "SoftBounce",
        "TypeCode": 4096,
        "MessageID": "pm-3",
        "Email": "kim@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
    }
    assert _postmark(soft).status_code == 200
    assert _status(tenant_a, invitation) == "sent"
    assert _consent(tenant_a, invitation)["email"] == "granted"


def test_postmark_complaint_opts_out(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="email", message_id="pm-4")
    complaint = {
        "RecordType": "SpamComplaint",
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "MessageID": "pm-4",
        "Email": "kim@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
    }
    assert _postmark(complaint).status_code == 200
    assert _consent(tenant_a, invitation)["email"] == "withdrawn"


def test_postmark_webhook_needs_the_secret(tenant_a: Tenant, settings: Any) -> None:
    invitation = _sent(tenant_a, channel="email", message_id="pm-5")
    bounce = {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "pm-5", "Email": "x@y.z"}
    assert _postmark(bounce, secret="hook:wrong").status_code in (400, 401, 403)
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert _postmark(bounce).status_code == 403
    assert _status(tenant_a, invitation) == "sent"
    assert _consent(tenant_a, invitation)["email"] == "granted"


# --- Twilio ----------------------------------------------------------------------------


def _twilio(path: str, params: dict[str, str], *, signature: str | None = None) -> Any:
    if signature is None:
        signature = RequestValidator(TOKEN).compute_signature(f"{SITE}{path}", params)
    headers: dict[str, Any] = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return Client().post(path, params, **headers)


def test_twilio_status_callback_updates_the_sms_invitation(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="sms", message_id="SM1")
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": PHONE}
    assert _twilio("/integrations/twilio/status/", params).status_code == 204
    assert _status(tenant_a, invitation) == "delivered"


def test_twilio_failure_callback_fails_the_invitation(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="sms", message_id="SM2")
    params = {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert _twilio("/integrations/twilio/status/", params).status_code == 204
    assert _status(tenant_a, invitation) == "failed"


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSByaWdodCBvbmU="])
def test_unsigned_or_wrongly_signed_twilio_requests_change_nothing(
    tenant_a: Tenant, signature: str
) -> None:
    invitation = _sent(tenant_a, channel="sms", message_id="SM3")
    status = {"MessageSid": "SM3", "MessageStatus": "delivered"}
    assert _twilio("/integrations/twilio/status/", status, signature=signature).status_code == 403
    inbound = {"From": PHONE, "Body": "STOP", "MessageSid": "SMin"}
    assert _twilio("/integrations/twilio/inbound/", inbound, signature=signature).status_code == 403
    assert _status(tenant_a, invitation) == "sent"
    assert _consent(tenant_a, invitation)["sms"] == "granted"


def test_a_signature_for_another_url_is_refused(tenant_a: Tenant) -> None:
    invitation = _sent(tenant_a, channel="sms", message_id="SM4")
    params = {"MessageSid": "SM4", "MessageStatus": "delivered"}
    other = RequestValidator(TOKEN).compute_signature(
        "http://internal:8000/integrations/twilio/status/", params
    )
    assert _twilio("/integrations/twilio/status/", params, signature=other).status_code == 403
    assert _status(tenant_a, invitation) == "sent"


@pytest.mark.parametrize(
    ("stop", "start", "reply"),
    [
        ("STOP", "START", "no more SMS from us"),
        ("unsubscribe", "unstop", "no more SMS from us"),
        ("Stopp", "START", "keine SMS mehr"),
        ("ABMELDEN", "start", "keine SMS mehr"),
    ],
)
def test_stop_and_start_by_sms_in_english_and_german(
    tenant_a: Tenant, tenant_b: Tenant, stop: str, start: str, reply: str
) -> None:
    mine = _sent(tenant_a, channel="sms", message_id="SM5")
    theirs = _sent(tenant_b, channel="sms", message_id="SM6")
    response = _twilio("/integrations/twilio/inbound/", {"From": PHONE, "Body": stop})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert "<Message>" in response.content.decode()
    assert reply in response.content.decode()
    # The shared sender number is blocked as a whole: both organizations hear it.
    assert _consent(tenant_a, mine)["sms"] == "withdrawn"
    assert _consent(tenant_b, theirs)["sms"] == "withdrawn"
    with tenant_context(tenant_a.organization):
        event = ConsentEvent.objects.filter(contact_id=mine.contact_id, channel="sms").first()
    assert event is not None
    assert event.source == "reply_stop"
    assert _consent(tenant_a, mine)["email"] == "granted"
    _twilio("/integrations/twilio/inbound/", {"From": PHONE, "Body": start})
    assert _consent(tenant_a, mine)["sms"] == "granted"


def test_other_texts_go_to_the_registered_handlers(tenant_a: Tenant, monkeypatch: Any) -> None:
    invitation = _sent(tenant_a, channel="sms", message_id="SM7")
    seen: list[InboundSms] = []
    # The registry alone: without the answer-by-reply handler (tests/test_responses_sms.py).
    monkeypatch.setattr(inbound_sms_handlers, "_handlers", [])

    def handler(message: InboundSms) -> str | None:
        seen.append(message)
        return "Danke!"

    inbound_sms_handlers.register(handler)
    try:
        response = _twilio("/integrations/twilio/inbound/", {"From": PHONE, "Body": "9"})
    finally:
        inbound_sms_handlers.unregister(handler)
    assert "Danke!" in response.content.decode()
    [message] = seen
    assert message.body == "9"
    assert message.senders == [(tenant_a.organization.pk, invitation.contact_id, invitation.pk)]
    empty = _twilio("/integrations/twilio/inbound/", {"From": PHONE, "Body": "hello"})
    assert "<Message>" not in empty.content.decode()
    assert _consent(tenant_a, invitation)["sms"] == "granted"
