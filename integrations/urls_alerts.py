"""Routes of the Slack / Microsoft Teams alert settings (included by integrations.urls)."""

from django.urls import URLPattern, path

from integrations import views_alerts as views

ALERTS = "o/<slug:org_slug>/teams/alerts/"
CHANNEL = ALERTS + "<int:alert_channel_id>/"

urlpatterns: list[URLPattern] = [
    path(ALERTS, views.alert_channel_list_view, name="alert-channel-list"),
    path(ALERTS + "new/", views.alert_channel_create_view, name="alert-channel-create"),
    path(CHANNEL, views.alert_channel_edit_view, name="alert-channel-edit"),
    path(CHANNEL + "active/", views.alert_channel_active_view, name="alert-channel-active"),
    path(CHANNEL + "test/", views.alert_channel_test_view, name="alert-channel-test"),
    path(CHANNEL + "delete/", views.alert_channel_delete_view, name="alert-channel-delete"),
]
