"""Dashboard URLs (kpis): the closed-loop KPI page and the dashboard settings."""

from django.urls import URLPattern, path

from metrics.views import kpis, settings

urlpatterns: list[URLPattern] = [
    path("closed-loop/", kpis.kpis, name="kpis"),
    path("settings/", settings.settings_view, name="settings"),
    path(
        "settings/segments/<int:segment_id>/",
        settings.segment_attribute_edit,
        name="segment-attribute-edit",
    ),
    path(
        "settings/segments/<int:segment_id>/move/",
        settings.segment_attribute_move_view,
        name="segment-attribute-move",
    ),
    path(
        "settings/segments/<int:segment_id>/delete/",
        settings.segment_attribute_delete,
        name="segment-attribute-delete",
    ),
    path("settings/digest/", settings.digest_subscription_view, name="digest-subscription"),
]
