"""Contacts (the customers an organization surveys), their consent ledger and imports.

Consent is never a flag on the contact: every grant and withdrawal is an append-only
``ConsentEvent``, and the current state per channel is derived from the latest event
(see ``contacts.selectors``). That keeps the proof (who, when, through which source,
with which wording) and the state in one place that cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel, validate_timezone


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class ConsentAction(models.TextChoices):
    GRANT = "grant", _("Grant")
    WITHDRAW = "withdraw", _("Withdraw")


class ConsentSource(models.TextChoices):
    IMPORT = "import", _("Import")
    API = "api", _("API")
    REPLY_STOP = "reply_stop", _("Reply STOP")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    BOUNCE = "bounce", _("Bounce")
    COMPLAINT = "complaint", _("Complaint")
    STAFF = "staff", _("Staff")
    ERASURE = "erasure", _("Erasure (GDPR)")


class ConsentState(models.TextChoices):
    """Derived from the ledger, never stored."""

    GRANTED = "granted", _("granted")
    WITHDRAWN = "withdrawn", _("withdrawn")
    UNKNOWN = "unknown", _("unknown")


STATE_OF_ACTION = {
    ConsentAction.GRANT: ConsentState.GRANTED,
    ConsentAction.WITHDRAW: ConsentState.WITHDRAWN,
}


class Contact(TenantModel):
    crm_id = models.CharField(_("CRM id"), max_length=100)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, help_text=_("Stored in E.164, e.g. +493012345678.")
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Empty: the organization's default language."),
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text=_("Empty: the organization's time zone."),
    )
    attributes = models.JSONField(_("CRM attributes"), default=dict, blank=True)
    last_surveyed_at = models.DateTimeField(_("last surveyed"), null=True, blank=True)
    # Set once by ``contact_erase`` (GDPR): the row is a tombstone without personal data,
    # and the contact is never surveyed again.
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "crm_id"], name="contact_unique_crm_id")
        ]
        indexes = [
            models.Index(fields=["organization", "email"], name="contact_org_email"),
            models.Index(fields=["organization", "phone"], name="contact_org_phone"),
            models.Index(fields=["organization", "last_surveyed_at"], name="contact_org_surveyed"),
            models.Index(
                fields=["organization", "last_name", "first_name", "id"], name="contact_org_name"
            ),
        ]
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.full_name or self.email or self.crm_id

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class AppendOnly(RuntimeError):
    """A ledger row was changed after it was written."""


class ConsentEvent(TenantModel):
    """One grant or withdrawal of consent for one channel. Written once, never changed."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    action = models.CharField(_("action"), max_length=10, choices=ConsentAction.choices)
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    wording = models.TextField(
        _("wording"), blank=True, help_text=_("The text the customer saw when deciding.")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("recorded by"), max_length=200)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        indexes = [
            # The latest event per contact and channel: the derived consent state.
            models.Index(
                fields=["organization", "contact", "channel", "-occurred_at", "-id"],
                name="consent_latest",
            ),
        ]
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d}"
        return f"{self.get_action_display()} {self.get_channel_display()} ({when})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Consent events are append-only: record a new event instead.")
        super().save(*args, **kwargs)


class ContactImport(TenantModel):
    """One CSV upload: pending until mapped and run, then its counts and error report."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for column mapping")
        COMPLETED = "completed", _("completed")

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    file_name = models.CharField(_("file name"), max_length=255)
    # The uploaded bytes, kept only until the import has run.
    source = models.BinaryField(null=True, blank=True, editable=False)
    delimiter = models.CharField(max_length=1, default=",")
    columns = models.JSONField(_("columns"), default=list)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    consent = models.JSONField(_("consent recorded"), default=dict, blank=True)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    consent_recorded_count = models.PositiveIntegerField(_("consents recorded"), default=0)
    consent_skipped_count = models.PositiveIntegerField(_("consents skipped"), default=0)
    errors = models.JSONField(_("error report"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("imported by"), max_length=200)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="contactimport_org_created")
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("contact import")
        verbose_name_plural = _("contact imports")

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
