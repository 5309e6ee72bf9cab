"""The closed loop: routing rules turn responses into cases; cases have owners, SLAs,
escalations, a timeline, messages to and from the customer, and a follow-up survey that
shows whether the customer was recovered.

* ``RoutingRule``: ordered per organization; the first enabled rule whose conditions
  match a response decides (open a case with a priority, an SLA policy and an
  assignee, or open none).
* ``SlaPolicy`` with its ``EscalationStep`` ladder, and ``BusinessHours`` (one per
  organization) that policies may count in.
* ``Case``: the work item. Status changes only in ``closedloop.services.cases``
  (transition table there). SLA due times are columns; ``next_escalation_at`` is when
  the sweep must look at the case next (NULL when nothing is pending), under a partial
  index of open cases.
* ``CaseResponse`` links responses to cases, unique per response: routing opens or
  joins at most one case per response, however often it runs.
* ``CaseEvent`` is the timeline and the audit trail of a case.
* ``CaseEscalation`` records each fired escalation step (and each SLA breach) once per
  case: the unique constraint makes "exactly once" hold with any number of sweeps.
* ``Notification``: in-app notifications of users, also sent by email.
* ``RootCause`` taxonomy, ``MessageTemplate`` (replies to customers),
  ``CaseMessage`` (outbound and inbound email/SMS of a case), ``CaseFollowUp``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel


def new_case_token() -> str:
    """The case's reply token (email reply address) and follow-up link token."""
    return secrets.token_urlsafe(18)


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_CASE_STATUSES = (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING)


class BusinessHours(TenantModel):
    """When the organization works; SLA policies may count only these hours."""

    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Berlin")
    # ISO weekdays (1 = Monday ... 7 = Sunday).
    weekdays = models.JSONField(_("working days"), default=list)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))
    # ISO dates ("2026-12-25") on which nobody works.
    holidays = models.JSONField(_("holidays"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="businesshours_one_per_org"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="businesshours_order"
            ),
        ]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"{self.opens_at:%H:%M}-{self.closes_at:%H:%M} {self.timezone}"


class SlaPolicy(TenantModel):
    name = models.CharField(_("name"), max_length=120)
    first_response_minutes = models.PositiveIntegerField(
        _("first contact within (minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))
    business_hours_only = models.BooleanField(
        _("count business hours only"),
        default=False,
        help_text=_("The clock runs only during the organization's business hours."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="slapolicy_unique_name"),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gt=0), name="slapolicy_resolution_positive"
            ),
        ]
        ordering = ["resolution_minutes", "name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First contact")
    RESOLUTION = "resolution", _("Resolution")


class EscalationAction(models.TextChoices):
    REMIND_OWNER = "remind_owner", _("Remind the owner")
    NOTIFY_TEAM_LEAD = "notify_team_lead", _("Notify the team lead")
    NOTIFY_MANAGERS = "notify_managers", _("Notify the managers")
    REASSIGN_TEAM_LEAD = "reassign_team_lead", _("Reassign to the team lead")


class EscalationStep(TenantModel):
    """One rung of a policy's ladder: at ``at_percent`` of a target's time (100 = the
    due time), or ``after_due_minutes`` past the due time, do ``action``."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="steps")
    target = models.CharField(_("target"), max_length=20, choices=SlaTarget.choices)
    at_percent = models.PositiveSmallIntegerField(
        _("at this percentage of the time"), null=True, blank=True
    )
    after_due_minutes = models.PositiveIntegerField(
        _("minutes after the due time"), null=True, blank=True
    )
    action = models.CharField(_("action"), max_length=24, choices=EscalationAction.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(at_percent__isnull=False, after_due_minutes__isnull=True)
                    | Q(at_percent__isnull=True, after_due_minutes__isnull=False)
                ),
                name="escalationstep_one_trigger",
            ),
        ]
        ordering = ["policy", "target", "at_percent", "after_due_minutes", "id"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")

    def __str__(self) -> str:
        when = (
            f"{self.at_percent} %"
            if self.at_percent is not None
            else f"+{self.after_due_minutes} min"
        )
        return f"{self.target} {when}: {self.action}"


class AssignMode(models.TextChoices):
    NOBODY = "nobody", _("Leave unassigned")
    USER = "user", _("A user")
    TEAM_ROUND_ROBIN = "team_round_robin", _("A team (round robin)")
    TEAM_LEAST_OPEN = "team_least_open", _("A team (fewest open cases)")
    ACCOUNT_OWNER = "account_owner", _("The contact's account owner")
    TOUCHPOINT_TEAM = "touchpoint_team", _("The touchpoint's team")


class RoutingRule(TenantModel):
    """Ordered; the first enabled rule whose conditions all match decides.

    ``conditions`` is a list of ``{"field": ..., "op": ..., "value": ...}``
    (``closedloop.routing`` documents fields and operators).
    """

    position = models.PositiveIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=120)
    enabled = models.BooleanField(_("enabled"), default=True)
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    open_case = models.BooleanField(
        _("open a case"),
        default=True,
        help_text=_("Off: matching responses open no case (later rules are not asked)."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    sla_policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assign_mode = models.CharField(
        _("assign to"),
        max_length=20,
        choices=AssignMode.choices,
        default=AssignMode.TOUCHPOINT_TEAM,
    )
    assign_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    assign_team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    account_owner_attribute = models.CharField(
        _("CRM attribute naming the account owner"),
        max_length=100,
        blank=True,
        help_text=_("Holds the owner's email address, e.g. account_owner."),
    )
    # Round robin: the last user picked from ``assign_team`` by this rule.
    last_assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "position"], name="routingrule_order")]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class RootCause(TenantModel):
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="rootcause_unique_name")
        ]
        ordering = ["name"]
        verbose_name = _("root cause")
        verbose_name_plural = _("root causes")

    def __str__(self) -> str:
        return self.name


class Case(TenantModel):
    number = models.PositiveIntegerField(_("number"), editable=False)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    impact = models.FloatField(_("impact"), default=0)
    response = models.ForeignKey(
        "responses.Response",
        verbose_name=_("response"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
    )
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint",
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    journey = models.ForeignKey(
        "surveys.Journey", verbose_name=_("journey"), on_delete=models.PROTECT, related_name="+"
    )
    rule = models.ForeignKey(
        RoutingRule,
        verbose_name=_("routing rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sla_policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(
        "tenants.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    root_causes = models.ManyToManyField(
        RootCause, verbose_name=_("root causes"), through="CaseRootCause", blank=True
    )
    resolution_summary = models.TextField(_("resolution summary"), blank=True)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    first_responded_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # SLA clock: time spent waiting on the customer does not count.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_minutes = models.PositiveIntegerField(default=0)
    first_response_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # The customer wrote back and the owner has not looked yet.
    customer_replied_at = models.DateTimeField(_("customer replied"), null=True, blank=True)
    token = models.CharField(max_length=40, default=new_case_token, editable=False)
    # Follow-up survey outcome: None = not asked or not answered.
    recovered = models.BooleanField(_("recovered"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="case_unique_number"),
            models.UniqueConstraint(fields=["organization", "token"], name="case_unique_token"),
            # A contact has at most one open case: new feedback joins it.
            models.UniqueConstraint(
                fields=["organization", "contact"],
                condition=Q(status__in=["new", "in_progress", "waiting"], contact__isnull=False),
                name="case_one_open_per_contact",
            ),
        ]
        indexes = [
            # The escalation sweep over all organizations: only open cases with a step due.
            models.Index(
                fields=["next_escalation_at"],
                condition=Q(next_escalation_at__isnull=False),
                name="case_escalation_due",
            ),
            models.Index(fields=["organization", "status", "resolution_due_at"], name="case_inbox"),
            models.Index(fields=["organization", "owner", "status"], name="case_owner"),
            models.Index(fields=["organization", "team", "status"], name="case_team"),
            models.Index(fields=["organization", "contact"], name="case_contact"),
            models.Index(fields=["organization", "-created_at"], name="case_recent"),
            models.Index(fields=["token"], name="case_token_lookup"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES


class CaseRootCause(TenantModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    root_cause = models.ForeignKey(RootCause, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "case", "root_cause"], name="caserootcause_unique"
            )
        ]
        verbose_name = _("root cause of a case")
        verbose_name_plural = _("root causes of cases")

    def __str__(self) -> str:
        return f"{self.case_id}: {self.root_cause_id}"


class CaseResponse(TenantModel):
    """A response that opened or joined a case: at most one case per response."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_responses")
    response = models.ForeignKey("responses.Response", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "response"], name="caseresponse_one_per_response"
            )
        ]
        indexes = [models.Index(fields=["organization", "case"], name="caseresponse_case")]
        verbose_name = _("response of a case")
        verbose_name_plural = _("responses of cases")

    def __str__(self) -> str:
        return f"{self.response_id} -> {self.case_id}"


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Case opened")
    RESPONSE_JOINED = "response_joined", _("Further feedback")
    STATUS = "status", _("Status changed")
    PRIORITY = "priority", _("Priority changed")
    ASSIGNED = "assigned", _("Assigned")
    NOTE = "note", _("Note")
    CONTACT_ATTEMPT = "contact_attempt", _("Contact attempt")
    MESSAGE_OUT = "message_out", _("Message to the customer")
    MESSAGE_IN = "message_in", _("Message from the customer")
    MESSAGE_FAILED = "message_failed", _("Message not delivered")
    ESCALATION = "escalation", _("Escalation")
    SLA_BREACHED = "sla_breached", _("SLA breached")
    ROOT_CAUSES = "root_causes", _("Root causes")
    FOLLOW_UP_SENT = "follow_up_sent", _("Follow-up survey sent")
    FOLLOW_UP_ANSWERED = "follow_up_answered", _("Follow-up survey answered")


class CaseEvent(TenantModel):
    """One entry of a case's timeline; written by services, never edited."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=24, choices=CaseEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "case", "created_at"], name="caseevent_timeline")
        ]
        ordering = ["created_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class CaseEscalation(TenantModel):
    """A fired escalation step or SLA breach: ``key`` is ``step:<id>`` or
    ``breach:<target>``, unique per case, so each fires exactly once."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations")
    key = models.CharField(max_length=40)
    step = models.ForeignKey(
        EscalationStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "case", "key"], name="caseescalation_once"
            )
        ]
        verbose_name = _("case escalation")
        verbose_name_plural = _("case escalations")

    def __str__(self) -> str:
        return f"{self.case_id} {self.key}"


class Notification(TenantModel):
    """Something a user should know, shown in the app and sent by email."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Email: pending until sent; a claimed send that never finished is not repeated.
    email_pending = models.BooleanField(default=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "user", "-created_at"], name="notification_user"),
            models.Index(
                fields=["created_at"],
                condition=Q(email_pending=True),
                name="notification_email_due",
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class MessageTemplate(TenantModel):
    """A reply to customers; ``subject`` and ``body`` map a language to its text, with
    placeholders such as {first_name} (``closedloop.messages``)."""

    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=8, choices=MessageChannel.choices)
    subject = models.JSONField(_("subject"), default=dict, blank=True)
    body = models.JSONField(_("text"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name", "channel"], name="messagetemplate_unique_name"
            )
        ]
        ordering = ["name", "channel"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return self.name


class MessageDirection(models.TextChoices):
    OUT = "out", _("to the customer")
    IN = "in", _("from the customer")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    RECEIVED = "received", _("Received")


class CaseMessage(TenantModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=MessageDirection.choices)
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    to_address = models.CharField(max_length=254, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    language = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Follow-up survey invitations are messages too.
    is_follow_up = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=40, blank=True)
    # Provider message id (outbound) or the provider's id of an inbound message.
    external_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel", "external_id"],
                condition=Q(direction="in") & ~Q(external_id=""),
                name="casemessage_inbound_once",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "case", "created_at"], name="casemessage_case"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="casemessage_due",
            ),
            # Inbound SMS: the case that last texted a number (across organizations).
            models.Index(
                fields=["channel", "to_address", "-created_at"],
                condition=Q(direction="out"),
                name="casemessage_recipient",
            ),
        ]
        ordering = ["created_at", "id"]
        verbose_name = _("case message")
        verbose_name_plural = _("case messages")

    def __str__(self) -> str:
        return f"{self.case_id} {self.direction} {self.channel}"


class CaseFollowUp(TenantModel):
    """The follow-up survey of a resolved case: was the concern resolved, and the NPS
    question again. Answered once, on the public page ``/f/<token>/``."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="follow_up")
    token = models.CharField(max_length=40, default=new_case_token, editable=False)
    language = models.CharField(max_length=8)
    sent_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    concern_resolved = models.BooleanField(null=True, blank=True)
    nps = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "token"], name="casefollowup_token"),
            models.CheckConstraint(
                condition=Q(nps__isnull=True) | Q(nps__lte=10), name="casefollowup_nps_range"
            ),
        ]
        indexes = [models.Index(fields=["token"], name="casefollowup_token_lookup")]
        verbose_name = _("follow-up survey")
        verbose_name_plural = _("follow-up surveys")

    def __str__(self) -> str:
        return f"follow-up of {self.case_id}"
