"""Routes of the integrations API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from integrations.api import (
    WebhookDeliveryListView,
    WebhookDetailView,
    WebhookListView,
    WebhookPingView,
    WebhookRedeliverView,
)

urlpatterns: list[URLPattern] = [
    path("webhooks/", WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>/", WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("webhooks/<int:webhook_id>/ping/", WebhookPingView.as_view(), name="webhook-ping"),
]
