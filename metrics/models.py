"""Metrics tables: the daily rollup, segment attributes, themes, exports and digests.

``DailyRollup`` is the only table the dashboard's score aggregates read. It is derived
data: maintained per response from the response outbox (``metrics.handlers``) and
rebuilt from the raw responses by ``manage.py rollups_rebuild``. Every other app's
tables are only read here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel

NPS_VALUES = range(0, 11)
CES_VALUES = range(1, 8)
CSAT_VALUES = range(1, 6)
NPS_FIELDS = tuple(f"nps_{value}" for value in NPS_VALUES)
CES_FIELDS = tuple(f"ces_{value}" for value in CES_VALUES)
CSAT_FIELDS = tuple(f"csat_{value}" for value in CSAT_VALUES)
COUNT_FIELDS = ("responses", "completed", "comments", *NPS_FIELDS, *CES_FIELDS, *CSAT_FIELDS)
SEGMENT_VALUE_MAX = 200


def _counter(label: Any) -> models.PositiveIntegerField[int, int]:
    return models.PositiveIntegerField(label, default=0)


class DailyRollup(TenantModel):
    """Counts of one day's responses (a day in the organization's time zone) per
    journey, touchpoint, survey, channel and language: one histogram column per score.

    ``segment_key == ""`` marks the total rows (every response once). For each segment
    attribute of the organization (``SegmentAttribute``) every response is counted once
    more, in the row of its CRM attribute value at the time of the response
    (``segment_value == ""`` when the contact had none).
    """

    day = models.DateField(_("day"))
    journey = models.ForeignKey(
        "surveys.Journey", on_delete=models.CASCADE, related_name="+", db_constraint=True
    )
    touchpoint = models.ForeignKey("surveys.Touchpoint", on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=10)
    language = models.CharField(_("language"), max_length=8)
    segment_key = models.CharField(_("segment attribute"), max_length=100, blank=True, default="")
    segment_value = models.CharField(
        _("segment value"), max_length=SEGMENT_VALUE_MAX, blank=True, default=""
    )
    responses = _counter(_("responses"))
    completed = _counter(_("completed responses"))
    comments = _counter(_("comments"))
    nps_0 = _counter("NPS 0")
    nps_1 = _counter("NPS 1")
    nps_2 = _counter("NPS 2")
    nps_3 = _counter("NPS 3")
    nps_4 = _counter("NPS 4")
    nps_5 = _counter("NPS 5")
    nps_6 = _counter("NPS 6")
    nps_7 = _counter("NPS 7")
    nps_8 = _counter("NPS 8")
    nps_9 = _counter("NPS 9")
    nps_10 = _counter("NPS 10")
    ces_1 = _counter("CES 1")
    ces_2 = _counter("CES 2")
    ces_3 = _counter("CES 3")
    ces_4 = _counter("CES 4")
    ces_5 = _counter("CES 5")
    ces_6 = _counter("CES 6")
    ces_7 = _counter("CES 7")
    csat_1 = _counter("CSAT 1")
    csat_2 = _counter("CSAT 2")
    csat_3 = _counter("CSAT 3")
    csat_4 = _counter("CSAT 4")
    csat_5 = _counter("CSAT 5")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "organization",
                    "segment_key",
                    "segment_value",
                    "day",
                    "touchpoint",
                    "survey",
                    "channel",
                    "language",
                ],
                name="rollup_bucket",
            ),
        ]
        indexes = [
            # Every dashboard read: one segment key (usually the totals) over a range.
            models.Index(fields=["organization", "segment_key", "day"], name="rollup_range"),
        ]
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")

    def __str__(self) -> str:
        return f"{self.day} {self.touchpoint_id}/{self.survey_id}/{self.channel}"


class SegmentAttribute(TenantModel):
    """A CRM attribute the dashboard breaks scores down by (``segment``, ``region``)."""

    key = models.CharField(_("CRM attribute"), max_length=100)
    label = models.CharField(_("label"), max_length=100, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="segment_attribute_key"),
        ]
        ordering = ["position", "key"]
        verbose_name = _("segment attribute")
        verbose_name_plural = _("segment attributes")

    def __str__(self) -> str:
        return self.label or self.key


class Theme(TenantModel):
    """A topic of the organization's taxonomy, found in comments by its keywords.

    Keywords match at word starts, case-insensitively ("deliver" finds "Delivery";
    "liefer" finds "Lieferung"), in any language: list the German and English words.
    """

    name = models.CharField(_("name"), max_length=100)
    keywords = models.JSONField(_("keywords"), default=list)
    description = models.CharField(_("description"), max_length=300, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="theme_unique_name"),
        ]
        ordering = ["name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self) -> str:
        return self.name


class ResponseTheme(TenantModel):
    """A comment mentions a theme (tagged automatically; re-tagged when themes change)."""

    response = models.ForeignKey("responses.Response", on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="taggings")
    # Copied from the response so theme counts over a period need no join.
    responded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "response", "theme"], name="response_theme_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "theme", "responded_at"], name="response_theme_time"
            ),
        ]
        verbose_name = _("theme of a response")
        verbose_name_plural = _("themes of responses")

    def __str__(self) -> str:
        return f"{self.response_id}: {self.theme_id}"


class ExportKind(models.TextChoices):
    RESPONSES = "responses", _("Responses")
    CASES = "cases", _("Cases")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class ExportJob(TenantModel):
    """An export too large to build during the request: built by a task, then offered
    for download to the member who asked for it (and announced by email)."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("data"), max_length=20, choices=ExportKind.choices)
    format = models.CharField(_("format"), max_length=10, choices=ExportFormat.choices)
    language = models.CharField(_("language"), max_length=8)
    # The dashboard filters as a query string, so the export matches the page.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "requested_by", "-created_at"], name="export_mine"
            ),
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status__in=["pending", "running"]),
                name="export_open",
            ),
        ]
        ordering = ["-created_at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"{self.kind}.{self.format} #{self.pk}"


class DigestDelivery(TenantModel):
    """One weekly digest email to one member: the unique week makes it go out once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(_("week"))  # the Monday of the reported week
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "week"], name="digest_once_per_week"
            ),
        ]
        verbose_name = _("digest delivery")
        verbose_name_plural = _("digest deliveries")

    def __str__(self) -> str:
        return f"{self.user_id} {self.week}"


class DigestSubscription(TenantModel):
    """A manager's choice about the weekly digest (managers get it unless they opt out)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subscribed = models.BooleanField(_("weekly digest"), default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="digest_subscription"),
        ]
        verbose_name = _("digest subscription")
        verbose_name_plural = _("digest subscriptions")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.subscribed}"
