"""Distribution pages under /o/<org_slug>/distribution/: settings (the contact budget),
rules and testing them, manual sends with a dry run, invitations and suppressed sends."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.models import Contact
from contacts.selectors import contact_list
from surveys.forms_distribution import (
    DistributionRuleForm,
    DistributionSettingsForm,
    ManualSendForm,
    RecurringScheduleForm,
    RuleTestForm,
)
from surveys.models_distribution import (
    DistributionRule,
    Invitation,
    InvitationChannel,
    InvitationStatus,
    RecurringSchedule,
)
from surveys.selectors import (
    distribution_rule_list,
    distribution_settings_get,
    invitation_events,
    invitation_list,
    recurring_schedule_list,
    suppressed_send_list,
)
from surveys.services.distribution import (
    crm_event_process,
    distribution_rule_create,
    distribution_rule_delete,
    distribution_rule_update,
    distribution_settings_update,
    manual_send,
)
from surveys.services.recurring import (
    recurring_schedule_create,
    recurring_schedule_delete,
    recurring_schedule_update,
)
from surveys.views._common import can, form_errors_to
from tenants.permissions import Capability, capability_required
from tenants.services import Actor


@capability_required(Capability.DISTRIBUTION_VIEW)
@require_GET
def distribution_overview(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "surveys/distribution/overview.html",
        {
            "settings": distribution_settings_get(),
            "rules": distribution_rule_list(),
            "can_manage": can(request, Capability.DISTRIBUTION_MANAGE),
            "can_edit_settings": can(request, Capability.ORGANIZATION_MANAGE),
        },
    )


@capability_required(Capability.ORGANIZATION_MANAGE)
@require_http_methods(["GET", "POST"])
def distribution_settings_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    current = distribution_settings_get()
    form = DistributionSettingsForm(
        request.POST or None, initial=DistributionSettingsForm.initial_from(current)
    )
    if request.method == "POST" and form.is_valid():
        try:
            distribution_settings_update(actor=Actor.of_user(request.user), **form.service_fields())
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Distribution settings saved."))
            return redirect("surveys:distribution-overview", org_slug=org_slug)
    return render(request, "surveys/distribution/settings.html", {"form": form})


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def rule_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = DistributionRuleForm(
        request.POST or None, initial=DistributionRuleForm.initial_from(None)
    )
    if request.method == "POST" and form.is_valid():
        try:
            distribution_rule_create(actor=Actor.of_user(request.user), **form.service_fields())
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Rule created."))
            return redirect("surveys:distribution-overview", org_slug=org_slug)
    return render(request, "surveys/distribution/rule_form.html", {"form": form, "rule": None})


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def rule_update_view(request: HttpRequest, org_slug: str, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(DistributionRule.objects, pk=rule_id)
    form = DistributionRuleForm(
        request.POST or None, initial=DistributionRuleForm.initial_from(rule)
    )
    if request.method == "POST" and form.is_valid():
        try:
            distribution_rule_update(
                actor=Actor.of_user(request.user), rule=rule, **form.service_fields()
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("surveys:distribution-overview", org_slug=org_slug)
    return render(request, "surveys/distribution/rule_form.html", {"form": form, "rule": rule})


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_POST
def rule_delete_view(request: HttpRequest, org_slug: str, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(DistributionRule.objects, pk=rule_id)
    distribution_rule_delete(actor=Actor.of_user(request.user), rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("surveys:distribution-overview", org_slug=org_slug)


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def rule_test_view(request: HttpRequest, org_slug: str, rule_id: int) -> HttpResponse:
    """Run the rule's CRM event for one contact: as a dry run, or for real."""
    rule = get_object_or_404(DistributionRule.objects.select_related("survey"), pk=rule_id)
    form = RuleTestForm(request.POST or None, initial={"dry_run": True})
    outcomes: list[Any] | None = None
    if request.method == "POST" and form.is_valid():
        contact = Contact.objects.filter(crm_id=form.cleaned_data["crm_id"].strip()).first()
        if contact is None:
            form.add_error("crm_id", _("No contact has this CRM id."))
        else:
            outcomes = crm_event_process(
                event_type=rule.event_type,
                contact=contact,
                occurred_at=timezone.now(),
                attributes=form.cleaned_data["attributes"],
                actor=Actor.of_user(request.user),
                dry_run=form.cleaned_data["dry_run"],
            )
    return render(
        request,
        "surveys/distribution/rule_test.html",
        {"form": form, "rule": rule, "outcomes": outcomes},
    )


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def manual_send_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Filter contacts, see the dry run (who is invited, who is skipped and why), confirm."""
    form = ManualSendForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        contacts = contact_list(
            search=data["search"], attribute=data["attribute"], consent=form.consent()
        )
        confirm = request.POST.get("confirm") == "1"
        try:
            plan = manual_send(
                actor=Actor.of_user(request.user),
                survey=data["survey"],
                channel=data["channel"],
                contacts=contacts,
                defer_when_blocked=data["defer_when_blocked"],
                dry_run=not confirm,
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
            plan = None
        else:
            if confirm:
                messages.success(
                    request,
                    _(
                        "%(scheduled)d invitations scheduled, %(deferred)d deferred, "
                        "%(skipped)d skipped."
                    )
                    % {
                        "scheduled": plan.scheduled,
                        "deferred": plan.deferred,
                        "skipped": plan.skipped_total,
                    },
                )
                return redirect("surveys:invitation-list", org_slug=org_slug)
    return render(request, "surveys/distribution/manual_send.html", {"form": form, "plan": plan})


@capability_required(Capability.DISTRIBUTION_VIEW)
@require_GET
def invitation_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in InvitationStatus.values:
        status = ""
    channel = request.GET.get("channel", "")
    if channel not in InvitationChannel.values:
        channel = ""
    page = Paginator(invitation_list(status=status, channel=channel), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "surveys/distribution/invitation_list.html",
        {"page": page, "status": status, "statuses": InvitationStatus.choices},
    )


@capability_required(Capability.DISTRIBUTION_VIEW)
@require_GET
def invitation_detail(request: HttpRequest, org_slug: str, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.select_related("contact", "survey", "survey_version", "rule"),
        pk=invitation_id,
    )
    return render(
        request,
        "surveys/distribution/invitation_detail.html",
        {"invitation": invitation, "events": invitation_events(invitation)},
    )


@capability_required(Capability.DISTRIBUTION_VIEW)
@require_GET
def suppressed_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    page = Paginator(suppressed_send_list(), 50).get_page(request.GET.get("page"))
    return render(request, "surveys/distribution/suppressed_list.html", {"page": page})


# --- Recurring relationship surveys ------------------------------------------------------


@capability_required(Capability.DISTRIBUTION_VIEW)
@require_GET
def recurring_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "surveys/distribution/recurring_list.html",
        {
            "schedules": recurring_schedule_list(),
            "can_manage": can(request, Capability.DISTRIBUTION_MANAGE),
        },
    )


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def recurring_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = RecurringScheduleForm(
        request.POST or None, initial=RecurringScheduleForm.initial_from(None)
    )
    if request.method == "POST" and form.is_valid():
        try:
            recurring_schedule_create(actor=Actor.of_user(request.user), **form.cleaned_data)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Recurring survey created."))
            return redirect("surveys:recurring-list", org_slug=org_slug)
    return render(
        request, "surveys/distribution/recurring_form.html", {"form": form, "schedule": None}
    )


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_http_methods(["GET", "POST"])
def recurring_update_view(request: HttpRequest, org_slug: str, recurring_id: int) -> HttpResponse:
    schedule = get_object_or_404(RecurringSchedule.objects, pk=recurring_id)
    form = RecurringScheduleForm(
        request.POST or None, initial=RecurringScheduleForm.initial_from(schedule)
    )
    if request.method == "POST" and form.is_valid():
        try:
            recurring_schedule_update(
                actor=Actor.of_user(request.user), schedule=schedule, **form.cleaned_data
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Recurring survey saved."))
            return redirect("surveys:recurring-list", org_slug=org_slug)
    return render(
        request, "surveys/distribution/recurring_form.html", {"form": form, "schedule": schedule}
    )


@capability_required(Capability.DISTRIBUTION_MANAGE)
@require_POST
def recurring_delete_view(request: HttpRequest, org_slug: str, recurring_id: int) -> HttpResponse:
    schedule = get_object_or_404(RecurringSchedule.objects, pk=recurring_id)
    recurring_schedule_delete(actor=Actor.of_user(request.user), schedule=schedule)
    messages.success(request, _("Recurring survey deleted."))
    return redirect("surveys:recurring-list", org_slug=org_slug)
