"""Routes of the closedloop API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from closedloop.api import CaseDetailView, CaseListView, CaseNoteView

urlpatterns: list[URLPattern] = [
    path("cases/", CaseListView.as_view(), name="case-list"),
    path("cases/<int:number>/", CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:number>/notes/", CaseNoteView.as_view(), name="case-note-create"),
]
