"""The case timeline and the case events published for integrations."""

from __future__ import annotations

from typing import Any

from closedloop.models import Case, CaseEvent
from responses.models import OutboxTopic
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
    topic = OutboxTopic.CASE_UPDATED
    if kind == "opened":
        topic = OutboxTopic.CASE_CREATED
    elif kind == "status" and (data or {}).get("to") == "closed":
        topic = OutboxTopic.CASE_CLOSED
    outbox_publish(topic=topic, payload=case_payload(case, event), response=None)
    return event


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
