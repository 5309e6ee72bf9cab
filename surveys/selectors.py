"""Reads for journeys, touchpoints, surveys and survey versions (current organization)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from surveys.models import Journey, Survey, SurveyVersion, Touchpoint
from tenants.context import cross_tenant
from tenants.models import Team

# Link tokens are URL-safe base64 (secrets.token_urlsafe): anything else is not one.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

if TYPE_CHECKING:
    from contacts.models import Contact
    from surveys.models_distribution import (
        DistributionRule,
        DistributionSettings,
        Invitation,
        InvitationEvent,
        RecurringSchedule,
        SuppressedSend,
    )


def journey_list() -> QuerySet[Journey]:
    return Journey.objects.annotate(
        touchpoint_count=Count("touchpoints", distinct=True),
        survey_count=Count("touchpoints__surveys", distinct=True),
    ).order_by("name")


def survey_list(*, status: str | None = None, journey_id: int | None = None) -> QuerySet[Survey]:
    """Surveys with their touchpoint and journey, the number of the current published
    version (``published_number``) and of the open draft (``draft_number``)."""
    surveys = Survey.objects.select_related("touchpoint__journey").annotate(
        published_number=Max("versions__number", filter=Q(versions__published_at__isnull=False)),
        draft_number=Max("versions__number", filter=Q(versions__published_at__isnull=True)),
    )
    if status:
        surveys = surveys.filter(status=status)
    if journey_id:
        surveys = surveys.filter(touchpoint__journey_id=journey_id)
    return surveys.order_by("touchpoint__journey__name", "touchpoint__position", "name", "id")


def touchpoint_list_for_journey(journey: Journey) -> QuerySet[Touchpoint]:
    """The journey's touchpoints in order, each with its team and its surveys."""
    surveys = Survey.objects.annotate(
        published_number=Max("versions__number", filter=Q(versions__published_at__isnull=False)),
        draft_number=Max("versions__number", filter=Q(versions__published_at__isnull=True)),
    ).order_by("name", "id")
    return (
        Touchpoint.objects.filter(journey=journey)
        .select_related("team")
        .prefetch_related(Prefetch("surveys", queryset=surveys))
        .order_by("position")
    )


def touchpoint_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    """Touchpoints grouped by journey, for a select with one group per journey."""
    groups: dict[str, list[tuple[int, str]]] = {}
    touchpoints = Touchpoint.objects.select_related("journey").order_by("journey__name", "position")
    for touchpoint in touchpoints:
        groups.setdefault(touchpoint.journey.name, []).append((touchpoint.pk, touchpoint.name))
    return list(groups.items())


def team_choices() -> list[tuple[int, str]]:
    return list(Team.objects.order_by("name").values_list("id", "name"))


def survey_version_current(survey: Survey) -> SurveyVersion | None:
    """The version customers answer now: the latest published one (None before the first)."""
    return (
        SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
        .order_by("-number")
        .first()
    )


def survey_version_draft(survey: Survey) -> SurveyVersion | None:
    return SurveyVersion.objects.filter(survey=survey, published_at__isnull=True).first()


def survey_version_list(survey: Survey) -> QuerySet[SurveyVersion]:
    """Published versions, newest first."""
    return (
        SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
        .select_related("published_by")
        .order_by("-number")
    )


def survey_version_get(survey: Survey, number: int) -> SurveyVersion | None:
    return SurveyVersion.objects.filter(survey=survey, number=number).first()


# --- Distribution: invitations, rules, suppressed sends --------------------------------


def distribution_settings_get() -> DistributionSettings:
    """The organization's distribution settings (defaults, unsaved, before the first edit)."""
    from surveys.models_distribution import DistributionSettings

    return DistributionSettings.objects.first() or DistributionSettings()


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation of a public link, before any organization is known.

    The one cross-tenant lookup of the public pages: the token (192 random bits) names
    exactly one invitation, and with it the organization whose context the page then
    enters. Indexed (``invitation_token_lookup``).
    """
    from surveys.models_distribution import Invitation

    if not token or len(token) > 64 or not TOKEN_PATTERN.fullmatch(token):
        return None
    with cross_tenant(reason="public survey link: the invitation token names the organization"):
        return (
            Invitation.objects.select_related("organization", "contact", "survey", "survey_version")
            .filter(token=token)
            .first()
        )


def distribution_rule_list() -> QuerySet[DistributionRule]:
    from surveys.models_distribution import DistributionRule

    return DistributionRule.objects.select_related("survey").order_by("name", "id")


def invitation_list(*, status: str = "", channel: str = "") -> QuerySet[Invitation]:
    from surveys.models_distribution import Invitation

    queryset = Invitation.objects.select_related("contact", "survey", "rule")
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by("-created_at", "-id")


def invitation_events(invitation: Invitation) -> QuerySet[InvitationEvent]:
    from surveys.models_distribution import InvitationEvent

    return InvitationEvent.objects.filter(invitation=invitation).order_by("at", "id")


def suppressed_send_list() -> QuerySet[SuppressedSend]:
    from surveys.models_distribution import SuppressedSend

    return SuppressedSend.objects.select_related(
        "contact", "survey", "rule", "invitation"
    ).order_by("-created_at", "-id")


def contact_distribution_history(contact: Contact) -> dict[str, Any]:
    """For the contact page: the contact's invitations and suppressed sends, newest first
    ("why was this customer not surveyed?")."""
    from surveys.models_distribution import Invitation, SuppressedSend

    return {
        "invitations": list(
            Invitation.objects.filter(contact=contact)
            .select_related("survey")
            .order_by("-created_at", "-id")[:50]
        ),
        "suppressed": list(
            SuppressedSend.objects.filter(contact=contact)
            .select_related("survey", "rule")
            .order_by("-created_at", "-id")[:50]
        ),
    }


def invitation_by_provider_message_id(message_id: str) -> Invitation | None:
    """The invitation a provider webhook reports on, before the organization is known.

    Cross-tenant on purpose (one indexed lookup, ``invitation_provider_msg``): the
    provider's message id names one message sent by one organization.
    """
    from surveys.models_distribution import Invitation

    if not message_id:
        return None
    with cross_tenant(reason="provider webhook: the provider's message id names the invitation"):
        return Invitation.objects.filter(provider_message_id=message_id).order_by("-id").first()


def sms_consent_holders_of_phone(phone: str) -> list[tuple[int, int]]:
    """(organization id, contact id) of every organization that texted ``phone``: survey
    invitations and closed-loop messages alike, so an SMS STOP reaches all of them.

    Cross-tenant on purpose, like ``sms_senders_of_phone``.
    """
    from closedloop.models import CaseMessage

    if not phone:
        return []
    pairs = {(org, contact) for org, contact, _invitation in sms_senders_of_phone(phone)}
    with cross_tenant(reason="inbound SMS STOP: every organization that texted the number"):
        messages = (
            CaseMessage.objects.filter(
                channel="sms",
                direction="out",
                to_address=phone,
                sent_at__isnull=False,
                case__contact__isnull=False,
            )
            .values_list("organization_id", "case__contact_id")
            .distinct()[:200]
        )
        pairs.update((org, contact) for org, contact in messages)
    return sorted(pairs)


def sms_senders_of_phone(phone: str) -> list[tuple[int, int, int]]:
    """(organization id, contact id, invitation id) per organization that sent an SMS
    invitation to ``phone``, most recently sent first (one row per organization).

    Cross-tenant on purpose: an inbound SMS names only the customer's number (E.164),
    which may be a contact of several organizations; the organizations that texted it
    are the ones the reply can be meant for.
    """
    from surveys.models_distribution import Invitation

    if not phone:
        return []
    with cross_tenant(reason="inbound SMS: the sender's number names the organizations"):
        rows = (
            Invitation.objects.filter(channel="sms", contact__phone=phone, sent_at__isnull=False)
            .order_by("-sent_at", "-id")
            .values_list("organization_id", "contact_id", "pk")[:200]
        )
        seen: set[int] = set()
        result = []
        for organization_id, contact_id, invitation_id in rows:
            if organization_id not in seen:
                seen.add(organization_id)
                result.append((organization_id, contact_id, invitation_id))
        return result


def recurring_schedule_list() -> QuerySet[RecurringSchedule]:
    from surveys.models_distribution import RecurringSchedule

    return RecurringSchedule.objects.select_related("survey").order_by("name", "id")


# --- Website widget ---------------------------------------------------------------------


def contact_by_crm_id(crm_id: str) -> Contact | None:
    """The contact a signed widget identity or open link names (current organization)."""
    from contacts.models import Contact

    if not crm_id:
        return None
    return Contact.objects.filter(crm_id=crm_id).first()


def widget_contact_may_be_surveyed(
    contact: Contact, survey: Survey, now: datetime | None = None
) -> bool:
    """Whether the contact budget lets the website widget ask ``contact`` now.

    The budget invitations obey (``surveys.services.distribution.decide``): at most one
    survey per contact within the organization's ``min_days_between_invitations``,
    counting when the contact was last surveyed (any channel, identified widget answers
    included) and every invitation scheduled, open, answered or expired in that window
    (a scheduled one may lie in the future). An open or scheduled invitation to the same
    survey blocks it as well: the customer would be asked twice. Consent governs
    messages we send, not a pop-up on a page the customer is visiting, so it is not
    checked here.
    """
    from surveys.models_distribution import (
        BUDGET_STATUSES,
        OPEN_STATUSES,
        Invitation,
        InvitationStatus,
    )

    invitations = Invitation.objects.filter(contact=contact, status__in=BUDGET_STATUSES)
    pending = (InvitationStatus.SCHEDULED, *OPEN_STATUSES)
    if invitations.filter(survey=survey, status__in=pending).exists():
        return False
    days = distribution_settings_get().min_days_between_invitations
    if not days:
        return True
    since = (now or timezone.now()) - timedelta(days=days)
    if contact.last_surveyed_at is not None and contact.last_surveyed_at > since:
        return False
    return not invitations.filter(send_at__gt=since).exists()
