"""Responses: the answers of one customer to one survey version, scored on write.

A ``Response`` holds the full answers (``answers``: question id -> value) beside the
scores in their own indexed columns (``nps`` and ``nps_group``, ``ces``, ``csat``) and
the verbatim (``comment``). It is stamped at the time of writing with what the
dashboards break it down by: touchpoint, journey, channel, language and a snapshot of
the contact's CRM attributes (so a later CRM change does not rewrite history).

One response per invitation and per idempotency key: both are unique per organization,
so a retried or concurrent submit finds the row instead of adding a second one.

``OutboxEvent`` is the transactional outbox: written in the same transaction as the
response, drained after commit (and by a beat sweep when the broker was away). What
reacts to a response (closed-loop routing, webhooks, rollups) registers a handler in
``responses.events``.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel


def new_response_token() -> str:
    """The response's own link token (resume and change an open-link or widget answer)."""
    return secrets.token_urlsafe(24)


class ResponseChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    LINK = "link", _("Open link")
    WIDGET = "widget", _("Website widget")
    IMPORT = "import", _("Import")
    API = "api", _("API")


class ResponseStatus(models.TextChoices):
    PARTIAL = "partial", _("partial")
    COMPLETE = "complete", _("complete")


class NpsGroup(models.TextChoices):
    DETRACTOR = "detractor", _("detractor")
    PASSIVE = "passive", _("passive")
    PROMOTER = "promoter", _("promoter")


class Response(TenantModel):
    survey = models.ForeignKey(
        "surveys.Survey", verbose_name=_("survey"), on_delete=models.PROTECT, related_name="+"
    )
    survey_version = models.ForeignKey(
        "surveys.SurveyVersion",
        verbose_name=_("survey version"),
        on_delete=models.PROTECT,
        related_name="responses",
    )
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint",
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        related_name="responses",
    )
    journey = models.ForeignKey(
        "surveys.Journey", verbose_name=_("journey"), on_delete=models.PROTECT, related_name="+"
    )
    invitation = models.ForeignKey(
        "surveys.Invitation",
        verbose_name=_("invitation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="responses",
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="responses",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ResponseChannel.choices)
    language = models.CharField(_("language"), max_length=8)
    status = models.CharField(
        _("status"), max_length=10, choices=ResponseStatus.choices, default=ResponseStatus.PARTIAL
    )
    answers = models.JSONField(_("answers"), default=dict)
    nps = models.PositiveSmallIntegerField(_("NPS score"), null=True, blank=True)
    # NULL (not "") without a score: the check constraint pairs it with ``nps``.
    nps_group = models.CharField(  # noqa: DJ001
        _("NPS group"), max_length=10, choices=NpsGroup.choices, null=True, blank=True
    )
    ces = models.PositiveSmallIntegerField(_("CES score"), null=True, blank=True)
    csat = models.PositiveSmallIntegerField(_("CSAT score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # Set when retention removed the free text (contacts/services/retention.py).
    free_text_removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    contact_attributes = models.JSONField(_("CRM attributes"), default=dict, blank=True)
    metadata = models.JSONField(_("source details"), default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True, editable=False)
    token = models.CharField(max_length=64, default=new_response_token, editable=False)
    # When the customer answered (the first saved answer; imports bring their own time).
    responded_at = models.DateTimeField(_("answered"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    editable_until = models.DateTimeField(_("changes allowed until"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "invitation"],
                condition=Q(invitation__isnull=False),
                name="response_one_per_invitation",
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="response_idempotency_key",
            ),
            models.UniqueConstraint(fields=["organization", "token"], name="response_token"),
            models.CheckConstraint(
                condition=Q(nps__isnull=True) | Q(nps__lte=10), name="response_nps_range"
            ),
            models.CheckConstraint(
                condition=Q(ces__isnull=True) | Q(ces__gte=1, ces__lte=7),
                name="response_ces_range",
            ),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5),
                name="response_csat_range",
            ),
            models.CheckConstraint(
                condition=(
                    Q(nps__isnull=True, nps_group__isnull=True)
                    | Q(nps__lte=6, nps_group="detractor")
                    | Q(nps__in=[7, 8], nps_group="passive")
                    | Q(nps__gte=9, nps_group="promoter")
                ),
                name="response_nps_group_matches",
            ),
        ]
        indexes = [
            # The live feed and every "latest first" list.
            models.Index(fields=["organization", "-responded_at", "-id"], name="response_feed"),
            # Dashboard breakdowns over time.
            models.Index(
                fields=["organization", "survey", "responded_at"], name="response_survey_time"
            ),
            models.Index(
                fields=["organization", "touchpoint", "responded_at"], name="response_tp_time"
            ),
            models.Index(
                fields=["organization", "journey", "responded_at"], name="response_journey_time"
            ),
            models.Index(
                fields=["organization", "nps_group", "responded_at"], name="response_group_time"
            ),
            models.Index(fields=["organization", "contact"], name="response_contact"),
            # Incremental sync over the API (``?updated_since=``): updated time, then id.
            models.Index(fields=["organization", "updated_at", "id"], name="response_updated"),
            # Response links (resume, change) find the response before the organization.
            models.Index(fields=["token"], name="response_token_lookup"),
        ]
        ordering = ["-responded_at", "-id"]
        verbose_name = _("response")
        verbose_name_plural = _("responses")

    def __str__(self) -> str:
        return f"{self.survey_id} #{self.pk}"

    @property
    def is_complete(self) -> bool:
        return self.status == ResponseStatus.COMPLETE


class OutboxTopic(models.TextChoices):
    RESPONSE_CREATED = "response.created", _("response created")
    RESPONSE_UPDATED = "response.updated", _("response updated")
    RESPONSE_COMPLETED = "response.completed", _("response completed")
    # Published by the closed loop (``closedloop.services.outbox``) for the integrations.
    CASE_CREATED = "case.created", _("case created")
    CASE_UPDATED = "case.updated", _("case updated")
    CASE_CLOSED = "case.closed", _("case closed")
    # Published by contacts (consent withdrawn) and distribution (a hard bounce), for
    # the outbound webhooks.
    CONTACT_OPTED_OUT = "contact.opted_out", _("contact opted out")
    INVITATION_BOUNCED = "invitation.bounced", _("invitation bounced")


class OutboxEvent(TenantModel):
    """Something that happened, committed with the change that caused it.

    ``dispatched_at`` is set once every registered handler has run; until then the row
    is due at ``next_attempt_at`` (retries back off). Handlers must be idempotent: an
    event may be handled again after a crash between a handler and the mark.
    """

    topic = models.CharField(_("topic"), max_length=40, choices=OutboxTopic.choices)
    response = models.ForeignKey(
        Response, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_due",
            ),
            models.Index(fields=["organization", "-created_at"], name="outbox_org_time"),
        ]
        ordering = ["created_at", "id"]
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
