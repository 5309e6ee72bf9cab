"""Closed-loop settings under /o/<org>/cases/settings/: routing rules (with a preview on
recent responses), SLA policies and their escalation ladders, business hours, root
causes and reply templates. Members with ``closedloop.manage`` only (admins and CX
managers); the tenant middleware already answered 404 to everyone else.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from closedloop.forms_settings import (
    BusinessHoursForm,
    EscalationStepForm,
    MessageTemplateForm,
    RootCauseForm,
    RoutingRuleForm,
    SlaPolicyForm,
    condition_formset,
    place_choices,
    placeholder_help,
)
from closedloop.messages import PLACEHOLDERS
from closedloop.messages import render as render_placeholders
from closedloop.models import EscalationStep, MessageTemplate, RootCause, RoutingRule, SlaPolicy
from closedloop.selectors_settings import (
    PREVIEW_RESPONSES,
    business_hours_get,
    business_hours_sample,
    escalation_step_list,
    journey_touchpoint_choices,
    member_choices,
    message_template_list,
    question_choices,
    root_cause_list,
    root_cause_use,
    routing_preview,
    routing_rule_list,
    settings_overview,
    sla_policy_choices,
    sla_policy_list,
    team_choices,
)
from closedloop.services.configuration import (
    business_hours_clear,
    business_hours_save,
    escalation_step_add,
    escalation_step_delete,
    message_template_create,
    message_template_delete,
    message_template_update,
    root_cause_create,
    root_cause_deactivate,
    root_cause_delete,
    root_cause_update,
    routing_rule_create,
    routing_rule_delete,
    routing_rule_enable,
    routing_rule_move,
    routing_rule_update,
    sla_policy_create,
    sla_policy_delete,
    sla_policy_update,
)
from tenants.models import Organization
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

MANAGE = Capability.CLOSEDLOOP_MANAGE


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


def _org(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined]


# Service arguments that the forms ask for in other units or names.
FORM_FIELD_OF = {
    "first_response_minutes": "first_response_hours",
    "resolution_minutes": "resolution_hours",
    "after_due_minutes": "after_due_hours",
}


def _errors_to(form: Form, exc: ValidationError, *, keep: tuple[str, ...] = ()) -> list[str]:
    """Put a service's errors on the form (per field where the form has it, else on the
    form); return the messages of the ``keep`` keys, which the page shows elsewhere."""
    kept: list[str] = []
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return kept
    for name, errors in exc.error_dict.items():
        field = FORM_FIELD_OF.get(name, name)
        if name in keep:
            kept.extend(message for error in errors for message in error.messages)
        elif field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, errors)
    return kept


def _say_errors(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@capability_required(MANAGE)
@require_GET
def settings_home(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(request, "closedloop/settings/home.html", {"overview": settings_overview()})


# --- Routing rules --------------------------------------------------------------------


@capability_required(MANAGE)
@require_GET
def rule_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(request, "closedloop/settings/rule_list.html", {"rows": routing_rule_list()})


def _rule_form(
    request: HttpRequest, rule: RoutingRule | None, rows: list[Any] | None = None
) -> RoutingRuleForm:
    data = request.POST if request.method == "POST" else None
    places = None
    if rule is None:
        places = place_choices([row.rule.name for row in rows or []])
    return RoutingRuleForm(
        data,
        initial=RoutingRuleForm.initial_from(rule) if rule is not None else {"position": 1},
        policies=sla_policy_choices(),
        members=member_choices(),
        teams=team_choices(),
        places=places,
    )


def _rule_page(request: HttpRequest, org_slug: str, rule: RoutingRule | None) -> HttpResponse:
    """The rule form (new or existing): save, or preview the conditions on recent
    responses without saving."""
    rows = routing_rule_list() if rule is None else None
    form = _rule_form(request, rule, rows)
    items = journey_touchpoint_choices()
    data = request.POST if request.method == "POST" else None
    formset = condition_formset(data, item_choices=items, rule=rule)
    context: dict[str, Any] = {
        "rule": rule,
        "form": form,
        "formset": formset,
        "questions": question_choices(),
        "condition_errors": [],
        "preview_limit": PREVIEW_RESPONSES,
    }
    if request.method == "POST":
        formset_ok = formset.is_valid()
        if "preview" in request.POST:
            if formset_ok:
                place = request.POST.get("position", "")
                context["preview"] = routing_preview(
                    conditions=formset.conditions(),
                    rule_id=rule.pk if rule is not None else None,
                    position=int(place) if place.isdigit() else None,
                )
        elif form.is_valid() and formset_ok:
            kwargs = {**form.service_kwargs(), "conditions": formset.conditions()}
            try:
                if rule is None:
                    saved = routing_rule_create(actor=_actor(request), **kwargs)
                else:
                    saved = routing_rule_update(actor=_actor(request), rule=rule, **kwargs)
            except ValidationError as exc:
                context["condition_errors"] = _errors_to(form, exc, keep=("conditions",))
            else:
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": saved.name})
                return redirect("closedloop:rule-list", org_slug=org_slug)
    return render(request, "closedloop/settings/rule_form.html", context)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _rule_page(request, org_slug, None)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, org_slug: str, routing_rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule.objects, pk=routing_rule_id)
    return _rule_page(request, org_slug, rule)


@capability_required(MANAGE)
@require_GET
def rule_test(request: HttpRequest, org_slug: str, routing_rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule.objects, pk=routing_rule_id)
    return render(
        request,
        "closedloop/settings/rule_test.html",
        {
            "rule": rule,
            "preview": routing_preview(conditions=rule.conditions, rule_id=rule.pk),
            "preview_limit": PREVIEW_RESPONSES,
        },
    )


@capability_required(MANAGE)
@require_POST
def rule_move(request: HttpRequest, org_slug: str, routing_rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule.objects, pk=routing_rule_id)
    try:
        routing_rule_move(
            actor=_actor(request), rule=rule, direction=request.POST.get("direction", "")
        )
    except ValidationError as exc:
        _say_errors(request, exc)
    return redirect("closedloop:rule-list", org_slug=org_slug)


@capability_required(MANAGE)
@require_POST
def rule_enable(request: HttpRequest, org_slug: str, routing_rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule.objects, pk=routing_rule_id)
    enabled = request.POST.get("enabled") == "1"
    rule = routing_rule_enable(actor=_actor(request), rule=rule, enabled=enabled)
    text = _("Rule “%(name)s” enabled.") if enabled else _("Rule “%(name)s” disabled.")
    messages.success(request, text % {"name": rule.name})
    return redirect("closedloop:rule-list", org_slug=org_slug)


@capability_required(MANAGE)
@require_POST
def rule_delete(request: HttpRequest, org_slug: str, routing_rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule.objects, pk=routing_rule_id)
    routing_rule_delete(actor=_actor(request), rule=rule)
    messages.success(request, _("Rule “%(name)s” deleted.") % {"name": rule.name})
    return redirect("closedloop:rule-list", org_slug=org_slug)


# --- SLA policies ---------------------------------------------------------------------


@capability_required(MANAGE)
@require_GET
def policy_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "closedloop/settings/policy_list.html",
        {"rows": sla_policy_list(), "business_hours": business_hours_get()},
    )


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def policy_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = SlaPolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            policy = sla_policy_create(actor=_actor(request), **form.service_kwargs())
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(
                request,
                _("SLA policy “%(name)s” created. Add its escalation steps below.")
                % {"name": policy.name},
            )
            return redirect("closedloop:policy-edit", org_slug=org_slug, policy_id=policy.pk)
    return render(request, "closedloop/settings/policy_form.html", {"form": form, "policy": None})


def _policy_page(
    request: HttpRequest,
    policy: SlaPolicy,
    *,
    form: SlaPolicyForm | None = None,
    step_form: EscalationStepForm | None = None,
) -> HttpResponse:
    return render(
        request,
        "closedloop/settings/policy_form.html",
        {
            "policy": policy,
            "form": form or SlaPolicyForm(initial=SlaPolicyForm.initial_from(policy)),
            "steps": escalation_step_list(policy),
            "step_form": step_form or EscalationStepForm(),
            "business_hours": business_hours_get(),
        },
    )


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, org_slug: str, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy.objects, pk=policy_id)
    if request.method == "GET":
        return _policy_page(request, policy)
    form = SlaPolicyForm(request.POST)
    if form.is_valid():
        try:
            sla_policy_update(actor=_actor(request), policy=policy, **form.service_kwargs())
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("SLA policy saved. Open cases follow the new targets."))
            return redirect("closedloop:policy-list", org_slug=org_slug)
    return _policy_page(request, policy, form=form)


@capability_required(MANAGE)
@require_POST
def policy_delete(request: HttpRequest, org_slug: str, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy.objects, pk=policy_id)
    try:
        sla_policy_delete(actor=_actor(request), policy=policy)
    except ValidationError as exc:
        _say_errors(request, exc)
        return redirect("closedloop:policy-edit", org_slug=org_slug, policy_id=policy.pk)
    messages.success(request, _("SLA policy “%(name)s” deleted.") % {"name": policy.name})
    return redirect("closedloop:policy-list", org_slug=org_slug)


@capability_required(MANAGE)
@require_POST
def step_add(request: HttpRequest, org_slug: str, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy.objects, pk=policy_id)
    form = EscalationStepForm(request.POST)
    if form.is_valid():
        try:
            escalation_step_add(actor=_actor(request), policy=policy, **form.service_kwargs())
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Escalation step added."))
            return redirect("closedloop:policy-edit", org_slug=org_slug, policy_id=policy.pk)
    return _policy_page(request, policy, step_form=form)


@capability_required(MANAGE)
@require_POST
def step_delete(request: HttpRequest, org_slug: str, step_id: int) -> HttpResponse:
    step = get_object_or_404(EscalationStep.objects, pk=step_id)
    escalation_step_delete(actor=_actor(request), step=step)
    messages.success(request, _("Escalation step deleted."))
    return redirect("closedloop:policy-edit", org_slug=org_slug, policy_id=step.policy_id)


# --- Business hours -------------------------------------------------------------------


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def hours(request: HttpRequest, org_slug: str) -> HttpResponse:
    current = business_hours_get()
    form = BusinessHoursForm(
        request.POST or None,
        initial=BusinessHoursForm.initial_from(current, default_timezone=_org(request).timezone),
    )
    if request.method == "POST" and form.is_valid():
        try:
            business_hours_save(actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Business hours saved."))
            return redirect("closedloop:hours", org_slug=org_slug)
    sample = None
    if current is not None:
        sample = business_hours_sample(current, now=timezone.now())
    return render(
        request,
        "closedloop/settings/hours.html",
        {"form": form, "hours": current, "sample": sample},
    )


@capability_required(MANAGE)
@require_POST
def hours_clear(request: HttpRequest, org_slug: str) -> HttpResponse:
    if business_hours_clear(actor=_actor(request)):
        messages.success(
            request, _("Business hours removed. Every SLA policy counts around the clock.")
        )
    return redirect("closedloop:hours", org_slug=org_slug)


# --- Root causes ----------------------------------------------------------------------


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def root_causes(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = RootCauseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            root_cause = root_cause_create(actor=_actor(request), **form.cleaned_data)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Root cause “%(name)s” added.") % {"name": root_cause.name})
            return redirect("closedloop:root-causes", org_slug=org_slug)
    return render(
        request, "closedloop/settings/root_causes.html", {"rows": root_cause_list(), "form": form}
    )


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def root_cause_edit(request: HttpRequest, org_slug: str, root_cause_id: int) -> HttpResponse:
    root_cause = get_object_or_404(RootCause.objects, pk=root_cause_id)
    form = RootCauseForm(
        request.POST or None,
        initial={"name": root_cause.name, "description": root_cause.description},
    )
    if request.method == "POST" and form.is_valid():
        try:
            root_cause_update(actor=_actor(request), root_cause=root_cause, **form.cleaned_data)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Root cause saved."))
            return redirect("closedloop:root-causes", org_slug=org_slug)
    return render(
        request,
        "closedloop/settings/root_cause_form.html",
        {"root_cause": root_cause, "form": form, "cases": root_cause_use(root_cause)},
    )


@capability_required(MANAGE)
@require_POST
def root_cause_active(request: HttpRequest, org_slug: str, root_cause_id: int) -> HttpResponse:
    root_cause = get_object_or_404(RootCause.objects, pk=root_cause_id)
    active = request.POST.get("active") == "1"
    root_cause = root_cause_deactivate(actor=_actor(request), root_cause=root_cause, active=active)
    text = (
        _("Root cause “%(name)s” can be chosen again.")
        if active
        else _("Root cause “%(name)s” deactivated: it is no longer offered for cases.")
    )
    messages.success(request, text % {"name": root_cause.name})
    return redirect("closedloop:root-causes", org_slug=org_slug)


@capability_required(MANAGE)
@require_POST
def root_cause_delete_view(request: HttpRequest, org_slug: str, root_cause_id: int) -> HttpResponse:
    root_cause = get_object_or_404(RootCause.objects, pk=root_cause_id)
    try:
        root_cause_delete(actor=_actor(request), root_cause=root_cause)
    except ValidationError as exc:
        _say_errors(request, exc)
    else:
        messages.success(request, _("Root cause “%(name)s” deleted.") % {"name": root_cause.name})
    return redirect("closedloop:root-causes", org_slug=org_slug)


# --- Reply templates ------------------------------------------------------------------


def _sample_values(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    return {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "owner_name": user.get_full_name() or user.get_username(),
        "organization": _org(request).name,
        "touchpoint": _("Online shop"),
        "case_number": 1042,
    }


def _template_preview(request: HttpRequest, texts: dict[str, Any]) -> list[dict[str, str]]:
    """Each language's subject and text with sample values filled in."""
    values = _sample_values(request)
    subject, body = texts.get("subject") or {}, texts.get("body") or {}
    return [
        {
            "language": code,
            "subject": render_placeholders(subject.get(code, ""), values),
            "body": render_placeholders(body.get(code, ""), values),
        }
        for code in body
        if body.get(code)
    ]


def _template_page(
    request: HttpRequest, org_slug: str, template: MessageTemplate | None
) -> HttpResponse:
    initial = MessageTemplateForm.initial_from(template) if template else {"channel": "email"}
    form = MessageTemplateForm(request.POST or None, initial=initial)
    preview = None
    if template is not None:
        preview = _template_preview(request, {"subject": template.subject, "body": template.body})
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        if "preview" in request.POST:
            preview = _template_preview(request, kwargs)
        else:
            try:
                if template is None:
                    saved = message_template_create(actor=_actor(request), **kwargs)
                else:
                    saved = message_template_update(
                        actor=_actor(request), template=template, **kwargs
                    )
            except ValidationError as exc:
                _errors_to(form, exc)
            else:
                messages.success(
                    request, _("Reply template “%(name)s” saved.") % {"name": saved.name}
                )
                return redirect("closedloop:template-list", org_slug=org_slug)
    return render(
        request,
        "closedloop/settings/template_form.html",
        {
            "template": template,
            "form": form,
            "preview": preview,
            "placeholders": ["{" + name + "}" for name in PLACEHOLDERS],
            "placeholder_help": placeholder_help(),
            "sample": _sample_values(request),
        },
    )


@capability_required(MANAGE)
@require_GET
def template_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "closedloop/settings/template_list.html",
        {"templates": message_template_list()},
    )


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _template_page(request, org_slug, None)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, org_slug: str, template_id: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate.objects, pk=template_id)
    return _template_page(request, org_slug, template)


@capability_required(MANAGE)
@require_POST
def template_delete(request: HttpRequest, org_slug: str, template_id: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate.objects, pk=template_id)
    message_template_delete(actor=_actor(request), template=template)
    messages.success(request, _("Reply template “%(name)s” deleted.") % {"name": template.name})
    return redirect("closedloop:template-list", org_slug=org_slug)
