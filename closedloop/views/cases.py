"""One case: ``/o/<org>/cases/<number>/`` and its actions.

The page shows the case's state and SLA clocks, the response that opened it (every
answer with its question), further feedback joined to it, the customer's CRM attributes,
their earlier responses and cases, the timeline, and the actions. Each action is a small
POST form with its own address; it redirects back to the case with a message (errors
from the services become messages, never a server error).

Opening the page as the owner clears the "customer replied" flag; opening it marks the
user's notifications about the case read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closedloop.forms_cases import (
    METHOD_LABELS,
    OUTCOME_LABELS,
    AssignForm,
    ContactAttemptForm,
    NoteForm,
    PriorityForm,
    RootCausesForm,
    StatusForm,
)
from closedloop.models import Case, CaseEvent, CaseEventKind, CaseStatus, Priority
from closedloop.selectors import (
    CaseAccess,
    CaseContext,
    assignable_team_list,
    assignee_list,
    assignment_allowed,
    case_context,
    case_get,
    user_label,
)
from closedloop.services.cases import (
    ALLOWED_TRANSITIONS,
    case_assign,
    case_contact_attempt_log,
    case_note_add,
    case_priority_set,
    case_reply_seen,
    case_root_causes_set,
    case_transition,
)
from closedloop.services.notifications import notification_mark_read
from closedloop.views.inbox import request_access, sla_countdown
from responses.selectors import response_answers
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

S = CaseStatus
FINISHING = (S.RESOLVED, S.CLOSED)
# The order of the status buttons, whatever the transition table's order.
STATUS_ORDER = (S.IN_PROGRESS, S.WAITING, S.RESOLVED, S.CLOSED)


def _case_or_404(request: HttpRequest, number: int) -> tuple[CaseAccess, Case]:
    access = request_access(request)
    try:
        return access, case_get(access=access, number=number)
    except Case.DoesNotExist:
        raise Http404 from None


def _status_button_label(case: Case, to_status: str) -> str:
    if to_status == S.IN_PROGRESS:
        return _("Reopen") if case.status in FINISHING else _("Start working")
    if to_status == S.WAITING:
        return _("Wait for the customer")
    if to_status == S.RESOLVED:
        return _("Resolve")
    return _("Close")


# --- The timeline ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event: CaseEvent
    title: str
    detail: str
    actor: str


def _status_label(value: Any) -> str:
    return str(S(value).label) if value in S.values else str(value or "")


def _priority_label(value: Any) -> str:
    return str(Priority(value).label) if value in Priority.values else str(value or "")


def _event_detail(event: CaseEvent, extra: CaseContext) -> str:
    data = event.data or {}
    if event.kind == CaseEventKind.STATUS:
        text = _("%(from)s → %(to)s") % {
            "from": _status_label(data.get("from")),
            "to": _status_label(data.get("to")),
        }
        return f"{text} ({_('reopened')})" if data.get("reopened") else text
    if event.kind == CaseEventKind.PRIORITY:
        return _("%(from)s → %(to)s") % {
            "from": _priority_label(data.get("from")),
            "to": _priority_label(data.get("to")),
        }
    if event.kind == CaseEventKind.CONTACT_ATTEMPT:
        return _("%(method)s: %(outcome)s") % {
            "method": METHOD_LABELS.get(data.get("method", ""), data.get("method", "")),
            "outcome": OUTCOME_LABELS.get(data.get("outcome", ""), data.get("outcome", "")),
        }
    if event.kind == CaseEventKind.ASSIGNED:
        to = data.get("to") or {}
        owner_id, team_id = to.get("owner"), to.get("team")
        owner = extra.users.get(owner_id) if isinstance(owner_id, int) else None
        team = extra.teams.get(team_id) if isinstance(team_id, int) else None
        who = user_label(owner) if owner is not None else _("nobody")
        if team:
            return _("Owner: %(owner)s, team: %(team)s") % {"owner": who, "team": team}
        return _("Owner: %(owner)s") % {"owner": who}
    return ""


def _timeline(extra: CaseContext) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            event=event,
            title=event.get_kind_display(),
            detail=_event_detail(event, extra),
            actor=user_label(event.actor) if event.actor is not None else event.actor_label,
        )
        for event in extra.events
    ]


# --- The page ----------------------------------------------------------------------------


def _assign_form(access: CaseAccess, data: Any = None) -> AssignForm:
    return AssignForm(
        data,
        auto_id="assign_%s",
        owner_choices=[(m.user_id, user_label(m.user)) for m in assignee_list(access)],
        team_choices=[(team.pk, team.name) for team in assignable_team_list(access)],
    )


def _root_cause_choices(extra: CaseContext) -> list[tuple[int, str]]:
    return [(root.pk, root.name) for root in extra.root_causes]


@capability_required(Capability.CASES_WORK)
@require_GET
def case_detail(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    access, case = _case_or_404(request, number)
    user_id = access.user_id
    if case.owner_id == user_id:
        case_reply_seen(case=case)
    notification_mark_read(user_id=user_id, case_id=case.pk)
    extra = case_context(access=access, case=case)
    allowed = ALLOWED_TRANSITIONS.get(case.status, frozenset())
    transitions = [
        (status, _status_button_label(case, status))
        for status in STATUS_ORDER
        if status in allowed and status not in FINISHING
    ]
    finishing = [
        (status, _status_button_label(case, status))
        for status in STATUS_ORDER
        if status in allowed and status in FINISHING
    ]
    may_assign = access.may_assign_case(case)
    assign_form = None
    if may_assign:
        assign_form = _assign_form(access)
        assign_form.initial = {"owner": case.owner_id, "team": case.team_id}
    context = {
        "case": case,
        "response": case.response,
        "answers": response_answers(case.response, language=translation.get_language()),
        "snapshot_attributes": sorted((case.response.contact_attributes or {}).items()),
        "current_attributes": sorted((case.contact.attributes or {}).items())
        if case.contact
        else [],
        "extra": extra,
        "timeline": _timeline(extra),
        "sla": sla_countdown(case, timezone.now()),
        "transitions": transitions,
        "finishing": finishing,
        "may_follow_up": S.RESOLVED in allowed,
        # Every form on the page gets its own element ids (several have a "text").
        "status_form": StatusForm(
            initial={"resolution_summary": case.resolution_summary}, auto_id="status_%s"
        ),
        "note_form": NoteForm(auto_id="note_%s"),
        "contact_form": ContactAttemptForm(auto_id="contact_%s"),
        "root_causes_form": RootCausesForm(
            choices=_root_cause_choices(extra),
            initial={"root_causes": sorted(extra.root_cause_ids)},
            auto_id="root_%s",
        ),
        "priority_form": PriorityForm(initial={"priority": case.priority}, auto_id="priority_%s"),
        "assign_form": assign_form,
        "may_take": access.may_take(case),
        "is_owner": case.owner_id == user_id,
    }
    return render(request, "closedloop/case_detail.html", context)


# --- Actions -----------------------------------------------------------------------------

Perform = Callable[[CaseAccess, Case, dict[str, Any], Actor], str]


def _form_errors(form: forms.Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _act(
    request: HttpRequest,
    number: int,
    make_form: Callable[[CaseAccess, Case], forms.Form],
    perform: Perform,
) -> HttpResponse:
    """Validate the action's form, run it, tell the user, and go back to the case."""
    access, case = _case_or_404(request, number)
    form = make_form(access, case)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            text = perform(access, case, form.cleaned_data, Actor.of_user(request.user))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, text)
    return redirect("closedloop:case-detail", org_slug=request.organization.slug, number=number)  # type: ignore[attr-defined]


@capability_required(Capability.CASES_WORK)
@require_POST
def case_status(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        to_status = data["to_status"]
        case = case_transition(
            case=case,
            to_status=to_status,
            actor=actor,
            resolution_summary=data["resolution_summary"] if to_status in FINISHING else None,
            send_follow_up=bool(data["send_follow_up"]) and to_status == S.RESOLVED,
        )
        return _("The case is now “%(status)s”.") % {"status": case.get_status_display()}

    return _act(request, number, lambda access, case: StatusForm(request.POST), perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_note(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        case_note_add(case=case, actor=actor, text=data["text"])
        return _("Note added.")

    return _act(request, number, lambda access, case: NoteForm(request.POST), perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_contact_attempt(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        case_contact_attempt_log(
            case=case,
            actor=actor,
            method=data["method"],
            outcome=data["outcome"],
            text=data["text"],
        )
        return _("Contact attempt logged.")

    return _act(request, number, lambda access, case: ContactAttemptForm(request.POST), perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_root_causes(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def make_form(access: CaseAccess, case: Case) -> forms.Form:
        extra = case_context(access=access, case=case)
        return RootCausesForm(request.POST, choices=_root_cause_choices(extra))

    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        case_root_causes_set(case=case, actor=actor, root_cause_ids=data["root_causes"])
        return _("Root causes saved.")

    return _act(request, number, make_form, perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_priority(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        case = case_priority_set(
            case=case, actor=actor, priority=data["priority"], reason=data["reason"]
        )
        return _("Priority: %(priority)s.") % {"priority": case.get_priority_display()}

    return _act(request, number, lambda access, case: PriorityForm(request.POST), perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_assign_view(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def make_form(access: CaseAccess, case: Case) -> forms.Form:
        if not access.may_assign_case(case):
            raise PermissionDenied
        return _assign_form(access, request.POST)

    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        owner_id, team_id = data["owner"], data["team"]
        if not assignment_allowed(access, case=case, owner_id=owner_id, team_id=team_id):
            raise ValidationError(_("You may give this case only to members of your teams."))
        case = case_assign(case=case, actor=actor, owner_id=owner_id, team_id=team_id)
        if owner_id is None:
            return _("The case has no owner now.")
        return _("Case assigned to %(owner)s.") % {"owner": user_label(case.owner)}

    return _act(request, number, make_form, perform)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_take(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    def perform(access: CaseAccess, case: Case, data: dict[str, Any], actor: Actor) -> str:
        if not access.may_take(case):
            raise ValidationError(_("This case already has an owner."))
        case_assign(case=case, actor=actor, owner_id=access.user_id)
        return _("The case is yours now.")

    return _act(request, number, lambda access, case: forms.Form(request.POST), perform)
