"""Messages to the customer from a case: the reply panel on the case page, templates in
the customer's language, sending by email (Reply-To of the case) and SMS, exactly-once
sends with retries and the sweep, and who may write."""

from __future__ import annotations

import email
import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from closedloop.models import Case, CaseEvent, CaseMessage, MessageTemplate, Notification
from closedloop.services.messages import MAX_ATTEMPTS, case_message_deliver
from closedloop.tasks import case_message_due_task, case_message_send_task
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    TeamFactory,
    TeamMemberFactory,
    case_factory,
    case_message_factory,
)
from tests.fakes import FakeProvider, Reply, fake_provider

pytestmark = pytest.mark.django_db

provider = pytest.fixture(fake_provider)
SITE = "https://feedback.example"
PHONE = "+491701234567"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "feedback@feedback.example"
    settings.CLOSEDLOOP_REPLY_ADDRESS = ""
    settings.SMS_BACKEND = "file"


def _owner(tenant: Tenant, **names: Any) -> Any:
    return tenant.member(Role.OWNER, first_name="Olga", last_name="Owner", **names)


def _case(
    tenant: Tenant,
    owner: Any,
    *,
    email_address: str = "kim@example.com",
    phone: str = PHONE,
    language: str = "",
) -> Case:
    with tenant_context(tenant.organization):
        contact = ContactFactory(
            first_name="Kim", email=email_address, phone=phone, language=language
        )
        return case_factory(contact=contact, owner=owner)


def _url(tenant: Tenant, case: Case, path: str = "") -> str:
    return tenant.url(f"cases/{case.number}/{path}")


def _send(client: Any, tenant: Tenant, case: Case, captured: Any, **data: Any) -> Any:
    data.setdefault("channel", "email")
    data.setdefault("language", "en")
    data.setdefault("subject", "About your parcel")
    data.setdefault("body", "Dear {first_name}, I am sorry. {owner_name}")
    with captured(execute=True):
        return client.post(_url(tenant, case, "messages/"), data)


def _messages(tenant: Tenant, case: Case) -> list[CaseMessage]:
    with tenant_context(tenant.organization):
        return list(CaseMessage.objects.filter(case_id=case.pk).order_by("id"))


def _events(tenant: Tenant, case: Case, kind: str) -> list[CaseEvent]:
    with tenant_context(tenant.organization):
        return list(CaseEvent.objects.filter(case_id=case.pk, kind=kind).order_by("id"))


def _reload(tenant: Tenant, case: Case) -> Case:
    with tenant_context(tenant.organization):
        return Case.objects.get(pk=case.pk)


# --- Sending from the case page ----------------------------------------------------------


def test_owner_emails_the_customer_with_the_reply_address_of_the_case(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    client = tenant_a.client_for(owner)

    response = _send(client, tenant_a, case, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == f"/o/alpha/cases/{case.number}/#reply-heading"
    [sent] = [m for m in mail.outbox if m.to == ["kim@example.com"]]
    assert sent.subject == "About your parcel"
    assert sent.body == "Dear Kim, I am sorry. Olga Owner"  # placeholders filled
    assert sent.from_email == "feedback@feedback.example"
    assert sent.reply_to == [f"reply+{case.token}@feedback.example"]
    [message] = _messages(tenant_a, case)
    assert (message.direction, message.channel, message.status) == ("out", "email", "sent")
    assert message.to_address == "kim@example.com"
    assert message.author_id == owner.pk
    assert message.attempts == 1
    assert message.sent_at is not None
    stored = _reload(tenant_a, case)
    assert stored.first_responded_at is not None  # reaching out is the first contact
    assert stored.status == "in_progress"
    [event] = _events(tenant_a, case, "message_out")
    assert event.actor_id == owner.pk
    assert event.text == "Dear Kim, I am sorry. Olga Owner"
    assert event.data["channel"] == "email"
    assert event.data["message_id"] == message.pk

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Your email to kim@example.com is on its way." in body
    assert f'id="message-{message.pk}"' in body
    assert "Dear Kim, I am sorry. Olga Owner" in body


def test_the_reply_address_is_configurable(
    tenant_a: Tenant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CLOSEDLOOP_REPLY_ADDRESS = "antwort@inbound.example.org"
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [sent] = mail.outbox
    assert sent.reply_to == [f"antwort+{case.token}@inbound.example.org"]


def test_postmark_message_id_and_metadata_are_stored(
    tenant_a: Tenant, settings: Any, provider: FakeProvider, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": provider.url}
    provider.queue(_ok("pm-42"))
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [request] = provider.received
    assert request.json["ReplyTo"] == f"reply+{case.token}@feedback.example"
    [message] = _messages(tenant_a, case)
    assert request.json["Metadata"]["case_message_id"] == str(message.pk)
    assert (message.provider, message.external_id, message.status) == ("postmark", "pm-42", "sent")


def test_sms_goes_through_the_sms_channel(
    tenant_a: Tenant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    response = _send(
        tenant_a.client_for(owner),
        tenant_a,
        case,
        django_capture_on_commit_callbacks,
        channel="sms",
        subject="ignored for SMS",
        body="Hi {first_name}, I will call you today. {owner_name}",
    )
    assert response.status_code == 302
    [file] = (Path(settings.OUTBOX_DIR) / "sms").glob("*.json")
    payload = json.loads(file.read_text())
    assert payload["to"] == PHONE
    assert payload["body"] == "Hi Kim, I will call you today. Olga Owner"
    [message] = _messages(tenant_a, case)
    assert (message.channel, message.status, message.subject) == ("sms", "sent", "")
    assert message.external_id == payload["id"]
    assert mail.outbox == []


def test_refused_messages_keep_the_text_and_change_nothing(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner, phone="")
    client = tenant_a.client_for(owner)

    no_body = _send(client, tenant_a, case, django_capture_on_commit_callbacks, body="  ")
    assert no_body.status_code == 400
    assert "Write a message." in no_body.content.decode()

    no_subject = _send(client, tenant_a, case, django_capture_on_commit_callbacks, subject="")
    assert no_subject.status_code == 400
    body = no_subject.content.decode()
    assert "Write a subject." in body
    assert "Dear {first_name}, I am sorry. {owner_name}" in body  # the text as written

    no_phone = _send(client, tenant_a, case, django_capture_on_commit_callbacks, channel="sms")
    assert no_phone.status_code == 400
    assert 'value="sms"' not in no_phone.content.decode()  # only reachable channels

    assert _messages(tenant_a, case) == []
    assert _reload(tenant_a, case).first_responded_at is None
    assert mail.outbox == []


def test_an_sms_too_long_is_refused(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    response = _send(
        tenant_a.client_for(owner),
        tenant_a,
        case,
        django_capture_on_commit_callbacks,
        channel="sms",
        body="x" * 700,
    )
    assert response.status_code == 400
    assert "This SMS would be sent in 5 parts; at most 4 are allowed." in html.unescape(
        response.content.decode()
    )
    assert _messages(tenant_a, case) == []


def test_a_customer_without_address_or_number_cannot_be_written_to(tenant_a: Tenant) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner, email_address="", phone="")
    page = tenant_a.client_for(owner).get(_url(tenant_a, case))
    body = page.content.decode()
    assert "The customer left no email address or mobile number" in body
    assert 'id="case-reply-compose"' not in body


# --- Templates in the customer's language --------------------------------------------


def test_a_template_fills_the_composer_in_the_customers_language(tenant_a: Tenant) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner, language="de")
    with tenant_context(tenant_a.organization):
        template = MessageTemplate.objects.get(name="Apology", channel="email")
    client = tenant_a.client_for(owner)

    panel = client.get(_url(tenant_a, case)).content.decode()
    assert 'name="template"' in panel
    assert f'<option value="{template.pk}">Apology</option>' in panel
    assert '<option value="de" selected>' in panel  # the customer's language

    page = client.get(_url(tenant_a, case, f"messages/compose/?template={template.pk}"))
    assert page.status_code == 200
    body = html.unescape(page.content.decode())
    assert "Zu Ihrem Feedback an ALPHA Corp" in body
    assert "Guten Tag Kim," in body
    assert "Olga Owner\nALPHA Corp" in body
    assert f'type="hidden" name="template" value="{template.pk}"' in body

    english = client.get(
        _url(tenant_a, case, f"messages/compose/?template={template.pk}&language=en"),
        HTTP_HX_REQUEST="true",
    )
    fragment = html.unescape(english.content.decode())
    assert fragment.lstrip().startswith('<div id="case-reply"')  # only the panel for htmx
    assert "Dear Kim," in fragment
    assert "About your feedback to ALPHA Corp" in fragment


def test_a_contact_language_the_site_lacks_falls_back_to_the_organization(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner, language="")
    with tenant_context(tenant_a.organization):
        tenant_a.organization.default_language = "de"
        tenant_a.organization.save()
    page = tenant_a.client_for(owner).get(_url(tenant_a, case)).content.decode()
    assert '<option value="de" selected>' in page


# --- Who may write -----------------------------------------------------------------------


def test_only_members_who_see_the_case_may_write(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    stranger = tenant_a.member(Role.OWNER)
    viewer = tenant_a.member(Role.VIEWER)
    teammate = tenant_a.member(Role.OWNER)
    with tenant_context(tenant_a.organization):
        team = TeamFactory()
        TeamMemberFactory(team=team, user=teammate)
        Case.objects.filter(pk=case.pk).update(team=team)

    denied = _send(
        tenant_a.client_for(stranger), tenant_a, case, django_capture_on_commit_callbacks
    )
    assert denied.status_code == 404
    forbidden = _send(
        tenant_a.client_for(viewer), tenant_a, case, django_capture_on_commit_callbacks
    )
    assert forbidden.status_code == 403
    assert _messages(tenant_a, case) == []

    allowed = _send(
        tenant_a.client_for(teammate), tenant_a, case, django_capture_on_commit_callbacks
    )
    assert allowed.status_code == 302
    manager = _send(tenant_a.client, tenant_a, case, django_capture_on_commit_callbacks)
    assert manager.status_code == 302  # the admin sees every case
    assert len(_messages(tenant_a, case)) == 2


def test_another_organizations_case_is_not_found(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case_b = _case(tenant_b, _owner(tenant_b))
    url = f"/o/{tenant_b.organization.slug}/cases/{case_b.number}/messages/"
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client.post(url, {"channel": "email", "body": "x", "subject": "x"})
    assert response.status_code == 404
    assert _messages(tenant_b, case_b) == []


# --- Exactly once: retries, a second task, the sweep -----------------------------------


@pytest.fixture
def postmark(settings: Any, provider: FakeProvider) -> FakeProvider:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": provider.url}
    return provider


def _ok(message_id: str) -> Reply:
    return Reply(
        200, {"ErrorCode": 0, "Message": "OK", "MessageID": message_id, "To": "kim@example.com"}
    )


def test_transient_errors_retry_with_backoff_then_send_once(
    tenant_a: Tenant, postmark: FakeProvider, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    postmark.queue(Reply(503, {"ErrorCode": 1, "Message": "busy"}), _ok("pm-2"))
    with time_machine.travel(START, tick=False):
        _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [waiting] = _messages(tenant_a, case)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert "busy" in waiting.error
    assert waiting.next_attempt_at is not None
    assert START + timedelta(seconds=30) <= waiting.next_attempt_at <= START + timedelta(seconds=45)

    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        assert case_message_due_task() == 0  # not due yet
    with time_machine.travel(waiting.next_attempt_at + timedelta(seconds=1), tick=False):
        assert case_message_due_task() == 1
        assert case_message_due_task() == 0
    [sent] = _messages(tenant_a, case)
    assert (sent.status, sent.attempts, sent.external_id) == ("sent", 2, "pm-2")
    kwargs = {"organization_id": tenant_a.organization.pk, "message_id": sent.pk}
    assert case_message_send_task.delay(**kwargs).get() == "skipped"  # a duplicate task
    assert len(postmark.received) == 2


def test_a_message_that_keeps_failing_is_marked_failed_and_the_owner_told(
    tenant_a: Tenant, postmark: FakeProvider, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    postmark.default = Reply(500, {"ErrorCode": 1, "Message": "down"})
    _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [message] = _messages(tenant_a, case)
    for _attempt in range(MAX_ATTEMPTS - 1):
        with tenant_context(tenant_a.organization):
            CaseMessage.objects.filter(pk=message.pk).update(next_attempt_at=START)
        with django_capture_on_commit_callbacks(execute=True):
            case_message_deliver(organization_id=tenant_a.organization.pk, message_id=message.pk)
    [failed] = _messages(tenant_a, case)
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    assert "down" in failed.error
    [event] = _events(tenant_a, case, "message_failed")
    assert event.data["message_id"] == message.pk
    with tenant_context(tenant_a.organization):
        notice = Notification.objects.get(user=owner, kind="case_message_failed")
    assert f"#{case.number}" in notice.title
    sends = [r for r in postmark.received if "case_message_id" in r.json.get("Metadata", {})]
    assert len(sends) == MAX_ATTEMPTS


def test_a_final_error_fails_at_once(
    tenant_a: Tenant, postmark: FakeProvider, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    postmark.queue(
        Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'kim@example.com'."})
    )
    _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [message] = _messages(tenant_a, case)
    assert (message.status, message.attempts) == ("failed", 1)
    assert len(_events(tenant_a, case, "message_failed")) == 1


def test_a_missing_broker_leaves_the_message_to_the_sweep(
    tenant_a: Tenant,
    settings: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> Any:
        raise OSError("connection refused")

    monkeypatch.setattr(case_message_send_task, "apply_async", broker_down)
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    with time_machine.travel(START, tick=False):
        response = _send(
            tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks
        )
    assert response.status_code == 302  # the owner is not bothered
    [queued] = _messages(tenant_a, case)
    assert queued.status == "queued"
    with time_machine.travel(START + timedelta(seconds=5), tick=False):
        assert case_message_due_task() == 0  # the task after commit may still come
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert case_message_due_task() == 1
    assert [m.status for m in _messages(tenant_a, case)] == ["sent"]
    assert len(mail.outbox) == 1


def test_a_send_a_worker_left_unfinished_is_failed_never_repeated(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(case_message_send_task, "apply_async", lambda *a, **k: None)
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    with time_machine.travel(START, tick=False):
        _send(tenant_a.client_for(owner), tenant_a, case, django_capture_on_commit_callbacks)
    [message] = _messages(tenant_a, case)
    with tenant_context(tenant_a.organization):  # claimed by a worker that then died
        CaseMessage.objects.filter(pk=message.pk).update(
            status="sending", sending_started_at=START, attempts=1
        )
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert case_message_due_task() == 0
        assert (
            case_message_deliver(organization_id=tenant_a.organization.pk, message_id=message.pk)
            == "skipped"
        )
    with (
        time_machine.travel(START + timedelta(minutes=11), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        case_message_due_task()
    [failed] = _messages(tenant_a, case)
    assert failed.status == "failed"
    assert "outcome unknown" in failed.error
    assert len(_events(tenant_a, case, "message_failed")) == 1
    assert [m for m in mail.outbox if m.to == ["kim@example.com"]] == []


# --- The panel on the case page ----------------------------------------------------------


def test_the_panel_lists_messages_with_their_status_and_the_new_part_of_replies(
    tenant_a: Tenant, django_assert_num_queries: Any
) -> None:
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    with tenant_context(tenant_a.organization):
        case_message_factory(
            case=case, body="We are sorry.", status="failed", error="bounced", author=owner
        )
        case_message_factory(
            case=case,
            direction="in",
            status="received",
            from_address="kim@example.com",
            body="Thanks, all good now.\n\nOn Mon, 23 Nov 2026, Olga wrote:\n> We are sorry.",
        )
    client = tenant_a.client_for(owner)
    client.get(_url(tenant_a, case))  # warm up (session, caches)
    with CaptureQueriesContext(connection) as few:
        page = client.get(_url(tenant_a, case))
    body = html.unescape(page.content.decode())
    panel = body[body.index('id="case-reply"') :]
    assert "Failed" in panel
    assert "Not delivered: bounced" in panel
    assert "From the customer" in panel
    new_part = re.search(
        r'<div class="timeline-text"><p>(.*?)</p></div>', panel.split("From the customer")[1], re.S
    )
    assert new_part is not None
    assert new_part.group(1) == "Thanks, all good now."
    assert "Show the whole message" in panel

    with tenant_context(tenant_a.organization):  # more messages by more authors
        for _n in range(5):
            case_message_factory(case=case, author=tenant_a.member(Role.OWNER))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(_url(tenant_a, case))


def test_email_is_a_real_mime_message(
    tenant_a: Tenant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
    owner = _owner(tenant_a)
    case = _case(tenant_a, owner)
    _send(
        tenant_a.client_for(owner),
        tenant_a,
        case,
        django_capture_on_commit_callbacks,
        body="Grüße, {first_name}",
    )
    [eml] = (Path(settings.OUTBOX_DIR) / "email").glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes())
    assert parsed["Reply-To"] == f"reply+{case.token}@feedback.example"
    [message] = _messages(tenant_a, case)
    assert message.external_id == parsed["Message-ID"]
