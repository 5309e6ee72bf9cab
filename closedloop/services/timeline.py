"""The case timeline and the case events published for integrations."""

from __future__ import annotations

from typing import Any

from closedloop.models import Case, CaseEvent
from responses.models import OutboxEvent, OutboxTopic
from responses.services.outbox import outbox_publish
from tenants.services import Actor


def case_event_add(
    *,
    case: Case,
    kind: str,
    actor: Actor,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: Any = None,
) -> CaseEvent:
    """Append one entry to the case's timeline (its audit trail) and publish it to the
    outbox as ``case.updated`` (``case.created``/``case.closed`` where they apply)."""
    fields: dict[str, Any] = {}
    if at is not None:
        fields["created_at"] = at
    event = CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:200],
        text=text,
        data=data or {},
        **fields,
    )
    outbox_publish(topic=_topic(event), payload=case_payload(case, event), response=None)
    return event


def case_events_add(*, events: list[CaseEvent]) -> list[CaseEvent]:
    """Append many timeline entries at once (the SLA sweep's batch): one insert for the
    entries and one for their outbox events, published as ``case_event_add`` does.
    Each event carries its case (``CaseEvent(case=...)``) as the payload shows it."""
    if not events:
        return []
    created = CaseEvent.objects.bulk_create(events)
    outbox = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(topic=_topic(event), payload=case_payload(event.case, event))
            for event in created
        ]
    )
    from responses.services.submit import _dispatch_after_commit

    for row in outbox:
        _dispatch_after_commit(row.organization_id, row.pk)
    return created


def _topic(event: CaseEvent) -> str:
    if event.kind == "opened":
        return OutboxTopic.CASE_CREATED
    if event.kind == "status" and (event.data or {}).get("to") == "closed":
        return OutboxTopic.CASE_CLOSED
    return OutboxTopic.CASE_UPDATED


def case_payload(case: Case, event: CaseEvent | None = None) -> dict[str, Any]:
    """The case as integrations see it (webhooks, the process system of the touchpoint)."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    payload: dict[str, Any] = {
        "case_id": case.pk,
        "number": case.number,
        "status": case.status,
        "priority": case.priority,
        "impact": case.impact,
        "response_id": case.response_id,
        "contact_id": case.contact_id,
        "touchpoint_id": case.touchpoint_id,
        "journey_id": case.journey_id,
        "owner_id": case.owner_id,
        "team_id": case.team_id,
        "first_response_due_at": iso(case.first_response_due_at),
        "resolution_due_at": iso(case.resolution_due_at),
        "first_responded_at": iso(case.first_responded_at),
        "resolved_at": iso(case.resolved_at),
        "recovered": case.recovered,
    }
    if event is not None:
        payload["event"] = {"id": event.pk, "kind": event.kind, "data": event.data}
    return payload
