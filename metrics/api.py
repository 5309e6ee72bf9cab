"""The dashboard's aggregates over the API: ``/api/v1/metrics/{scores,trend,breakdown}/``.

The same selectors as the dashboard pages (``metrics.selectors.scores``), read from the
daily rollup. Unlike the pages, which ignore a stale filter, the API answers a bad query
parameter with 400 and the field's message.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from metrics.forms import PERIOD_LABELS, local_today, period_dates
from metrics.models import SegmentAttribute
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


def _period(filters: DashboardFilters, timezone_name: str) -> dict[str, Any]:
    return {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "timezone": timezone_name,
    }


SCORES_EXAMPLE = {
    "period": {"start": "2026-08-26", "end": "2026-11-23", "timezone": "Europe/Berlin"},
    "previous_period": {"start": "2026-05-28", "end": "2026-08-25", "timezone": "Europe/Berlin"},
    "scores": {
        "responses": 754,
        "completed": 754,
        "comments": 358,
        "nps": {"score": 31.0, "n": 326, "ci_low": 22.1, "ci_high": 39.3, "small_sample": False},
        "ces": {"n": 166, "mean": {"mean": 5.25}, "easy": {"pct": 70.5}},
        "csat": {"n": 487, "top_two_box": {"pct": 75.4}, "mean": {"mean": 4.11}},
    },
    "changes": {"nps": {"difference": 3.2, "p_value": 0.618, "significant": False}},
}


class _MetricsView(TenantAPIView):
    required_scopes: ClassVar[dict[str, str]] = {"GET": "metrics:read"}
    query_serializer: ClassVar[type[MetricsQuerySerializer]] = MetricsQuerySerializer

    def query(self, request: Request) -> tuple[MetricsQuerySerializer, DashboardFilters, str]:
        params = self.query_serializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        timezone_name = request.organization.timezone  # type: ignore[attr-defined]
        return params, params.filters(timezone_name), timezone_name


def _scores(value: Scores) -> dict[str, Any]:
    return value.to_dict()


@extend_schema(
    tags=["metrics"],
    summary="NPS, CES and CSAT of a period, with intervals and the change",
    description="Scores of the filtered period (95 % intervals, n, small-sample flags) and "
    "their change against the previous period of the same length, with two-sided tests. "
    "Read from the daily rollup, a few seconds behind the newest responses.",
    parameters=[MetricsQuerySerializer],
    responses={200: OpenApiTypes.OBJECT},
    examples=[OpenApiExample("Last 90 days", value=SCORES_EXAMPLE, response_only=True)],
)
class MetricsScoresView(_MetricsView):
    def get(self, request: Request) -> Response:
        _params, filters, timezone_name = self.query(request)
        comparison = compare(filters)
        return Response(
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
    responses={200: OpenApiTypes.OBJECT},
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
    query_serializer = TrendQuerySerializer

    def get(self, request: Request) -> Response:
        params, filters, timezone_name = self.query(request)
        grain = params.validated_data["grain"]
        return Response(
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
    responses={200: OpenApiTypes.OBJECT},
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
    query_serializer = BreakdownQuerySerializer

    def get(self, request: Request) -> Response:
        params, filters, timezone_name = self.query(request)
        dimension = params.validated_data["by"]
        rows = breakdown(filters, dimension)
        labels = dimension_labels(dimension, [row.key for row in rows])
        return Response(
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
