"""Writes of a case: status transitions, assignment, notes, contact attempts, root
causes, priority, and several of them at once (``case_update``, the API's PATCH). Each
writes its timeline entry in the same transaction.

Status changes happen only in ``case_transition`` (allowed transitions below):

* ``waiting`` (on the customer) pauses the SLA clock; leaving it resumes the clock and
  moves the due times by the working time spent waiting.
* ``resolved`` needs a resolution summary, meets the resolution target, and may send
  the follow-up survey (``closedloop.services.messages.case_follow_up_send``).
* ``resolved``/``closed`` -> ``in_progress`` reopens the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from closedloop.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseRootCause,
    CaseStatus,
    Priority,
    RootCause,
)
from closedloop.selectors import case_worker_list
from closedloop.services.clock import (
    CLOCK_FIELDS,
    business_calendar,
    case_clock_refresh,
    policy_calendar,
)
from closedloop.services.notifications import members_only, notify
from closedloop.services.timeline import case_event_add
from tenants.models import Team
from tenants.services import Actor

S = CaseStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.IN_PROGRESS, S.WAITING, S.RESOLVED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.WAITING, S.RESOLVED, S.CLOSED}),
    S.WAITING: frozenset({S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),
}


class InvalidCaseTransition(ValidationError):
    """A status change the table does not allow (``code="not_allowed"``, with the
    statuses the case may move to in ``allowed``) or a resolution without a summary
    (``code="summary_required"``)."""

    allowed: frozenset[str] = frozenset()


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related("sla_policy").get(pk=case.pk)


def _touch(case: Case, now: datetime, fields: list[str]) -> None:
    case.updated_at = now
    case.save(update_fields=[*dict.fromkeys([*fields, "updated_at"])])


def _resume_clock(case: Case, now: datetime) -> None:
    if case.paused_at is None:
        return
    calendar = policy_calendar(case.sla_policy, business_calendar())
    case.paused_minutes += round(calendar.working_minutes_between(case.paused_at, now))
    case.paused_at = None


def _not_allowed(from_status: str, to_status: str) -> InvalidCaseTransition:
    error = InvalidCaseTransition(
        _("A case that is “%(from)s” cannot become “%(to)s”.")
        % {
            "from": S(from_status).label,
            "to": S(to_status).label if to_status in S.values else to_status,
        },
        code="not_allowed",
    )
    error.allowed = ALLOWED_TRANSITIONS.get(from_status, frozenset())
    return error


def case_transition(
    *,
    case: Case,
    to_status: str,
    actor: Actor,
    resolution_summary: str | None = None,
    send_follow_up: bool = False,
    now: datetime | None = None,
) -> Case:
    """Move the case to ``to_status``; raises ``InvalidCaseTransition`` with a message
    for a transition the table does not allow or a resolution without a summary."""
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        from_status = case.status
        if to_status not in ALLOWED_TRANSITIONS.get(from_status, frozenset()):
            raise _not_allowed(from_status, to_status)
        summary = (resolution_summary or "").strip()
        if to_status in (S.RESOLVED, S.CLOSED) and not (summary or case.resolution_summary):
            raise InvalidCaseTransition(
                _("Describe how the case was resolved."), code="summary_required"
            )
        fields = ["status", "paused_at", "paused_minutes", *CLOCK_FIELDS]
        if summary:
            case.resolution_summary = summary
            fields.append("resolution_summary")
        if from_status == S.WAITING:
            _resume_clock(case, now)
        if to_status == S.WAITING:
            case.paused_at = now
        if to_status == S.RESOLVED:
            case.resolved_at = now
            fields.append("resolved_at")
        if to_status == S.CLOSED:
            case.closed_at = now
            case.resolved_at = case.resolved_at or now
            fields += ["closed_at", "resolved_at"]
        if to_status == S.IN_PROGRESS and from_status in (S.RESOLVED, S.CLOSED):
            case.resolved_at = None
            case.closed_at = None
            case.recovered = None
            fields += ["resolved_at", "closed_at", "recovered"]
        case.status = to_status
        case_clock_refresh(case)
        _touch(case, now, fields)
        reopened = from_status in (S.RESOLVED, S.CLOSED) and to_status == S.IN_PROGRESS
        case_event_add(
            case=case,
            kind=CaseEventKind.STATUS,
            actor=actor,
            text=summary if to_status in (S.RESOLVED, S.CLOSED) else "",
            data={"from": from_status, "to": to_status, "reopened": reopened},
            at=now,
        )
        if to_status == S.RESOLVED and send_follow_up:
            from closedloop.services.messages import case_follow_up_send

            case_follow_up_send(case=case, actor=actor, now=now)
    return case


def case_first_contact(case: Case, now: datetime, actor: Actor | None = None) -> None:
    """Record the first contact with the customer (meets the first-contact target); a
    new case is in progress from then on (on the timeline like any status change)."""
    if case.first_responded_at is not None:
        return
    case.first_responded_at = now
    started = case.status == S.NEW
    if started:
        case.status = S.IN_PROGRESS
    case_clock_refresh(case)
    _touch(case, now, ["first_responded_at", "status", *CLOCK_FIELDS])
    if started:
        case_event_add(
            case=case,
            kind=CaseEventKind.STATUS,
            actor=actor or Actor(label="system"),
            data={"from": S.NEW, "to": S.IN_PROGRESS, "reopened": False},
            at=now,
        )


def case_assign(
    *,
    case: Case,
    actor: Actor,
    owner_id: int | None,
    team_id: int | None = None,
    reason: str = "",
    now: datetime | None = None,
    notify_owner: bool = True,
) -> Case:
    """Give the case to a member (and/or a team). The new owner is notified."""
    now = now or timezone.now()
    if owner_id is not None and not members_only([owner_id]):
        raise ValidationError(_("The owner must be a member of the organization."))
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise ValidationError(_("Unknown team."))
    with transaction.atomic():
        case = _locked(case)
        if case.owner_id == owner_id and (team_id is None or case.team_id == team_id):
            return case
        before = {"owner": case.owner_id, "team": case.team_id}
        case.owner_id = owner_id
        if team_id is not None:
            case.team_id = team_id
        _touch(case, now, ["owner", "team"])
        case_event_add(
            case=case,
            kind=CaseEventKind.ASSIGNED,
            actor=actor,
            text=reason,
            data={"from": before, "to": {"owner": case.owner_id, "team": case.team_id}},
            at=now,
        )
        if (
            notify_owner
            and owner_id is not None
            and owner_id != (actor.user.pk if actor.user else None)
        ):
            notify(
                user_ids=[owner_id],
                kind="case_assigned",
                title=_("Case #%(number)s is yours: %(title)s")
                % {"number": case.number, "title": case.title},
                case=case,
            )
    return case


def case_bulk_assign(
    *, case_ids: Iterable[int], actor: Actor, owner_id: int | None, team_id: int | None = None
) -> int:
    """Assign several cases at once (a lead distributing work); how many changed."""
    changed = 0
    with transaction.atomic():
        for case in Case.objects.filter(pk__in=list(case_ids)).order_by("pk"):
            before = (case.owner_id, case.team_id)
            case = case_assign(case=case, actor=actor, owner_id=owner_id, team_id=team_id)
            changed += (case.owner_id, case.team_id) != before
    return changed


def case_note_add(*, case: Case, actor: Actor, text: str, now: datetime | None = None) -> CaseEvent:
    """Add a note to the case's timeline; returns the note (a timeline entry)."""
    text = text.strip()
    if not text:
        raise ValidationError(_("Write a note."))
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        _touch(case, now, [])
        return case_event_add(case=case, kind=CaseEventKind.NOTE, actor=actor, text=text, at=now)


CONTACT_METHODS = ("phone", "email", "sms", "visit", "other")
CONTACT_OUTCOMES = ("reached", "voicemail", "no_answer", "wrong_number")


def case_contact_attempt_log(
    *,
    case: Case,
    actor: Actor,
    method: str,
    outcome: str,
    text: str = "",
    now: datetime | None = None,
) -> Case:
    """Log a contact attempt (a call, a visit...). Any attempt counts as first contact:
    the SLA measures that the owner reached out, not that the customer picked up."""
    if method not in CONTACT_METHODS or outcome not in CONTACT_OUTCOMES:
        raise ValidationError(_("Choose how you contacted the customer and what happened."))
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        case_first_contact(case, now, actor)
        _touch(case, now, [])
        case_event_add(
            case=case,
            kind=CaseEventKind.CONTACT_ATTEMPT,
            actor=actor,
            text=text.strip(),
            data={"method": method, "outcome": outcome},
            at=now,
        )
    return case


def case_root_causes_set(
    *, case: Case, actor: Actor, root_cause_ids: Iterable[int], now: datetime | None = None
) -> Case:
    wanted = set(root_cause_ids)
    causes = {rc.pk: rc for rc in RootCause.objects.filter(pk__in=wanted)}
    known = {pk: rc.name for pk, rc in causes.items()}
    if set(known) != wanted:
        raise ValidationError(_("Choose root causes from the list."))
    tagged = set(CaseRootCause.objects.filter(case=case).values_list("root_cause_id", flat=True))
    if any(not causes[pk].active for pk in wanted - tagged):
        # A retired cause stays on the cases that have it but is not given to new ones.
        raise ValidationError(_("Choose root causes from the list."))
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        current = set(
            CaseRootCause.objects.filter(case=case).values_list("root_cause_id", flat=True)
        )
        if current == wanted:
            return case
        CaseRootCause.objects.filter(case=case).exclude(root_cause_id__in=wanted).delete()
        CaseRootCause.objects.bulk_create(
            [CaseRootCause(case=case, root_cause_id=pk) for pk in wanted - current]
        )
        _touch(case, now, [])
        case_event_add(
            case=case,
            kind=CaseEventKind.ROOT_CAUSES,
            actor=actor,
            text=", ".join(sorted(known.values())),
            data={"added": sorted(wanted - current), "removed": sorted(current - wanted)},
            at=now,
        )
    return case


def case_priority_set(
    *, case: Case, actor: Actor, priority: int, reason: str = "", now: datetime | None = None
) -> Case:
    if priority not in Priority.values:
        raise ValidationError(_("Choose a priority."))
    now = now or timezone.now()
    with transaction.atomic():
        case = _locked(case)
        if case.priority == priority:
            return case
        before = case.priority
        case.priority = priority
        from closedloop.services.routing import case_impact

        case.impact = case_impact(case)
        _touch(case, now, ["priority", "impact"])
        case_event_add(
            case=case,
            kind=CaseEventKind.PRIORITY,
            actor=actor,
            text=reason,
            data={"from": before, "to": priority},
            at=now,
        )
    return case


def case_update(
    *,
    case: Case,
    actor: Actor,
    status: str | None = None,
    resolution_summary: str | None = None,
    send_follow_up: bool = False,
    assign: bool = False,
    owner_id: int | None = None,
    team_id: int | None = None,
    priority: int | None = None,
    root_cause_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Case:
    """Several changes of one case at once, all or nothing (the API's PATCH).

    In order: the assignment (``assign=True`` gives the case to ``owner_id``, None =
    nobody; ``team_id`` alone moves it to a team), the priority, the root causes, and
    the status last, so a case is closed after its other changes. Each change writes its
    own timeline entry and outbox event, as the same change on the case page does; a
    value equal to the current one is no change.

    The owner must be a member who works cases (not a viewer). Raises ``ValidationError``
    keyed by the field at fault (``owner``, ``team``, ``priority``, ``root_causes``) or
    ``InvalidCaseTransition``; then nothing has changed.
    """
    now = now or timezone.now()
    if assign and owner_id is not None and not case_worker_list().filter(user_id=owner_id).exists():
        raise ValidationError(
            {"owner": [_("The owner must be a member of the organization who works cases.")]}
        )
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise ValidationError({"team": [_("Unknown team.")]})
    if priority is not None and priority not in Priority.values:
        raise ValidationError({"priority": [_("Choose a priority.")]})
    with transaction.atomic():
        case = _locked(case)
        # Checked before any write: a refused transition sends no notification.
        allowed = ALLOWED_TRANSITIONS.get(case.status, frozenset())
        if status is not None and status != case.status and status not in allowed:
            raise _not_allowed(case.status, status)
        if assign or team_id is not None:
            case = case_assign(
                case=case,
                actor=actor,
                owner_id=owner_id if assign else case.owner_id,
                team_id=team_id,
                now=now,
            )
        if priority is not None:
            case = case_priority_set(case=case, actor=actor, priority=priority, now=now)
        if root_cause_ids is not None:
            try:
                case = case_root_causes_set(
                    case=case, actor=actor, root_cause_ids=root_cause_ids, now=now
                )
            except ValidationError as exc:
                raise ValidationError({"root_causes": exc.messages}) from exc
        if status is not None and status != case.status:
            case = case_transition(
                case=case,
                to_status=status,
                actor=actor,
                resolution_summary=resolution_summary,
                send_follow_up=send_follow_up and status == S.RESOLVED,
                now=now,
            )
    return case


def case_reply_seen(*, case: Case) -> None:
    """The owner opened the case after the customer wrote: clear the inbox flag."""
    if case.customer_replied_at is not None:
        Case.objects.filter(pk=case.pk).update(customer_replied_at=None)
        case.customer_replied_at = None


__all__ = [
    "ALLOWED_TRANSITIONS",
    "CONTACT_METHODS",
    "CONTACT_OUTCOMES",
    "InvalidCaseTransition",
    "case_assign",
    "case_bulk_assign",
    "case_contact_attempt_log",
    "case_first_contact",
    "case_note_add",
    "case_priority_set",
    "case_reply_seen",
    "case_root_causes_set",
    "case_transition",
    "case_update",
]
