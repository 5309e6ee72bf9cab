"""Routes of the surveys API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from surveys import api, api_events, api_invitations

urlpatterns: list[URLPattern] = [
    path("journeys/", api.JourneyListView.as_view(), name="journey-list"),
    path("journeys/<int:journey_id>/", api.JourneyDetailView.as_view(), name="journey-detail"),
    path("touchpoints/", api.TouchpointListView.as_view(), name="touchpoint-list"),
    path(
        "touchpoints/<int:touchpoint_id>/",
        api.TouchpointDetailView.as_view(),
        name="touchpoint-detail",
    ),
    path("surveys/", api.SurveyListView.as_view(), name="survey-list"),
    path("surveys/<int:survey_id>/", api.SurveyDetailView.as_view(), name="survey-detail"),
    path("events/", api_events.EventView.as_view(), name="event-create"),
    path("events/batch/", api_events.EventBatchView.as_view(), name="event-batch"),
    path("invitations/", api_invitations.InvitationListView.as_view(), name="invitation-list"),
    path(
        "invitations/<int:invitation_id>/",
        api_invitations.InvitationDetailView.as_view(),
        name="invitation-detail",
    ),
]
