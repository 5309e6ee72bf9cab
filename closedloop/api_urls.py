"""Routes of the closedloop API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
