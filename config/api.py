"""The versioned REST API: routes and the one error shape (RFC 9457 problem details)."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from metrics.api import MetricsBreakdownView, MetricsScoresView, MetricsTrendView
from tenants.api import OrganizationView

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    429: "Too many requests",
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every API error as ``application/problem+json``.

    Validation errors keep DRF's field messages under ``errors`` so a client can show
    them beside the offending field.
    """
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = response.status_code
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(code, "Error"),
        "status": code,
    }
    if isinstance(exc, exceptions.ValidationError):
        problem["detail"] = "The request has invalid fields."
        problem["errors"] = response.data
    elif isinstance(response.data, dict) and "detail" in response.data:
        problem["detail"] = str(response.data["detail"])
    request = context.get("request")
    if request is not None:
        problem["instance"] = request.path
    response.data = problem
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: a URL under ``/api/`` that matches no route (``/api/v1/cases/x/``)
    is a problem too, not the HTML page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    problem = {"type": "about:blank", "title": _TITLES[404], "status": 404}
    problem |= {"detail": "No such resource.", "instance": request.path}
    return JsonResponse(problem, status=404, content_type=PROBLEM_CONTENT_TYPE)


app_name = "api"

urlpatterns = [
    path("organization/", OrganizationView.as_view(), name="organization"),
    # Each app owns its routes (and their names, inside the ``api`` namespace).
    path("", include("contacts.api_urls")),
    path("", include("surveys.api_urls")),
    path("", include("responses.api_urls")),
    path("", include("closedloop.api_urls")),
    path("", include("integrations.api_urls")),
    path("metrics/scores/", MetricsScoresView.as_view(), name="metrics-scores"),
    path("metrics/trend/", MetricsTrendView.as_view(), name="metrics-trend"),
    path("metrics/breakdown/", MetricsBreakdownView.as_view(), name="metrics-breakdown"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start script as a file: no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Redoc renders in a web worker started from a blob: URL.
    path(
        "redoc/",
        csp_update({"worker-src": ["blob:"]})(SpectacularRedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
]
