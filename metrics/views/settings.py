"""Dashboard settings: ``/o/<org>/dashboard/settings/`` (admins and CX managers).

Segment attributes (the CRM attributes the dashboard breaks scores down by: add, label,
reorder, remove; each addition or removal rebuilds the rollup in the background) and the
member's own weekly digest subscription.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from metrics.forms_settings import (
    DigestSubscriptionForm,
    MoveForm,
    SegmentAttributeForm,
    SegmentLabelForm,
)
from metrics.models import SegmentAttribute
from metrics.selectors.settings import (
    crm_attribute_keys,
    digest_subscribed,
    segment_attribute_list,
)
from metrics.services.digest import digest_subscription_set
from metrics.services.segments import (
    segment_attribute_add,
    segment_attribute_move,
    segment_attribute_relabel,
    segment_attribute_remove,
)
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

MANAGE = Capability.METRICS_MANAGE


def _errors_to(form: Form, exc: ValidationError, field_of: dict[str, str]) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        field = field_of.get(name, name)
        form.add_error(field if field in form.fields else None, errors)


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk)  # type: ignore[arg-type]  # members are signed in


def _back(org_slug: str, anchor: str = "") -> HttpResponse:
    return redirect(reverse("metrics:settings", kwargs={"org_slug": org_slug}) + anchor)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    attributes = list(segment_attribute_list())
    form = SegmentAttributeForm(
        request.POST if request.method == "POST" else None,
        keys=crm_attribute_keys(),
        taken={attribute.key for attribute in attributes},
    )
    if request.method == "POST" and form.is_valid():
        try:
            attribute = segment_attribute_add(
                actor=Actor.of_user(request.user),
                key=form.cleaned_data["key"],
                label=form.cleaned_data["label"],
            )
        except ValidationError as exc:
            _errors_to(form, exc, {"key": "other_key"})
        else:
            messages.success(
                request,
                _(
                    "The dashboard now breaks down by “%(name)s”. Its numbers are being "
                    "rebuilt; the segment appears in a few minutes."
                )
                % {"name": attribute},
            )
            return _back(org_slug, "#segments")
    return render(
        request,
        "metrics/settings.html",
        {
            "attributes": attributes,
            "form": form,
            "digest_form": DigestSubscriptionForm(
                initial={"subscribed": digest_subscribed(user_id=_user_id(request))}
            ),
        },
    )


@capability_required(MANAGE)
@require_POST
def segment_attribute_edit(request: HttpRequest, org_slug: str, segment_id: int) -> HttpResponse:
    attribute = get_object_or_404(SegmentAttribute.objects, pk=segment_id)
    form = SegmentLabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors.get("label", [])))
        return _back(org_slug, "#segments")
    try:
        segment_attribute_relabel(
            actor=Actor.of_user(request.user), attribute=attribute, label=form.cleaned_data["label"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Label of “%(key)s” saved.") % {"key": attribute.key})
    return _back(org_slug, "#segments")


@capability_required(MANAGE)
@require_POST
def segment_attribute_move_view(
    request: HttpRequest, org_slug: str, segment_id: int
) -> HttpResponse:
    attribute = get_object_or_404(SegmentAttribute.objects, pk=segment_id)
    form = MoveForm(request.POST)
    if form.is_valid():
        segment_attribute_move(
            actor=Actor.of_user(request.user),
            attribute=attribute,
            direction=form.cleaned_data["direction"],
        )
    return _back(org_slug, "#segments")


@capability_required(MANAGE)
@require_POST
def segment_attribute_delete(request: HttpRequest, org_slug: str, segment_id: int) -> HttpResponse:
    attribute = get_object_or_404(SegmentAttribute.objects, pk=segment_id)
    segment_attribute_remove(actor=Actor.of_user(request.user), attribute=attribute)
    messages.success(
        request,
        _("The dashboard no longer breaks down by “%(name)s”.") % {"name": attribute},
    )
    return _back(org_slug, "#segments")


@capability_required(MANAGE)
@require_POST
def digest_subscription_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = DigestSubscriptionForm(request.POST)
    form.is_valid()  # one optional checkbox: always valid
    subscribed = bool(form.cleaned_data.get("subscribed"))
    digest_subscription_set(user_id=_user_id(request), subscribed=subscribed)
    messages.success(
        request,
        _("You will get the weekly digest.")
        if subscribed
        else _("You will no longer get the weekly digest."),
    )
    return _back(org_slug, "#digest")
