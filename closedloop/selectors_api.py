"""Reads of cases for the REST API (``/api/v1/cases/``).

An API key sees every case of its organization (it has no membership and no team), so
these selectors take filters, not a ``CaseAccess``. Each returns a queryset that loads
what the API shows in a fixed number of queries: a page of cases in two (the cases with
their response, contact, touchpoint, journey, assignee, team and SLA policy; their root
causes), one case with its timeline and messages in four.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from closedloop.models import OPEN_CASE_STATUSES, Case, CaseEvent, CaseMessage, RootCause

# Loaded with every case the API shows; the response's answers stay in the database.
_RELATED = (
    "response",
    "contact",
    "touchpoint",
    "journey",
    "owner",
    "team",
    "sla_policy",
)
_DEFERRED = ("response__answers", "response__metadata", "response__contact_attributes")


@dataclass(frozen=True, slots=True)
class CaseApiFilters:
    """The filters of ``GET /api/v1/cases/``; ``None`` (or empty) means "any"."""

    statuses: Sequence[str] = ()
    priorities: Sequence[int] = ()
    assignee_id: int | None = None
    assignee_email: str | None = None
    unassigned: bool = False
    team_id: int | None = None
    touchpoint_id: int | None = None
    journey_id: int | None = None
    overdue: bool | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None
    updated_since: datetime | None = None
    updated_until: datetime | None = None
    crm_id: str | None = None


def overdue_q(now: datetime) -> Q:
    """Cases that missed an SLA target: the sweep marked a breach, or an open case whose
    pending due time has passed (the sweep runs every minute; this does not wait for it).
    A case waiting on the customer has its clock paused and is not overdue for that."""
    running = Q(status__in=OPEN_CASE_STATUSES, paused_at__isnull=True)
    return (
        Q(first_response_breached_at__isnull=False)
        | Q(resolution_breached_at__isnull=False)
        | (running & Q(first_responded_at__isnull=True, first_response_due_at__lt=now))
        | (running & Q(resolution_due_at__lt=now))
    )


def _with_related(cases: QuerySet[Case]) -> QuerySet[Case]:
    return (
        cases.select_related(*_RELATED)
        .defer(*_DEFERRED)
        .prefetch_related(
            Prefetch("root_causes", queryset=RootCause.objects.order_by("name", "id"))
        )
    )


def case_list_for_api(*, filters: CaseApiFilters, now: datetime | None = None) -> QuerySet[Case]:
    """The organization's cases matching ``filters`` (the caller orders and pages)."""
    now = now or timezone.now()
    cases = Case.objects.all()
    if filters.statuses:
        cases = cases.filter(status__in=list(filters.statuses))
    if filters.priorities:
        cases = cases.filter(priority__in=list(filters.priorities))
    if filters.unassigned:
        cases = cases.filter(owner__isnull=True)
    if filters.assignee_id is not None:
        cases = cases.filter(owner_id=filters.assignee_id)
    if filters.assignee_email:
        cases = cases.filter(owner__email__iexact=filters.assignee_email)
    lookups = {
        "team_id": filters.team_id,
        "touchpoint_id": filters.touchpoint_id,
        "journey_id": filters.journey_id,
        "created_at__gte": filters.created_since,
        "created_at__lt": filters.created_until,
        "updated_at__gte": filters.updated_since,
        "updated_at__lt": filters.updated_until,
        "contact__crm_id": filters.crm_id,
    }
    cases = cases.filter(**{key: value for key, value in lookups.items() if value is not None})
    if filters.overdue is True:
        cases = cases.filter(overdue_q(now))
    elif filters.overdue is False:
        cases = cases.exclude(overdue_q(now))
    return _with_related(cases)


def case_get_for_api(*, number: int) -> Case:
    """One case by its number with its root causes, timeline (oldest first) and
    messages; raises ``Case.DoesNotExist``."""
    return (
        _with_related(Case.objects.filter(number=number))
        .select_related("follow_up")
        .prefetch_related(
            Prefetch("events", queryset=CaseEvent.objects.order_by("created_at", "id")),
            Prefetch("messages", queryset=CaseMessage.objects.order_by("created_at", "id")),
        )
        .get()
    )


__all__ = ["CaseApiFilters", "case_get_for_api", "case_list_for_api", "overdue_q"]
