"""The customer's replies come back into the case: email through anymail's Postmark
inbound webhook (the reply address names the case) or ``manage.py email_reply``, SMS
through Twilio's inbound webhook or ``manage.py sms_reply``; once per provider message
id, on the timeline, flagged for the owner, and a case waiting on the customer runs
again."""

from __future__ import annotations

import base64
import html
import io
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from twilio.request_validator import RequestValidator

from closedloop.inbound_email import reply_text
from closedloop.models import Case, CaseEvent, CaseMessage, Notification
from closedloop.services.cases import case_transition
from closedloop.services.messages import case_message_send
from closedloop.sms import reply_to_case
from integrations.inbound import inbound_sms_handlers
from responses.models import Response
from responses.sms import answer_by_sms
from surveys.models import Invitation
from surveys.services.invitations import invitation_send
from tenants.context import tenant_context
from tenants.models import Role
from tenants.services import Actor
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.factories import case_factory

pytestmark = pytest.mark.django_db

SITE = "https://feedback.example"
SECRET = "hook:s3cret"
TOKEN = "twilio-auth-token"
PHONE = "+491701234567"
INBOUND_EMAIL = "/integrations/anymail/postmark/inbound/"
INBOUND_SMS = "/integrations/twilio/inbound/"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_sids = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _providers(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SMS_BACKEND = "file"
    settings.CLOSEDLOOP_REPLY_ADDRESS = ""


def _case(tenant: Tenant, *, language: str = "en") -> tuple[Case, Any]:
    owner = tenant.member(Role.OWNER, first_name="Olga", last_name="Owner")
    with time_machine.travel(START - timedelta(hours=1)), tenant_context(tenant.organization):
        contact = make_contact(
            "kim",
            first_name="Kim",
            email="kim@example.com",
            phone=PHONE,
            language=language,
            grant=("email", "sms"),
        )
        case = case_factory(contact=contact, owner=owner)
        assert case.contact == contact  # loaded here: outside a context RLS hides it
        return case, owner


def _postmark_inbound(case: Case, text: str, *, message_id: str = "pm-in-1") -> dict[str, Any]:
    """An inbound email as Postmark posts it (https://postmarkapp.com/developer/webhooks/
    inbound-webhook), with the case's reply address as recipient."""
    address = f"reply+{case.token}@feedback.example"
    return {
        "FromName": "Kim Customer",
        "MessageStream": "inbound",
        "From": "kim@example.com",
        "FromFull": {"Email": "kim@example.com", "Name": "Kim Customer", "MailboxHash": ""},
        "To": f'"Feedback" <{address}>',
        "ToFull": [{"Email": address, "Name": "Feedback", "MailboxHash": case.token}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": address,
        "Subject": "Re: About your parcel",
        "MessageID": message_id,
        "ReplyTo": "",
        "MailboxHash": case.token,
        "Date": "Mon, 23 Nov 2026 10:00:00 +0100",
        "TextBody": text,
        "HtmlBody": "<p>" + text.replace("\n", "<br>") + "</p>",
        "StrippedTextReply": text.split("\n\nOn ")[0],
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<kim@example.com>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": f"<{message_id}@mail.example.com>"},
        ],
        "Attachments": [],
    }


def _post_email(payload: dict[str, Any], secret: str = SECRET) -> Any:
    auth = base64.b64encode(secret.encode()).decode()
    return Client().post(
        INBOUND_EMAIL,
        data=payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def _messages(tenant: Tenant, case: Case, direction: str = "in") -> list[CaseMessage]:
    with tenant_context(tenant.organization):
        return list(CaseMessage.objects.filter(case_id=case.pk, direction=direction).order_by("id"))


def _events(tenant: Tenant, case: Case) -> list[CaseEvent]:
    with tenant_context(tenant.organization):
        return list(CaseEvent.objects.filter(case_id=case.pk).order_by("created_at", "id"))


def _reload(tenant: Tenant, case: Case) -> Case:
    with tenant_context(tenant.organization):
        return Case.objects.get(pk=case.pk)


# --- Email through the Postmark inbound webhook --------------------------------------


def test_an_email_reply_lands_on_the_case_and_wakes_a_waiting_case(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    with time_machine.travel(START, tick=False), tenant_context(tenant_a.organization):
        case_transition(case=case, to_status="waiting", actor=Actor.of_user(owner))
    text = (
        "Thank you, the parcel arrived today.\n\n"
        "On Mon, 23 Nov 2026 at 09:00, ALPHA Corp <feedback@feedback.example> wrote:\n"
        "> Dear Kim, I am sorry."
    )
    with (
        time_machine.travel(START + timedelta(hours=3), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _post_email(_postmark_inbound(case, text))
    assert response.status_code == 200

    [message] = _messages(tenant_a, case)
    assert (message.channel, message.status, message.external_id) == (
        "email",
        "received",
        "pm-in-1",
    )
    assert message.from_address == "kim@example.com"
    assert message.subject == "Re: About your parcel"
    assert message.body == text  # the whole text is kept
    stored = _reload(tenant_a, case)
    assert stored.customer_replied_at == START + timedelta(hours=3)
    assert stored.status == "in_progress"  # the SLA clock runs again
    assert stored.paused_at is None
    assert stored.paused_minutes == 180
    kinds = [(e.kind, e.actor_label) for e in _events(tenant_a, case)][-3:]
    assert kinds == [
        ("status", owner.get_username()),
        ("message_in", "customer"),
        ("status", "customer reply"),
    ]
    message_in = next(e for e in _events(tenant_a, case) if e.kind == "message_in")
    assert message_in.text == "Thank you, the parcel arrived today."
    assert message_in.data["quoted"] is True
    with tenant_context(tenant_a.organization):
        notice = Notification.objects.get(user=owner, kind="case_customer_replied")
    assert notice.title == f"Case #{case.number}: the customer replied"

    # Postmark retries a webhook it got no 2xx for: the same MessageID changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = _post_email(_postmark_inbound(case, text))
    assert again.status_code == 200
    assert len(_messages(tenant_a, case)) == 1
    assert len([e for e in _events(tenant_a, case) if e.kind == "message_in"]) == 1


def test_the_inbound_webhook_needs_the_secret(tenant_a: Tenant, settings: Any) -> None:
    case, _owner = _case(tenant_a)
    assert _post_email(_postmark_inbound(case, "Hi"), secret="hook:wrong").status_code in (
        400,
        401,
        403,
    )
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert _post_email(_postmark_inbound(case, "Hi")).status_code == 403
    assert _messages(tenant_a, case) == []


def test_mail_for_no_known_case_is_logged_and_dropped(
    tenant_a: Tenant, tenant_b: Tenant, caplog: Any
) -> None:
    case, _owner = _case(tenant_a)
    payload = _postmark_inbound(case, "Hello?")
    unknown = "reply+NotAnyCaseToken12345@feedback.example"
    payload.update(
        To=unknown,
        ToFull=[{"Email": unknown, "Name": "", "MailboxHash": "NotAnyCaseToken12345"}],
        OriginalRecipient=unknown,
        MailboxHash="NotAnyCaseToken12345",
    )
    with caplog.at_level(logging.INFO, logger="closedloop.inbound_email"):
        assert _post_email(payload).status_code == 200
    assert "names no case" in caplog.text
    assert _messages(tenant_a, case) == []


def test_reply_goes_to_the_right_organization(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case_a, _owner_a = _case(tenant_a)
    case_b, _owner_b = _case(tenant_b)
    assert case_a.number == case_b.number  # numbers repeat across organizations
    with django_capture_on_commit_callbacks(execute=True):
        _post_email(_postmark_inbound(case_b, "For B", message_id="pm-b"))
    assert _messages(tenant_a, case_a) == []
    [message] = _messages(tenant_b, case_b)
    assert message.body == "For B"


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Thanks!\n\nOn Mon, 23 Nov 2026, Olga <o@x.example> wrote:\n> Sorry", "Thanks!"),
        (
            "Danke!\n\nAm 23.11.2026 um 09:00 schrieb ALPHA Corp <f@x.example>:\n> Entschuldigung",
            "Danke!",
        ),
        ("Fine now.\n> quoted line\n> another", "Fine now."),
        (
            "Wrapped.\n\nOn Mon, 23 Nov 2026 at 09:00, Olga Owner\n<o@x.example> wrote:\n> x",
            "Wrapped.",
        ),
        ("Fine.\n\n-----Original Message-----\nFrom: x", "Fine."),
        ("No quote at all.\nSecond line.", "No quote at all.\nSecond line."),
        ("> only a quote", "> only a quote"),
    ],
)
def test_reply_text_keeps_what_the_customer_wrote_above_the_quote(text: str, new: str) -> None:
    assert reply_text(text) == new


# --- The embedded default: manage.py email_reply ------------------------------------


def test_email_reply_command_plays_a_reply(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, _owner = _case(tenant_a)
    out = io.StringIO()
    address = f"reply+{case.token}@feedback.example"
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "email_reply",
            address,
            "--from",
            "kim@example.com",
            "--text",
            "All good, thanks!",
            "--message-id",
            "local-1",
            stdout=out,
        )
        call_command(
            "email_reply",
            address,
            "--from",
            "kim@example.com",
            "--text",
            "All good, thanks!",
            "--message-id",
            "local-1",
            stdout=out,
        )
    assert f"Reply added to case #{case.number}." in out.getvalue()
    [message] = _messages(tenant_a, case)
    assert (message.body, message.from_address, message.provider) == (
        "All good, thanks!",
        "kim@example.com",
        "local",
    )
    assert _reload(tenant_a, case).customer_replied_at is not None
    with pytest.raises(CommandError, match="not the reply address of any case"):
        call_command(
            "email_reply", "reply+nothing-here-at-all@x.example", "--from", "a@b.c", "--text", "x"
        )


# --- SMS through Twilio's inbound webhook ---------------------------------------------


def _sms(body: str, *, sid: str = "", phone: str = PHONE) -> str | None:
    params = {"From": phone, "To": "+4915100000000", "Body": body}
    params["MessageSid"] = sid or f"SM{next(_sids):032d}"
    signature = RequestValidator(TOKEN).compute_signature(f"{SITE}{INBOUND_SMS}", params)
    response = Client().post(INBOUND_SMS, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    match = re.search(r"<Message>(.*?)</Message>", response.content.decode(), re.S)
    return html.unescape(match.group(1)) if match else None


def _invite_by_sms(tenant: Tenant, contact: Any) -> Invitation:
    """An SMS survey invitation to the contact, sent as the distribution sends it."""
    with tenant_context(tenant.organization):
        invitation = scheduled_invitation(contact, published_survey(), channel="sms")
        outcome = invitation_send(
            organization_id=tenant.organization.pk, invitation_id=invitation.pk
        )
        assert outcome.result == "sent", outcome
        return Invitation.objects.get(pk=invitation.pk)


def _case_sms(tenant: Tenant, case: Case, owner: Any, captured: Any) -> CaseMessage:
    with tenant_context(tenant.organization), captured(execute=True):
        message = case_message_send(
            case=case, actor=Actor.of_user(owner), channel="sms", body="I will call you today."
        )
    with tenant_context(tenant.organization):
        return CaseMessage.objects.get(pk=message.pk)


def test_an_sms_reply_to_the_case_goes_to_the_case_not_to_a_survey(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    with time_machine.travel(START, tick=False):
        invitation = _invite_by_sms(tenant_a, case.contact)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        sent = _case_sms(tenant_a, case, owner, django_capture_on_commit_callbacks)
    assert sent.status == "sent"

    with (
        time_machine.travel(START + timedelta(hours=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        reply = _sms("9", sid="SM-case-1")
        again = _sms("9", sid="SM-case-1")  # Twilio retries with the same MessageSid
    assert reply == again == "Thank you, ALPHA Corp has received your message."
    [message] = _messages(tenant_a, case)
    assert (message.channel, message.body, message.external_id) == ("sms", "9", "SM-case-1")
    assert message.from_address == PHONE
    assert _reload(tenant_a, case).customer_replied_at == START + timedelta(hours=2)
    with tenant_context(tenant_a.organization):
        assert not Response.objects.filter(invitation_id=invitation.pk).exists()


def test_after_a_newer_survey_invitation_a_text_answers_the_survey(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    with time_machine.travel(START, tick=False):
        _case_sms(tenant_a, case, owner, django_capture_on_commit_callbacks)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        invitation = _invite_by_sms(tenant_a, case.contact)
    with (
        time_machine.travel(START + timedelta(hours=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _sms("9")
    assert _messages(tenant_a, case) == []
    with tenant_context(tenant_a.organization):
        answer = Response.objects.get(invitation_id=invitation.pk)
    assert answer.nps == 9


def test_a_case_resolved_long_ago_no_longer_takes_texts(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    with time_machine.travel(START, tick=False):
        _case_sms(tenant_a, case, owner, django_capture_on_commit_callbacks)
        with tenant_context(tenant_a.organization):
            case_transition(
                case=case,
                to_status="resolved",
                actor=Actor.of_user(owner),
                resolution_summary="Refunded",
            )
    with time_machine.travel(START + timedelta(days=13), tick=False):
        assert _sms("Thanks again") is not None
    assert len(_messages(tenant_a, case)) == 1
    with time_machine.travel(START + timedelta(days=15), tick=False):
        assert _sms("Hello?") is None  # nobody takes it: no reply
    assert len(_messages(tenant_a, case)) == 1


def test_sms_reply_command_reaches_the_case(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    _case_sms(tenant_a, case, owner, django_capture_on_commit_callbacks)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sms_reply", PHONE, "Call me after 5 pm", "--no-send", stdout=out)
    assert "ALPHA Corp has received your message" in out.getvalue()
    [message] = _messages(tenant_a, case)
    assert message.body == "Call me after 5 pm"


def test_the_case_handler_is_asked_before_the_survey_answers() -> None:
    handlers = inbound_sms_handlers._handlers
    assert handlers.index(reply_to_case) < handlers.index(answer_by_sms)


def test_invitation_of_another_number_does_not_matter(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner = _case(tenant_a)
    with time_machine.travel(START, tick=False):
        _case_sms(tenant_a, case, owner, django_capture_on_commit_callbacks)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        with tenant_context(tenant_a.organization):
            other = make_contact("other", phone="+491709999999", grant=("sms",))
        _invite_by_sms(tenant_a, other)
    with django_capture_on_commit_callbacks(execute=True):
        _sms("Still waiting for the refund")
    assert [m.body for m in _messages(tenant_a, case)] == ["Still waiting for the refund"]
