"""The cases API: ``/api/v1/cases/`` (list with filters), ``/api/v1/cases/<number>/``
(read with the timeline, change status, assignee, team, priority and root causes) and
``/api/v1/cases/<number>/notes/`` (add a note).

Cases are addressed by their number (``#42`` in the app), like on the case page. An
API key sees every case of its organization. Changes go through the same services as
the case page (``closedloop.services.cases``), so they land on the timeline (with the
API key's label as the actor), notify the new owner and publish ``case.updated``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response

from closedloop.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseFollowUp,
    CaseStatus,
    MessageChannel,
    MessageDirection,
    MessageStatus,
    Priority,
)
from closedloop.selectors import BREACHING_SOON
from closedloop.selectors_api import CaseApiFilters, case_get_for_api, case_list_for_api
from closedloop.services.cases import (
    ALLOWED_TRANSITIONS,
    InvalidCaseTransition,
    case_note_add,
    case_update,
)
from tenants.api import AwareDateTimeField, TenantAPIView
from tenants.services import Actor

NPS_GROUPS = ("promoter", "passive", "detractor")
SLA_STATES = ("none", "due", "soon", "overdue", "paused", "done")
# ``Priority`` as numbers, with their names in the description.
PRIORITY_HELP = "1 = low, 2 = normal, 3 = high, 4 = urgent."


# --- Output ----------------------------------------------------------------------------


class RefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CaseResponseSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    nps = serializers.IntegerField(allow_null=True, help_text="0-10, null without an NPS.")
    nps_group = serializers.ChoiceField(choices=NPS_GROUPS, allow_null=True)
    ces = serializers.IntegerField(allow_null=True, help_text="1-7, null without a CES.")
    csat = serializers.IntegerField(allow_null=True, help_text="1-5, null without a CSAT.")
    comment = serializers.CharField(allow_blank=True)
    channel = serializers.CharField()
    language = serializers.CharField()
    responded_at = AwareDateTimeField()


class CaseContactSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    crm_id = serializers.CharField()
    name = serializers.CharField(source="full_name", allow_blank=True)


class CaseUserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField(allow_blank=True)
    name = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_name(self, user: Any) -> str:
        return str(user.get_full_name() or user.email or user.get_username())


class CaseSlaSerializer(serializers.Serializer[Any]):
    """The SLA of a case (its due times, and where the case stands)."""

    policy = serializers.CharField(
        source="sla_policy.name", allow_null=True, help_text="The SLA policy's name."
    )
    state = serializers.SerializerMethodField()
    first_response_due_at = AwareDateTimeField(allow_null=True)
    first_responded_at = AwareDateTimeField(allow_null=True)
    first_response_breached_at = AwareDateTimeField(allow_null=True)
    resolution_due_at = AwareDateTimeField(allow_null=True)
    resolution_breached_at = AwareDateTimeField(allow_null=True)
    paused_at = AwareDateTimeField(
        allow_null=True, help_text="Since when the clock stands (waiting on the customer)."
    )

    @extend_schema_field(
        serializers.ChoiceField(
            choices=SLA_STATES,
            help_text="none: no SLA; due; soon: due within 4 hours; overdue: a target was "
            "missed; paused: waiting on the customer; done: the case is resolved or closed.",
        )
    )
    def get_state(self, case: Case) -> str:
        return sla_state(case, self.context.get("now") or timezone.now())


def sla_state(case: Case, now: datetime) -> str:
    """The SLA's state, as the inbox shows it."""
    if not case.is_open:
        return "done"
    if case.paused_at is not None:
        return "paused"
    if case.first_response_breached_at or case.resolution_breached_at:
        return "overdue"
    due_at = (
        case.first_response_due_at
        if case.first_responded_at is None and case.first_response_due_at is not None
        else case.resolution_due_at
    )
    if due_at is None:
        return "none"
    if due_at < now:
        return "overdue"
    return "soon" if due_at - now <= BREACHING_SOON else "due"


class CaseSerializer(serializers.Serializer[Any]):
    """A case as lists show it."""

    id = serializers.IntegerField()
    number = serializers.IntegerField(help_text="The case's number in its organization.")
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, help_text=PRIORITY_HELP)
    impact = serializers.FloatField(help_text="Sorting weight of the inbox (higher first).")
    response = CaseResponseSummarySerializer(help_text="The response that opened the case.")
    contact = CaseContactSerializer(allow_null=True)
    touchpoint = RefSerializer()
    journey = RefSerializer()
    assignee = CaseUserSerializer(source="owner", allow_null=True)
    team = RefSerializer(allow_null=True)
    sla = CaseSlaSerializer(source="*")
    root_causes = RefSerializer(many=True)
    resolution_summary = serializers.CharField(allow_blank=True)
    recovered = serializers.BooleanField(
        allow_null=True,
        help_text="The follow-up survey's verdict: true = recovered, null = not known yet.",
    )
    customer_replied_at = AwareDateTimeField(
        allow_null=True, help_text="The customer wrote back and the owner has not looked yet."
    )
    created_at = AwareDateTimeField()
    updated_at = AwareDateTimeField()
    resolved_at = AwareDateTimeField(allow_null=True)
    closed_at = AwareDateTimeField(allow_null=True)


class CaseEventSerializer(serializers.Serializer[Any]):
    """One timeline entry."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CaseEventKind.choices)
    actor = serializers.CharField(
        source="actor_label",
        help_text="Who acted: a user's name, `API key fbk_…`, `system`, `customer`, ...",
    )
    actor_user_id = serializers.IntegerField(
        source="actor_id", allow_null=True, help_text="The acting user, if a user acted."
    )
    text = serializers.CharField(allow_blank=True)
    # The metaclass takes declared fields off the class: ``.data`` stays the output.
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="Details by kind, e.g. status: {from, to, reopened}; priority: {from, to}; "
        "assigned: {from: {owner, team}, to: {owner, team}}."
    )
    created_at = AwareDateTimeField()


class CaseMessageSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=MessageChannel.choices)
    direction = serializers.ChoiceField(
        choices=MessageDirection.choices, help_text="out: to the customer; in: from them."
    )
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    to_address = serializers.CharField(allow_blank=True)
    from_address = serializers.CharField(allow_blank=True)
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    is_follow_up = serializers.BooleanField(help_text="The follow-up survey's invitation.")
    error = serializers.CharField(allow_blank=True)
    created_at = AwareDateTimeField()
    sent_at = AwareDateTimeField(allow_null=True)


class CaseFollowUpSerializer(serializers.Serializer[Any]):
    sent_at = AwareDateTimeField()
    answered_at = AwareDateTimeField(allow_null=True)
    concern_resolved = serializers.BooleanField(allow_null=True)
    nps = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)


class CaseDetailSerializer(CaseSerializer):
    """A case with its timeline, messages and follow-up survey."""

    allowed_transitions = serializers.SerializerMethodField()
    timeline = CaseEventSerializer(source="events", many=True)
    messages = CaseMessageSerializer(many=True)
    follow_up = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=CaseStatus.choices))
    )
    def get_allowed_transitions(self, case: Case) -> list[str]:
        allowed = ALLOWED_TRANSITIONS.get(case.status, frozenset())
        return [value for value in CaseStatus.values if value in allowed]

    @extend_schema_field(CaseFollowUpSerializer(allow_null=True))
    def get_follow_up(self, case: Case) -> dict[str, Any] | None:
        try:
            follow_up: CaseFollowUp = case.follow_up
        except CaseFollowUp.DoesNotExist:
            return None
        return dict(CaseFollowUpSerializer(follow_up).data)


# --- Input -----------------------------------------------------------------------------


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter; absent means "either" (not False, as for a form)."""

    default_empty_html = empty


class CaseListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.MultipleChoiceField(
        choices=CaseStatus.choices,
        required=False,
        help_text="One or several (`?status=new&status=in_progress` or `?status=new,waiting`).",
    )
    priority = serializers.MultipleChoiceField(
        choices=Priority.choices, required=False, help_text=f"One or several. {PRIORITY_HELP}"
    )
    assignee = serializers.CharField(
        required=False,
        max_length=254,
        help_text="The owner's user id or email address; `none` for unassigned cases.",
    )
    team = serializers.IntegerField(required=False, min_value=1)
    touchpoint = serializers.IntegerField(required=False, min_value=1)
    journey = serializers.IntegerField(required=False, min_value=1)
    overdue = QueryBooleanField(
        required=False,
        help_text="true: a first-contact or resolution target was missed (open cases "
        "waiting on the customer are paused, not overdue); false: none was.",
    )
    created_since = AwareDateTimeField(required=False, help_text="Opened at or after.")
    created_until = AwareDateTimeField(required=False, help_text="Opened before.")
    updated_since = AwareDateTimeField(
        required=False, help_text="Changed at or after (incremental sync)."
    )
    updated_until = AwareDateTimeField(required=False, help_text="Changed before.")
    crm_id = serializers.CharField(
        required=False, max_length=100, help_text="The contact's CRM id."
    )

    def to_internal_value(self, data: Any) -> Any:
        # ``?status=new,waiting`` as well as ``?status=new&status=waiting``.
        if hasattr(data, "getlist"):
            data = data.copy()
            for name in ("status", "priority"):
                values = [part for value in data.getlist(name) for part in value.split(",")]
                if values:
                    data.setlist(name, [value.strip() for value in values])
        return super().to_internal_value(data)

    def filters(self) -> CaseApiFilters:
        data = self.validated_data
        assignee = (data.get("assignee") or "").strip()
        assignee_id = int(assignee) if assignee.isdigit() else None
        return CaseApiFilters(
            statuses=sorted(data.get("status") or ()),
            priorities=sorted(int(value) for value in data.get("priority") or ()),
            assignee_id=assignee_id,
            assignee_email=assignee if "@" in assignee else None,
            unassigned=assignee.lower() == "none",
            team_id=data.get("team"),
            touchpoint_id=data.get("touchpoint"),
            journey_id=data.get("journey"),
            overdue=data.get("overdue"),
            created_since=data.get("created_since"),
            created_until=data.get("created_until"),
            updated_since=data.get("updated_since"),
            updated_until=data.get("updated_until"),
            crm_id=data.get("crm_id"),
        )

    def validate_assignee(self, value: str) -> str:
        value = value.strip()
        if not (value.isdigit() or "@" in value or value.lower() == "none"):
            raise serializers.ValidationError("Give a user id, an email address or `none`.")
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "format": "email"}],
        "nullable": True,
        "description": "The new owner's user id or email address; null: nobody. They must "
        "be a member who works cases (not a viewer).",
    }
)
class AssigneeField(serializers.Field):
    """A user id or an email address."""

    default_error_messages = {"invalid": "Give a user id or an email address."}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int) and data > 0:
            return data
        if isinstance(data, str):
            value = data.strip()
            if value.isdigit() and int(value) > 0:
                return int(value)
            if "@" in value and len(value) <= 254:
                return value
        self.fail("invalid")
        raise AssertionError  # pragma: no cover - fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


class CasePatchSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=CaseStatus.choices,
        required=False,
        help_text="Only along the allowed transitions (see `allowed_transitions`).",
    )
    resolution_summary = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10_000,
        help_text="How the case was resolved: needed to resolve or close a case that has none yet.",
    )
    send_follow_up = serializers.BooleanField(
        required=False,
        help_text="With status resolved: send the customer the follow-up survey.",
    )
    assignee = AssigneeField(required=False, allow_null=True)
    team = serializers.IntegerField(required=False, min_value=1, help_text="A team's id.")
    priority = serializers.ChoiceField(
        choices=Priority.choices, required=False, help_text=PRIORITY_HELP
    )
    root_causes = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100,
        help_text="The complete set of root cause ids (replaces the case's).",
    )

    CHANGES: ClassVar[tuple[str, ...]] = ("status", "assignee", "team", "priority", "root_causes")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(name in attrs for name in self.CHANGES):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Change at least one of: {', '.join(self.CHANGES)}."]}
            )
        return attrs


class CaseNoteSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=10_000, help_text="The note (not sent anywhere).")


class TransitionProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details of a refused status change."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    allowed_transitions = serializers.ListField(
        child=serializers.ChoiceField(choices=CaseStatus.choices),
        help_text="The statuses the case may move to from its current one.",
    )


class CaseTransitionConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The case cannot move to this status."

    def __init__(self, detail: str, allowed: frozenset[str]) -> None:
        super().__init__(detail)
        self.allowed = [value for value in CaseStatus.values if value in allowed]


# --- Examples --------------------------------------------------------------------------

_CASE_EXAMPLE: dict[str, Any] = {
    "id": 311,
    "number": 42,
    "title": "Detractor (2) at Delivery",
    "status": "in_progress",
    "priority": 3,
    "impact": 7.5,
    "response": {
        "id": 90817,
        "nps": 2,
        "nps_group": "detractor",
        "ces": None,
        "csat": None,
        "comment": "The parcel came a week late.",
        "channel": "email",
        "language": "de",
        "responded_at": "2026-11-23T08:12:00Z",
    },
    "contact": {"id": 5120, "crm_id": "K-100234", "name": "Ada Lovelace"},
    "touchpoint": {"id": 7, "name": "Delivery"},
    "journey": {"id": 2, "name": "Online shop"},
    "assignee": {"id": 14, "email": "maria@acme.example", "name": "Maria Weber"},
    "team": {"id": 3, "name": "Customer care"},
    "sla": {
        "policy": "Detractors",
        "state": "due",
        "first_response_due_at": "2026-11-24T08:12:00Z",
        "first_responded_at": "2026-11-23T09:30:00Z",
        "first_response_breached_at": None,
        "resolution_due_at": "2026-11-25T08:12:00Z",
        "resolution_breached_at": None,
        "paused_at": None,
    },
    "root_causes": [{"id": 4, "name": "Late delivery"}],
    "resolution_summary": "",
    "recovered": None,
    "customer_replied_at": None,
    "created_at": "2026-11-23T08:12:01Z",
    "updated_at": "2026-11-23T09:30:00Z",
    "resolved_at": None,
    "closed_at": None,
}
_EVENT_EXAMPLE: dict[str, Any] = {
    "id": 9921,
    "kind": "note",
    "actor": "API key fbk_3hx9Qa",
    "actor_user_id": None,
    "text": "Voucher of 20 EUR issued in the CRM.",
    "data": {},
    "created_at": "2026-11-23T10:02:00Z",
}
_DETAIL_EXAMPLE: dict[str, Any] = {
    **_CASE_EXAMPLE,
    "allowed_transitions": ["waiting", "resolved", "closed"],
    "timeline": [
        {
            "id": 9901,
            "kind": "opened",
            "actor": "system",
            "actor_user_id": None,
            "text": "",
            "data": {},
            "created_at": "2026-11-23T08:12:01Z",
        },
        {
            "id": 9915,
            "kind": "status",
            "actor": "maria@acme.example",
            "actor_user_id": 14,
            "text": "",
            "data": {"from": "new", "to": "in_progress", "reopened": False},
            "created_at": "2026-11-23T09:30:00Z",
        },
        _EVENT_EXAMPLE,
    ],
    "messages": [
        {
            "id": 610,
            "channel": "email",
            "direction": "out",
            "status": "sent",
            "to_address": "ada@example.com",
            "from_address": "care@acme.example",
            "subject": "About your delivery",
            "body": "Dear Ada, we are sorry ...",
            "is_follow_up": False,
            "error": "",
            "created_at": "2026-11-23T09:30:00Z",
            "sent_at": "2026-11-23T09:30:02Z",
        }
    ],
    "follow_up": None,
}


# --- Views -----------------------------------------------------------------------------


def _actor(view: TenantAPIView) -> Actor:
    return Actor.of_api_key(view.api_key)


@extend_schema(
    tags=["cases"],
    summary="List cases",
    description="The organization's cases, newest first, with filters. Each case carries "
    "the response that opened it, its contact, assignee, team and SLA state; read one "
    "case for its timeline and messages.",
    parameters=[CaseListQuerySerializer],
    responses={200: CaseSerializer(many=True)},
    examples=[OpenApiExample("Open detractor case", value=[_CASE_EXAMPLE], response_only=True)],
)
class CaseListView(TenantAPIView):
    model = Case
    serializer_class = CaseSerializer
    required_scopes: ClassVar[dict[str, str]] = {"GET": "cases:read"}

    def get_queryset(self) -> QuerySet[Case]:
        params = CaseListQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return case_list_for_api(filters=params.filters())

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class _CaseView(TenantAPIView):
    model = Case
    pagination_class = None

    def case(self, number: int) -> Case:
        """The case alone (to change it)."""
        try:
            return Case.objects.get(number=number)
        except Case.DoesNotExist:
            raise exceptions.NotFound("No such case.") from None

    def detail(self, number: int) -> dict[str, Any]:
        """The case as ``GET`` shows it, with its timeline and messages."""
        try:
            case = case_get_for_api(number=number)
        except Case.DoesNotExist:
            raise exceptions.NotFound("No such case.") from None
        return dict(CaseDetailSerializer(case, context={"now": timezone.now()}).data)


_PATCH_FIELDS = {"owner": "assignee"}


@extend_schema(tags=["cases"])
class CaseDetailView(_CaseView):
    serializer_class = CaseDetailSerializer
    required_scopes: ClassVar[dict[str, str]] = {"GET": "cases:read", "PATCH": "cases:write"}

    @extend_schema(
        summary="Read a case with its timeline",
        responses={200: CaseDetailSerializer},
        examples=[OpenApiExample("Case in progress", value=_DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, number: int) -> Response:
        return Response(self.detail(number))

    @extend_schema(
        summary="Change a case's status, assignee, team, priority or root causes",
        description="All changes of one request apply together or not at all. Each lands "
        "on the timeline with the API key as the actor and is published as "
        "`case.updated` (`case.closed` for a close). A status outside "
        "`allowed_transitions` answers 409 with the allowed ones.",
        request=CasePatchSerializer,
        responses={
            200: CaseDetailSerializer,
            (409, "application/problem+json"): OpenApiResponse(
                TransitionProblemSerializer,
                description="The case cannot move to this status from its current one.",
            ),
        },
        examples=[
            OpenApiExample(
                "Resolve and ask for feedback",
                value={
                    "status": "resolved",
                    "resolution_summary": "Refunded the shipping costs.",
                    "send_follow_up": True,
                    "root_causes": [4],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Assign by email and raise the priority",
                value={"assignee": "maria@acme.example", "priority": 4},
                request_only=True,
            ),
            OpenApiExample("Changed case", value=_DETAIL_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, number: int) -> Response:
        case = self.case(number)
        params = CasePatchSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        owner_id: int | None = None
        if "assignee" in data:
            owner_id = self._user_id(data["assignee"])
        try:
            case_update(
                case=case,
                actor=_actor(self),
                status=data.get("status"),
                resolution_summary=data.get("resolution_summary"),
                send_follow_up=bool(data.get("send_follow_up")),
                assign="assignee" in data,
                owner_id=owner_id,
                team_id=data.get("team"),
                priority=int(data["priority"]) if "priority" in data else None,
                root_cause_ids=data.get("root_causes"),
            )
        except InvalidCaseTransition as exc:
            if exc.code == "not_allowed":
                raise CaseTransitionConflict(exc.messages[0], exc.allowed) from None
            raise exceptions.ValidationError({"resolution_summary": exc.messages}) from None
        except DjangoValidationError as exc:
            errors = serializers.as_serializer_error(exc)
            raise exceptions.ValidationError(
                {_PATCH_FIELDS.get(name, name): messages for name, messages in errors.items()}
            ) from None
        return Response(self.detail(number))

    def _user_id(self, assignee: int | str | None) -> int | None:
        """The user an id or email names (None for nobody); an email nobody in the
        organization has is a 400 here, a non-worker one in the service."""
        if assignee is None or isinstance(assignee, int):
            return assignee
        from closedloop.selectors import case_worker_list

        user_id = (
            case_worker_list()
            .filter(user__email__iexact=assignee)
            .values_list("user_id", flat=True)
            .first()
        )
        if user_id is None:
            raise exceptions.ValidationError(
                {"assignee": ["No member who works cases has this email address."]}
            )
        return int(user_id)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, CaseTransitionConflict) and isinstance(response.data, dict):
            response.data["allowed_transitions"] = exc.allowed
        return response


@extend_schema(
    tags=["cases"],
    summary="Add a note to a case",
    description="The note appears on the case's timeline with the API key as its actor "
    "and is published as `case.updated`. Send an `Idempotency-Key` so a retry adds it once.",
    request=CaseNoteSerializer,
    responses={201: CaseEventSerializer},
    examples=[
        OpenApiExample(
            "Note", value={"text": "Voucher of 20 EUR issued in the CRM."}, request_only=True
        ),
        OpenApiExample("The note on the timeline", value=_EVENT_EXAMPLE, response_only=True),
    ],
)
class CaseNoteView(_CaseView):
    serializer_class = CaseNoteSerializer
    required_scopes: ClassVar[dict[str, str]] = {"POST": "cases:write"}

    def post(self, request: Request, number: int) -> Response:
        case = self.case(number)
        params = CaseNoteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            event: CaseEvent = case_note_add(
                case=case, actor=_actor(self), text=params.validated_data["text"]
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"text": exc.messages}) from None
        return Response(CaseEventSerializer(event).data, status=status.HTTP_201_CREATED)


__all__ = ["CaseDetailView", "CaseListView", "CaseNoteView", "sla_state"]
