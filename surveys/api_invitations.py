"""Invitations over the API: list and read with the status history
(``invitations:read``), and create one directly (``invitations:write``).
docs/api/invitations.md describes the endpoints.

The survey link (``url``, which holds the invitation's secret token) is shown for one
invitation at a time (its detail, and the answer to creating it), never in lists.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import Contact
from surveys.messages import survey_link
from surveys.models import Survey
from surveys.models_distribution import (
    Invitation,
    InvitationChannel,
    InvitationEvent,
    InvitationStatus,
    InvitationTrigger,
    RuleChannel,
    SuppressionReason,
)
from surveys.services.crm import invitation_create
from tenants.api import AwareDateTimeField, TenantAPIView
from tenants.services import Actor

# --- Reading ---------------------------------------------------------------------------


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    contact = serializers.IntegerField(source="contact_id", read_only=True)
    crm_id = serializers.CharField(source="contact.crm_id", read_only=True)
    survey = serializers.IntegerField(source="survey_id", read_only=True)
    survey_version = serializers.IntegerField(
        source="survey_version.number", read_only=True, help_text="The version's number."
    )
    rule = serializers.IntegerField(source="rule_id", read_only=True, allow_null=True)
    send_at = AwareDateTimeField(read_only=True, help_text="When it is (or was) due.")
    sent_at = AwareDateTimeField(read_only=True, allow_null=True)
    opened_at = AwareDateTimeField(read_only=True, allow_null=True)
    expires_at = AwareDateTimeField(read_only=True, allow_null=True)
    reminder_sent_at = AwareDateTimeField(read_only=True, allow_null=True)
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "contact",
            "crm_id",
            "survey",
            "survey_version",
            "channel",
            "status",
            "trigger",
            "rule",
            "event_type",
            "send_at",
            "sent_at",
            "opened_at",
            "expires_at",
            "reminder_sent_at",
            "created_at",
        ]
        read_only_fields = fields


class InvitationEventSerializer(serializers.ModelSerializer[InvitationEvent]):
    from_status = serializers.CharField(help_text="Empty for the first entry.")
    at = AwareDateTimeField(read_only=True)

    class Meta:
        model = InvitationEvent
        fields = ["from_status", "to_status", "reason", "at"]
        read_only_fields = fields


class InvitationDetailSerializer(InvitationSerializer):
    url = serializers.SerializerMethodField(
        help_text="The survey link (personal: it identifies the contact)."
    )
    attempts = serializers.IntegerField(read_only=True)
    last_error = serializers.CharField(read_only=True)
    history = InvitationEventSerializer(
        source="events", many=True, read_only=True, help_text="Status changes, oldest first."
    )

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "url", "attempts", "last_error", "history"]
        read_only_fields = fields

    def get_url(self, invitation: Invitation) -> str:
        return survey_link(invitation)


class DeferralSerializer(serializers.Serializer[Any]):
    reason = serializers.ChoiceField(choices=SuppressionReason.values)
    detail = serializers.CharField()


class InvitationCreatedSerializer(InvitationDetailSerializer):
    deferred = serializers.SerializerMethodField(
        help_text="Set when the send was moved later (`defer_when_blocked`): why."
    )

    class Meta(InvitationDetailSerializer.Meta):
        fields = [*InvitationDetailSerializer.Meta.fields, "deferred"]
        read_only_fields = fields

    def get_deferred(self, invitation: Invitation) -> dict[str, str] | None:
        return self.context.get("deferred")


class InvitationQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=InvitationStatus.choices, required=False)
    channel = serializers.ChoiceField(choices=InvitationChannel.choices, required=False)
    trigger = serializers.ChoiceField(choices=InvitationTrigger.choices, required=False)
    survey = serializers.IntegerField(required=False, min_value=1, help_text="A survey id.")
    contact = serializers.IntegerField(required=False, min_value=1, help_text="A contact id.")
    crm_id = serializers.CharField(required=False, max_length=100, help_text="A contact's CRM id.")
    created_since = AwareDateTimeField(required=False, help_text="Created at or after.")
    created_until = AwareDateTimeField(required=False, help_text="Created before.")
    sent_since = AwareDateTimeField(required=False, help_text="Sent at or after.")
    sent_until = AwareDateTimeField(required=False, help_text="Sent before.")

    FILTERS: ClassVar[dict[str, str]] = {
        "status": "status",
        "channel": "channel",
        "trigger": "trigger",
        "survey": "survey_id",
        "contact": "contact_id",
        "crm_id": "contact__crm_id",
        "created_since": "created_at__gte",
        "created_until": "created_at__lt",
        "sent_since": "sent_at__gte",
        "sent_until": "sent_at__lt",
    }

    def filter(self, queryset: QuerySet[Invitation]) -> QuerySet[Invitation]:
        lookups = {self.FILTERS[name]: value for name, value in self.validated_data.items()}
        return queryset.filter(**lookups)


# --- Writing ---------------------------------------------------------------------------


class InvitationCreateSerializer(serializers.Serializer[Any]):
    contact = serializers.IntegerField(
        required=False, min_value=1, help_text="The contact's id (or give `crm_id`)."
    )
    crm_id = serializers.CharField(
        required=False, max_length=100, help_text="The contact's CRM id (or give `contact`)."
    )
    survey = serializers.IntegerField(min_value=1, help_text="A published survey's id.")
    channel = serializers.ChoiceField(
        choices=[("auto", "auto"), *InvitationChannel.choices],
        default="auto",
        help_text="email, sms, or auto: email when it may reach the contact, else SMS.",
    )
    send_at = AwareDateTimeField(required=False, help_text="When to send. Default: now.")
    defer_when_blocked = serializers.BooleanField(
        default=False,
        help_text="When only timing blocks the send (contact budget, SMS quiet hours), "
        "schedule it for the next allowed moment instead of refusing it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(initial) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        if ("contact" in attrs) == ("crm_id" in attrs):
            raise serializers.ValidationError(
                {"contact": ["Give the contact's id (`contact`) or its `crm_id`, not both."]}
            )
        return attrs


class RefusalProblemSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    reason = serializers.ChoiceField(choices=SuppressionReason.values)
    channel = serializers.CharField(allow_blank=True, help_text="email, sms or empty.")


class InvitationRefused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The invitation may not be sent."

    def __init__(self, reason: str, detail: str, channel: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.channel = channel


# --- Views -----------------------------------------------------------------------------


def _invitations() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("contact", "survey_version")


def _with_history(queryset: QuerySet[Invitation]) -> QuerySet[Invitation]:
    return queryset.prefetch_related(
        Prefetch("events", queryset=InvitationEvent.objects.order_by("at", "id"))
    )


INVITATION_EXAMPLE = {
    "id": 915,
    "contact": 42,
    "crm_id": "C-4711",
    "survey": 1,
    "survey_version": 2,
    "channel": "email",
    "status": "sent",
    "trigger": "rule",
    "rule": 3,
    "event_type": "order_completed",
    "send_at": "2026-11-23T11:00:00Z",
    "sent_at": "2026-11-23T11:00:31Z",
    "opened_at": None,
    "expires_at": "2026-12-07T11:00:31Z",
    "reminder_sent_at": None,
    "created_at": "2026-11-23T09:00:02Z",
}


class InvitationListView(mixins.ListModelMixin, TenantAPIView):
    model = Invitation
    serializer_class = InvitationSerializer
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "invitations:read",
        "POST": "invitations:write",
    }

    def get_queryset(self) -> QuerySet[Invitation]:
        if self.request.method != "GET":
            return _invitations()
        params = InvitationQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.filter(_invitations())

    @extend_schema(
        tags=["invitations"],
        summary="Invitations (filters; newest first; no survey links)",
        parameters=[InvitationQuerySerializer],
        examples=[
            OpenApiExample(
                "One invitation",
                value={"next": None, "previous": None, "results": [INVITATION_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        tags=["invitations"],
        summary="Invite a contact to a survey (consent and contact budget apply)",
        description="Checks exactly what a manual send checks: the channel must reach "
        "the contact (address, no opt-out, consent where needed), no invitation to the "
        "survey may be open, and the contact budget (days between invitations) must "
        "allow it. 201 with the invitation and its survey `url` (the CRM may send the "
        "link itself: then leave the invitation to expire or give a future `send_at`). "
        "A refused send answers 422 with the `reason` (opt_out, no_consent, "
        "unreachable, duplicate, frequency, quiet_hours) and is recorded as a "
        "suppressed send. With `defer_when_blocked`, a send blocked only by timing is "
        "scheduled for the next allowed moment (201, `deferred` says why).",
        request=InvitationCreateSerializer,
        responses={
            201: InvitationCreatedSerializer,
            (422, "application/problem+json"): OpenApiResponse(
                RefusalProblemSerializer, description="Refused by consent or contact rules."
            ),
        },
        examples=[
            OpenApiExample(
                "By CRM id",
                value={"crm_id": "C-4711", "survey": 1, "channel": "email"},
                request_only=True,
            ),
            OpenApiExample(
                "Scheduled",
                value={
                    **INVITATION_EXAMPLE,
                    "status": "scheduled",
                    "trigger": "api",
                    "rule": None,
                    "event_type": "",
                    "send_at": "2026-11-23T09:00:02Z",
                    "sent_at": None,
                    "expires_at": None,
                    "url": "https://feedback.example.com/s/q0Xc9yVpX3m2ZbQ8Hh1tKf0Lr7aWn4Ue/",
                    "attempts": 0,
                    "last_error": "",
                    "history": [
                        {
                            "from_status": "",
                            "to_status": "scheduled",
                            "reason": "API: API key fb_live_3k",
                            "at": "2026-11-23T09:00:02Z",
                        }
                    ],
                    "deferred": None,
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Refused",
                value={
                    "type": "about:blank",
                    "title": "Unprocessable",
                    "status": 422,
                    "detail": "Invited on 2026-11-10; at most once in 30 days.",
                    "instance": "/api/v1/invitations/",
                    "reason": "frequency",
                    "channel": "email",
                },
                response_only=True,
                status_codes=["422"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body = InvitationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "contact" in data:
            contact = Contact.objects.filter(pk=data["contact"]).first()
            missing = {"contact": ["No contact with this id."]}
        else:
            contact = Contact.objects.filter(crm_id=data["crm_id"].strip()).first()
            missing = {"crm_id": ["No contact with this CRM id."]}
        if contact is None:
            raise exceptions.ValidationError(missing)
        survey = Survey.objects.filter(pk=data["survey"]).first()
        if survey is None:
            raise exceptions.ValidationError({"survey": ["No survey with this id."]})
        channel = RuleChannel.PREFERRED if data["channel"] == "auto" else data["channel"]
        try:
            result = invitation_create(
                actor=Actor.of_api_key(self.api_key),
                contact=contact,
                survey=survey,
                channel=channel,
                send_at=data.get("send_at"),
                defer_when_blocked=data["defer_when_blocked"],
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(serializers.as_serializer_error(exc)) from None
        decision = result.decision
        if result.invitation is None:
            raise InvitationRefused(decision.reason, str(decision.detail), decision.channel)
        stored = _with_history(_invitations()).get(pk=result.invitation.pk)
        deferred = (
            {"reason": decision.reason, "detail": str(decision.detail)}
            if decision.deferred
            else None
        )
        serializer = InvitationCreatedSerializer(stored, context={"deferred": deferred})
        return Response(
            serializer.data,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": reverse("api:invitation-detail", kwargs={"invitation_id": stored.pk})
            },
        )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, InvitationRefused) and isinstance(response.data, dict):
            response.data["title"] = "Unprocessable"
            response.data["reason"] = exc.reason
            response.data["channel"] = exc.channel
        return response


@extend_schema(
    tags=["invitations"],
    summary="An invitation with its survey link and status history",
    examples=[
        OpenApiExample(
            "Sent",
            value={
                **INVITATION_EXAMPLE,
                "url": "https://feedback.example.com/s/q0Xc9yVpX3m2ZbQ8Hh1tKf0Lr7aWn4Ue/",
                "attempts": 1,
                "last_error": "",
                "history": [
                    {
                        "from_status": "",
                        "to_status": "scheduled",
                        "reason": "rule Order completed: survey after 2 hours: order_completed",
                        "at": "2026-11-23T09:00:02Z",
                    },
                    {
                        "from_status": "scheduled",
                        "to_status": "sent",
                        "reason": "sent through postmark",
                        "at": "2026-11-23T11:00:31Z",
                    },
                ],
            },
            response_only=True,
        )
    ],
)
class InvitationDetailView(TenantAPIView):
    model = Invitation
    serializer_class = InvitationDetailSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"GET": "invitations:read"}
    lookup_url_kwarg = "invitation_id"

    def get_queryset(self) -> QuerySet[Invitation]:
        return _with_history(_invitations())

    def get(self, request: Request, invitation_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)
