"""Outbound integrations: signed webhooks to CRM systems, and chat alerts.

Both follow the invitation pattern: an outbox handler writes one delivery row per
receiver inside the event's transaction (a unique constraint makes that idempotent),
and a Celery task claims the row, sends it, and records the outcome. Time to retry is
a column (``next_attempt_at``) that a beat sweep picks up, never a broker countdown.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel


class WebhookTopic(models.TextChoices):
    RESPONSE_COMPLETED = "response.completed", _("Response completed")
    CASE_CREATED = "case.created", _("Case created")
    CASE_UPDATED = "case.updated", _("Case updated")
    CASE_CLOSED = "case.closed", _("Case closed")
    CONTACT_OPTED_OUT = "contact.opted_out", _("Contact opted out")
    INVITATION_BOUNCED = "invitation.bounced", _("Invitation bounced")


class WebhookEndpoint(TenantModel):
    """A URL of the organization's that receives signed events it subscribed to."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Shared with the receiver, who verifies the signature with it; shown once on
    # creation and on rotation.
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret still signs (a second signature) until it expires.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    # Set when the endpoint was switched off after failing for too long (or by hand).
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Deliveries that failed for good since the last success.
    failure_streak = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "is_active"], name="webhook_active")]
        ordering = ["created_at", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # due at next_attempt_at
    SENDING = "sending", _("Sending")  # claimed by a worker
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")  # retries exhausted, or the endpoint was disabled


class WebhookDelivery(TenantModel):
    """One event for one endpoint. A redelivery is a new row with the same event id, so
    receivers deduplicate on ``event_id``."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The outbox event it came from; null for test pings and redeliveries.
    outbox_event = models.ForeignKey(
        "responses.OutboxEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    redelivery_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="redeliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4)
    topic = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        constraints = [
            # One delivery per outbox event and endpoint: handling an event twice is harmless.
            models.UniqueConstraint(
                fields=["organization", "endpoint", "outbox_event"],
                condition=Q(outbox_event__isnull=False, redelivery_of__isnull=True),
                name="webhookdelivery_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhookdelivery_due",
            ),
            models.Index(
                fields=["organization", "endpoint", "-created_at"], name="webhookdelivery_log"
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.topic} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(TenantModel):
    """One HTTP request of a delivery: the log an admin reads when a receiver fails."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The start of the receiver's answer, for debugging (never more than 1 KB).
    response_excerpt = models.CharField(max_length=1024, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "delivery", "attempted_at"], name="webhookattempt_log"
            )
        ]
        ordering = ["attempted_at", "id"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class AlertKind(models.TextChoices):
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")


class AlertTrigger(models.TextChoices):
    HIGH_PRIORITY_CASE = "high_priority_case", _("New high-priority case")
    SLA_BREACH = "sla_breach", _("SLA breached")


class AlertChannel(TenantModel):
    """A Slack or Microsoft Teams incoming webhook that hears about a team's cases (or
    every case, without a team)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("service"), max_length=10, choices=AlertKind.choices)
    # The incoming-webhook URL is a credential: shown masked after creation.
    url = models.URLField(_("incoming webhook URL"), max_length=500)
    team = models.ForeignKey(
        "tenants.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
        help_text=_("Only cases of this team. Leave empty for every case."),
    )
    triggers = models.JSONField(_("alert on"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "is_active"], name="alertchannel_active")]
        ordering = ["name", "id"]
        verbose_name = _("alert channel")
        verbose_name_plural = _("alert channels")

    def __str__(self) -> str:
        return self.name


class AlertDelivery(TenantModel):
    """One alert message to one channel; ``dedupe_key`` (e.g. ``sla_breach:<case>:<step>``)
    makes each alert go out once."""

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    case = models.ForeignKey(
        "closedloop.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=30, choices=AlertTrigger.choices)
    dedupe_key = models.CharField(max_length=120)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel", "dedupe_key"], name="alertdelivery_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="alertdelivery_due",
            )
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")

    def __str__(self) -> str:
        return f"{self.trigger} → {self.channel_id} ({self.status})"
