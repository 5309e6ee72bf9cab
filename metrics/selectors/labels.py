"""Names for dimension keys, and the choices of the filter form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from metrics.models import DailyRollup, SegmentAttribute
from responses.models import ResponseChannel
from surveys.models import Journey, Survey, Touchpoint
from tenants.models import Team

LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


@dataclass(frozen=True, slots=True)
class FilterChoices:
    journeys: list[tuple[int, str]]
    touchpoints: list[tuple[int, str, int]]  # (id, name, journey id) in journey order
    surveys: list[tuple[int, str]]
    channels: list[tuple[str, str]]
    languages: list[tuple[str, str]]
    segments: list[tuple[str, str]]  # (key, label)


def filter_choices() -> FilterChoices:
    """What the current organization's dashboard can be filtered by."""
    touchpoints = list(
        Touchpoint.objects.select_related("journey")
        .order_by("journey__name", "position")
        .values_list("pk", "name", "journey_id", "journey__name")
    )
    languages = sorted(
        set(
            DailyRollup.objects.filter(segment_key="").values_list("language", flat=True).distinct()
        )
        | {"de", "en"}
    )
    return FilterChoices(
        journeys=list(Journey.objects.order_by("name").values_list("pk", "name")),
        touchpoints=[(pk, f"{journey} · {name}", jid) for pk, name, jid, journey in touchpoints],
        surveys=list(Survey.objects.order_by("name").values_list("pk", "name")),
        channels=[(value, str(label)) for value, label in ResponseChannel.choices],
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
        segments=[(attribute.key, str(attribute)) for attribute in SegmentAttribute.objects.all()],
    )


def dimension_labels(dimension: str, keys: list[Any]) -> dict[Any, str]:
    """Display names for breakdown keys of one dimension."""
    ids = [key for key in keys if key is not None and key != ""]
    if dimension == "journey":
        return dict(Journey.objects.filter(pk__in=ids).values_list("pk", "name"))
    if dimension == "touchpoint":
        return dict(Touchpoint.objects.filter(pk__in=ids).values_list("pk", "name"))
    if dimension == "survey":
        return dict(Survey.objects.filter(pk__in=ids).values_list("pk", "name"))
    if dimension == "team":
        labels: dict[Any, str] = dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
        labels[None] = _("No team")
        return labels
    if dimension == "channel":
        return {value: str(label) for value, label in ResponseChannel.choices}
    if dimension == "language":
        return {key: LANGUAGE_NAMES.get(key, key) for key in keys}
    if dimension == "segment":
        return {key: key if key != "" else _("(not set)") for key in keys}
    raise ValueError(f"unknown dimension {dimension!r}")
