"""Reads of the chat alerts: channels with their latest outcome, for the settings page."""

from __future__ import annotations

from django.db.models import Max, OuterRef, QuerySet, Subquery

from integrations.models import AlertChannel, AlertDelivery, DeliveryStatus
from tenants.models import Team


def alert_channel_list(*, team_id: int | None = None) -> QuerySet[AlertChannel]:
    """The organization's channels (only one team's when ``team_id`` is given), each
    with ``last_sent_at``, ``last_error`` and ``last_error_at`` of its deliveries (the
    latest error of a delivery that has not succeeded since). One query."""
    latest_error = (
        AlertDelivery.objects.filter(channel=OuterRef("pk"))
        .exclude(last_error="")
        .exclude(status=DeliveryStatus.SUCCEEDED)
        .order_by("-created_at", "-id")
    )
    queryset = AlertChannel.objects.select_related("team").annotate(
        last_sent_at=Max("deliveries__sent_at"),
        last_error=Subquery(latest_error.values("last_error")[:1]),
        last_error_at=Subquery(latest_error.values("created_at")[:1]),
    )
    if team_id is not None:
        queryset = queryset.filter(team_id=team_id)
    return queryset.order_by("name", "id")


def alert_team_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in Team.objects.order_by("name").values_list("pk", "name")]
