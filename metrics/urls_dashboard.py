"""Dashboard URLs (dashboard): overview, journeys, drill-down and period comparison."""

from django.urls import URLPattern, path

from metrics.views.breakdown import breakdown_view
from metrics.views.compare import compare_view
from metrics.views.journeys import journeys_view
from metrics.views.overview import overview_view

urlpatterns: list[URLPattern] = [
    path("", overview_view, name="overview"),
    path("journeys/", journeys_view, name="journeys"),
    path("breakdown/", breakdown_view, name="breakdown"),
    path("compare/", compare_view, name="compare"),
]
