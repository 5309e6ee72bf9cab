"""Reads of the outbound webhooks: endpoints and their delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    """The current organization's endpoints, oldest first."""
    return WebhookEndpoint.objects.order_by("created_at", "id")


def webhook_delivery_list(
    *, endpoint: WebhookEndpoint, status: str = "", topic: str = ""
) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, optionally of one status or topic."""
    queryset = WebhookDelivery.objects.filter(endpoint=endpoint)
    if status:
        queryset = queryset.filter(status=status)
    if topic:
        queryset = queryset.filter(topic=topic)
    return queryset.order_by("-created_at", "-id")


def webhook_attempt_list(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    """The HTTP requests of a delivery, in order."""
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("attempted_at", "id")
