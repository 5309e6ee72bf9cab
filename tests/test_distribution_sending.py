"""Sending invitations: rendering, exactly-once sends, retries, reminders and expiry,
with providers faked at the HTTP boundary (tests/fakes.py)."""

from __future__ import annotations

import email
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection

from integrations.sms_encoding import sms_length
from surveys.messages import invitation_email, invitation_sms
from surveys.models import Invitation, InvitationEvent
from surveys.services.invitations import MAX_ATTEMPTS, invitation_send
from surveys.tasks import invitation_dispatch_due_task, invitation_send_task
from tenants.context import tenant_context
from tenants.models import Organization
from tests.conftest import Tenant, is_postgres
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.fakes import FakeProvider, Reply, fake_provider

provider = pytest.fixture(fake_provider)
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _invitation(tenant: Tenant, *, channel: str = "email", language: str = "en") -> Invitation:
    with tenant_context(tenant.organization):
        survey = published_survey()
        contact = make_contact(
            f"c-{channel}-{language}",
            first_name="Kim",
            email="kim@example.com",
            phone="+491701234567",
            language=language,
            grant=("email", "sms"),
        )
        invitation = scheduled_invitation(contact, survey, channel=channel)
        return Invitation.objects.select_related(
            "contact", "survey", "organization", "survey_version"
        ).get(pk=invitation.pk)


# --- Rendering -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "greeting", "unsubscribe"),
    [
        ("en", "How did we do?", "Hello Kim,", "Unsubscribe from survey invitations"),
        ("de", "Wie waren wir?", "Hallo Kim,", "Von Umfrage-Einladungen abmelden"),
    ],
)
def test_email_in_the_contacts_language_with_links_and_headers(
    tenant_a: Tenant, settings: Any, language: str, subject: str, greeting: str, unsubscribe: str
) -> None:
    settings.SITE_URL = "https://feedback.example"
    Organization.objects.filter(pk=tenant_a.organization.pk).update(logo_content_type="image/png")
    invitation = _invitation(tenant_a, language=language)
    invitation.organization.refresh_from_db()
    message = invitation_email(invitation)
    link = f"https://feedback.example/s/{invitation.token}/"
    unsubscribe_url = f"https://feedback.example/u/{invitation.token}/"
    assert subject in message.subject
    assert message.to == "kim@example.com"
    assert greeting in message.text
    assert link in message.text
    assert unsubscribe_url in message.text
    assert message.html is not None
    assert f'href="{link}"' in message.html
    assert unsubscribe in message.html
    assert f'lang="{language}"' in message.html
    assert "https://feedback.example/branding/alpha/logo" in message.html
    assert tenant_a.organization.brand_colour in message.html
    assert message.headers == {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert message.metadata["invitation_id"] == str(invitation.pk)


@pytest.mark.parametrize(
    ("language", "hint"), [("en", "STOP to opt out"), ("de", "STOP zum Abmelden")]
)
def test_sms_in_the_contacts_language_fits_two_segments(
    tenant_a: Tenant, settings: Any, language: str, hint: str
) -> None:
    settings.SITE_URL = "https://feedback.example"
    invitation = _invitation(tenant_a, channel="sms", language=language)
    body = invitation_sms(invitation).body
    assert f"https://feedback.example/s/{invitation.token}/" in body
    assert body.endswith(hint)
    assert sms_length(body).segments <= 2
    invitation.organization.name = "Sehr Lange Firmierung Handelsgesellschaft " * 8
    long_body = invitation_sms(invitation, reminder=True).body
    assert sms_length(long_body).segments <= 2
    assert f"/s/{invitation.token}/" in long_body
    assert long_body.endswith(hint)


# --- Sending through the file adapters -------------------------------------------------


def test_dispatch_sends_due_email_and_sms_to_the_outbox(tenant_a: Tenant, settings: Any) -> None:
    settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
    mail = _invitation(tenant_a, channel="email")
    text = _invitation(tenant_a, channel="sms", language="de")
    assert invitation_dispatch_due_task()["sends"] == 2
    outbox = Path(settings.OUTBOX_DIR)
    [eml] = list((outbox / "email").glob("*.eml"))
    parsed = email.message_from_bytes(eml.read_bytes())
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"/s/{mail.token}/" in eml.read_text()
    [sms] = list((outbox / "sms").glob("*.json"))
    payload = json.loads(sms.read_text())
    assert f"/s/{text.token}/" in payload["body"]
    assert payload["segments"] <= 2
    with tenant_context(tenant_a.organization):
        stored = {i.channel: i for i in Invitation.objects.all()}
        contact = stored["email"].contact
    assert stored["email"].status == stored["sms"].status == "sent"
    assert stored["email"].provider_message_id == parsed["Message-ID"]
    assert stored["sms"].provider == "file"
    assert contact.last_surveyed_at == stored["email"].sent_at


def test_a_task_run_twice_sends_once(tenant_a: Tenant, settings: Any) -> None:
    settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
    invitation = _invitation(tenant_a)
    kwargs = {"organization_id": tenant_a.organization.pk, "invitation_id": invitation.pk}
    assert invitation_send_task.delay(**kwargs).get() == "sent"
    assert invitation_send_task.delay(**kwargs).get() == "skipped"
    assert invitation_dispatch_due_task()["sends"] == 0
    assert len(list((Path(settings.OUTBOX_DIR) / "email").glob("*.eml"))) == 1


def test_a_claimed_send_is_never_repeated_and_fails_when_stale(
    tenant_a: Tenant, settings: Any
) -> None:
    """The worker died during the provider call: no second send, then ``failed``."""
    invitation = _invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        Invitation.objects.filter(pk=invitation.pk).update(
            send_at=START, sending_started_at=START, attempts=1
        )
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert invitation_dispatch_due_task()["sends"] == 0
        result = invitation_send(
            organization_id=tenant_a.organization.pk, invitation_id=invitation.pk
        )
        assert result.result == "skipped"
    with time_machine.travel(START + timedelta(minutes=11), tick=False):
        invitation_dispatch_due_task()
    with tenant_context(tenant_a.organization):
        stored = Invitation.objects.get(pk=invitation.pk)
        reason = InvitationEvent.objects.filter(invitation=stored).last()
    assert stored.status == "failed"
    assert reason is not None
    assert "outcome unknown" in reason.reason
    assert not (Path(settings.OUTBOX_DIR) / "email").exists()


@pytest.fixture
def postmark(settings: Any, provider: FakeProvider) -> FakeProvider:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": provider.url}
    return provider


def _postmark_ok(message_id: str = "pm-1") -> Reply:
    return Reply(
        200, {"ErrorCode": 0, "Message": "OK", "MessageID": message_id, "To": "kim@example.com"}
    )


def test_postmark_send_stores_the_message_id_and_sends_metadata(
    tenant_a: Tenant, postmark: FakeProvider
) -> None:
    postmark.queue(_postmark_ok("pm-777"))
    invitation = _invitation(tenant_a)
    result = invitation_send(organization_id=tenant_a.organization.pk, invitation_id=invitation.pk)
    assert result.result == "sent", result
    [request] = postmark.received
    payload = request.json
    assert payload["Metadata"]["invitation_id"] == str(invitation.pk)
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in payload[
        "Headers"
    ]
    with tenant_context(tenant_a.organization):
        stored = Invitation.objects.get(pk=invitation.pk)
    assert (stored.provider, stored.provider_message_id) == ("postmark", "pm-777")


def test_transient_errors_back_off_in_the_database_then_fail(
    tenant_a: Tenant, postmark: FakeProvider
) -> None:
    invitation = _invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        Invitation.objects.filter(pk=invitation.pk).update(send_at=START)
    postmark.queue(Reply(503, {"ErrorCode": 1, "Message": "busy"}))
    postmark.queue(_postmark_ok("pm-2"))
    now = START
    with time_machine.travel(now, tick=False):
        first = invitation_send(
            organization_id=tenant_a.organization.pk, invitation_id=invitation.pk
        )
    with tenant_context(tenant_a.organization):
        waiting = Invitation.objects.get(pk=invitation.pk)
    assert first.result == "retry"
    assert waiting.status == "scheduled"
    assert waiting.sending_started_at is None
    assert waiting.attempts == 1
    assert now + timedelta(seconds=30) <= waiting.send_at <= now + timedelta(seconds=45)
    with time_machine.travel(now + timedelta(seconds=10), tick=False):
        assert invitation_dispatch_due_task()["sends"] == 0  # not due yet
    with time_machine.travel(waiting.send_at + timedelta(seconds=1), tick=False):
        assert invitation_dispatch_due_task()["sends"] == 1
    with tenant_context(tenant_a.organization):
        sent = Invitation.objects.get(pk=invitation.pk)
    assert (sent.status, sent.attempts, sent.provider_message_id) == ("sent", 2, "pm-2")
    assert len(postmark.received) == 2

    other = _invitation(tenant_a, language="de")
    postmark.default = Reply(500, {"ErrorCode": 1, "Message": "down"})
    for _attempt in range(MAX_ATTEMPTS):
        with tenant_context(tenant_a.organization):
            Invitation.objects.filter(pk=other.pk).update(send_at=START)
        invitation_send(organization_id=tenant_a.organization.pk, invitation_id=other.pk)
    with tenant_context(tenant_a.organization):
        failed = Invitation.objects.get(pk=other.pk)
    assert failed.status == "failed"
    assert failed.attempts == MAX_ATTEMPTS
    assert "down" in failed.last_error


def test_a_final_error_fails_at_once(tenant_a: Tenant, postmark: FakeProvider) -> None:
    postmark.queue(
        Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'kim@example.com'."})
    )
    invitation = _invitation(tenant_a)
    result = invitation_send(organization_id=tenant_a.organization.pk, invitation_id=invitation.pk)
    assert result.result == "failed"


def test_opt_out_after_scheduling_suppresses_the_send(tenant_a: Tenant, settings: Any) -> None:
    from contacts.services import consent_record
    from tenants.services import SYSTEM

    invitation = _invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        consent_record(
            contact=invitation.contact,
            channel="email",
            action="withdraw",
            source="staff",
            actor=SYSTEM,
        )
    result = invitation_send(organization_id=tenant_a.organization.pk, invitation_id=invitation.pk)
    assert (result.result, result.detail) == ("suppressed", "opt_out")
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get(pk=invitation.pk).status == "suppressed"
        assert invitation.contact.suppressed_sends.get().reason == "opt_out"


@pytest.fixture
def twilio(settings: Any, provider: FakeProvider) -> FakeProvider:
    settings.SMS_BACKEND = "twilio"
    settings.SITE_URL = "https://feedback.example"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "auth-token"
    settings.TWILIO_FROM_NUMBER = "+4930123456"
    settings.TWILIO_API_BASE_URL = provider.url
    settings.TWILIO_TIMEOUT_SECONDS = 2
    return provider


def test_twilio_send_asks_for_status_callbacks(tenant_a: Tenant, twilio: FakeProvider) -> None:
    twilio.queue(Reply(201, {"sid": "SM" + "b" * 32, "status": "queued"}))
    invitation = _invitation(tenant_a, channel="sms")
    invitation_send(organization_id=tenant_a.organization.pk, invitation_id=invitation.pk)
    [request] = twilio.received
    assert request.form["StatusCallback"] == [
        "https://feedback.example/integrations/twilio/status/"
    ]
    assert request.form["To"] == ["+491701234567"]
    with tenant_context(tenant_a.organization):
        stored = Invitation.objects.get(pk=invitation.pk)
    assert (stored.provider, stored.provider_message_id) == ("twilio", "SM" + "b" * 32)


# --- Reminders and expiry --------------------------------------------------------------


def test_one_reminder_after_three_days_then_expiry_after_fourteen(
    tenant_a: Tenant, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
    outbox = Path(settings.OUTBOX_DIR) / "email"
    with time_machine.travel(START, tick=False):
        invitation = _invitation(tenant_a)
        invitation_dispatch_due_task()
    with time_machine.travel(START + timedelta(days=3) - timedelta(minutes=1), tick=False):
        assert invitation_dispatch_due_task()["reminders"] == 0
    with time_machine.travel(START + timedelta(days=3, minutes=1), tick=False):
        assert invitation_dispatch_due_task()["reminders"] == 1
        assert invitation_dispatch_due_task()["reminders"] == 0
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    reminder = email.message_from_bytes(files[-1].read_bytes())
    assert "Reminder" in str(reminder["Subject"])
    with time_machine.travel(START + timedelta(days=14) - timedelta(minutes=1), tick=False):
        invitation_dispatch_due_task()
        with tenant_context(tenant_a.organization):
            assert Invitation.objects.get(pk=invitation.pk).status == "sent"
    with time_machine.travel(START + timedelta(days=14, minutes=1), tick=False):
        assert invitation_dispatch_due_task()["organizations_expiring"] == 1
    with tenant_context(tenant_a.organization):
        stored = Invitation.objects.get(pk=invitation.pk)
        steps = list(
            InvitationEvent.objects.filter(invitation=stored).values_list("to_status", "reason")
        )
    assert stored.status == "expired"
    assert stored.reminder_sent_at is not None
    assert ("sent", "reminder sent") in steps


def test_answered_invitations_get_no_reminder(tenant_a: Tenant, settings: Any) -> None:
    from surveys.services.invitations import invitation_mark_answered

    with time_machine.travel(START, tick=False):
        invitation = _invitation(tenant_a)
        invitation_dispatch_due_task()
        with tenant_context(tenant_a.organization):
            invitation_mark_answered(invitation=Invitation.objects.get(pk=invitation.pk))
    with time_machine.travel(START + timedelta(days=5), tick=False):
        assert invitation_dispatch_due_task()["reminders"] == 0


# --- Concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_message(tenant_a: Tenant, postmark: FakeProvider) -> None:
    if not is_postgres():
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers")
    postmark.default = Reply(
        200,
        {"ErrorCode": 0, "Message": "OK", "MessageID": "pm-once", "To": "kim@example.com"},
        delay=0.3,
    )
    invitation = _invitation(tenant_a)
    kwargs = {"organization_id": tenant_a.organization.pk, "invitation_id": invitation.pk}
    results: list[str] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(invitation_send_task.apply(kwargs=kwargs).get())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == ["sent", "skipped"]
    assert len(postmark.received) == 1
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get(pk=invitation.pk).status == "sent"
