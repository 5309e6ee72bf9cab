"""Responses over the API: read and filter them (``responses:read``), and hand in
responses collected elsewhere (``responses:write``).

The list is the CRM's incremental sync: ``?updated_since=`` orders by the time of the
last change, then id, so a cursor walk sees every response changed since that moment
(a response changed during the walk moves behind the cursor and comes again later);
docs/api/responses.md explains the loop. Ingest goes through
``responses.services.api_ingest.response_ingest`` and from there through the same submit
path, outbox and routing as an answer on the survey page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from contacts.models import Contact
from responses.models import NpsGroup, Response, ResponseChannel
from responses.selectors import response_list
from responses.services.api_ingest import (
    EXTERNAL_ID_MAX,
    INGEST_CHANNELS,
    ResponseIngestConflict,
    ResponseIngestInvalid,
    response_ingest,
)
from surveys.models import Invitation, Survey
from surveys.schema import QUESTION_TYPES
from tenants.api import ApiCursorPagination, AwareDateTimeField, TenantAPIView
from tenants.services import Actor

ID_MAX = 2**63 - 1  # a larger "id" is no id (and SQLite cannot even compare it)
# A clock that runs a little ahead is no reason to refuse an answer.
FUTURE_TOLERANCE = timedelta(minutes=10)

ANSWER_VALUE_SCHEMA = {
    "oneOf": [
        {"type": "integer", "description": "nps, ces, csat: the score."},
        {"type": "string", "description": "text: the text; single_choice: the option id."},
        {
            "type": "array",
            "items": {"type": "string"},
            "description": "multiple_choice: the option ids.",
        },
    ]
}


# --- Reading ---------------------------------------------------------------------------


class ContactRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    crm_id = serializers.CharField()


@extend_schema_field(ANSWER_VALUE_SCHEMA)
class AnswerValueField(serializers.JSONField):
    pass


class AnswerSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=list(QUESTION_TYPES))
    value = AnswerValueField()


class ResponseSerializer(serializers.ModelSerializer[Response]):
    survey = serializers.IntegerField(source="survey_id", read_only=True)
    survey_version = serializers.IntegerField(
        source="survey_version.number",
        read_only=True,
        help_text="The number of the survey version answered.",
    )
    touchpoint = serializers.IntegerField(source="touchpoint_id", read_only=True)
    journey = serializers.IntegerField(source="journey_id", read_only=True)
    invitation = serializers.IntegerField(source="invitation_id", read_only=True, allow_null=True)
    contact = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField(
        help_text="Question id -> the question's type and the answer, in question order. "
        "Unanswered questions are left out."
    )
    case = serializers.IntegerField(
        source="case_number",
        read_only=True,
        allow_null=True,
        help_text="The number of the case the response opened or joined (routing runs "
        "just after the response is stored).",
    )
    external_id = serializers.SerializerMethodField(
        help_text="The response's id in the system it came from (ingest, import)."
    )
    responded_at = AwareDateTimeField(read_only=True)
    completed_at = AwareDateTimeField(read_only=True, allow_null=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Response
        fields = [
            "id",
            "survey",
            "survey_version",
            "touchpoint",
            "journey",
            "invitation",
            "contact",
            "channel",
            "language",
            "status",
            "answers",
            "nps",
            "nps_group",
            "ces",
            "csat",
            "comment",
            "case",
            "external_id",
            "responded_at",
            "completed_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ContactRefSerializer(allow_null=True))
    def get_contact(self, response: Response) -> dict[str, Any] | None:
        if response.contact_id is None:
            return None
        return {"id": response.contact_id, "crm_id": response.contact_crm_id}  # type: ignore[attr-defined]

    @extend_schema_field(serializers.DictField(child=AnswerSerializer()))
    def get_answers(self, response: Response) -> dict[str, Any]:
        stored = response.answers if isinstance(response.answers, dict) else {}
        result: dict[str, Any] = {}
        for question in response.survey_version.questions:
            qid = str(question.get("id"))
            if qid in stored and question.get("type") in QUESTION_TYPES:
                result[qid] = {"type": question["type"], "value": stored[qid]}
        return result

    def get_external_id(self, response: Response) -> str | None:
        metadata = response.metadata if isinstance(response.metadata, dict) else {}
        value = metadata.get("external_id")
        return str(value) if value else None


class ResponseQuerySerializer(serializers.Serializer[Any]):
    survey = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    touchpoint = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    journey = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    channel = serializers.ChoiceField(choices=ResponseChannel.values, required=False)
    nps_group = serializers.ChoiceField(choices=NpsGroup.values, required=False)
    completed = serializers.BooleanField(
        allow_null=True, default=None, help_text="true: complete only; false: partial only."
    )
    contact = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    crm_id = serializers.CharField(required=False, max_length=100)
    since = AwareDateTimeField(
        required=False, help_text="Answered at or after this time (ISO 8601 with zone)."
    )
    until = AwareDateTimeField(required=False, help_text="Answered before this time.")
    updated_since = AwareDateTimeField(
        required=False,
        help_text="Changed at or after this time. Orders the list by the time of the last "
        "change, then id (oldest first): the incremental sync.",
    )

    def filters(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "survey_id": data.get("survey"),
            "touchpoint_id": data.get("touchpoint"),
            "journey_id": data.get("journey"),
            "channel": data.get("channel", ""),
            "nps_group": data.get("nps_group", ""),
            "completed": data.get("completed"),
            "contact_id": data.get("contact"),
            "crm_id": data.get("crm_id", ""),
            "since": data.get("since"),
            "until": data.get("until"),
            "updated_since": data.get("updated_since"),
        }


class ResponsePagination(ApiCursorPagination):
    """Newest first by id; with ``updated_since``, by the time of the last change and
    then id, oldest first (the position of an incremental sync)."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        if "updated_since" in request.query_params:
            return ("updated_at", "id")
        return ("-id",)


# --- Ingest ----------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {**ANSWER_VALUE_SCHEMA, "nullable": True},
        "description": "Question id -> answer (null: not answered).",
        "example": {"recommend": 3, "recommend-reason": "The parcel came late."},
    }
)
class AnswersInField(serializers.DictField):
    child = serializers.JSONField(allow_null=True)


class ResponseIngestSerializer(serializers.Serializer[Any]):
    survey = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text="The survey; its current published version is answered. Leave out with "
        "an invitation (or give the invitation's survey).",
    )
    invitation = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text="The invitation the customer answered: survey, contact and channel come "
        "from it, and it becomes answered.",
    )
    answers = AnswersInField()
    responded_at = AwareDateTimeField(
        required=False, help_text="When the customer answered (default: now)."
    )
    language = serializers.CharField(
        required=False,
        max_length=8,
        help_text="One of the version's languages (default: the contact's, else the "
        "survey's default).",
    )
    crm_id = serializers.CharField(
        required=False, max_length=100, help_text="The contact's CRM id (an existing contact)."
    )
    channel = serializers.ChoiceField(
        choices=list(INGEST_CHANNELS), required=False, help_text="Default api."
    )
    external_id = serializers.CharField(
        required=False,
        max_length=EXTERNAL_ID_MAX,
        help_text="The response's id in your system, unique in the organization: sending "
        "it again returns the stored response instead of a second one.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        survey_id = attrs.get("survey")
        invitation_id = attrs.get("invitation")
        if invitation_id is not None:
            invitation = (
                Invitation.objects.select_related("survey__touchpoint", "survey_version", "contact")
                .filter(pk=invitation_id)
                .first()
            )
            if invitation is None:
                errors["invitation"] = [f"No invitation with id {invitation_id}."]
            else:
                if survey_id is not None and survey_id != invitation.survey_id:
                    errors["survey"] = [f"The invitation is for survey {invitation.survey_id}."]
                for name in ("crm_id", "channel"):
                    if name in attrs:
                        errors[name] = ["Leave this out with an invitation: it comes from there."]
                attrs["invitation_object"] = invitation
        elif survey_id is not None:
            survey = Survey.objects.select_related("touchpoint").filter(pk=survey_id).first()
            if survey is None:
                errors["survey"] = [f"No survey with id {survey_id}."]
            attrs["survey_object"] = survey
        else:
            errors["survey"] = ["Give the survey (or the invitation)."]
        crm_id = attrs.get("crm_id")
        if crm_id and "crm_id" not in errors:
            contact = Contact.objects.filter(crm_id=crm_id).first()
            if contact is None:
                errors["crm_id"] = ["No contact with this CRM id."]
            attrs["contact"] = contact
        responded_at = attrs.get("responded_at")
        if responded_at is not None and responded_at > timezone.now() + FUTURE_TOLERANCE:
            errors["responded_at"] = ["The time lies in the future."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ResponseConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The response conflicts with a stored one."


# --- Examples ---------------------------------------------------------------------------

RESPONSE_EXAMPLE = {
    "id": 4711,
    "survey": 11,
    "survey_version": 2,
    "touchpoint": 7,
    "journey": 2,
    "invitation": 915,
    "contact": {"id": 301, "crm_id": "C-10042"},
    "channel": "email",
    "language": "de",
    "status": "complete",
    "answers": {
        "recommend": {"type": "nps", "value": 3},
        "recommend-reason": {"type": "text", "value": "Das Paket kam zu spät."},
    },
    "nps": 3,
    "nps_group": "detractor",
    "ces": None,
    "csat": None,
    "comment": "Das Paket kam zu spät.",
    "case": 128,
    "external_id": None,
    "responded_at": "2026-11-23T14:05:00Z",
    "completed_at": "2026-11-23T14:05:41Z",
    "updated_at": "2026-11-23T14:05:41Z",
}
INGESTED_EXAMPLE = {
    **RESPONSE_EXAMPLE,
    "id": 4712,
    "invitation": None,
    "channel": "api",
    "language": "en",
    "answers": {"recommend": {"type": "nps", "value": 10}},
    "nps": 10,
    "nps_group": "promoter",
    "comment": "",
    "case": None,
    "external_id": "call-2026-000017",
    "responded_at": "2026-11-23T09:12:00Z",
    "completed_at": "2026-11-23T09:12:00Z",
    "updated_at": "2026-11-23T09:13:02Z",
}


# --- Views ------------------------------------------------------------------------------


def _detail_path(response: Response) -> str:
    return reverse("api:response-detail", kwargs={"response_id": response.pk})


class ResponseListView(mixins.ListModelMixin, TenantAPIView):
    model = Response
    serializer_class = ResponseSerializer
    pagination_class = ResponsePagination
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "responses:read",
        "POST": "responses:write",
    }

    def get_queryset(self) -> QuerySet[Response]:
        params = ResponseQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return response_list(**params.filters())

    @extend_schema(
        tags=["responses"],
        summary="Responses (filters; `updated_since` for the incremental sync)",
        parameters=[ResponseQuerySerializer],
        examples=[
            OpenApiExample(
                "A detractor with a case",
                value={"next": None, "previous": None, "results": [RESPONSE_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> ApiResponse:
        return self.list(request)

    @extend_schema(
        tags=["responses"],
        summary="Store a response collected elsewhere",
        description="Validated against the survey's current published version (or the "
        "invitation's), scored, and stored through the same path as an answer on the "
        "survey page: it opens cases and fires webhooks. 201 with the new response; 200 "
        "with the stored one when its `external_id` came before with the same answers; "
        "409 for an answered invitation or an `external_id` stored with other answers.",
        request=ResponseIngestSerializer,
        responses={201: ResponseSerializer, 200: ResponseSerializer},
        examples=[
            OpenApiExample(
                "From a call-centre tool",
                value={
                    "survey": 11,
                    "answers": {"recommend": 10},
                    "responded_at": "2026-11-23T10:12:00+01:00",
                    "crm_id": "C-10042",
                    "external_id": "call-2026-000017",
                },
                request_only=True,
            ),
            OpenApiExample(
                "The answer to an invitation",
                value={
                    "invitation": 915,
                    "answers": {"recommend": 3, "recommend-reason": "Das Paket kam zu spät."},
                    "language": "de",
                },
                request_only=True,
            ),
            OpenApiExample("Stored", value=INGESTED_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> ApiResponse:
        body = ResponseIngestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            result = response_ingest(
                actor=Actor.of_api_key(self.api_key),
                survey=data.get("survey_object"),
                invitation=data.get("invitation_object"),
                answers=data["answers"],
                responded_at=data.get("responded_at"),
                language=data.get("language", ""),
                contact=data.get("contact"),
                channel=data.get("channel", ResponseChannel.API),
                external_id=data.get("external_id", ""),
            )
        except ResponseIngestInvalid as exc:
            raise serializers.ValidationError(exc.errors) from None
        except ResponseIngestConflict as exc:
            raise ResponseConflict(str(exc)) from None
        stored = response_list().get(pk=result.response.pk)
        return ApiResponse(
            ResponseSerializer(stored).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={"Location": _detail_path(stored)},
        )


@extend_schema(
    tags=["responses"],
    summary="One response with its answers, scores, contact and case",
    examples=[
        OpenApiExample("A detractor with a case", value=RESPONSE_EXAMPLE, response_only=True)
    ],
)
class ResponseDetailView(TenantAPIView):
    model = Response
    serializer_class = ResponseSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"GET": "responses:read"}
    lookup_url_kwarg = "response_id"

    def get_queryset(self) -> QuerySet[Response]:
        return response_list()

    def get(self, request: Request, response_id: int) -> ApiResponse:
        return ApiResponse(self.get_serializer(self.get_object()).data)


__all__ = ["ResponseDetailView", "ResponseListView"]
