"""Outbound webhooks, set up under /o/<org>/settings/webhooks/.

Admins only (``webhooks.manage``); the tenant middleware already answered 404 to
non-members. The signing secret is on a page once: after creation and after rotation
(that answer is not cached). Every change goes through
``integrations.services.webhooks``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.forms_webhooks import WebhookEndpointForm
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookTopic
from integrations.selectors_webhooks import (
    webhook_attempt_list,
    webhook_delivery_list,
    webhook_endpoint_list,
)
from integrations.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_ping,
    webhook_redeliver,
)
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

MANAGE = Capability.WEBHOOKS_MANAGE
DELIVERIES_PER_PAGE = 50


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


def _detail_url(org_slug: str, webhook_id: int) -> str:
    return reverse(
        "integrations:webhook-detail", kwargs={"org_slug": org_slug, "webhook_id": webhook_id}
    )


def _errors_to(form: WebhookEndpointForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _event_labels(topics: list[str]) -> list[str]:
    labels = dict(WebhookTopic.choices)
    return [str(labels.get(topic, topic)) for topic in topics]


@capability_required(MANAGE)
@require_GET
def webhook_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    rows = [(endpoint, _event_labels(endpoint.events)) for endpoint in webhook_endpoint_list()]
    return render(request, "integrations/webhook_list.html", {"rows": rows})


def _form_page(
    request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint | None
) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    initial: dict[str, Any] = (
        {"events": []}
        if endpoint is None
        else {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    )
    form = WebhookEndpointForm(data, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = {
            "url": form.cleaned_data["url"],
            "description": form.cleaned_data["description"],
            "events": form.cleaned_data["events"],
        }
        try:
            if endpoint is None:
                saved = webhook_endpoint_create(actor=_actor(request), **fields)
            else:
                saved = webhook_endpoint_update(actor=_actor(request), endpoint=endpoint, **fields)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            if endpoint is None:
                messages.success(request, _("Webhook endpoint created."))
                return _detail_page(request, org_slug, saved, secret=saved.secret)
            messages.success(request, _("Webhook endpoint saved."))
            return redirect(_detail_url(org_slug, saved.pk))
    return render(request, "integrations/webhook_form.html", {"endpoint": endpoint, "form": form})


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def webhook_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _form_page(request, org_slug, None)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def webhook_edit_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    return _form_page(request, org_slug, endpoint)


def _detail_page(
    request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint, *, secret: str = ""
) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    deliveries = webhook_delivery_list(endpoint=endpoint, status=status)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "endpoint": endpoint,
        "event_labels": _event_labels(endpoint.events),
        "page": page,
        "status": status,
        "statuses": DeliveryStatus.choices,
        "secret": secret,
    }
    response = render(request, "integrations/webhook_detail.html", context)
    if secret:
        # The secret is on this page once: keep it out of caches and history.
        response["Cache-Control"] = "no-store"
    return response


@capability_required(MANAGE)
@require_GET
def webhook_detail_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    return _detail_page(request, org_slug, endpoint)


@capability_required(MANAGE)
@require_POST
def webhook_active_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    if request.POST.get("active") == "on":
        webhook_endpoint_enable(actor=_actor(request), endpoint=endpoint)
        messages.success(request, _("Webhook endpoint enabled."))
    else:
        webhook_endpoint_disable(
            actor=_actor(request), endpoint=endpoint, reason=_("Disabled by hand.")
        )
        messages.success(request, _("Webhook endpoint disabled."))
    return redirect(_detail_url(org_slug, endpoint.pk))


@capability_required(MANAGE)
@require_POST
def webhook_rotate_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    endpoint = webhook_endpoint_rotate_secret(actor=_actor(request), endpoint=endpoint)
    messages.success(
        request,
        _("New secret created. The old one also signs for 24 hours: update your receiver."),
    )
    return _detail_page(request, org_slug, endpoint, secret=endpoint.secret)


@capability_required(MANAGE)
@require_POST
def webhook_ping_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    try:
        webhook_ping(actor=_actor(request), endpoint=endpoint)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Test ping queued. Its delivery shows in the log below."))
    return redirect(_detail_url(org_slug, endpoint.pk))


@capability_required(MANAGE)
@require_POST
def webhook_delete_view(request: HttpRequest, org_slug: str, webhook_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects, pk=webhook_id)
    webhook_endpoint_delete(actor=_actor(request), endpoint=endpoint)
    messages.success(request, _("Webhook endpoint deleted."))
    return redirect(reverse("integrations:webhook-list", kwargs={"org_slug": org_slug}))


def _delivery(webhook_id: int, delivery_id: int) -> WebhookDelivery:
    return get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint"), pk=delivery_id, endpoint_id=webhook_id
    )


@capability_required(MANAGE)
@require_GET
def webhook_delivery_view(
    request: HttpRequest, org_slug: str, webhook_id: int, delivery_id: int
) -> HttpResponse:
    delivery = _delivery(webhook_id, delivery_id)
    context = {
        "endpoint": delivery.endpoint,
        "delivery": delivery,
        "attempts": list(webhook_attempt_list(delivery=delivery)),
        "body": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
    }
    return render(request, "integrations/webhook_delivery.html", context)


@capability_required(MANAGE)
@require_POST
def webhook_redeliver_view(
    request: HttpRequest, org_slug: str, webhook_id: int, delivery_id: int
) -> HttpResponse:
    delivery = _delivery(webhook_id, delivery_id)
    try:
        copy = webhook_redeliver(actor=_actor(request), delivery=delivery)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(
            reverse(
                "integrations:webhook-delivery",
                kwargs={"org_slug": org_slug, "webhook_id": webhook_id, "delivery_id": delivery_id},
            )
        )
    messages.success(request, _("Redelivery queued with the same event id."))
    return redirect(
        reverse(
            "integrations:webhook-delivery",
            kwargs={"org_slug": org_slug, "webhook_id": webhook_id, "delivery_id": copy.pk},
        )
    )
