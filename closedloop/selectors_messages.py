"""Reads for the customer messages of cases and their follow-up surveys.

Three lookups cross tenants on purpose, because the customer's side names no
organization: the reply address of an email (``case_by_reply_token``), the number an
SMS comes from (``case_for_sms_reply``) and the follow-up link
(``follow_up_for_answering``). Each returns ids or one row; callers then enter the
organization's context.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet

from closedloop.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseFollowUp,
    CaseMessage,
    MessageChannel,
    MessageDirection,
    MessageTemplate,
)
from tenants.context import cross_tenant

# Case and follow-up tokens: secrets.token_urlsafe(18).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
# A text comes to a case resolved at most this long ago.
SMS_REPLY_WINDOW = timedelta(days=14)


def is_case_token(value: str) -> bool:
    return bool(_TOKEN.match(value or ""))


def case_by_reply_token(token: str) -> tuple[int, int] | None:
    """(organization id, case id) of the case whose reply address carries ``token``."""
    if not is_case_token(token):
        return None
    with cross_tenant(reason="inbound email: the reply address names the case"):
        row = Case.objects.filter(token=token).values_list("organization_id", "pk").first()
    return (int(row[0]), int(row[1])) if row else None


def case_for_sms_reply(phone: str, now: datetime) -> tuple[int, int] | None:
    """(organization id, case id) of the case a text from ``phone`` answers, or None.

    The case (open, or resolved in the last ``SMS_REPLY_WINDOW``) whose SMS to this
    number is the most recent, provided it is more recent than every SMS survey
    invitation to the number: a text after a newer invitation answers the survey.
    """
    from surveys.models_distribution import Invitation

    if not phone:
        return None
    with cross_tenant(reason="inbound SMS: the sender's number names the case"):
        latest_invitation = Invitation.objects.filter(
            channel="sms", contact__phone=phone, sent_at__isnull=False
        ).aggregate(at=Max("sent_at"))["at"]
        messages = CaseMessage.objects.filter(
            direction=MessageDirection.OUT,
            channel=MessageChannel.SMS,
            to_address=phone,
            sent_at__isnull=False,
        ).filter(
            Q(case__status__in=OPEN_CASE_STATUSES)
            | Q(case__resolved_at__gte=now - SMS_REPLY_WINDOW)
        )
        if latest_invitation is not None:
            messages = messages.filter(sent_at__gt=latest_invitation)
        row = messages.order_by("-sent_at", "-id").values_list("organization_id", "case_id").first()
    return (int(row[0]), int(row[1])) if row else None


def follow_up_for_answering(token: str) -> CaseFollowUp | None:
    """The follow-up of the link ``/f/<token>/`` with its case and organization."""
    if not is_case_token(token):
        return None
    with cross_tenant(reason="follow-up survey link: the token names the organization"):
        return (
            CaseFollowUp.objects.select_related("organization", "case")
            .defer("organization__logo")
            .filter(token=token)
            .first()
        )


def case_message_list(case: Case) -> QuerySet[CaseMessage]:
    """The case's messages, oldest first, with their authors."""
    return (
        CaseMessage.objects.filter(case=case).select_related("author").order_by("created_at", "id")
    )


def message_template_list(channel: str | None = None) -> QuerySet[MessageTemplate]:
    queryset = MessageTemplate.objects.order_by("name", "channel")
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset
