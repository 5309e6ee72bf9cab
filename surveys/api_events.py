"""CRM events over the API (``events:write``): ``POST /events/`` for one event and
``POST /events/batch/`` for up to 1,000. docs/api/events.md describes both.

The request bodies are checked by hand rather than by a DRF serializer per event (a
nested serializer costs more per event than deciding its rules); the serializers below
describe the same shapes for the OpenAPI schema. The contact part of an event is
normalised and checked by the contacts bulk upsert, as for ``POST /contacts/bulk/``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.api import AttributesField, ContactBulkItemSerializer
from contacts.services.contact import clean_attributes
from surveys.models_distribution import Invitation, InvitationChannel, SuppressionReason
from surveys.services.crm import (
    MAX_EVENTS,
    CrmEvent,
    CrmEventsInvalid,
    EventResult,
    crm_event_record,
    crm_events_process,
)
from surveys.services.distribution import Outcome
from tenants.api import AwareDateTimeField, TenantAPIView
from tenants.services import Actor

EVENT_TYPE = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
EVENT_FIELDS = frozenset({"type", "contact", "occurred_at", "attributes"})
RESULTS = ("scheduled", "deferred", "suppressed", "not_matching", "not_sendable")
_TIME = AwareDateTimeField()


def _time(value: Any) -> str | None:
    return None if value is None else str(_TIME.to_representation(value))


# --- Parsing ---------------------------------------------------------------------------


def _parse(raw: Any, allowed: frozenset[str]) -> tuple[CrmEvent | None, dict[str, Any]]:
    """One event body: the event, or its errors by field."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Each event must be an object."]}
    errors: dict[str, Any] = {name: ["Unknown field."] for name in sorted(set(raw) - allowed)}
    kind = raw.get("type")
    if not isinstance(kind, str) or not EVENT_TYPE.match(kind):
        errors["type"] = [
            "Give the event type: 1-100 letters, digits, underscores or hyphens "
            "(e.g. order_completed), as in the distribution rules."
        ]
    contact = raw.get("contact")
    if not isinstance(contact, dict):
        errors["contact"] = ["Give the contact: an object with at least its crm_id."]
    elif not isinstance(contact.get("crm_id"), str):
        errors["contact"] = {"crm_id": ["The CRM id is required (text)."]}
    occurred_at = timezone.now()
    if raw.get("occurred_at") is not None:
        value = raw["occurred_at"]
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            errors["occurred_at"] = ["Give an ISO 8601 time, e.g. 2026-11-23T10:00:00+01:00."]
        elif timezone.is_naive(parsed):
            errors["occurred_at"] = [str(AwareDateTimeField.default_error_messages["naive"])]
        else:
            occurred_at = parsed
    attributes: dict[str, Any] = {}
    if raw.get("attributes") is not None:
        if not isinstance(raw["attributes"], dict):
            errors["attributes"] = ["Give an object of keys and plain values."]
        else:
            try:
                attributes = clean_attributes(raw["attributes"])
            except DjangoValidationError as exc:
                errors["attributes"] = exc.message_dict["attributes"]
    if errors or not isinstance(kind, str) or not isinstance(contact, dict):
        return None, errors
    return CrmEvent(kind, contact, occurred_at, attributes), {}


# --- Output ----------------------------------------------------------------------------


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "rule_id": outcome.rule_id,
        "rule": outcome.rule_name,
        "result": outcome.result,
        "reason": outcome.reason,
        "detail": str(outcome.detail),
        "channel": outcome.channel,
        "send_at": _time(outcome.send_at),
        "invitation": outcome.invitation_id,
    }


def _contact(result: EventResult) -> dict[str, Any]:
    return {"id": result.contact_id, "crm_id": result.crm_id, "created": result.created}


def _no_rules(event_type: str) -> str:
    return f"No active distribution rule for the event type “{event_type}”: nothing to do."


def _single(
    event: CrmEvent, result: EventResult, dry_run: bool, surveys: dict[int, int]
) -> dict[str, Any]:
    outcomes = [_outcome(outcome) for outcome in result.outcomes]
    return {
        "type": event.type,
        "occurred_at": _time(event.occurred_at),
        "dry_run": dry_run,
        "contact": _contact(result),
        "detail": "" if outcomes else _no_rules(event.type),
        "outcomes": outcomes,
        "invitations": [
            {
                "id": o.invitation_id,
                "status": "scheduled",
                "channel": o.channel,
                "survey": surveys.get(o.invitation_id or 0),
                "send_at": _time(o.send_at),
                "rule_id": o.rule_id,
                "rule": o.rule_name,
                "deferred": o.result == "deferred",
            }
            for o in result.outcomes
            if o.invitation_id is not None
        ],
        "suppressed": [
            {
                "rule_id": o.rule_id,
                "rule": o.rule_name,
                "result": o.result,
                "reason": o.reason,
                "detail": str(o.detail),
                "channel": o.channel,
            }
            for o in result.outcomes
            if o.reason
        ],
    }


# --- Schema ----------------------------------------------------------------------------


class EventContactSerializer(ContactBulkItemSerializer):
    """The event's contact: found by ``crm_id``, created or updated with the fields
    given (as one item of ``POST /contacts/bulk/``)."""


class EventSerializer(serializers.Serializer[Any]):
    type = serializers.RegexField(
        EVENT_TYPE.pattern,
        max_length=100,
        help_text="The CRM event type the distribution rules name (e.g. order_completed).",
    )
    contact = EventContactSerializer()
    occurred_at = AwareDateTimeField(
        required=False, help_text="When it happened (rule delays count from it). Default: now."
    )
    attributes = AttributesField(
        required=False,
        help_text="The event's own attributes; they override the contact's in the rules' "
        "conditions and are not stored on the contact.",
    )


class EventRequestSerializer(EventSerializer):
    dry_run = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Decide without writing anything (testing rules): no contact change, "
        "no invitation.",
    )


class EventBatchRequestSerializer(serializers.Serializer[Any]):
    events = EventSerializer(many=True, help_text=f"1 to {MAX_EVENTS} events.")


class EventContactResultSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(
        allow_null=True, help_text="null only in a dry run for a new contact."
    )
    crm_id = serializers.CharField()
    created = serializers.BooleanField()


class OutcomeSerializer(serializers.Serializer[Any]):
    rule_id = serializers.IntegerField()
    rule = serializers.CharField(help_text="The rule's name.")
    result = serializers.ChoiceField(choices=RESULTS)
    reason = serializers.CharField(
        allow_blank=True,
        help_text="Why it was suppressed or deferred (opt_out, no_consent, unreachable, "
        "duplicate, frequency, quiet_hours); empty otherwise.",
    )
    detail = serializers.CharField(allow_blank=True)
    channel = serializers.CharField(
        allow_blank=True, help_text="email or sms; empty when no channel can reach the contact."
    )
    send_at = AwareDateTimeField(allow_null=True)
    invitation = serializers.IntegerField(allow_null=True)


class EventInvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="scheduled (the status of a new invitation).")
    channel = serializers.ChoiceField(choices=InvitationChannel.values)
    survey = serializers.IntegerField()
    send_at = AwareDateTimeField()
    rule_id = serializers.IntegerField()
    rule = serializers.CharField()
    deferred = serializers.BooleanField(
        help_text="Scheduled later than the rule's delay (budget or SMS quiet hours)."
    )


class EventSuppressedSerializer(serializers.Serializer[Any]):
    rule_id = serializers.IntegerField()
    rule = serializers.CharField()
    result = serializers.CharField(help_text="suppressed, or deferred (scheduled later).")
    reason = serializers.ChoiceField(choices=SuppressionReason.values)
    detail = serializers.CharField(allow_blank=True)
    channel = serializers.CharField(
        allow_blank=True, help_text="email or sms; empty when no channel can reach the contact."
    )


class EventResultSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    occurred_at = AwareDateTimeField()
    dry_run = serializers.BooleanField()
    contact = EventContactResultSerializer()
    detail = serializers.CharField(
        allow_blank=True, help_text="Says so when no active rule exists for the type."
    )
    outcomes = OutcomeSerializer(many=True, help_text="One per active rule for the type.")
    invitations = EventInvitationSerializer(many=True, help_text="The invitations scheduled.")
    suppressed = EventSuppressedSerializer(
        many=True, help_text="The outcomes with a suppression reason (deferred ones too)."
    )


class EventBatchItemSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(min_value=0)
    contact = EventContactResultSerializer()
    outcomes = OutcomeSerializer(many=True)


class EventBatchTotalsSerializer(serializers.Serializer[Any]):
    scheduled = serializers.IntegerField(min_value=0)
    deferred = serializers.IntegerField(min_value=0)
    suppressed = serializers.IntegerField(min_value=0)
    not_matching = serializers.IntegerField(min_value=0)
    not_sendable = serializers.IntegerField(min_value=0)
    without_rules = serializers.IntegerField(
        min_value=0, help_text="Events whose type has no active rule."
    )


class EventBatchResultSerializer(serializers.Serializer[Any]):
    events = serializers.IntegerField(min_value=0)
    contacts_created = serializers.IntegerField(min_value=0)
    totals = EventBatchTotalsSerializer()
    results = EventBatchItemSerializer(many=True, help_text="One per event, in request order.")


class EventItemErrorSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(min_value=0)
    crm_id = serializers.CharField(allow_null=True)
    errors = serializers.JSONField(  # type: ignore[assignment]
        help_text="Field -> messages (`contact` holds the contact's fields)."
    )


class EventBatchProblemSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    errors = serializers.JSONField(  # type: ignore[assignment]
        help_text="Per invalid event its index, crm_id and messages by field "
        "(`[{index, crm_id, errors}]`); or field -> messages for a malformed body."
    )


# --- Views -----------------------------------------------------------------------------


class EventsInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Some events are invalid; nothing was written."

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__()
        self.errors = errors


def _crm_id(raw: Any) -> str | None:
    contact = raw.get("contact") if isinstance(raw, dict) else None
    crm_id = contact.get("crm_id") if isinstance(contact, dict) else None
    return crm_id if isinstance(crm_id, str) else None


SCHEDULED_EXAMPLE = {
    "type": "order_completed",
    "occurred_at": "2026-11-23T09:00:00Z",
    "dry_run": False,
    "contact": {"id": 42, "crm_id": "C-4711", "created": True},
    "detail": "",
    "outcomes": [
        {
            "rule_id": 3,
            "rule": "Order completed: survey after 2 hours",
            "result": "scheduled",
            "reason": "",
            "detail": "",
            "channel": "email",
            "send_at": "2026-11-23T11:00:00Z",
            "invitation": 915,
        }
    ],
    "invitations": [
        {
            "id": 915,
            "status": "scheduled",
            "channel": "email",
            "survey": 1,
            "send_at": "2026-11-23T11:00:00Z",
            "rule_id": 3,
            "rule": "Order completed: survey after 2 hours",
            "deferred": False,
        }
    ],
    "suppressed": [],
}


class EventView(TenantAPIView):
    model = Invitation
    serializer_class = EventResultSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"POST": "events:write"}

    @extend_schema(
        tags=["events"],
        summary="Record a CRM event: upsert its contact, apply the distribution rules",
        description="The contact is found by `crm_id` and created or updated with the "
        "fields given. Each active rule for the event type then schedules an invitation "
        "or records why not (`outcomes`, one per rule, in rule order). 200 with the "
        "outcomes: the event is fully processed when the answer comes; invitations are "
        "sent when due. An event type without active rules answers 200 with no outcomes "
        "and says so in `detail`. `dry_run` decides without writing anything. Send an "
        "`Idempotency-Key` to make retries safe: without one, a repeated event is "
        "decided again (an open invitation to the same survey suppresses it as "
        "`duplicate`, the contact budget as `frequency`).",
        request=EventRequestSerializer,
        responses={200: EventResultSerializer},
        examples=[
            OpenApiExample(
                "Order completed",
                value={
                    "type": "order_completed",
                    "occurred_at": "2026-11-23T10:00:00+01:00",
                    "contact": {
                        "crm_id": "C-4711",
                        "email": "jane.doe@example.com",
                        "first_name": "Jane",
                        "language": "en",
                        "attributes": {"segment": "retail"},
                    },
                    "attributes": {"order_id": "4711", "order_total": 129.9},
                },
                request_only=True,
            ),
            OpenApiExample("Scheduled", value=SCHEDULED_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        event, errors = _parse(data, EVENT_FIELDS | {"dry_run"})
        dry_run = data.get("dry_run", False) if isinstance(data, dict) else False
        if not isinstance(dry_run, bool):
            errors["dry_run"] = ["Must be true or false."]
        if errors or event is None:
            raise exceptions.ValidationError(errors)
        try:
            result = crm_event_record(
                actor=Actor.of_api_key(self.api_key), event=event, dry_run=dry_run
            )
        except CrmEventsInvalid as exc:
            raise exceptions.ValidationError(exc.errors[0]["errors"]) from None
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(serializers.as_serializer_error(exc)) from None
        ids = [o.invitation_id for o in result.outcomes if o.invitation_id is not None]
        surveys = dict(Invitation.objects.filter(pk__in=ids).values_list("pk", "survey_id"))
        return Response(_single(event, result, dry_run, surveys))


class EventBatchView(TenantAPIView):
    model = Invitation
    serializer_class = EventBatchResultSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"POST": "events:write"}

    @extend_schema(
        tags=["events"],
        summary=f"Record up to {MAX_EVENTS:,} CRM events at once",
        description="All or nothing for invalid input: every event is checked first and "
        "any invalid one answers 400 with `errors` (per invalid event its `index`, "
        "`crm_id` and messages by field; `contact` holds the contact's) and writes "
        "nothing. Valid events are processed in one transaction with the same result "
        "as posting them one by one in order; `results` has one entry per event with "
        "its per-rule outcomes. A CRM id may occur several times.",
        request=EventBatchRequestSerializer,
        responses={
            200: EventBatchResultSerializer,
            (400, "application/problem+json"): OpenApiResponse(
                EventBatchProblemSerializer, description="Invalid events; nothing was written."
            ),
        },
        examples=[
            OpenApiExample(
                "Two events",
                value={
                    "events": [
                        {
                            "type": "order_completed",
                            "occurred_at": "2026-11-23T10:00:00+01:00",
                            "contact": {"crm_id": "C-4711", "email": "jane.doe@example.com"},
                        },
                        {
                            "type": "order_completed",
                            "occurred_at": "2026-11-23T10:05:00+01:00",
                            "contact": {"crm_id": "C-4712"},
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Processed",
                value={
                    "events": 2,
                    "contacts_created": 1,
                    "totals": {
                        "scheduled": 1,
                        "deferred": 0,
                        "suppressed": 1,
                        "not_matching": 0,
                        "not_sendable": 0,
                        "without_rules": 0,
                    },
                    "results": [
                        {
                            "index": 0,
                            "contact": {"id": 42, "crm_id": "C-4711", "created": False},
                            "outcomes": SCHEDULED_EXAMPLE["outcomes"],
                        },
                        {
                            "index": 1,
                            "contact": {"id": 43, "crm_id": "C-4712", "created": True},
                            "outcomes": [
                                {
                                    "rule_id": 3,
                                    "rule": "Order completed: survey after 2 hours",
                                    "result": "suppressed",
                                    "reason": "unreachable",
                                    "detail": "No email address.",
                                    "channel": "",
                                    "send_at": None,
                                    "invitation": None,
                                }
                            ],
                        },
                    ],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        raw_events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(raw_events, list) or not raw_events:
            raise exceptions.ValidationError({"events": ["Give a non-empty list of events."]})
        if isinstance(data, dict) and set(data) - {"events"}:
            raise exceptions.ValidationError(
                {name: ["Unknown field."] for name in sorted(set(data) - {"events"})}
            )
        if len(raw_events) > MAX_EVENTS:
            raise exceptions.ValidationError(
                {
                    "events": [
                        f"At most {MAX_EVENTS} events per request; this one has {len(raw_events)}."
                    ]
                }
            )
        events: list[CrmEvent] = []
        invalid: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_events):
            event, errors = _parse(raw, EVENT_FIELDS)
            if event is None:
                invalid.append({"index": index, "crm_id": _crm_id(raw), "errors": errors})
            else:
                events.append(event)
        if invalid:
            raise EventsInvalid(invalid)
        try:
            results = crm_events_process(actor=Actor.of_api_key(self.api_key), events=events)
        except CrmEventsInvalid as exc:
            raise EventsInvalid(sorted(exc.errors, key=lambda error: error["index"])) from None
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(serializers.as_serializer_error(exc)) from None
        totals: Counter[str] = Counter(dict.fromkeys(RESULTS, 0))
        items = []
        without_rules = created = 0
        for result in results:
            outcomes = []
            for outcome in result.outcomes:
                totals[outcome.result] += 1
                outcomes.append(_outcome(outcome))
            without_rules += not outcomes
            created += result.created
            items.append({"index": result.index, "contact": _contact(result), "outcomes": outcomes})
        return Response(
            {
                "events": len(results),
                "contacts_created": created,
                "totals": {
                    **{name: totals[name] for name in RESULTS},
                    "without_rules": without_rules,
                },
                "results": items,
            }
        )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, EventsInvalid) and isinstance(response.data, dict):
            response.data["errors"] = exc.errors
        return response
