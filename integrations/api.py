"""The webhooks API: register receivers, read their delivery log, ping and redeliver.

``/api/v1/webhooks/`` (list, register: the answer carries the signing secret, once),
``/api/v1/webhooks/<id>/`` (read, change, delete), ``.../deliveries/`` (the log, with
filters), ``.../deliveries/<delivery_id>/redeliver/`` and ``.../ping/``. Writes go
through ``integrations.services.webhooks`` (validated, SSRF-checked, audited).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookTopic
from integrations.selectors_webhooks import webhook_delivery_list
from integrations.services.webhook_events import PING
from integrations.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_ping,
    webhook_redeliver,
)
from tenants.api import ApiCursorPagination, AwareDateTimeField, TenantAPIView
from tenants.services import Actor

TOPICS = WebhookTopic.choices
DELIVERY_TOPICS = [*WebhookTopic.choices, (PING, "Ping")]


# --- Serializers -----------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=TOPICS))
    is_active = serializers.BooleanField()
    disabled_at = AwareDateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(allow_blank=True)
    failure_streak = serializers.IntegerField(
        help_text="Deliveries failed for good since the last success (5 switch it off)."
    )
    last_success_at = AwareDateTimeField(allow_null=True)
    last_failure_at = AwareDateTimeField(allow_null=True)
    created_at = AwareDateTimeField()
    updated_at = AwareDateTimeField()


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret: shown in this answer only. Verify `Webhook-Signature` "
        "with it."
    )


class WebhookEndpointCreateSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(
        max_length=500,
        help_text="Your receiver. https, and not in a private network (unless the server "
        "allows it).",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=TOPICS), allow_empty=False, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookEndpointPatchSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=TOPICS),
        allow_empty=False,
        max_length=20,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False,
        help_text="false switches the endpoint off (its waiting deliveries fail); true "
        "switches it on again.",
    )


class WebhookDeliverySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField(help_text="The `Webhook-Id` header (and the body's `id`).")
    topic = serializers.ChoiceField(choices=DELIVERY_TOPICS)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = AwareDateTimeField(
        allow_null=True, help_text="When the next attempt is due (pending deliveries only)."
    )
    last_status_code = serializers.IntegerField(allow_null=True)
    last_latency_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    redelivery_of = serializers.IntegerField(source="redelivery_of_id", allow_null=True)
    created_at = AwareDateTimeField()
    delivered_at = AwareDateTimeField(allow_null=True)
    payload = serializers.DictField(help_text="The body sent (the event envelope).")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.status != DeliveryStatus.PENDING:
            data["next_attempt_at"] = None
        return data


class WebhookDeliveryListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    topic = serializers.ChoiceField(choices=DELIVERY_TOPICS, required=False)


# --- Examples ----------------------------------------------------------------------------

_ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "url": "https://crm.example.com/hooks/feedback",
    "description": "CRM round trip",
    "events": ["case.created", "response.completed"],
    "is_active": True,
    "disabled_at": None,
    "disabled_reason": "",
    "failure_streak": 0,
    "last_success_at": "2026-11-23T14:05:12Z",
    "last_failure_at": None,
    "created_at": "2026-11-23T14:00:00Z",
    "updated_at": "2026-11-23T14:00:00Z",
}
_CREATED_EXAMPLE = {
    **_ENDPOINT_EXAMPLE,
    "last_success_at": None,
    "secret": "whsec_4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8",
}
_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": 812,
    "event_id": "0b6c2f7e-0d52-4a53-9c55-2f1f4c7de2a1",
    "topic": "case.created",
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-11-23T14:09:30Z",
    "last_status_code": 503,
    "last_latency_ms": 87,
    "last_error": "HTTP 503",
    "redelivery_of": None,
    "created_at": "2026-11-23T14:05:00Z",
    "delivered_at": None,
    "payload": {
        "id": "0b6c2f7e-0d52-4a53-9c55-2f1f4c7de2a1",
        "type": "case.created",
        "created_at": "2026-11-23T14:05:00+00:00",
        "organization": "acme",
        "data": {"id": 311, "number": 57, "status": "new", "priority": "high"},
    },
}


# --- Views -------------------------------------------------------------------------------


class EndpointDisabled(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The endpoint is switched off: enable it first (PATCH is_active true)."
    default_code = "endpoint_disabled"


def _actor(view: TenantAPIView) -> Actor:
    return Actor.of_api_key(view.api_key)


def _bad_input(exc: DjangoValidationError) -> exceptions.APIException:
    errors = serializers.as_serializer_error(exc)
    if "endpoint" in errors:
        return EndpointDisabled()
    return exceptions.ValidationError(errors)


class _EndpointView(TenantAPIView):
    model: ClassVar[type[Model] | None] = WebhookEndpoint
    pagination_class: type[ApiCursorPagination] | None = None

    def endpoint(self, webhook_id: int) -> WebhookEndpoint:
        try:
            return WebhookEndpoint.objects.get(pk=webhook_id)
        except WebhookEndpoint.DoesNotExist:
            raise exceptions.NotFound("No such webhook.") from None


@extend_schema(tags=["webhooks"])
class WebhookListView(TenantAPIView):
    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    required_scopes: ClassVar[dict[str, str]] = {"GET": "webhooks:read", "POST": "webhooks:write"}

    @extend_schema(
        summary="List webhook endpoints",
        responses={200: WebhookEndpointSerializer(many=True)},
        examples=[OpenApiExample("Endpoint", value=[_ENDPOINT_EXAMPLE], response_only=True)],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        summary="Register a webhook endpoint",
        description="The answer carries the signing `secret`, in this answer only. Every "
        "event is POSTed with `Webhook-Id`, `Webhook-Timestamp` and `Webhook-Signature: "
        'v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (docs/integrations/webhooks.md).',
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        examples=[
            OpenApiExample(
                "CRM receiver",
                value={
                    "url": "https://crm.example.com/hooks/feedback",
                    "events": ["case.created", "response.completed"],
                    "description": "CRM round trip",
                },
                request_only=True,
            ),
            OpenApiExample("Registered", value=_CREATED_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        params = WebhookEndpointCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            endpoint = webhook_endpoint_create(
                actor=_actor(self),
                url=data["url"],
                events=list(data["events"]),
                description=data.get("description", ""),
            )
        except DjangoValidationError as exc:
            raise _bad_input(exc) from None
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["webhooks"])
class WebhookDetailView(_EndpointView):
    serializer_class = WebhookEndpointSerializer
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "webhooks:read",
        "PATCH": "webhooks:write",
        "DELETE": "webhooks:write",
    }

    @extend_schema(
        summary="Read a webhook endpoint",
        responses={200: WebhookEndpointSerializer},
        examples=[OpenApiExample("Endpoint", value=_ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(WebhookEndpointSerializer(self.endpoint(webhook_id)).data)

    @extend_schema(
        summary="Change a webhook endpoint",
        description="Change the URL, events or description, or switch the endpoint off "
        "(`is_active: false`) and on again. Fields left out stay as they are.",
        request=WebhookEndpointPatchSerializer,
        responses={200: WebhookEndpointSerializer},
        examples=[
            OpenApiExample(
                "Subscribe to closed cases too",
                value={"events": ["case.created", "case.closed", "response.completed"]},
                request_only=True,
            ),
            OpenApiExample("Enable again", value={"is_active": True}, request_only=True),
            OpenApiExample("Changed", value=_ENDPOINT_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        endpoint = self.endpoint(webhook_id)
        params = WebhookEndpointPatchSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            endpoint = webhook_endpoint_update(
                actor=_actor(self),
                endpoint=endpoint,
                url=data.get("url"),
                events=list(data["events"]) if "events" in data else None,
                description=data.get("description"),
                is_active=data.get("is_active"),
            )
        except DjangoValidationError as exc:
            raise _bad_input(exc) from None
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(summary="Delete a webhook endpoint and its delivery log", responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhook_endpoint_delete(actor=_actor(self), endpoint=self.endpoint(webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["webhooks"],
    summary="List an endpoint's deliveries",
    description="Newest first. Each delivery is one event for this endpoint; a redelivery "
    "is a new delivery with the same `event_id`.",
    parameters=[WebhookDeliveryListQuerySerializer],
    responses={200: WebhookDeliverySerializer(many=True)},
    examples=[OpenApiExample("Retrying", value=[_DELIVERY_EXAMPLE], response_only=True)],
)
class WebhookDeliveryListView(_EndpointView):
    model = WebhookDelivery
    serializer_class = WebhookDeliverySerializer
    required_scopes: ClassVar[dict[str, str]] = {"GET": "webhooks:read"}
    pagination_class = ApiCursorPagination

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        params = WebhookDeliveryListQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        endpoint = self.endpoint(int(self.kwargs["webhook_id"]))
        return webhook_delivery_list(
            endpoint=endpoint,
            status=params.validated_data.get("status", ""),
            topic=params.validated_data.get("topic", ""),
        )

    def get(self, request: Request, webhook_id: int) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


@extend_schema(
    tags=["webhooks"],
    summary="Send a delivery again",
    description="Creates a new delivery with the same event id and payload (`redelivery_of` "
    "set) and sends it at once; the receiver deduplicates on `Webhook-Id`. The endpoint "
    "must be active (409 otherwise).",
    request=None,
    responses={202: WebhookDeliverySerializer},
    examples=[
        OpenApiExample(
            "Queued",
            value={
                **_DELIVERY_EXAMPLE,
                "id": 901,
                "status": "pending",
                "attempts": 0,
                "last_status_code": None,
                "last_latency_ms": None,
                "last_error": "",
                "redelivery_of": 812,
            },
            response_only=True,
        )
    ],
)
class WebhookRedeliverView(_EndpointView):
    serializer_class = WebhookDeliverySerializer
    required_scopes: ClassVar[dict[str, str]] = {"POST": "webhooks:write"}

    def post(self, request: Request, webhook_id: int, delivery_id: int) -> Response:
        endpoint = self.endpoint(webhook_id)
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
        if delivery is None:
            raise exceptions.NotFound("No such delivery.")
        try:
            copy = webhook_redeliver(actor=_actor(self), delivery=delivery)
        except DjangoValidationError as exc:
            raise _bad_input(exc) from None
        return Response(WebhookDeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["webhooks"],
    summary="Send a test ping",
    description="Queues a `ping` event to the endpoint (signed and retried like any "
    "event). The endpoint must be active (409 otherwise).",
    request=None,
    responses={202: WebhookDeliverySerializer},
    examples=[
        OpenApiExample(
            "Queued",
            value={
                **_DELIVERY_EXAMPLE,
                "topic": "ping",
                "attempts": 0,
                "last_status_code": None,
                "last_latency_ms": None,
                "last_error": "",
                "payload": {
                    "id": "0b6c2f7e-0d52-4a53-9c55-2f1f4c7de2a1",
                    "type": "ping",
                    "created_at": "2026-11-23T14:05:00+00:00",
                    "organization": "acme",
                    "data": {"endpoint_id": 1, "message": "Hello from the feedback platform."},
                },
            },
            response_only=True,
        )
    ],
)
class WebhookPingView(_EndpointView):
    serializer_class = WebhookDeliverySerializer
    required_scopes: ClassVar[dict[str, str]] = {"POST": "webhooks:write"}

    def post(self, request: Request, webhook_id: int) -> Response:
        endpoint = self.endpoint(webhook_id)
        try:
            delivery = webhook_ping(actor=_actor(self), endpoint=endpoint)
        except DjangoValidationError as exc:
            raise _bad_input(exc) from None
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
