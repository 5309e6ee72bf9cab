"""Organizations (tenants), who belongs to them, and the tenant-scoped base model.

``Organization`` is the tenant itself and is not tenant-scoped. Every other table here
subclasses ``TenantModel``: it carries ``organization_id``, its default manager filters
by the current organization and raises without one, and on PostgreSQL row-level
security enforces the same rule below the ORM.
"""

from __future__ import annotations

import hashlib
import hmac
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.context import TenantContextMissing, current_state, require_organization_id


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


class Organization(models.Model):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    brand_colour = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#1f5f8b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f5f8b."))],
    )
    logo = models.BinaryField(_("logo"), null=True, blank=True, editable=False)
    logo_content_type = models.CharField(max_length=32, blank=True, editable=False)
    logo_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # GDPR retention (docs/privacy.md): personal data of contacts and customers' free text
    # older than this many months is anonymised nightly; scores and aggregates stay.
    retention_months = models.PositiveSmallIntegerField(
        _("keep personal data for (months)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text=_(
            "Contacts without activity and customers' free text older than this are "
            "anonymised every night; scores and reports stay. Empty: keep until erased."
        ),
    )
    # Sign-in policy (docs/authentication.md). Members must have an authenticator app before
    # they can open the organization's pages; SSO sign-ins count as the IdP's business.
    require_two_factor = models.BooleanField(
        _("require two-factor authentication"),
        default=False,
        help_text=_(
            "Members who sign in with a password must set up an authenticator app before "
            "they can work in this organization."
        ),
    )
    # OpenID Connect single sign-on with the organization's identity provider.
    sso_enabled = models.BooleanField(_("single sign-on enabled"), default=False)
    sso_issuer = models.URLField(
        _("issuer URL"),
        blank=True,
        help_text=_(
            "The OpenID Connect issuer, e.g. https://login.example.com/realms/acme. Its "
            "/.well-known/openid-configuration must be reachable from this server."
        ),
    )
    sso_client_id = models.CharField(_("client ID"), max_length=255, blank=True)
    sso_client_secret = models.CharField(_("client secret"), max_length=255, blank=True)
    sso_email_domains = models.CharField(
        _("email domains"),
        max_length=500,
        blank=True,
        help_text=_(
            "Comma-separated domains, e.g. example.com. Only addresses in these domains "
            "may sign in through the identity provider."
        ),
    )
    sso_default_role = models.CharField(
        _("role of new members"),
        max_length=20,
        choices=[
            ("cx_manager", _("CX manager")),
            ("owner", _("Case owner")),
            ("viewer", _("Viewer")),
        ],
        default="viewer",
        help_text=_("People who sign in for the first time join with this role."),
    )
    sso_enforced = models.BooleanField(
        _("require single sign-on"),
        default=False,
        help_text=_(
            "Members other than administrators cannot sign in with a password; "
            "administrators keep it so a broken identity provider cannot lock everyone out."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name

    @property
    def sso_domains(self) -> list[str]:
        return [d.strip().lower() for d in self.sso_email_domains.split(",") if d.strip()]

    @property
    def sso_provider_id(self) -> str:
        """The allauth sub-provider id; it names the IdP in SocialAccount rows."""
        return f"org-{self.slug}"


class CrossTenantWrite(RuntimeError):
    """A row of one organization was written inside another organization's context."""


class TenantQuerySet(models.QuerySet[Any]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        for obj in objs:
            obj.stamp_organization()
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager[Any]):
    """Filters by the current organization; raises when none is set (fail closed)."""

    _queryset_class = TenantQuerySet

    def get_queryset(self) -> TenantQuerySet:
        state = current_state()
        queryset = TenantQuerySet(self.model, using=self._db)
        if state.cross_tenant:
            return queryset
        if state.organization_id is None:
            raise TenantContextMissing(
                f"{self.model.__name__} is tenant-owned: query it inside "
                "tenant_context(org), or cross_tenant(reason=...) on purpose."
            )
        return queryset.filter(organization_id=state.organization_id)


class TenantModel(models.Model):
    """Base of every tenant-owned table."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.stamp_organization()
        super().save(*args, **kwargs)

    def stamp_organization(self) -> None:
        """Take the organization from the context; refuse to write into another one."""
        state = current_state()
        if self.organization_id is None:
            self.organization_id = require_organization_id()
        elif not state.cross_tenant and self.organization_id != state.organization_id:
            raise CrossTenantWrite(
                f"{type(self).__name__} of organization {self.organization_id} written "
                f"in the context of organization {state.organization_id}."
            )


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    CX_MANAGER = "cx_manager", _("CX manager")
    OWNER = "owner", _("Case owner")
    VIEWER = "viewer", _("Viewer")


class Membership(TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")
        ]
        ordering = ["user__email"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class Team(TenantModel):
    name = models.CharField(_("name"), max_length=120)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="teams", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="team_unique_name")
        ]
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class TeamMember(TenantModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "team", "user"], name="teammember_unique_user"
            )
        ]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


API_KEY_PREFIX = "fbk"


def hash_api_key_secret(secret: str) -> str:
    # Secrets carry 256 random bits: a plain SHA-256 is enough, no password stretching,
    # and rotating SECRET_KEY does not invalidate the CRM's keys.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "prefix"], name="apikey_unique_prefix")
        ]
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        return f"{API_KEY_PREFIX}_{self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.hashed_secret, hash_api_key_secret(secret))


class AuditLog(TenantModel):
    """Who did what to which object, and when. Written by services, never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="auditlog_org_created"),
            # The history of one object (e.g. a contact's page).
            models.Index(
                fields=["organization", "object_type", "object_id"], name="auditlog_org_object"
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type} {self.object_repr}"


class IdempotencyKey(TenantModel):
    """One ``Idempotency-Key`` of an API key: the first request's answer, replayed to
    every retry with the same key, so a POST sent twice has one effect.

    The row is inserted in the same transaction as the request's own writes: a
    concurrent retry waits on the unique constraint and then replays the answer; a
    request that fails with a server error rolls the row back, so the client may retry.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "api_key", "key"], name="idempotency_unique_key"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
