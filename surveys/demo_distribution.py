"""Demo distribution data: settings, an "order completed" rule, invitations in several
states and suppressed sends with their reasons (idempotent; called by seed_demo)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record, contact_create
from surveys.models import Survey, SurveyStatus
from surveys.models_distribution import DistributionRule, Invitation
from surveys.services.distribution import (
    _organization_timezone,
    crm_event_process,
    distribution_rule_create,
    distribution_settings_update,
)
from surveys.services.invitations import invitation_transition
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import SYSTEM

RULE_NAME = "Order completed: survey after 2 hours"
DEMO_CONTACTS: list[dict[str, Any]] = [
    {
        "crm_id": "DIST-1001",
        "first_name": "Anna",
        "last_name": "Becker",
        "language": "de",
        "email": "anna.becker@example.com",
        "grant": ("email",),
        "story": "answered",
    },
    {
        "crm_id": "DIST-1002",
        "first_name": "Ben",
        "last_name": "Carter",
        "language": "en",
        "email": "ben.carter@example.invalid",
        "grant": ("email",),
        "story": "bounced",
    },
    {
        "crm_id": "DIST-1003",
        "first_name": "Clara",
        "last_name": "Dietz",
        "language": "de",
        "phone": "+491701112233",
        "grant": ("sms",),
        "story": "sent",
    },
    {
        "crm_id": "DIST-1004",
        "first_name": "Dieter",
        "last_name": "Engel",
        "language": "de",
        "email": "dieter.engel@example.com",
        "grant": ("email",),
        "story": "yesterday",
    },
    {
        "crm_id": "DIST-1005",
        "first_name": "Eva",
        "last_name": "Fischer",
        "language": "de",
        "email": "eva.fischer@example.com",
        "withdraw": ("email",),
        "story": "opted_out",
    },
    {
        "crm_id": "DIST-1006",
        "first_name": "Frank",
        "last_name": "Gross",
        "language": "en",
        "story": "unreachable",
    },
]


def seed_distribution(organization: Organization) -> None:
    with tenant_context(organization):
        if DistributionRule.objects.filter(name=RULE_NAME).exists():
            return
        survey = Survey.objects.filter(status=SurveyStatus.ACTIVE).order_by("id").first()
        if survey is None:
            return
        distribution_settings_update(
            actor=SYSTEM, min_days_between_invitations=30, require_explicit_email_consent=False
        )
        distribution_rule_create(
            actor=SYSTEM,
            name=RULE_NAME,
            event_type="order_completed",
            survey=survey,
            channel="preferred",
            delay=timedelta(hours=2),
            defer_when_blocked=False,
            is_active=True,
        )
        now = timezone.now()
        for spec in DEMO_CONTACTS:
            _story(spec, now)


def _contact(spec: dict[str, Any]) -> Contact:
    contact = Contact.objects.filter(crm_id=spec["crm_id"]).first()
    if contact is None:
        contact = contact_create(
            actor=SYSTEM,
            crm_id=spec["crm_id"],
            first_name=spec["first_name"],
            last_name=spec["last_name"],
            email=spec.get("email", ""),
            phone=spec.get("phone", ""),
            language=spec.get("language", ""),
        )
    for channel in spec.get("grant", ()):
        consent_record(
            contact=contact,
            channel=channel,
            action=ConsentAction.GRANT,
            source=ConsentSource.IMPORT,
            wording="Demo: agreed to feedback invitations at checkout.",
            actor=SYSTEM,
        )
    for channel in spec.get("withdraw", ()):
        consent_record(
            contact=contact,
            channel=channel,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.UNSUBSCRIBE_LINK,
            actor=SYSTEM,
        )
    return contact


def _daytime_order(now: datetime) -> datetime:
    """The latest 09:00 local time whose invitation (2 h later) is already due: the SMS
    goes out at 11:00, outside quiet hours, whatever time the demo is seeded."""
    local_now = now.astimezone(zoneinfo.ZoneInfo(_organization_timezone()))
    order = local_now.replace(hour=9, minute=0, second=0, microsecond=0)
    if order + timedelta(hours=2) > local_now:
        order -= timedelta(days=1)
    return order


def _story(spec: dict[str, Any], now: Any) -> None:
    contact = _contact(spec)
    story = spec["story"]
    if story == "yesterday":
        # Surveyed yesterday: today's order is skipped by the 30-day contact budget.
        Contact.objects.filter(pk=contact.pk).update(last_surveyed_at=now - timedelta(days=1))
        contact.refresh_from_db()
        crm_event_process(
            event_type="order_completed", contact=contact, occurred_at=now, actor=SYSTEM
        )
        return
    occurred = now - timedelta(days=2) if story != "sent" else _daytime_order(now)
    [outcome] = crm_event_process(
        event_type="order_completed", contact=contact, occurred_at=occurred, actor=SYSTEM
    )
    if outcome.invitation_id is None:
        return  # opted out / unreachable: a suppressed send with its reason
    invitation = Invitation.objects.get(pk=outcome.invitation_id)
    sent_at = occurred + timedelta(hours=2)
    invitation_transition(
        invitation=invitation,
        to_status="sent",
        reason="demo",
        at=sent_at,
        provider="file",
        provider_message_id=f"demo-{invitation.pk}",
    )
    Contact.objects.filter(pk=contact.pk).update(last_surveyed_at=sent_at)
    if story == "answered":
        invitation_transition(invitation=invitation, to_status="opened", reason="link opened")
        invitation_transition(invitation=invitation, to_status="answered", reason="demo answer")
    elif story == "bounced":
        invitation_transition(
            invitation=invitation,
            to_status="bounced",
            reason="postmark: bounced",
            provider_data={"description": "Demo: mailbox does not exist"},
        )
        consent_record(
            contact=contact,
            channel="email",
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.BOUNCE,
            wording="postmark: bounced",
            actor=SYSTEM,
        )
