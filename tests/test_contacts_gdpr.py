"""GDPR export and erasure of a contact, through the API and the contact page."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from closedloop.models import Case, CaseEvent, CaseFollowUp, CaseMessage, Notification
from closedloop.services.messages import case_message_receive, case_message_send
from contacts.models import ConsentEvent, Contact
from contacts.services.erasure import contact_erase
from metrics.models import DailyRollup
from metrics.services.rollups import rollups_rebuild
from responses.models import OutboxEvent, Response
from surveys.models import Invitation, InvitationEvent, SuppressedSend
from surveys.services.distribution import crm_event_process
from tenants.context import tenant_context
from tenants.models import AuditLog
from tenants.services import SYSTEM, Actor
from tests.conftest import Tenant
from tests.factories import (
    ConsentEventFactory,
    DistributionRuleFactory,
    InvitationEventFactory,
    InvitationFactory,
    api_key_with_secret,
    case_event_factory,
    case_factory,
    notification_factory,
    published_survey,
    response_factory,
    segment_attribute_factory,
)

EMAIL = "erika.mustermann@example.com"
PHONE = "+4915112345678"
COMMENT = "Erika Mustermann here: the parcel was late, call me on +4915112345678"


def api(tenant: Tenant, method: str, url: str, key: str | None = None, **extra: Any) -> Any:
    return getattr(Client(), method)(
        url, HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}", **extra
    )


@pytest.fixture
def story(tenant_a: Tenant) -> dict[str, Any]:
    """A contact with consent, an invitation, two responses, a case with messages both
    ways, a note, a follow-up, a notification and outbox events."""
    with tenant_context(tenant_a.organization):
        segment_attribute_factory(key="segment")
        contact = Contact.objects.create(
            crm_id="C-4711",
            first_name="Erika",
            last_name="Mustermann",
            email=EMAIL,
            phone=PHONE,
            language="de",
            attributes={"segment": "enterprise", "account_owner": "Paul"},
        )
        ConsentEventFactory(contact=contact, channel="email", action="grant")
        version = published_survey()
        invitation: Any = InvitationFactory(contact=contact, survey_version=version)
        InvitationEventFactory(
            invitation=invitation,
            to_status="bounced",
            reason=f"Mailbox {EMAIL} full",
            provider_data={"event": "bounced", "description": f"550 {EMAIL} unknown"},
        )
        Invitation.objects.filter(pk=invitation.pk).update(last_error=f"550 <{EMAIL}>")
        case = case_factory(
            version=version,
            contact=contact,
            answers={"recommend": 2, "recommend-reason": COMMENT},
        )
        promoter = response_factory(
            version=version,
            contact=contact,
            answers={"recommend": 10, "recommend-reason": "Great, thanks Erika's team"},
        )
        case_message_send(
            case=case,
            actor=Actor.of_user(tenant_a.admin),
            channel="email",
            subject="Your parcel, Erika",
            body="Dear Erika Mustermann, we are sorry.",
        )
        case_message_receive(
            case=case,
            channel="email",
            from_address=EMAIL,
            body="Thanks, please call +4915112345678",
        )
        case_event_factory(case=case, text="Called Erika Mustermann at +4915112345678")
        CaseFollowUp.objects.create(case=case, language="de", comment="All good now, Erika", nps=9)
        notification_factory(case=case, title="New case", body=COMMENT)
        OutboxEvent.objects.create(
            topic="case.updated",
            payload={
                "case_id": case.pk,
                "contact_id": contact.pk,
                "event": {"data": {"to": EMAIL}},
            },
        )
        rollups_rebuild()
    return {
        "contact": contact,
        "case": case,
        "invitation": invitation,
        "responses": [case.response, promoter],
        "version": version,
    }


def _rows_text(tenant: Tenant, contact_id: int) -> str:
    """Every row that concerns the contact, as one text to grep."""
    with tenant_context(tenant.organization):
        case_ids = list(Case.objects.filter(contact_id=contact_id).values_list("pk", flat=True))
        parts: list[Any] = [
            list(Contact.objects.filter(pk=contact_id).values()),
            list(Response.objects.filter(contact_id=contact_id).values()),
            list(Case.objects.filter(pk__in=case_ids).values()),
            list(CaseEvent.objects.filter(case__in=case_ids).values()),
            list(CaseMessage.objects.filter(case__in=case_ids).values()),
            list(CaseFollowUp.objects.filter(case__in=case_ids).values()),
            list(Notification.objects.filter(case__in=case_ids).values()),
            list(Invitation.objects.filter(contact_id=contact_id).values()),
            list(InvitationEvent.objects.filter(invitation__contact_id=contact_id).values()),
            list(ConsentEvent.objects.filter(contact_id=contact_id).values()),
            list(OutboxEvent.objects.values("payload")),
            list(
                AuditLog.objects.filter(
                    object_type="contacts.contact", object_id=str(contact_id)
                ).values()
            ),
        ]
    return json.dumps(parts, default=str)


def _score_totals(tenant: Tenant) -> dict[str, Any]:
    with tenant_context(tenant.organization):
        fields = ["responses", "comments", *(f"nps_{i}" for i in range(11))]
        return DailyRollup.objects.filter(segment_key="").aggregate(
            **{name: Sum(name) for name in fields}
        )


# --- Export ----------------------------------------------------------------------------


def test_export_contains_everything_stored(tenant_a: Tenant, story: dict[str, Any]) -> None:
    contact = story["contact"]
    response = api(tenant_a, "get", f"/api/v1/contacts/{contact.pk}/export/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["contact"]["email"] == EMAIL
    assert data["contact"]["attributes"] == {"account_owner": "Paul", "segment": "enterprise"}
    assert data["consent"]["current_state"]["email"]["state"] == "granted"
    assert [e["action"] for e in data["consent"]["events"]] == ["grant"]
    [invitation] = data["invitations"]
    assert invitation["id"] == story["invitation"].pk
    assert invitation["channel"] == "email"
    assert [h["to_status"] for h in invitation["history"]] == ["bounced"]
    assert [r["nps"] for r in data["responses"]] == [2, 10]
    assert data["responses"][0]["comment"] == COMMENT
    answers = {a["question_id"]: a for a in data["responses"][0]["answers"]}
    assert answers["recommend"]["value"] == 2
    assert answers["recommend-reason"]["value"] == COMMENT
    assert answers["recommend"]["question"]
    [case] = data["cases"]
    assert case["number"] == story["case"].number
    assert [m["direction"] for m in case["messages"]] == ["out", "in"]
    assert case["messages"][0]["to"] == EMAIL
    assert case["follow_up"]["comment"] == "All good now, Erika"
    kinds = {entry["kind"]: entry for entry in case["timeline"]}
    assert kinds["message_out"]["text"] == "Dear Erika Mustermann, we are sorry."
    assert kinds["note"]["text"] is None  # internal: listed, text not exported


def test_export_of_another_organizations_contact_is_404(
    tenant_a: Tenant, tenant_b: Tenant, story: dict[str, Any]
) -> None:
    url = f"/api/v1/contacts/{story['contact'].pk}/export/"
    assert api(tenant_b, "get", url).status_code == 404


# --- Erasure ---------------------------------------------------------------------------


def test_erasure_removes_personal_data_everywhere(tenant_a: Tenant, story: dict[str, Any]) -> None:
    contact = story["contact"]
    before = _rows_text(tenant_a, contact.pk)
    assert EMAIL in before
    assert "Mustermann" in before
    scores_before = _score_totals(tenant_a)
    assert scores_before["comments"] == 2

    response = api(tenant_a, "post", f"/api/v1/contacts/{contact.pk}/erase/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "contact": contact.pk,
        "erased_at": body["erased_at"],
        "responses_anonymised": 2,
        "cases_touched": 1,
        "case_messages_anonymised": 2,
        "invitations": 1,
        "consent_events_recorded": 2,
    }

    after = _rows_text(tenant_a, contact.pk)
    for needle in (EMAIL, PHONE, "Mustermann", "Erika", "C-4711", "parcel was late", "Paul"):
        assert needle.lower() not in after.lower(), needle
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
        assert contact.crm_id == f"erased-{contact.pk}"
        assert contact.erased_at is not None
        assert (contact.email, contact.phone, contact.attributes) == ("", "", {})
        responses = list(Response.objects.filter(contact=contact).order_by("id"))
        assert [r.nps for r in responses] == [2, 10]
        assert [r.comment for r in responses] == ["", ""]
        assert responses[0].answers == {"recommend": 2, "recommend-reason": ""}
        assert all(r.contact_attributes == {"segment": "enterprise"} for r in responses)
        assert Case.objects.filter(pk=story["case"].pk).exists()
        erasure_events = ConsentEvent.objects.filter(contact=contact, source="erasure")
        assert sorted(erasure_events.values_list("channel", "action")) == [
            ("email", "withdraw"),
            ("sms", "withdraw"),
        ]
        [entry] = AuditLog.objects.filter(action="contact.erase")
        assert entry.object_repr == f"erased-{contact.pk}"

    # Scores (and so NPS) are unchanged; the comment count follows the blanked comments,
    # and the refreshed buckets equal a rebuild from the raw responses.
    scores_after = _score_totals(tenant_a)
    assert scores_after == {**scores_before, "comments": 0}
    with tenant_context(tenant_a.organization):
        rollups_rebuild()
    assert _score_totals(tenant_a) == scores_after


def test_erasure_is_idempotent_and_needs_its_own_scope(
    tenant_a: Tenant, story: dict[str, Any]
) -> None:
    url = f"/api/v1/contacts/{story['contact'].pk}/erase/"
    with tenant_context(tenant_a.organization):
        write_key = api_key_with_secret(scopes=["contacts:read", "contacts:write"])[1]
    assert api(tenant_a, "post", url, key=write_key).status_code == 403
    with tenant_context(tenant_a.organization):
        assert Contact.objects.get(pk=story["contact"].pk).erased_at is None

    first = api(tenant_a, "post", url, HTTP_IDEMPOTENCY_KEY="erase-1")
    replay = api(tenant_a, "post", url, HTTP_IDEMPOTENCY_KEY="erase-1")
    again = api(tenant_a, "post", url)
    assert first.status_code == replay.status_code == again.status_code == 200
    assert replay.json() == first.json() == again.json()
    assert replay["Idempotent-Replayed"] == "true"
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="contact.erase").count() == 1
        assert ConsentEvent.objects.filter(source="erasure").count() == 2


def test_erased_contact_cannot_be_changed_or_revived(
    tenant_a: Tenant, story: dict[str, Any]
) -> None:
    contact = story["contact"]
    with tenant_context(tenant_a.organization):
        contact_erase(actor=SYSTEM, contact=contact)
    response = Client().patch(
        f"/api/v1/contacts/{contact.pk}/",
        data=json.dumps({"email": EMAIL}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}",
    )
    assert response.status_code == 409
    bulk = Client().post(
        "/api/v1/contacts/bulk/",
        data=json.dumps({"items": [{"crm_id": f"erased-{contact.pk}", "email": EMAIL}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant_a.raw_key}",
    )
    assert bulk.status_code == 400
    assert bulk.json()["errors"][0]["errors"] == {
        "crm_id": ["This contact was erased; it cannot be changed."]
    }
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
    assert contact.email == ""
    listed = api(tenant_a, "get", "/api/v1/contacts/?erased=true").json()["results"]
    assert [row["id"] for row in listed] == [contact.pk]


def test_erased_contact_is_not_invited_by_a_later_crm_event(
    tenant_a: Tenant, story: dict[str, Any]
) -> None:
    contact = story["contact"]
    with tenant_context(tenant_a.organization):
        rule: Any = DistributionRuleFactory(
            survey=story["version"].survey, event_type="order_completed", delay=timedelta(0)
        )
        contact_erase(actor=SYSTEM, contact=contact)
        contact.refresh_from_db()
        invitations_before = Invitation.objects.count()
        [outcome] = crm_event_process(
            event_type="order_completed",
            contact=contact,
            occurred_at=timezone.now(),
            actor=SYSTEM,
        )
        assert outcome.rule_id == rule.pk
        assert outcome.result == "suppressed"
        assert outcome.reason == "unreachable"
        assert Invitation.objects.count() == invitations_before
        assert SuppressedSend.objects.filter(contact=contact, reason="unreachable").exists()


# --- The contact page ------------------------------------------------------------------


def test_contact_page_exports_and_erases(tenant_a: Tenant, story: dict[str, Any]) -> None:
    contact = story["contact"]
    base = tenant_a.url(f"contacts/{contact.pk}/")
    page = tenant_a.client.get(base)
    assert page.status_code == 200
    assert f"{base}export.json".encode() in page.content
    assert f"{base}erase/".encode() in page.content

    export = tenant_a.client.get(f"{base}export.json")
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment;")
    assert json.loads(export.content)["contact"]["email"] == EMAIL

    confirm = tenant_a.client.get(f"{base}erase/")
    assert confirm.status_code == 200
    refused = tenant_a.client.post(f"{base}erase/", {"confirm": "wrong"})
    assert refused.status_code == 200
    with tenant_context(tenant_a.organization):
        assert Contact.objects.get(pk=contact.pk).erased_at is None
    done = tenant_a.client.post(f"{base}erase/", {"confirm": "C-4711"})
    assert done.status_code == 302
    with tenant_context(tenant_a.organization):
        erased = Contact.objects.get(pk=contact.pk)
        assert erased.erased_at is not None
        entry = AuditLog.objects.get(action="contact.erase")
    assert entry.actor_id == tenant_a.admin.pk


def test_viewers_cannot_erase(tenant_a: Tenant, story: dict[str, Any]) -> None:
    viewer = tenant_a.client_for(tenant_a.member("viewer"))
    url = tenant_a.url(f"contacts/{story['contact'].pk}/erase/")
    assert viewer.post(url, {"confirm": "C-4711"}).status_code == 403
    with tenant_context(tenant_a.organization):
        assert Contact.objects.get(pk=story["contact"].pk).erased_at is None
