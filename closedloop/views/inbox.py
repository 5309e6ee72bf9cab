"""The owners' inbox: ``/o/<org>/cases/``.

Tabs (``?tab=``): my cases, my teams' cases, breaching soon, unassigned, and all cases
(managers). Filters and sorting are GET parameters, so a filtered inbox is a link to
share. Members who may assign (managers, team leads) tick rows and give them to a
person at once (``cases/bulk-assign/``). While the page is open, its rows refresh every
30 seconds (htmx); without JavaScript the "Refresh" link does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from closedloop.forms_cases import TAB_LABELS, BulkAssignForm, InboxFilterForm
from closedloop.models import Case
from closedloop.selectors import (
    INBOX_PAGE_SIZE,
    CaseAccess,
    assignee_list,
    assignment_allowed,
    case_access_for,
    case_list_assignable,
    case_list_for_inbox,
    inbox_filter_choices,
    inbox_tab_counts,
    user_label,
)
from closedloop.services.cases import case_bulk_assign
from tenants.models import Membership
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

REFRESH_SECONDS = 30
TARGET_LABELS = {
    "first_response": gettext_lazy("First contact"),
    "resolution": gettext_lazy("Resolution"),
}


def request_access(request: HttpRequest) -> CaseAccess:
    """The signed-in member's case access (read once per request)."""
    access = getattr(request, "_case_access", None)
    if access is None:
        membership: Membership = request.membership  # type: ignore[attr-defined]
        access = case_access_for(membership)
        request._case_access = access  # type: ignore[attr-defined]
    return access


# --- SLA countdowns ----------------------------------------------------------------------


def duration_text(delta: timedelta) -> str:
    """A duration as people say it on a clock: "3 h 20 min", "2 d 4 h", "15 min"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        if hours:
            return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
        return _("%(days)s d") % {"days": days}
    if hours:
        if minutes:
            return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
        return _("%(hours)s h") % {"hours": hours}
    return _("%(minutes)s min") % {"minutes": minutes}


@dataclass(frozen=True, slots=True)
class SlaCountdown:
    """The case's next SLA due time as a row shows it.

    ``state``: "due", "soon" (within 4 h), "overdue", "paused", "done" (resolved or
    closed) or "none" (no SLA)."""

    state: str
    text: str
    due_at: datetime | None = None
    target: str = ""

    @property
    def target_label(self) -> str:
        return str(TARGET_LABELS.get(self.target, ""))


def next_due(case: Case) -> tuple[datetime | None, str]:
    """The next due time of a case and its target: first contact while pending, else
    the resolution."""
    if case.first_responded_at is None and case.first_response_due_at is not None:
        return case.first_response_due_at, "first_response"
    return case.resolution_due_at, "resolution"


def sla_countdown(case: Case, now: datetime) -> SlaCountdown:
    due_at, target = next_due(case)
    if not case.is_open:
        return SlaCountdown("done", _("done"), due_at, target)
    if case.paused_at is not None:
        return SlaCountdown("paused", _("paused"), due_at, target)
    if due_at is None:
        return SlaCountdown("none", _("no SLA"), None, target)
    left = due_at - now
    if left < timedelta(0):
        text = _("overdue by %(duration)s") % {"duration": duration_text(-left)}
        return SlaCountdown("overdue", text, due_at, target)
    text = _("due in %(duration)s") % {"duration": duration_text(left)}
    return SlaCountdown("soon" if left <= timedelta(hours=4) else "due", text, due_at, target)


@dataclass(frozen=True, slots=True)
class InboxRow:
    case: Case
    sla: SlaCountdown
    selectable: bool  # the member may assign it (bulk)


# --- Pages -------------------------------------------------------------------------------


def _inbox_url(org_slug: str, query: str = "") -> str:
    url = reverse("closedloop:inbox", kwargs={"org_slug": org_slug})
    # Only the parameters survive, re-encoded: nothing else can ride along.
    params = QueryDict(query.lstrip("?")).urlencode() if query else ""
    return f"{url}?{params}" if params else url


def _owner_choices(access: CaseAccess) -> list[tuple[int, str]]:
    return [(m.user_id, user_label(m.user)) for m in assignee_list(access)]


@capability_required(Capability.CASES_WORK)
@require_GET
def inbox(request: HttpRequest, org_slug: str) -> HttpResponse:
    access = request_access(request)
    if request.GET.get("tab") == "all" and not access.view_all:
        raise PermissionDenied
    now = timezone.now()
    form = InboxFilterForm(request.GET, access=access, choices=inbox_filter_choices())
    context: dict[str, Any] = {
        "form": form,
        "rows": [],
        "page": None,
        "access": access,
        "refresh_seconds": REFRESH_SECONDS,
    }
    tab = "mine"
    if form.is_valid():
        filters = form.filters()
        tab = filters.tab
        paginator = Paginator(
            case_list_for_inbox(access=access, filters=filters, now=now), INBOX_PAGE_SIZE
        )
        page = paginator.get_page(request.GET.get("page"))
        context["page"] = page
        context["rows"] = [
            InboxRow(case, sla_countdown(case, now), access.may_assign_case(case))
            for case in page.object_list
        ]
        kept = form.params(without=("tab",))
        context["sort_links"] = [
            {
                "key": key,
                "label": label,
                "url": "?" + urlencode({**kept, "tab": tab, "sort": key}),
                "current": filters.sort == key,
            }
            for key, label in form.fields["sort"].choices  # type: ignore[attr-defined]
        ]
    counts = inbox_tab_counts(access=access, now=now)
    kept = form.params(without=("tab", "page")) if form.is_bound else {}
    context["tab"] = tab
    context["tabs"] = [
        {
            "key": key,
            "label": TAB_LABELS[key],
            "count": count,
            "url": "?" + urlencode({**kept, "tab": key}),
            "current": key == tab,
        }
        for key, count in counts.items()
    ]
    context["refresh_url"] = request.get_full_path()
    context["reset_url"] = "?" + urlencode({"tab": tab})
    if access.may_assign:
        context["bulk_form"] = BulkAssignForm(
            owner_choices=_owner_choices(access),
            initial={"back": request.META.get("QUERY_STRING", "")},
        )
    return render(request, "closedloop/inbox.html", context)


@capability_required(Capability.CASES_WORK)
@require_POST
def inbox_bulk_assign(request: HttpRequest, org_slug: str) -> HttpResponse:
    access = request_access(request)
    if not access.may_assign:
        raise PermissionDenied
    form = BulkAssignForm(request.POST, owner_choices=_owner_choices(access))
    back = _inbox_url(org_slug, str(request.POST.get("back", ""))[:2000])
    if not form.is_valid():
        errors = [str(error) for field in form.errors.values() for error in field]
        messages.error(request, " ".join(errors))
        return redirect(back)
    selected = form.cleaned_data["case"]
    owner_id = form.cleaned_data["owner"]
    cases = [
        case
        for case in case_list_assignable(access=access, case_ids=selected)
        if assignment_allowed(access, case=case, owner_id=owner_id, team_id=None)
    ]
    try:
        changed = case_bulk_assign(
            case_ids=[case.pk for case in cases],
            actor=Actor.of_user(request.user),
            owner_id=owner_id,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    owner = dict(_owner_choices(access)).get(owner_id, "")
    messages.success(
        request,
        ngettext(
            "%(count)s case assigned to %(owner)s.",
            "%(count)s cases assigned to %(owner)s.",
            changed,
        )
        % {"count": changed, "owner": owner},
    )
    unchanged = len(cases) - changed
    if unchanged:
        messages.info(
            request,
            ngettext(
                "%(count)s case was already theirs.",
                "%(count)s cases were already theirs.",
                unchanged,
            )
            % {"count": unchanged},
        )
    refused = len(set(selected)) - len(cases)
    if refused:
        messages.error(
            request,
            ngettext(
                "%(count)s case was not assigned: you may not give it to this person.",
                "%(count)s cases were not assigned: you may not give them to this person.",
                refused,
            )
            % {"count": refused},
        )
    return redirect(back)
