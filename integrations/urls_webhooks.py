"""Routes of the outbound webhook settings (included by integrations.urls)."""

from django.urls import URLPattern, path

from integrations import views_webhooks as views

WEBHOOKS = "o/<slug:org_slug>/settings/webhooks/"
ENDPOINT = WEBHOOKS + "<int:webhook_id>/"
DELIVERY = ENDPOINT + "deliveries/<int:delivery_id>/"

urlpatterns: list[URLPattern] = [
    path(WEBHOOKS, views.webhook_list_view, name="webhook-list"),
    path(WEBHOOKS + "new/", views.webhook_create_view, name="webhook-create"),
    path(ENDPOINT, views.webhook_detail_view, name="webhook-detail"),
    path(ENDPOINT + "edit/", views.webhook_edit_view, name="webhook-edit"),
    path(ENDPOINT + "active/", views.webhook_active_view, name="webhook-active"),
    path(ENDPOINT + "rotate-secret/", views.webhook_rotate_view, name="webhook-rotate-secret"),
    path(ENDPOINT + "ping/", views.webhook_ping_view, name="webhook-ping"),
    path(ENDPOINT + "delete/", views.webhook_delete_view, name="webhook-delete"),
    path(DELIVERY, views.webhook_delivery_view, name="webhook-delivery"),
    path(DELIVERY + "redeliver/", views.webhook_redeliver_view, name="webhook-redeliver"),
]
