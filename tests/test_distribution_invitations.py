"""Invitations: the state machine, the public survey link and the unsubscribe link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from contacts.models import ConsentEvent
from contacts.selectors import contact_consent_state
from surveys.models import Invitation, InvitationEvent
from surveys.selectors import invitation_by_token
from surveys.services.invitations import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    invitation_send,
    invitation_transition,
)
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation


def _sent_invitation(tenant: Tenant, **contact: Any) -> Invitation:
    with tenant_context(tenant.organization):
        survey = published_survey()
        person = make_contact("c-1", email="kim@example.com", grant=("email",), **contact)
        invitation = scheduled_invitation(person, survey)
    assert invitation_send(
        organization_id=tenant.organization.pk, invitation_id=invitation.pk
    ).result == ("sent")
    with tenant_context(tenant.organization):
        return Invitation.objects.select_related("contact").get(pk=invitation.pk)


def test_tokens_are_long_random_and_unique(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = published_survey()
        person = make_contact("c-1", email="a@example.com")
        tokens = {scheduled_invitation(person, survey).token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 32 for token in tokens)  # 24 random bytes, base64url


def test_transitions_follow_the_table_and_leave_a_timeline(tenant_a: Tenant) -> None:
    invitation = _sent_invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        invitation_transition(invitation=invitation, to_status="delivered", reason="test")
        with pytest.raises(InvalidTransition):
            invitation_transition(invitation=invitation, to_status="scheduled", reason="back")
        invitation_transition(invitation=invitation, to_status="answered", reason="test")
        with pytest.raises(InvalidTransition):
            invitation_transition(invitation=invitation, to_status="expired", reason="late")
        steps = list(
            InvitationEvent.objects.filter(invitation=invitation)
            .order_by("at", "id")
            .values_list("from_status", "to_status")
        )
        stored = Invitation.objects.get(pk=invitation.pk)
    assert steps == [("scheduled", "sent"), ("sent", "delivered"), ("delivered", "answered")]
    assert stored.status == "answered"
    assert stored.sent_at is not None
    assert stored.reminder_due_at == stored.sent_at + timedelta(days=3)
    assert stored.expires_at == stored.sent_at + timedelta(days=14)
    for final in ("answered", "bounced", "failed", "suppressed", "expired"):
        assert ALLOWED_TRANSITIONS[final] == frozenset()


def test_token_lookup_finds_the_invitation_without_a_context(tenant_a: Tenant) -> None:
    invitation = _sent_invitation(tenant_a)
    found = invitation_by_token(invitation.token)
    assert found is not None
    assert found.pk == invitation.pk
    assert found.organization.slug == tenant_a.organization.slug
    assert invitation_by_token("x" * 32) is None
    assert invitation_by_token("") is None


def test_survey_link_opens_the_survey_in_the_contacts_language(tenant_a: Tenant) -> None:
    invitation = _sent_invitation(tenant_a, language="de")
    client = Client()
    response = client.get(f"/s/{invitation.token}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="de"' in body
    assert tenant_a.organization.name in body
    assert 'name="recommend"' in body or "sq-" in body
    assert "Wie wahrscheinlich ist es" in body
    assert "Diese Umfrage wird von" in body
    assert response["Cache-Control"] == "no-store"
    assert client.get(f"/s/{invitation.token}/").status_code == 200
    with tenant_context(tenant_a.organization):
        stored = Invitation.objects.get(pk=invitation.pk)
        opened = InvitationEvent.objects.filter(invitation=invitation, to_status="opened").count()
    assert stored.status == "opened"
    assert stored.opened_at is not None
    assert opened == 1


def test_unknown_expired_and_unsent_tokens_look_the_same(tenant_a: Tenant) -> None:
    expired = _sent_invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        unsent = scheduled_invitation(expired.contact, expired.survey)
    client = Client()
    unknown_page = client.get("/s/" + "A" * 32 + "/")
    assert unknown_page.status_code == 404
    assert "This survey is not available" in unknown_page.content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        expired_page = client.get(f"/s/{expired.token}/")
    unsent_page = client.get(f"/s/{unsent.token}/")
    assert expired_page.status_code == unsent_page.status_code == 404
    assert expired_page.content == unknown_page.content == unsent_page.content


def test_unavailable_page_is_translated(db: None) -> None:
    response = Client().get("/s/" + "B" * 32 + "/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Diese Umfrage ist nicht verfügbar" in response.content.decode()


def test_unsubscribe_get_changes_nothing_and_post_withdraws(tenant_a: Tenant) -> None:
    invitation = _sent_invitation(tenant_a)
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/u/{invitation.token}/")
    assert page.status_code == 200
    assert 'method="post"' in page.content.decode()
    with tenant_context(tenant_a.organization):
        assert contact_consent_state(invitation.contact)["email"] == "granted"
    done = client.post(f"/u/{invitation.token}/")
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    with tenant_context(tenant_a.organization):
        assert contact_consent_state(invitation.contact)["email"] == "withdrawn"
        latest = ConsentEvent.objects.filter(contact=invitation.contact).first()
    assert latest is not None
    assert latest.source == "unsubscribe_link"
    assert latest.channel == "email"


def test_one_click_unsubscribe_post_works_without_a_form(tenant_a: Tenant) -> None:
    invitation = _sent_invitation(tenant_a)
    response = Client(enforce_csrf_checks=True).post(
        f"/u/{invitation.token}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    with tenant_context(tenant_a.organization):
        assert contact_consent_state(invitation.contact)["email"] == "withdrawn"


def test_unsubscribe_with_an_unknown_token_is_the_unavailable_page(db: None) -> None:
    response = Client().post("/u/" + "C" * 32 + "/")
    assert response.status_code == 404
