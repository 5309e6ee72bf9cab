"""Response rates of invitations: how many delivered invitations were answered.

Counted on the invitations (``surveys.Invitation``) sent in the filtered period, per
invitation channel (email, SMS), in one SQL aggregate. An invitation counts as
delivered unless the provider reported it bounced or failed: its status is ``sent``
(not every provider or backend reports deliveries), ``delivered``, ``opened``,
``answered`` or ``expired`` (an unanswered invitation expires after its window; it was
delivered all the same). It counts as answered when a response came in through its
link (``answered``; one response per invitation at most).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from metrics.selectors.filters import DashboardFilters
from surveys.models import Invitation
from surveys.models_distribution import InvitationStatus

DELIVERED_STATUSES = (
    InvitationStatus.SENT,
    InvitationStatus.DELIVERED,
    InvitationStatus.EXPIRED,
    InvitationStatus.OPENED,
    InvitationStatus.ANSWERED,
)


@dataclass(frozen=True, slots=True)
class ResponseRate:
    channel: str
    sent: int  # every invitation sent in the period (bounced and failed included)
    delivered: int
    answered: int

    @property
    def pct(self) -> float | None:
        """Answered among delivered, in per cent (None without deliveries)."""
        if not self.delivered:
            return None
        return 100.0 * self.answered / self.delivered


def response_rates_by_channel(
    filters: DashboardFilters, timezone_name: str
) -> dict[str, ResponseRate]:
    """Response rate per invitation channel of the invitations sent in the period.

    The journey, touchpoint, survey and channel filters apply (through the invitation's
    survey); language and segment filters do not, since an invitation has neither.
    """
    start, end = filters.bounds(timezone_name)
    q = Q(sent_at__gte=start, sent_at__lt=end)
    if filters.survey_id is not None:
        q &= Q(survey_id=filters.survey_id)
    if filters.touchpoint_id is not None:
        q &= Q(survey__touchpoint_id=filters.touchpoint_id)
    if filters.journey_id is not None:
        q &= Q(survey__touchpoint__journey_id=filters.journey_id)
    if filters.channel:
        q &= Q(channel=filters.channel)
    rows = (
        Invitation.objects.filter(q)
        .order_by()
        .values("channel")
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(status__in=DELIVERED_STATUSES)),
            answered=Count("pk", filter=Q(status=InvitationStatus.ANSWERED)),
        )
    )
    return {
        row["channel"]: ResponseRate(
            channel=row["channel"],
            sent=row["sent"],
            delivered=row["delivered"],
            answered=row["answered"],
        )
        for row in rows
    }
