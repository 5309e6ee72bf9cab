"""GDPR storage limitation (Art. 5(1)(e)): anonymise what an organization no longer needs.

An organization sets ``retention_months`` (N). Every night ``retention_apply`` runs in
its context and, for data older than N months (the cutoff):

* **Contacts without activity** since the cutoff (no change of the contact, no response,
  no invitation created, and no open case) are erased with the same service as a GDPR
  erasure request (``contact_erase``): the contact becomes a tombstone, their free text,
  case messages and addresses are scrubbed, scores stay.
* **Customers' free text** older than the cutoff is removed for everybody else too:
  free-text answers and comments of responses, bodies, subjects and addresses of case
  messages, and comments of follow-up surveys. Scores, choices, cases and their outcome
  stay, so every score and rollup is unchanged (comment counts drop).

Work goes in chunks of ``BATCH`` rows, each in its own transaction and marked as done
(``erased_at``, ``free_text_removed_at``, the ``[erased]`` body), so a crash loses
nothing and the next run continues where it stopped. Each run writes one audit entry
with counts (``privacy.retention``) when it changed anything, never personal data.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from closedloop.models import OPEN_CASE_STATUSES, Case, CaseFollowUp, CaseMessage
from contacts.models import Contact
from contacts.services.erasure import ERASED, answers_without_free_text, contact_erase
from metrics.services.rollups import _zone, bucket_of, rollup_refresh
from responses.models import Response
from surveys.models import Invitation
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import Actor, audit_log_record

BATCH = 1000
RETENTION_ACTION = "privacy.retention"
RETENTION_ACTOR = Actor(label="retention")


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime | None
    contacts_erased: int = 0
    responses_scrubbed: int = 0
    case_messages_scrubbed: int = 0
    follow_up_comments_scrubbed: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat() if self.cutoff else None
        return data

    @property
    def total(self) -> int:
        return (
            self.contacts_erased
            + self.responses_scrubbed
            + self.case_messages_scrubbed
            + self.follow_up_comments_scrubbed
        )


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to month end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def retention_cutoff(organization: Organization, now: datetime | None = None) -> datetime | None:
    if not organization.retention_months:
        return None
    return months_before(now or timezone.now(), organization.retention_months)


def contacts_due(cutoff: datetime) -> Any:
    """Contacts of the current organization with no activity since ``cutoff``."""
    return (
        Contact.objects.filter(erased_at__isnull=True, updated_at__lt=cutoff)
        .exclude(Exists(Response.objects.filter(contact=OuterRef("pk"), responded_at__gte=cutoff)))
        .exclude(Exists(Invitation.objects.filter(contact=OuterRef("pk"), created_at__gte=cutoff)))
        .exclude(Exists(Case.objects.filter(contact=OuterRef("pk"), status__in=OPEN_CASE_STATUSES)))
        .order_by("pk")
    )


def responses_due(cutoff: datetime) -> Any:
    return (
        Response.objects.filter(responded_at__lt=cutoff, free_text_removed_at__isnull=True)
        .select_related("survey_version")
        .order_by("pk")
    )


def case_messages_due(cutoff: datetime) -> Any:
    return CaseMessage.objects.filter(created_at__lt=cutoff).exclude(body=ERASED).order_by("pk")


def follow_ups_due(cutoff: datetime) -> Any:
    return CaseFollowUp.objects.filter(sent_at__lt=cutoff).exclude(comment="").order_by("pk")


@contextmanager
def _chunk(organization: Organization) -> Iterator[None]:
    """One chunk of work: its own transaction in the organization's context, committed
    when it ends (on PostgreSQL the tenant context is that transaction)."""
    with tenant_context(organization), transaction.atomic():
        yield


def _erase_contacts(organization: Organization, cutoff: datetime) -> int:
    erased = 0
    while True:
        with tenant_context(organization):
            batch = list(contacts_due(cutoff)[:BATCH])
        if not batch:
            return erased
        for contact in batch:
            with _chunk(organization):  # one transaction per contact, as a GDPR request
                contact_erase(actor=RETENTION_ACTOR, contact=contact)
        erased += len(batch)


def _scrub_responses(organization: Organization, cutoff: datetime, now: datetime) -> int:
    scrubbed = 0
    while True:
        with _chunk(organization):
            batch = list(responses_due(cutoff).select_for_update(of=("self",))[:BATCH])
            if not batch:
                return scrubbed
            zone = _zone()
            buckets = set()
            for response in batch:
                if response.comment:
                    buckets.add(bucket_of(response, zone))
                response.answers = answers_without_free_text(response)
                response.comment = ""
                response.free_text_removed_at = now
                response.updated_at = now
            Response.objects.bulk_update(
                batch, ["answers", "comment", "free_text_removed_at", "updated_at"]
            )
            if buckets:
                rollup_refresh(buckets=buckets)  # comment counts; scores are unchanged
        scrubbed += len(batch)


def _scrub_case_texts(organization: Organization, cutoff: datetime) -> tuple[int, int]:
    messages = 0
    while True:
        with _chunk(organization):
            ids = list(case_messages_due(cutoff).values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            messages += CaseMessage.objects.filter(pk__in=ids).update(
                body=ERASED, subject="", to_address="", from_address=""
            )
    comments = 0
    while True:
        with _chunk(organization):
            ids = list(follow_ups_due(cutoff).values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            comments += CaseFollowUp.objects.filter(pk__in=ids).update(comment="")
    return messages, comments


def retention_preview(
    *, organization: Organization, now: datetime | None = None
) -> RetentionResult:
    """What a run would anonymise now (counts only)."""
    cutoff = retention_cutoff(organization, now)
    if cutoff is None:
        return RetentionResult(cutoff=None)
    with tenant_context(organization):
        return RetentionResult(
            cutoff=cutoff,
            contacts_erased=contacts_due(cutoff).count(),
            responses_scrubbed=responses_due(cutoff).count(),
            case_messages_scrubbed=case_messages_due(cutoff).count(),
            follow_up_comments_scrubbed=follow_ups_due(cutoff).count(),
        )


def retention_apply(*, organization: Organization, now: datetime | None = None) -> RetentionResult:
    """Anonymise the organization's data older than its retention period.

    Call it outside any transaction and tenant context: it enters the organization's
    context for each chunk, and each chunk commits on its own. Contacts go first, so
    their texts are scrubbed by the erasure (with their names cut from case texts).
    """
    now = now or timezone.now()
    cutoff = retention_cutoff(organization, now)
    if cutoff is None:
        return RetentionResult(cutoff=None)
    contacts = _erase_contacts(organization, cutoff)
    responses = _scrub_responses(organization, cutoff, now)
    messages, comments = _scrub_case_texts(organization, cutoff)
    result = RetentionResult(
        cutoff=cutoff,
        contacts_erased=contacts,
        responses_scrubbed=responses,
        case_messages_scrubbed=messages,
        follow_up_comments_scrubbed=comments,
    )
    if result.total:
        with _chunk(organization):
            audit_log_record(
                actor=RETENTION_ACTOR,
                action=RETENTION_ACTION,
                obj=organization,
                changes={key: [None, value] for key, value in result.as_dict().items()},
            )
    return result


__all__ = [
    "RETENTION_ACTION",
    "RetentionResult",
    "months_before",
    "retention_apply",
    "retention_cutoff",
    "retention_preview",
]
