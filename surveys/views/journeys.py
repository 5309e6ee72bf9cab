"""Journey and touchpoint pages: list, create, edit, delete, reorder."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from surveys.forms import JourneyForm, TouchpointForm
from surveys.models import Journey, Touchpoint
from surveys.selectors import journey_list, team_choices, touchpoint_list_for_journey
from surveys.services import (
    journey_create,
    journey_delete,
    journey_update,
    touchpoint_add,
    touchpoint_delete,
    touchpoint_move,
    touchpoint_update,
)
from surveys.views._common import can, form_errors_to
from tenants.permissions import Capability, capability_required
from tenants.services import Actor


def _journey_url(org_slug: str, journey_id: int, anchor: str = "") -> str:
    url = reverse("surveys:journey-detail", kwargs={"org_slug": org_slug, "journey_id": journey_id})
    return f"{url}#{anchor}" if anchor else url


@capability_required(Capability.JOURNEYS_VIEW)
@require_http_methods(["GET", "POST"])
def journey_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    can_manage = can(request, Capability.JOURNEYS_MANAGE)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = JourneyForm(request.POST or None) if can_manage else None
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            journey = journey_create(actor=Actor.of_user(request.user), **form.cleaned_data)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Journey “%(name)s” created.") % {"name": journey.name})
            return redirect(_journey_url(org_slug, journey.pk))
    return render(
        request,
        "surveys/journey_list.html",
        {"journeys": journey_list(), "form": form, "can_manage": can_manage},
    )


def _journey_page(
    request: HttpRequest,
    journey: Journey,
    *,
    journey_form: JourneyForm | None = None,
    touchpoint_form: TouchpointForm | None = None,
) -> HttpResponse:
    can_manage = can(request, Capability.JOURNEYS_MANAGE)
    context: dict[str, Any] = {
        "journey": journey,
        "touchpoints": list(touchpoint_list_for_journey(journey)),
        "can_manage": can_manage,
        "can_manage_surveys": can(request, Capability.SURVEYS_MANAGE),
    }
    if can_manage:
        context["journey_form"] = journey_form or JourneyForm(
            initial={"name": journey.name, "description": journey.description}
        )
        context["touchpoint_form"] = touchpoint_form or TouchpointForm(team_choices=team_choices())
    return render(request, "surveys/journey_detail.html", context)


@capability_required(Capability.JOURNEYS_VIEW)
@require_http_methods(["GET", "POST"])
def journey_detail(request: HttpRequest, org_slug: str, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey.objects, pk=journey_id)
    if request.method == "GET":
        return _journey_page(request, journey)
    if not can(request, Capability.JOURNEYS_MANAGE):
        raise PermissionDenied
    form = JourneyForm(request.POST)
    if form.is_valid():
        try:
            journey_update(actor=Actor.of_user(request.user), journey=journey, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Journey saved."))
            return redirect(_journey_url(org_slug, journey.pk))
    return _journey_page(request, journey, journey_form=form)


@capability_required(Capability.JOURNEYS_MANAGE)
@require_POST
def journey_delete_view(request: HttpRequest, org_slug: str, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey.objects, pk=journey_id)
    try:
        journey_delete(actor=Actor.of_user(request.user), journey=journey)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_journey_url(org_slug, journey.pk))
    messages.success(request, _("Journey “%(name)s” deleted.") % {"name": journey.name})
    return redirect("surveys:journey-list", org_slug=org_slug)


@capability_required(Capability.JOURNEYS_MANAGE)
@require_POST
def touchpoint_add_view(request: HttpRequest, org_slug: str, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey.objects, pk=journey_id)
    form = TouchpointForm(request.POST, team_choices=team_choices())
    if form.is_valid():
        try:
            touchpoint = touchpoint_add(
                actor=Actor.of_user(request.user), journey=journey, **form.service_kwargs()
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Touchpoint “%(name)s” added.") % {"name": touchpoint.name})
            return redirect(_journey_url(org_slug, journey.pk, f"touchpoint-{touchpoint.pk}"))
    return _journey_page(request, journey, touchpoint_form=form)


@capability_required(Capability.JOURNEYS_VIEW)
@require_http_methods(["GET", "POST"])
def touchpoint_detail(request: HttpRequest, org_slug: str, touchpoint_id: int) -> HttpResponse:
    touchpoint = get_object_or_404(
        Touchpoint.objects.select_related("journey", "team"), pk=touchpoint_id
    )
    can_manage = can(request, Capability.JOURNEYS_MANAGE)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = None
    if can_manage:
        initial = {
            "name": touchpoint.name,
            "description": touchpoint.description,
            "process": touchpoint.process,
            "process_detail": touchpoint.process_detail,
            "team": touchpoint.team_id,
            "weight": touchpoint.weight,
        }
        form = TouchpointForm(request.POST or None, initial=initial, team_choices=team_choices())
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            touchpoint_update(
                actor=Actor.of_user(request.user), touchpoint=touchpoint, **form.service_kwargs()
            )
        except ValidationError as exc:
            form_errors_to(form, exc)
        else:
            messages.success(request, _("Touchpoint saved."))
            return redirect(
                _journey_url(org_slug, touchpoint.journey_id, f"touchpoint-{touchpoint.pk}")
            )
    return render(
        request,
        "surveys/touchpoint_detail.html",
        {
            "touchpoint": touchpoint,
            "form": form,
            "can_manage": can_manage,
            "surveys": touchpoint.surveys.order_by("name"),
        },
    )


@capability_required(Capability.JOURNEYS_MANAGE)
@require_POST
def touchpoint_move_view(request: HttpRequest, org_slug: str, touchpoint_id: int) -> HttpResponse:
    touchpoint = get_object_or_404(Touchpoint.objects, pk=touchpoint_id)
    try:
        touchpoint_move(
            actor=Actor.of_user(request.user),
            touchpoint=touchpoint,
            direction=request.POST.get("direction", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(_journey_url(org_slug, touchpoint.journey_id, f"touchpoint-{touchpoint.pk}"))


@capability_required(Capability.JOURNEYS_MANAGE)
@require_POST
def touchpoint_delete_view(request: HttpRequest, org_slug: str, touchpoint_id: int) -> HttpResponse:
    touchpoint = get_object_or_404(Touchpoint.objects, pk=touchpoint_id)
    try:
        touchpoint_delete(actor=Actor.of_user(request.user), touchpoint=touchpoint)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Touchpoint “%(name)s” deleted.") % {"name": touchpoint.name})
    return redirect(_journey_url(org_slug, touchpoint.journey_id))
