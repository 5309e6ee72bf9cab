"""Dashboard URLs (exports)."""

from django.urls import URLPattern, path

from metrics.views import exports

urlpatterns: list[URLPattern] = [
    path("exports/", exports.export_list_view, name="export-list"),
    path("exports/new/", exports.export_create_view, name="export-create"),
    path(
        "exports/<int:export_id>/download/",
        exports.export_download_view,
        name="export-download",
    ),
]
