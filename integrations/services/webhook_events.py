"""What the outbound webhooks send: the event envelope and the ``data`` of each topic
(docs/integrations/webhooks.md documents every field).

``webhook_deliveries_for_event`` runs in the outbox handler (``integrations.handlers``),
inside the transaction that marks the event dispatched: it writes one
``WebhookDelivery`` per active endpoint subscribed to the topic. The unique constraint
(endpoint, outbox event) makes handling an event twice harmless. The sends are
scheduled after commit.

The payloads are public and stable: ids, CRM ids, scores, states and ISO 8601 times
with a zone; no internal-only fields (tokens, answers, free text of the customer).
``response.completed`` and ``case.*`` read the current rows (the outbox carries their
ids); ``contact.opted_out`` and ``invitation.bounced`` are published in their final
shape by the code that records them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookTopic
from responses.models import OutboxEvent
from tenants.models import Organization

PING = "ping"
# Event ids derive from the outbox event: the same on every handling of it.
EVENT_ID_NAMESPACE = uuid.UUID("5b0f7a52-3c1e-4d8e-9a43-0c6f1f0e2b7d")
PRIORITY_NAMES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def webhook_event_id(event: OutboxEvent) -> uuid.UUID:
    """The ``Webhook-Id`` of an outbox event (stable: a re-handled event keeps it)."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{event.organization_id}:{event.pk}")


def webhook_envelope(
    *, event_id: uuid.UUID, topic: str, created_at: datetime, organization: str, data: Any
) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": topic,
        "created_at": iso(created_at),
        "organization": organization,
        "data": data,
    }


def _contact(contact: Any) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {"id": contact.pk, "crm_id": contact.crm_id}


def _ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": obj.name}


def response_data(response_id: int) -> dict[str, Any] | None:
    """``response.completed``: the response with its scores (no answers or comment)."""
    from responses.models import Response

    response = (
        Response.objects.select_related("contact", "touchpoint", "journey", "survey")
        .filter(pk=response_id)
        .first()
    )
    if response is None:
        return None
    return {
        "id": response.pk,
        "survey": _ref(response.survey),
        "touchpoint": _ref(response.touchpoint),
        "journey": _ref(response.journey),
        "invitation_id": response.invitation_id,
        "contact": _contact(response.contact),
        "channel": response.channel,
        "language": response.language,
        "nps": response.nps,
        "nps_group": response.nps_group,
        "ces": response.ces,
        "csat": response.csat,
        "responded_at": iso(response.responded_at),
        "completed_at": iso(response.completed_at),
    }


def case_data(case_id: int, change: dict[str, Any] | None) -> dict[str, Any] | None:
    """``case.*``: the case as it stands, and the timeline entry that was published."""
    from closedloop.models import Case

    case = (
        Case.objects.select_related("contact", "touchpoint", "journey", "owner", "team", "response")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        return None
    response = case.response
    return {
        "id": case.pk,
        "number": case.number,
        "title": case.title,
        "status": case.status,
        "priority": PRIORITY_NAMES.get(case.priority, str(case.priority)),
        "contact": _contact(case.contact),
        "assignee": None if case.owner is None else {"email": case.owner.email},
        "team": _ref(case.team),
        "touchpoint": _ref(case.touchpoint),
        "journey": _ref(case.journey),
        "response": None
        if response is None
        else {
            "id": response.pk,
            "nps": response.nps,
            "nps_group": response.nps_group,
            "ces": response.ces,
            "csat": response.csat,
        },
        "first_response_due_at": iso(case.first_response_due_at),
        "resolution_due_at": iso(case.resolution_due_at),
        "first_responded_at": iso(case.first_responded_at),
        "resolved_at": iso(case.resolved_at),
        "closed_at": iso(case.closed_at),
        "recovered": case.recovered,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "change": None
        if not change
        else {"kind": change.get("kind"), "data": change.get("data") or {}},
    }


def webhook_topic(event: OutboxEvent) -> str | None:
    """The webhook topic of an outbox event, if it has one. A response stored complete
    in one go is published as ``response.created`` (status complete); a partial one
    that is finished later as ``response.completed``: both are ``response.completed``
    here, once per response."""
    if event.topic == "response.created":
        complete = (event.payload or {}).get("status") == "complete"
        return WebhookTopic.RESPONSE_COMPLETED if complete else None
    return event.topic if event.topic in WebhookTopic.values else None


def webhook_event_data(event: OutboxEvent) -> Any:
    """The ``data`` of an outbox event's webhook; None when there is nothing to send
    (an imported response is history, a deleted row has nothing to say)."""
    payload = event.payload or {}
    topic = webhook_topic(event)
    if topic == WebhookTopic.RESPONSE_COMPLETED:
        if payload.get("channel") == "import" or event.response_id is None:
            return None
        return response_data(event.response_id)
    if topic in (WebhookTopic.CASE_CREATED, WebhookTopic.CASE_UPDATED, WebhookTopic.CASE_CLOSED):
        if payload.get("case_id") is None:
            return None
        return case_data(int(payload["case_id"]), payload.get("event"))
    if topic in (WebhookTopic.CONTACT_OPTED_OUT, WebhookTopic.INVITATION_BOUNCED):
        return payload
    return None


def webhook_deliveries_for_event(event: OutboxEvent) -> list[int]:
    """Write one delivery per active endpoint subscribed to the event's topic (in the
    current transaction, the outbox handler's) and send them after commit; the ids of
    the deliveries still to send."""
    topic = webhook_topic(event)
    if topic is None:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(is_active=True)
        if topic in (endpoint.events or [])
    ]
    if not endpoints:
        return []
    data = webhook_event_data(event)
    if data is None:
        return []
    organization = Organization.objects.get(pk=event.organization_id)
    event_id = webhook_event_id(event)
    payload = webhook_envelope(
        event_id=event_id,
        topic=topic,
        created_at=event.created_at,
        organization=organization.slug,
        data=data,
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                outbox_event=event,
                event_id=event_id,
                topic=topic,
                payload=payload,
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(
            outbox_event=event,
            redelivery_of__isnull=True,
            status=DeliveryStatus.PENDING,
            attempts=0,
        ).values_list("pk", flat=True)
    )
    webhook_deliveries_schedule(organization_id=event.organization_id, delivery_ids=ids)
    return ids


def webhook_deliveries_schedule(*, organization_id: int, delivery_ids: list[int]) -> None:
    """After commit, hand the deliveries to workers (the sweep covers a missing broker)."""
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(organization_id, delivery_ids))


def _enqueue(organization_id: int, delivery_ids: list[int]) -> None:
    import logging

    from integrations.tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        try:
            webhook_deliver_task.apply_async(
                kwargs={"organization_id": organization_id, "delivery_id": delivery_id},
                retry_policy={"max_retries": 0},
            )
        except Exception:  # noqa: BLE001 - the beat sweep sends it once the broker is back
            logging.getLogger(__name__).warning(
                "webhook delivery %s left for the sweep: broker unavailable", delivery_id
            )
