"""The dashboard's aggregates over the API: ``/api/v1/metrics/{scores,trend,breakdown}/``.

The same selectors as the dashboard pages (``metrics.selectors.scores``), read from the
daily rollup. Unlike the pages, which ignore a stale filter, the API answers a bad query
parameter with 400 and the field's message.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar, get_args

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from metrics.forms import PERIOD_LABELS, local_today, period_dates
from metrics.models import CES_VALUES, CSAT_VALUES, NPS_VALUES, SegmentAttribute
from metrics.scoring import mean_compare, nps_compare, proportion_compare
from metrics.scoring.constants import ChangeTest
from metrics.selectors.filters import GRAINS, DashboardFilters
from metrics.selectors.labels import dimension_labels
from metrics.selectors.scores import DIMENSIONS, Scores, breakdown, compare, trend
from responses.models import ResponseChannel
from surveys.models import Journey, Survey, Touchpoint
from tenants.api import TenantAPIView

MAX_DAYS = 3 * 366 + 1


class MetricsQuerySerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(
        choices=[key for key in PERIOD_LABELS if key != "custom"],
        required=False,
        help_text="A preset period in the organization's time zone (default 90d); "
        "ignored when start or end is given.",
    )
    start = serializers.DateField(required=False, help_text="First local day (inclusive).")
    end = serializers.DateField(required=False, help_text="Last local day (inclusive).")
    journey = serializers.IntegerField(required=False, min_value=1)
    touchpoint = serializers.IntegerField(required=False, min_value=1)
    survey = serializers.IntegerField(required=False, min_value=1)
    channel = serializers.ChoiceField(choices=ResponseChannel.values, required=False)
    language = serializers.CharField(required=False, max_length=8)
    segment = serializers.CharField(
        required=False, max_length=100, help_text="A segment attribute of the organization."
    )
    value = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="With segment: only this value (empty: contacts without the attribute).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name, model in (("journey", Journey), ("touchpoint", Touchpoint), ("survey", Survey)):
            if name in attrs and not model._default_manager.filter(pk=attrs[name]).exists():
                raise serializers.ValidationError({name: f"No {name} with id {attrs[name]}."})
        segment = attrs.get("segment")
        if segment and not SegmentAttribute.objects.filter(key=segment).exists():
            raise serializers.ValidationError(
                {"segment": f"'{segment}' is not a segment attribute of the organization."}
            )
        if "value" in attrs and not segment:
            raise serializers.ValidationError({"value": "A segment value needs a segment."})
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"end": "The end is before the start."})
        return attrs

    def filters(self, timezone_name: str) -> DashboardFilters:
        data = self.validated_data
        today = local_today(timezone_name)
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        if start or end:
            period = "custom"
            end = end or today
            start = start or end - timedelta(days=89)
            if (end - start).days >= MAX_DAYS:
                raise serializers.ValidationError({"start": "The period is at most three years."})
        else:
            period = data.get("period") or "90d"
            start, end = period_dates(period, today)
        return DashboardFilters(
            start=start,
            end=end,
            period=period,
            journey_id=data.get("journey"),
            touchpoint_id=data.get("touchpoint"),
            survey_id=data.get("survey"),
            channel=data.get("channel", ""),
            language=data.get("language", ""),
            segment_key=data.get("segment", ""),
            segment_value=data.get("value"),
        )


class TrendQuerySerializer(MetricsQuerySerializer):
    grain = serializers.ChoiceField(choices=GRAINS, default="week")


class BreakdownQuerySerializer(MetricsQuerySerializer):
    by = serializers.ChoiceField(choices=DIMENSIONS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("by") == "segment" and not attrs.get("segment"):
            raise serializers.ValidationError({"segment": "by=segment needs a segment."})
        return attrs


# --- Responses -------------------------------------------------------------------------
#
# The answers are plain dicts from ``metrics.scoring`` (``to_dict()``); these serializers
# describe them exactly (the schema) and render them (so schema and answer cannot drift).
# A number that is undefined for the data (any share or interval with n = 0, a standard
# deviation with n < 2, a p-value without variation) is null.


def _number(help_text: str = "") -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text or None)


def _count(help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, help_text=help_text or None)


class PeriodSerializer(serializers.Serializer[Any]):
    start = serializers.DateField(help_text="First local day (inclusive).")
    end = serializers.DateField(help_text="Last local day (inclusive).")
    timezone = serializers.CharField(help_text="The organization's time zone.")


class NpsResultSerializer(serializers.Serializer[Any]):
    """NPS (-100..100) with its adjusted-Wald interval."""

    score = _number("Plain NPS in points; null without answers.")
    promoters = _count()
    passives = _count()
    detractors = _count()
    n = _count()
    promoter_share = _number("0..1")
    passive_share = _number("0..1")
    detractor_share = _number("0..1")
    adjusted_score = _number("The interval's centre (adjusted Wald).")
    ci_low = _number()
    ci_high = _number()
    margin = _number("Half-width of the interval before clipping to [-100, 100].")
    wald_margin = _number("Plain Wald margin around the score.")
    confidence = serializers.FloatField(help_text="e.g. 0.95")
    small_sample = serializers.BooleanField(help_text="n below 30.")


class ProportionResultSerializer(serializers.Serializer[Any]):
    """A share with its Agresti-Coull interval (percentages 0..100)."""

    successes = _count()
    n = _count()
    share = _number("0..1")
    pct = _number("0..100")
    ci_low = _number()
    ci_high = _number()
    margin = _number()
    confidence = serializers.FloatField()
    small_sample = serializers.BooleanField()


class MeanResultSerializer(serializers.Serializer[Any]):
    """A mean with its t-interval."""

    mean = _number()
    n = _count()
    sd = _number("Sample standard deviation; null for n < 2.")
    se = _number()
    df = serializers.IntegerField(allow_null=True)
    ci_low = _number()
    ci_high = _number()
    margin = _number()
    confidence = serializers.FloatField()
    small_sample = serializers.BooleanField()


class CesResultSerializer(serializers.Serializer[Any]):
    """CES (1..7): the mean, and the share of easy answers (5..7)."""

    n = _count()
    mean = MeanResultSerializer()
    easy = ProportionResultSerializer()
    small_sample = serializers.BooleanField()


class CsatResultSerializer(serializers.Serializer[Any]):
    """CSAT (1..5): the top-two-box share (4..5), and the mean."""

    n = _count()
    top_two_box = ProportionResultSerializer()
    mean = MeanResultSerializer()
    small_sample = serializers.BooleanField()


def _histogram(scale: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        help_text=f"Answers per scale value, every value {scale} present (keys are strings).",
    )


class ScoresSerializer(serializers.Serializer[Any]):
    responses = _count("Responses in the period (complete and partial).")
    completed = _count()
    comments = _count("Responses with a comment.")
    nps = NpsResultSerializer()
    ces = CesResultSerializer()
    csat = CsatResultSerializer()
    nps_histogram = _histogram("0..10")
    ces_histogram = _histogram("1..7")
    csat_histogram = _histogram("1..5")


class ChangeResultSerializer(serializers.Serializer[Any]):
    """``current - previous``, tested two-sided; undefined parts are null and
    ``significant`` is then false."""

    test = serializers.ChoiceField(choices=get_args(ChangeTest))
    previous_n = _count()
    current_n = _count()
    difference = _number("The plain change; null when a period has no answers.")
    estimate = _number("The interval's centre.")
    ci_low = _number()
    ci_high = _number()
    se = _number()
    statistic = _number("z or t.")
    df = _number("Degrees of freedom (t tests only).")
    p_value = _number()
    alpha = serializers.FloatField()
    significant = serializers.BooleanField()
    small_sample = serializers.BooleanField()


class ChangesSerializer(serializers.Serializer[Any]):
    nps = ChangeResultSerializer()
    ces_mean = ChangeResultSerializer()
    ces_easy = ChangeResultSerializer()
    csat_top_two_box = ChangeResultSerializer()
    csat_mean = ChangeResultSerializer()


class MetricsScoresSerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    previous_period = PeriodSerializer(help_text="The same length just before.")
    scores = ScoresSerializer()
    previous = ScoresSerializer(help_text="The scores of the previous period.")
    changes = ChangesSerializer()


class TrendPointSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Inclusive; clipped to the period.")
    scores = ScoresSerializer()


class MetricsTrendSerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    grain = serializers.ChoiceField(choices=GRAINS)
    points = TrendPointSerializer(many=True, help_text="Every period, empty ones included.")


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
        "description": "The id (journey, touchpoint, survey, team), the code (channel, "
        'language) or the segment value; "" = not set, null = no team.',
    }
)
class BreakdownKeyField(serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class BreakdownRowSerializer(serializers.Serializer[Any]):
    key = BreakdownKeyField()
    # Declared fields leave the class (metaclass): ``Field.label`` is not shadowed.
    label = serializers.CharField()  # type: ignore[assignment]
    scores = ScoresSerializer()


class MetricsBreakdownSerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    by = serializers.ChoiceField(choices=DIMENSIONS)
    rows = BreakdownRowSerializer(many=True, help_text="Largest volume first.")


def _period(filters: DashboardFilters, timezone_name: str) -> dict[str, Any]:
    return {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "timezone": timezone_name,
    }


def _example(value: Any) -> Any:
    """JSON as the API sends it: string keys, numbers rounded for reading."""
    if isinstance(value, dict):
        return {str(key): _example(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_example(item) for item in value]
    return round(value, 3) if isinstance(value, float) else value


def _example_scores(*, nps: list[int], ces: list[int], csat: list[int], comments: int) -> Scores:
    counts: dict[str, int] = {"responses": sum(nps), "completed": sum(nps), "comments": comments}
    counts |= {f"nps_{value}": count for value, count in zip(NPS_VALUES, nps, strict=True)}
    counts |= {f"ces_{value}": count for value, count in zip(CES_VALUES, ces, strict=True)}
    counts |= {f"csat_{value}": count for value, count in zip(CSAT_VALUES, csat, strict=True)}
    return Scores.from_counts(counts)


_NOW = _example_scores(
    nps=[12, 5, 9, 14, 10, 18, 33, 38, 61, 70, 56],
    ces=[3, 6, 10, 22, 41, 52, 32],
    csat=[9, 14, 55, 96, 80],
    comments=158,
)
_BEFORE = _example_scores(
    nps=[15, 7, 11, 13, 14, 20, 30, 41, 55, 60, 48],
    ces=[4, 8, 13, 20, 39, 45, 27],
    csat=[12, 15, 60, 90, 70],
    comments=141,
)
_TZ = "Europe/Berlin"
SCORES_EXAMPLE = _example(
    {
        "period": {"start": "2026-08-26", "end": "2026-11-23", "timezone": "Europe/Berlin"},
        "previous_period": {
            "start": "2026-05-28",
            "end": "2026-08-25",
            "timezone": "Europe/Berlin",
        },
        "scores": _NOW.to_dict(),
        "previous": _BEFORE.to_dict(),
        "changes": {
            "nps": nps_compare(_BEFORE.nps, _NOW.nps).to_dict(),
            "ces_mean": mean_compare(_BEFORE.ces.mean, _NOW.ces.mean).to_dict(),
            "ces_easy": proportion_compare(_BEFORE.ces.easy, _NOW.ces.easy).to_dict(),
            "csat_top_two_box": proportion_compare(
                _BEFORE.csat.top_two_box, _NOW.csat.top_two_box
            ).to_dict(),
            "csat_mean": mean_compare(_BEFORE.csat.mean, _NOW.csat.mean).to_dict(),
        },
    }
)


class _MetricsView(TenantAPIView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "metrics:read"}
    query_serializer: ClassVar[type[MetricsQuerySerializer]] = MetricsQuerySerializer

    def query(self, request: Request) -> tuple[MetricsQuerySerializer, DashboardFilters, str]:
        params = self.query_serializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        timezone_name = request.organization.timezone  # type: ignore[attr-defined]
        return params, params.filters(timezone_name), timezone_name

    def render(self, payload: dict[str, Any]) -> Response:
        return Response(self.get_serializer(payload).data)


def _scores(value: Scores) -> dict[str, Any]:
    return value.to_dict()


@extend_schema(
    tags=["metrics"],
    summary="NPS, CES and CSAT of a period, with intervals and the change",
    description="Scores of the filtered period (95 % intervals, n, small-sample flags) and "
    "their change against the previous period of the same length, with two-sided tests. "
    "Read from the daily rollup, a few seconds behind the newest responses.",
    parameters=[MetricsQuerySerializer],
    responses={200: MetricsScoresSerializer},
    examples=[OpenApiExample("Last 90 days", value=SCORES_EXAMPLE, response_only=True)],
)
class MetricsScoresView(_MetricsView):
    serializer_class = MetricsScoresSerializer

    def get(self, request: Request) -> Response:
        _params, filters, timezone_name = self.query(request)
        comparison = compare(filters)
        return self.render(
            {
                "period": _period(filters, timezone_name),
                "previous_period": _period(comparison.previous_filters, timezone_name),
                "scores": _scores(comparison.current),
                "previous": _scores(comparison.previous),
                "changes": {
                    "nps": comparison.nps.to_dict(),
                    "ces_mean": comparison.ces_mean.to_dict(),
                    "ces_easy": comparison.ces_easy.to_dict(),
                    "csat_top_two_box": comparison.csat_top_two_box.to_dict(),
                    "csat_mean": comparison.csat_mean.to_dict(),
                },
            }
        )


@extend_schema(
    tags=["metrics"],
    summary="Scores per day, week, month or quarter",
    parameters=[TrendQuerySerializer],
    responses={200: MetricsTrendSerializer},
    examples=[
        OpenApiExample(
            "By month",
            value={
                "period": SCORES_EXAMPLE["period"],
                "grain": "month",
                "points": [
                    {"start": "2026-09-01", "end": "2026-09-30", "scores": SCORES_EXAMPLE["scores"]}
                ],
            },
            response_only=True,
        )
    ],
)
class MetricsTrendView(_MetricsView):
    serializer_class = MetricsTrendSerializer
    query_serializer = TrendQuerySerializer

    def get(self, request: Request) -> Response:
        params, filters, timezone_name = self.query(request)
        grain = params.validated_data["grain"]
        return self.render(
            {
                "period": _period(filters, timezone_name),
                "grain": grain,
                "points": [
                    {
                        "start": point.start.isoformat(),
                        "end": point.end.isoformat(),
                        "scores": _scores(point.scores),
                    }
                    for point in trend(filters, grain)
                ],
            }
        )


@extend_schema(
    tags=["metrics"],
    summary="Scores per journey, touchpoint, survey, channel, language, team or segment",
    parameters=[BreakdownQuerySerializer],
    responses={200: MetricsBreakdownSerializer},
    examples=[
        OpenApiExample(
            "By touchpoint",
            value={
                "period": SCORES_EXAMPLE["period"],
                "by": "touchpoint",
                "rows": [{"key": 7, "label": "Renewal", "scores": SCORES_EXAMPLE["scores"]}],
            },
            response_only=True,
        )
    ],
)
class MetricsBreakdownView(_MetricsView):
    serializer_class = MetricsBreakdownSerializer
    query_serializer = BreakdownQuerySerializer

    def get(self, request: Request) -> Response:
        params, filters, timezone_name = self.query(request)
        dimension = params.validated_data["by"]
        rows = breakdown(filters, dimension)
        labels = dimension_labels(dimension, [row.key for row in rows])
        return self.render(
            {
                "period": _period(filters, timezone_name),
                "by": dimension,
                "rows": [
                    {
                        "key": row.key,
                        "label": labels.get(row.key, str(row.key)),
                        "scores": _scores(row.scores),
                    }
                    for row in rows
                ],
            }
        )


__all__ = ["MetricsBreakdownView", "MetricsScoresView", "MetricsTrendView"]
