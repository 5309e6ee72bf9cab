"""Routes of the responses API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from responses import api

urlpatterns: list[URLPattern] = [
    path("responses/", api.ResponseListView.as_view(), name="response-list"),
    path("responses/<int:response_id>/", api.ResponseDetailView.as_view(), name="response-detail"),
]
