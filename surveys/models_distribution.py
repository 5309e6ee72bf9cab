"""Distribution: who gets which survey, when, by which channel, and why not.

* ``DistributionSettings`` (one per organization): the contact budget, the email consent
  policy, SMS quiet hours and the default reminder and expiry delays.
* ``DistributionRule``: "when CRM event X occurs, survey S by channel C after delay D".
* ``Invitation``: one survey sent (or to be sent) to one contact, with a random token
  for its public link and a state machine changed only by
  ``surveys.services.invitations.invitation_transition``; ``InvitationEvent`` is its
  timeline.
* ``SuppressedSend``: every send that was skipped or deferred, with its reason, so
  "why was this customer not surveyed?" has an answer.

Imported at the end of ``surveys.models``; the tables belong to the ``surveys`` app.
"""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel

DEFAULT_REMINDER_AFTER = timedelta(days=3)
DEFAULT_EXPIRES_AFTER = timedelta(days=14)


class InvitationChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class RuleChannel(models.TextChoices):
    PREFERRED = "preferred", _("Preferred reachable channel")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    OPENED = "opened", _("opened")
    ANSWERED = "answered", _("answered")
    BOUNCED = "bounced", _("bounced")
    FAILED = "failed", _("failed")
    SUPPRESSED = "suppressed", _("suppressed")
    EXPIRED = "expired", _("expired")


# Invitations a customer may still answer (reminders and expiry look at these).
OPEN_STATUSES = (InvitationStatus.SENT, InvitationStatus.DELIVERED, InvitationStatus.OPENED)
# Invitations that use up the contact budget.
BUDGET_STATUSES = (
    InvitationStatus.SCHEDULED,
    *OPEN_STATUSES,
    InvitationStatus.ANSWERED,
    InvitationStatus.EXPIRED,
)


class InvitationTrigger(models.TextChoices):
    RULE = "rule", _("Distribution rule")
    MANUAL = "manual", _("Manual send")
    RECURRING = "recurring", _("Recurring survey")
    API = "api", _("API")


class SuppressionReason(models.TextChoices):
    FREQUENCY = "frequency", _("Contact budget (frequency)")
    OPT_OUT = "opt_out", _("Opted out")
    NO_CONSENT = "no_consent", _("No consent")
    QUIET_HOURS = "quiet_hours", _("SMS quiet hours")
    UNREACHABLE = "unreachable", _("Unreachable")
    DUPLICATE = "duplicate", _("Already invited")


# Reasons that only concern timing: a rule may defer such a send instead of dropping it.
TIMING_REASONS = (SuppressionReason.FREQUENCY, SuppressionReason.QUIET_HOURS)


class DistributionSettings(TenantModel):
    """The organization's distribution policy. One row per organization."""

    min_days_between_invitations = models.PositiveIntegerField(
        _("minimum days between invitations"),
        default=30,
        help_text=_(
            "At most one invitation per contact within this many days, across email, "
            "SMS and the website widget. 0 turns the budget off."
        ),
    )
    require_explicit_email_consent = models.BooleanField(
        _("require explicit email consent"),
        default=False,
        help_text=_(
            "On: email only to contacts who granted consent. Off: also to contacts "
            "without a recorded decision. SMS always needs a grant."
        ),
    )
    quiet_hours_start = models.TimeField(_("SMS quiet hours start"), default=time(20, 0))
    quiet_hours_end = models.TimeField(_("SMS quiet hours end"), default=time(9, 0))
    quiet_on_sundays = models.BooleanField(_("no SMS on Sundays"), default=True)
    reminder_after = models.DurationField(
        _("reminder after"),
        default=DEFAULT_REMINDER_AFTER,
        help_text=_("One reminder this long after the invitation if not answered."),
    )
    expires_after = models.DurationField(
        _("expires after"),
        default=DEFAULT_EXPIRES_AFTER,
        help_text=_("The survey link stops working this long after sending."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="distributionsettings_one")
        ]
        verbose_name = _("distribution settings")
        verbose_name_plural = _("distribution settings")

    def __str__(self) -> str:
        return str(_("Distribution settings"))


class DistributionRule(TenantModel):
    name = models.CharField(_("name"), max_length=200)
    event_type = models.SlugField(
        _("CRM event"), max_length=100, help_text=_("For example order_completed.")
    )
    survey = models.ForeignKey(
        "surveys.Survey",
        verbose_name=_("survey"),
        on_delete=models.CASCADE,
        related_name="distribution_rules",
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=RuleChannel.choices, default=RuleChannel.PREFERRED
    )
    delay = models.DurationField(_("delay"), default=timedelta(hours=2))
    conditions = models.JSONField(
        _("conditions"),
        default=dict,
        blank=True,
        help_text=_("Contact attributes that must match (key = value)."),
    )
    survey_min_days = models.PositiveIntegerField(
        _("minimum days between this survey"),
        default=0,
        help_text=_("This survey at most once per contact within this many days (0: no limit)."),
    )
    reminder_after = models.DurationField(
        _("reminder after"),
        null=True,
        blank=True,
        help_text=_("Empty: the organization's setting."),
    )
    defer_when_blocked = models.BooleanField(
        _("defer when blocked by timing"),
        default=True,
        help_text=_(
            "A send blocked by quiet hours or the contact budget waits for the next "
            "allowed moment instead of being dropped."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="distributionrule_name")
        ]
        indexes = [
            models.Index(
                fields=["organization", "event_type", "is_active"], name="distributionrule_event"
            )
        ]
        ordering = ["name", "id"]
        verbose_name = _("distribution rule")
        verbose_name_plural = _("distribution rules")

    def __str__(self) -> str:
        return self.name


class RecurringSchedule(TenantModel):
    """A relationship survey every N months per contact, spread evenly over working days
    and hours in each contact's time zone (planned by a beat task, a day ahead)."""

    name = models.CharField(_("name"), max_length=200)
    survey = models.ForeignKey(
        "surveys.Survey",
        verbose_name=_("survey"),
        on_delete=models.CASCADE,
        related_name="recurring_schedules",
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=RuleChannel.choices, default=RuleChannel.PREFERRED
    )
    interval_months = models.PositiveIntegerField(_("every (months)"), default=6)
    conditions = models.JSONField(
        _("conditions"),
        default=dict,
        blank=True,
        help_text=_("Contact attributes that must match (key = value)."),
    )
    window_start = models.TimeField(_("working hours start"), default=time(9, 0))
    window_end = models.TimeField(_("working hours end"), default=time(17, 0))
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("first period starts"), default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="recurringschedule_name"),
            models.CheckConstraint(
                condition=Q(interval_months__gte=1), name="recurringschedule_interval_min"
            ),
            models.CheckConstraint(
                condition=Q(window_start__lt=models.F("window_end")),
                name="recurringschedule_window",
            ),
        ]
        ordering = ["name", "id"]
        verbose_name = _("recurring survey")
        verbose_name_plural = _("recurring surveys")

    def __str__(self) -> str:
        return self.name


class Invitation(TenantModel):
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    survey = models.ForeignKey(
        "surveys.Survey", verbose_name=_("survey"), on_delete=models.CASCADE, related_name="+"
    )
    survey_version = models.ForeignKey(
        "surveys.SurveyVersion",
        verbose_name=_("survey version"),
        on_delete=models.PROTECT,
        related_name="invitations",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=InvitationChannel.choices)
    # 192 random bits (secrets.token_urlsafe(24)); looked up before the organization is
    # known, through surveys.selectors.invitation_by_token only.
    token = models.CharField(max_length=64, editable=False)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=InvitationStatus.choices,
        default=InvitationStatus.SCHEDULED,
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=InvitationTrigger.choices)
    rule = models.ForeignKey(
        DistributionRule,
        verbose_name=_("rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations",
    )
    event_type = models.CharField(_("CRM event"), max_length=100, blank=True)
    recurring = models.ForeignKey(
        RecurringSchedule,
        verbose_name=_("recurring survey"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations",
    )
    send_at = models.DateTimeField(_("send at"))
    sending_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=40, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    reminder_after = models.DurationField(default=DEFAULT_REMINDER_AFTER)
    reminder_due_at = models.DateTimeField(_("reminder due"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    expires_after = models.DurationField(default=DEFAULT_EXPIRES_AFTER)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "token"], name="invitation_token"),
        ]
        indexes = [
            # The public link: the token alone (the organization is not known yet).
            models.Index(fields=["token"], name="invitation_token_lookup"),
            # Beat sweeps across all organizations: partial indexes on the due times.
            models.Index(
                fields=["send_at"],
                condition=Q(status="scheduled"),
                name="invitation_due",
            ),
            models.Index(
                fields=["reminder_due_at"],
                condition=Q(status__in=["sent", "delivered", "opened"], reminder_sent_at=None),
                name="invitation_reminder_due",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["sent", "delivered", "opened"]),
                name="invitation_expiry_due",
            ),
            # Provider webhooks find the invitation by the provider's message id.
            models.Index(fields=["provider_message_id"], name="invitation_provider_msg"),
            # The contact budget and the contact's history.
            models.Index(fields=["organization", "contact", "-send_at"], name="invitation_contact"),
            models.Index(
                fields=["organization", "status", "-created_at"], name="invitation_org_status"
            ),
            # Response rates of the dashboard: the invitations sent in a period.
            models.Index(
                fields=["organization", "sent_at"],
                condition=Q(sent_at__isnull=False),
                name="invitation_sent",
            ),
            models.Index(
                fields=["organization", "recurring", "contact", "-send_at"],
                name="invitation_recurring",
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"


class InvitationEvent(TenantModel):
    """One status change of an invitation. Written by the transition service only."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(
        _("from"), max_length=12, choices=InvitationStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=12, choices=InvitationStatus.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    provider_data = models.JSONField(_("provider data"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "invitation", "at"], name="invitationevent_inv")
        ]
        ordering = ["at", "id"]
        verbose_name = _("invitation event")
        verbose_name_plural = _("invitation events")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class SuppressedSend(TenantModel):
    """A send that was skipped (or deferred) and why."""

    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="suppressed_sends",
    )
    survey = models.ForeignKey(
        "surveys.Survey", verbose_name=_("survey"), on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=InvitationChannel.choices, blank=True
    )
    reason = models.CharField(_("reason"), max_length=12, choices=SuppressionReason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=InvitationTrigger.choices)
    rule = models.ForeignKey(
        DistributionRule,
        verbose_name=_("rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    event_type = models.CharField(_("CRM event"), max_length=100, blank=True)
    recurring = models.ForeignKey(
        RecurringSchedule,
        verbose_name=_("recurring survey"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="suppressed_sends",
    )
    deferred_until = models.DateTimeField(_("deferred until"), null=True, blank=True)
    invitation = models.ForeignKey(
        Invitation,
        verbose_name=_("deferred invitation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "contact", "-created_at"], name="suppressedsend_contact"
            ),
            models.Index(fields=["organization", "-created_at"], name="suppressedsend_org"),
            models.Index(
                fields=["organization", "recurring", "contact", "-created_at"],
                name="suppressedsend_recurring",
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("suppressed send")
        verbose_name_plural = _("suppressed sends")

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.created_at:%Y-%m-%d})"

    @property
    def is_deferred(self) -> bool:
        return self.deferred_until is not None
