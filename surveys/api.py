"""Read-only API of journeys, touchpoints and surveys (scope ``surveys:read``).

A CRM reads the journey model to map its own processes onto touchpoints, and a survey
with its current published version (questions, scales, options, texts per language) to
ingest or display responses against it. Writes happen in the builder, not here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db.models import Max, Prefetch, Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from surveys.models import Journey, Survey, SurveyStatus, SurveyVersion, Touchpoint
from surveys.schema import QUESTION_TYPES
from surveys.selectors import survey_version_current
from tenants.api import AwareDateTimeField, TenantAPIView

ID_MAX = 2**63 - 1  # a larger "id" is no id (and SQLite cannot even compare it)
READ: dict[str, str] = {"GET": "surveys:read"}

TEXTS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Text per language code.",
    "example": {"en": "How likely are you to recommend us?", "de": "Wie wahrscheinlich ..."},
}


@extend_schema_field(TEXTS_SCHEMA)
class TextsField(serializers.DictField):
    """A customer-facing text in every language it has (``{"en": ..., "de": ...}``)."""

    child = serializers.CharField()


# --- Serializers -----------------------------------------------------------------------


class TouchpointSerializer(serializers.ModelSerializer[Touchpoint]):
    journey = serializers.IntegerField(source="journey_id", read_only=True)
    team = serializers.IntegerField(source="team_id", read_only=True, allow_null=True)
    weight = serializers.DecimalField(
        max_digits=6, decimal_places=2, coerce_to_string=False, read_only=True
    )
    surveys = serializers.SerializerMethodField(help_text="Ids of the touchpoint's surveys.")
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Touchpoint
        fields = [
            "id",
            "journey",
            "position",
            "name",
            "description",
            "process",
            "process_detail",
            "team",
            "weight",
            "surveys",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_surveys(self, touchpoint: Touchpoint) -> list[int]:
        # Prefetched (``surveys_only_ids``): no query per touchpoint.
        return [survey.pk for survey in touchpoint.surveys.all()]


class JourneySerializer(serializers.ModelSerializer[Journey]):
    touchpoints = TouchpointSerializer(many=True, read_only=True, help_text="In journey order.")
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Journey
        fields = ["id", "name", "description", "touchpoints", "created_at", "updated_at"]
        read_only_fields = fields


class ScaleSerializer(serializers.Serializer[Any]):
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class ScaleLabelsSerializer(serializers.Serializer[Any]):
    low = TextsField(required=False)
    high = TextsField(required=False)


class OptionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The value to send as the answer.")
    label = TextsField()  # type: ignore[assignment]


class TextsByGroupSerializer(serializers.Serializer[Any]):
    detractor = TextsField(required=False)
    passive = TextsField(required=False)
    promoter = TextsField(required=False)


class QuestionSerializer(serializers.Serializer[Any]):
    """One question of a published version, every field present (null when it does
    not apply to the question's type)."""

    id = serializers.CharField(help_text="The key of the answer in a response's `answers`.")
    type = serializers.ChoiceField(choices=list(QUESTION_TYPES))
    required = serializers.BooleanField()  # type: ignore[assignment]
    text = TextsField()
    scale = ScaleSerializer(allow_null=True, help_text="nps 0-10, ces 1-7, csat 1-5.")
    scale_labels = ScaleLabelsSerializer(allow_null=True)
    options = OptionSerializer(many=True, allow_null=True, help_text="Choice questions only.")
    multiple = serializers.BooleanField(help_text="Several options may be chosen.")
    max_length = serializers.IntegerField(allow_null=True, help_text="Text questions only.")
    follow_up_for = serializers.CharField(
        allow_null=True, help_text="The NPS question a text question follows up."
    )
    texts_by_group = TextsByGroupSerializer(
        allow_null=True, help_text="The follow-up's text per NPS group, if it has them."
    )


def question_data(question: dict[str, Any]) -> dict[str, Any]:
    """The API's shape of one schema question (``surveys.schema``)."""
    qtype = QUESTION_TYPES.get(str(question.get("type")))
    scale = qtype.scale if qtype is not None else None
    options = question.get("options")
    return {
        "id": question.get("id"),
        "type": question.get("type"),
        "required": bool(question.get("required", False)),
        "text": question.get("text") or {},
        "scale": {"min": scale[0], "max": scale[-1]} if scale is not None else None,
        "scale_labels": question.get("scale_labels") if scale is not None else None,
        "options": options if qtype is not None and qtype.choice else None,
        "multiple": bool(qtype is not None and qtype.multiple),
        "max_length": question.get("max_length"),
        "follow_up_for": question.get("follow_up_for"),
        "texts_by_group": question.get("texts_by_group"),
    }


class SurveyVersionSerializer(serializers.ModelSerializer[SurveyVersion]):
    number = serializers.IntegerField(read_only=True)
    published_at = AwareDateTimeField(read_only=True)
    languages = serializers.ListField(child=serializers.CharField(), read_only=True)
    questions = serializers.SerializerMethodField()

    class Meta:
        model = SurveyVersion
        fields = ["number", "published_at", "languages", "default_language", "questions"]
        read_only_fields = fields

    @extend_schema_field(QuestionSerializer(many=True))
    def get_questions(self, version: SurveyVersion) -> list[dict[str, Any]]:
        return [
            question_data(question)
            for question in version.questions
            if isinstance(question, dict) and question.get("type") in QUESTION_TYPES
        ]


def open_link_url(survey: Survey) -> str | None:
    if not survey.open_link_enabled:
        return None
    return settings.SITE_URL + reverse(
        "responses:open-link", kwargs={"public_id": survey.public_id}
    )


class SurveySerializer(serializers.ModelSerializer[Survey]):
    touchpoint = serializers.IntegerField(source="touchpoint_id", read_only=True)
    journey = serializers.IntegerField(source="touchpoint.journey_id", read_only=True)
    current_version = serializers.IntegerField(
        source="published_number",
        read_only=True,
        allow_null=True,
        help_text="The number of the published version customers answer now (null before "
        "the first is published).",
    )
    open_link_url = serializers.SerializerMethodField(
        help_text="The survey's open link, when sharing by open link is switched on."
    )
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)
    archived_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "status",
            "touchpoint",
            "journey",
            "default_language",
            "current_version",
            "open_link_url",
            "widget_enabled",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = fields

    def get_open_link_url(self, survey: Survey) -> str | None:
        return open_link_url(survey)


class SurveyDetailSerializer(SurveySerializer):
    version = serializers.SerializerMethodField(
        help_text="The current published version with its questions (null before the first "
        "is published)."
    )

    class Meta(SurveySerializer.Meta):
        fields = [*SurveySerializer.Meta.fields, "version"]
        read_only_fields = fields

    @extend_schema_field(SurveyVersionSerializer(allow_null=True))
    def get_version(self, survey: Survey) -> dict[str, Any] | None:
        version = survey_version_current(survey)
        return SurveyVersionSerializer(version).data if version is not None else None


class TouchpointQuerySerializer(serializers.Serializer[Any]):
    journey = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


class SurveyQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=SurveyStatus.values, required=False)
    touchpoint = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    journey = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


# --- Querysets -------------------------------------------------------------------------


def _touchpoints() -> QuerySet[Touchpoint]:
    return Touchpoint.objects.prefetch_related(
        Prefetch("surveys", queryset=Survey.objects.only("id", "touchpoint_id").order_by("id"))
    )


def _journeys() -> QuerySet[Journey]:
    touchpoints = _touchpoints().order_by("position")
    return Journey.objects.prefetch_related(Prefetch("touchpoints", queryset=touchpoints))


def _surveys() -> QuerySet[Survey]:
    return Survey.objects.select_related("touchpoint").annotate(
        published_number=Max("versions__number", filter=Q(versions__published_at__isnull=False))
    )


# --- Examples ---------------------------------------------------------------------------

TOUCHPOINT_EXAMPLE = {
    "id": 7,
    "journey": 2,
    "position": 1,
    "name": "Online shop checkout",
    "description": "",
    "process": "online_shop",
    "process_detail": "Shopware",
    "team": 3,
    "weight": 1.0,
    "surveys": [11],
    "created_at": "2026-01-05T09:30:00Z",
    "updated_at": "2026-01-05T09:30:00Z",
}
JOURNEY_EXAMPLE = {
    "id": 2,
    "name": "Purchase",
    "description": "From checkout to delivery",
    "touchpoints": [TOUCHPOINT_EXAMPLE],
    "created_at": "2026-01-05T09:30:00Z",
    "updated_at": "2026-01-05T09:30:00Z",
}
SURVEY_EXAMPLE = {
    "id": 11,
    "name": "Relationship NPS",
    "status": "active",
    "touchpoint": 7,
    "journey": 2,
    "default_language": "en",
    "current_version": 2,
    "open_link_url": "https://feedback.example.com/l/3q2-7AbCdEfGh1Jk/",
    "widget_enabled": False,
    "created_at": "2026-01-05T09:30:00Z",
    "updated_at": "2026-02-01T08:00:00Z",
    "archived_at": None,
}
SURVEY_DETAIL_EXAMPLE = {
    **SURVEY_EXAMPLE,
    "version": {
        "number": 2,
        "published_at": "2026-02-01T08:00:00Z",
        "languages": ["en", "de"],
        "default_language": "en",
        "questions": [
            {
                "id": "recommend",
                "type": "nps",
                "required": True,
                "text": {"en": "How likely are you to recommend us?", "de": "Wie ..."},
                "scale": {"min": 0, "max": 10},
                "scale_labels": {"low": {"en": "Not at all likely"}, "high": {"en": "Extremely"}},
                "options": None,
                "multiple": False,
                "max_length": None,
                "follow_up_for": None,
                "texts_by_group": None,
            },
            {
                "id": "topic",
                "type": "single_choice",
                "required": False,
                "text": {"en": "What was it mainly about?", "de": "Worum ging es vor allem?"},
                "scale": None,
                "scale_labels": None,
                "options": [{"id": "delivery", "label": {"en": "Delivery", "de": "Lieferung"}}],
                "multiple": False,
                "max_length": None,
                "follow_up_for": None,
                "texts_by_group": None,
            },
        ],
    },
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"next": None, "previous": None, "results": [item]}


# --- Views ------------------------------------------------------------------------------


@extend_schema(
    tags=["surveys"],
    summary="Journeys, each with its touchpoints in order",
    examples=[OpenApiExample("A journey", value=_page(JOURNEY_EXAMPLE), response_only=True)],
)
class JourneyListView(mixins.ListModelMixin, TenantAPIView):
    model = Journey
    serializer_class = JourneySerializer
    required_scopes: ClassVar[dict[str, str]] = READ

    def get_queryset(self) -> QuerySet[Journey]:
        return _journeys()

    def get(self, request: Request) -> Response:
        return self.list(request)


@extend_schema(
    tags=["surveys"],
    summary="One journey with its touchpoints in order",
    examples=[OpenApiExample("A journey", value=JOURNEY_EXAMPLE, response_only=True)],
)
class JourneyDetailView(TenantAPIView):
    model = Journey
    serializer_class = JourneySerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = READ
    lookup_url_kwarg = "journey_id"

    def get_queryset(self) -> QuerySet[Journey]:
        return _journeys()

    def get(self, request: Request, journey_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema(
    tags=["surveys"],
    summary="Touchpoints (filter by journey)",
    parameters=[TouchpointQuerySerializer],
    examples=[OpenApiExample("A touchpoint", value=_page(TOUCHPOINT_EXAMPLE), response_only=True)],
)
class TouchpointListView(mixins.ListModelMixin, TenantAPIView):
    model = Touchpoint
    serializer_class = TouchpointSerializer
    required_scopes: ClassVar[dict[str, str]] = READ

    def get_queryset(self) -> QuerySet[Touchpoint]:
        return _touchpoints()

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        params = TouchpointQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        if "journey" in params.validated_data:
            queryset = queryset.filter(journey_id=params.validated_data["journey"])
        return queryset

    def get(self, request: Request) -> Response:
        return self.list(request)


@extend_schema(
    tags=["surveys"],
    summary="One touchpoint",
    examples=[OpenApiExample("A touchpoint", value=TOUCHPOINT_EXAMPLE, response_only=True)],
)
class TouchpointDetailView(TenantAPIView):
    model = Touchpoint
    serializer_class = TouchpointSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = READ
    lookup_url_kwarg = "touchpoint_id"

    def get_queryset(self) -> QuerySet[Touchpoint]:
        return _touchpoints()

    def get(self, request: Request, touchpoint_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema(
    tags=["surveys"],
    summary="Surveys (filter by status, touchpoint, journey)",
    parameters=[SurveyQuerySerializer],
    examples=[OpenApiExample("A survey", value=_page(SURVEY_EXAMPLE), response_only=True)],
)
class SurveyListView(mixins.ListModelMixin, TenantAPIView):
    model = Survey
    serializer_class = SurveySerializer
    required_scopes: ClassVar[dict[str, str]] = READ

    def get_queryset(self) -> QuerySet[Survey]:
        return _surveys()

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        params = SurveyQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if "status" in data:
            queryset = queryset.filter(status=data["status"])
        if "touchpoint" in data:
            queryset = queryset.filter(touchpoint_id=data["touchpoint"])
        if "journey" in data:
            queryset = queryset.filter(touchpoint__journey_id=data["journey"])
        return queryset

    def get(self, request: Request) -> Response:
        return self.list(request)


@extend_schema(
    tags=["surveys"],
    summary="One survey with the questions of its current published version",
    description="The questions, scales, options and texts per language of the version "
    "customers answer now: what `POST /api/v1/responses/` validates answers against.",
    examples=[OpenApiExample("A survey", value=SURVEY_DETAIL_EXAMPLE, response_only=True)],
)
class SurveyDetailView(TenantAPIView):
    model = Survey
    serializer_class = SurveyDetailSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = READ
    lookup_url_kwarg = "survey_id"

    def get_queryset(self) -> QuerySet[Survey]:
        return _surveys()

    def get(self, request: Request, survey_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)
