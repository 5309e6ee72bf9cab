"""Journeys, their touchpoints, and the surveys attached to touchpoints.

A survey's questions live in ``SurveyVersion.schema`` (see ``surveys.schema`` and
docs/surveys.md). A survey has at most one editable draft (``published_at`` NULL) and any
number of published versions, which never change: answers point at the version they
answered. Immutability holds in three places: the services refuse, ``SurveyVersion.save()``
refuses, and a database trigger refuses any UPDATE of a published row (PostgreSQL and
SQLite; see migration 0001).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import Team, TenantModel


class TouchpointProcess(models.TextChoices):
    """The process (and usually the system) that owns a touchpoint."""

    ONLINE_SHOP = "online_shop", _("Online shop")
    CALL_CENTRE = "call_centre", _("Call centre")
    SERVICE_PARTNER = "service_partner", _("Service partner")
    CUSTOMER_CARE = "customer_care", _("Customer care")
    CRM = "crm", _("CRM")
    OTHER = "other", _("Other")


class Journey(TenantModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="journey_unique_name")
        ]
        ordering = ["name"]
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")

    def __str__(self) -> str:
        return self.name


class Touchpoint(TenantModel):
    """One step of a journey. ``position`` orders the steps (1, 2, ...) within the journey."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="touchpoints")
    position = models.PositiveIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    process = models.CharField(
        _("owning process"),
        max_length=32,
        choices=TouchpointProcess.choices,
        default=TouchpointProcess.OTHER,
    )
    process_detail = models.CharField(_("process detail"), max_length=200, blank=True)
    team = models.ForeignKey(
        Team,
        verbose_name=_("responsible team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    weight = models.DecimalField(
        _("weight"), max_digits=6, decimal_places=2, default=Decimal("1.00")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "journey", "position"], name="touchpoint_unique_position"
            ),
            models.CheckConstraint(condition=Q(weight__gt=0), name="touchpoint_weight_positive"),
        ]
        ordering = ["journey_id", "position"]
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")

    def __str__(self) -> str:
        return self.name


def new_public_id() -> str:
    """The survey's id in open links and the widget: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


def new_link_secret() -> str:
    """The key that signs CRM parameters of open links and widget identities."""
    return secrets.token_urlsafe(32)


DEFAULT_ANSWER_CHANGE_WINDOW = timedelta(days=1)


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class Survey(TenantModel):
    """A survey at a touchpoint. Its questions are in its versions.

    ``status``: ``draft`` until a version is published, then ``active``; ``archived``
    when it should no longer be sent. ``default_language`` is the fallback language of
    the current version (each version keeps its own copy).
    """

    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="surveys")
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    review_url = models.URLField(
        _("review link"),
        blank=True,
        help_text=_("Where promoters are invited to leave a public review (optional)."),
    )
    answer_change_window = models.DurationField(
        _("answers can be changed for"),
        default=DEFAULT_ANSWER_CHANGE_WINDOW,
        help_text=_(
            "How long after answering a customer may change the answers by opening the "
            "link again. 0 allows no changes."
        ),
    )
    # Open link (/l/<public_id>/) and website widget: public entry points by survey.
    public_id = models.CharField(max_length=32, default=new_public_id, editable=False)
    open_link_enabled = models.BooleanField(
        _("open link"),
        default=False,
        help_text=_("Anyone with the link (or its QR code) can answer, without an invitation."),
    )
    widget_enabled = models.BooleanField(
        _("website widget"),
        default=False,
        help_text=_("The survey can be shown as a pop-up on the websites listed below."),
    )
    allowed_origins = models.JSONField(
        _("websites allowed to show the widget"),
        default=list,
        blank=True,
        help_text=_("Origins such as https://shop.example.com, one per line."),
    )
    link_secret = models.CharField(max_length=64, default=new_link_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "public_id"], name="survey_unique_public_id"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="survey_org_status"),
            # Open links and the widget find the survey before the organization is known.
            models.Index(fields=["public_id"], name="survey_public_id_lookup"),
        ]
        ordering = ["name", "id"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")

    def __str__(self) -> str:
        return self.name


class SurveyVersionImmutable(RuntimeError):
    """Something tried to change or delete a published survey version."""


def empty_schema() -> dict[str, Any]:
    return {"questions": []}


class SurveyVersion(TenantModel):
    """The questions of a survey as customers see them; frozen once published.

    ``number`` is the version number (1, 2, ...); the draft already carries the number it
    will be published as. ``schema`` holds the ordered questions (docs/surveys.md),
    ``languages`` the languages offered and ``default_language`` the fallback for texts
    missing in another language.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    schema = models.JSONField(_("questions"), default=empty_schema)
    languages = models.JSONField(_("languages"), default=list)
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "survey", "number"], name="surveyversion_unique_number"
            ),
            # Exactly one editable draft per survey at a time.
            models.UniqueConstraint(
                fields=["organization", "survey"],
                condition=Q(published_at__isnull=True),
                name="surveyversion_one_draft",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="surveyversion_number_min"),
            models.CheckConstraint(
                condition=Q(published_at__isnull=False) | Q(published_by__isnull=True),
                name="surveyversion_published_by_needs_published_at",
            ),
        ]
        ordering = ["survey_id", "-number"]
        verbose_name = _("survey version")
        verbose_name_plural = _("survey versions")

    def __str__(self) -> str:
        return f"{self.survey} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def questions(self) -> list[dict[str, Any]]:
        questions = self.schema.get("questions") if isinstance(self.schema, dict) else None
        return questions if isinstance(questions, list) else []

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Publishing is the last save a version gets: the stored row decides, not the
        # instance, so a stale or hand-built instance cannot overwrite a published row.
        if not self._state.adding and self._published_in_database():
            raise SurveyVersionImmutable(
                f"Survey version {self.pk} is published: it cannot change."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self._published_in_database():
            raise SurveyVersionImmutable(f"Survey version {self.pk} is published: it cannot go.")
        return super().delete(*args, **kwargs)

    def _published_in_database(self) -> bool:
        if self.pk is None:
            return False
        stored = type(self)._base_manager.filter(pk=self.pk, published_at__isnull=False)
        return stored.exists()


# Distribution (invitations, rules, the contact budget): its own module, same app.
from surveys.models_distribution import (  # noqa: E402
    DistributionRule,
    DistributionSettings,
    Invitation,
    InvitationEvent,
    RecurringSchedule,
    SuppressedSend,
)

__all__ = [
    "DistributionRule",
    "DistributionSettings",
    "Invitation",
    "InvitationEvent",
    "Journey",
    "RecurringSchedule",
    "SuppressedSend",
    "Survey",
    "SurveyStatus",
    "SurveyVersion",
    "SurveyVersionImmutable",
    "Touchpoint",
    "TouchpointProcess",
]
