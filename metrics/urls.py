"""Dashboard URLs: ``/o/<org>/dashboard/...`` (one module per page family)."""

from django.urls import include, path

app_name = "metrics"

urlpatterns = [
    path("o/<slug:org_slug>/dashboard/", include("metrics.urls_dashboard")),
    path("o/<slug:org_slug>/dashboard/", include("metrics.urls_insights")),
    path("o/<slug:org_slug>/dashboard/", include("metrics.urls_kpis")),
    path("o/<slug:org_slug>/dashboard/", include("metrics.urls_exports")),
]
