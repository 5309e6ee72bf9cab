"""Writes for organizations, memberships, teams and API keys.

Each service runs in one transaction inside the caller's organization context and
records what it did in the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.context import tenant_context
from tenants.models import (
    API_KEY_PREFIX,
    ApiKey,
    AuditLog,
    Membership,
    Organization,
    Role,
    Team,
    TeamMember,
    hash_api_key_secret,
)
from tenants.permissions import API_SCOPES

LOGO_MAX_BYTES = 256 * 1024
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a write: a user, an API key, or the system (beat, import)."""

    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    label: str = "system"

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(user=user, label=user.get_username())

    @classmethod
    def of_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(api_key=api_key, label=f"API key {api_key.display_prefix}")


SYSTEM = Actor()


def audit_log_record(
    *,
    actor: Actor,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry for ``obj`` in the current organization.

    ``changes`` maps a field to ``[old, new]`` (``old`` is None for a new value).
    """
    return AuditLog.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:200],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:200],
        changes=changes or {},
    )


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | list) else str(value)


def _diff(instance: Any, fields: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        if old != value:
            changes[name] = [_plain(old), _plain(value)]
            setattr(instance, name, value)
    return changes


# --- Organizations ------------------------------------------------------------------


def organization_create(
    *, slug: str, name: str, admin: AbstractBaseUser, **profile: Any
) -> Organization:
    """Create an organization with ``admin`` as its first administrator."""
    organization = Organization(slug=slug, name=name, **profile)
    organization.full_clean()
    with transaction.atomic():
        organization.save()
        with tenant_context(organization):
            membership = Membership.objects.create(user=admin, role=Role.ADMIN)
            actor = Actor.of_user(admin)
            audit_log_record(actor=actor, action="organization.create", obj=organization)
            audit_log_record(
                actor=actor,
                action="membership.create",
                obj=membership,
                changes={"role": [None, "admin"]},
            )
    return organization


def organization_update(*, organization: Organization, actor: Actor, **fields: Any) -> Organization:
    allowed = {"name", "timezone", "default_language", "brand_colour", "retention_months"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    changes = _diff(organization, fields)
    organization.full_clean()
    if changes:
        with transaction.atomic():
            organization.save(update_fields=[*changes])
            audit_log_record(
                actor=actor, action="organization.update", obj=organization, changes=changes
            )
    return organization


SIGN_IN_POLICY_FIELDS = (
    "require_two_factor",
    "sso_enabled",
    "sso_issuer",
    "sso_client_id",
    "sso_client_secret",
    "sso_email_domains",
    "sso_default_role",
    "sso_enforced",
)


def organization_sign_in_policy_update(
    *, organization: Organization, actor: Actor, **fields: Any
) -> Organization:
    """Two-factor requirement and single sign-on settings (administrators only).

    The client secret is audited as changed, never with its value.
    """
    unknown = set(fields) - set(SIGN_IN_POLICY_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    if fields.get("sso_client_secret") == "":
        fields.pop("sso_client_secret")  # blank keeps the stored secret
    changes = _diff(organization, fields)
    organization.full_clean()
    if changes:
        audited = {
            key: (["***", "***"] if key == "sso_client_secret" else value)
            for key, value in changes.items()
        }
        with transaction.atomic():
            organization.save(update_fields=[*changes])
            audit_log_record(
                actor=actor, action="organization.sign_in_policy", obj=organization, changes=audited
            )
    return organization


def organization_logo_set(
    *, organization: Organization, actor: Actor, data: bytes | None
) -> Organization:
    """Store (or remove, with ``data=None``) the logo shown on survey pages and emails."""
    if data is None:
        organization.logo, organization.logo_content_type = None, ""
    else:
        organization.logo_content_type = _logo_content_type(data)
        organization.logo = data
    organization.logo_updated_at = timezone.now()
    with transaction.atomic():
        organization.save(update_fields=["logo", "logo_content_type", "logo_updated_at"])
        audit_log_record(
            actor=actor,
            action="organization.logo_remove" if data is None else "organization.logo_set",
            obj=organization,
        )
    return organization


def _logo_content_type(data: bytes) -> str:
    from PIL import Image, UnidentifiedImageError

    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(_("The logo must be at most 256 KB."), code="too_large")
    try:
        import io

        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError(_("The logo is not a readable image."), code="invalid") from exc
    if image_format not in LOGO_FORMATS:
        raise ValidationError(_("Use a PNG, JPEG or WebP image."), code="format")
    return LOGO_FORMATS[image_format]


# --- Memberships --------------------------------------------------------------------


def membership_add(
    *, actor: Actor, email: str, role: str, name: str = "", password: str | None = None
) -> Membership:
    """Add a person to the current organization, creating their user account if needed.

    A new account without a password cannot sign in until a password is set.
    """
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    email = get_user_model().objects.normalize_email(email).strip().lower()
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(email__iexact=email).first()
        if user is None:
            user = user_model(username=email, email=email, first_name=name[:150])
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
        if Membership.objects.filter(user=user).exists():
            raise ValidationError({"email": _("This person is already a member.")})
        membership = Membership.objects.create(user=user, role=role)
        audit_log_record(
            actor=actor, action="membership.create", obj=membership, changes={"role": [None, role]}
        )
    return membership


def membership_provision(*, organization: Organization, user: AbstractBaseUser) -> Membership:
    """Make a person who signed in through the organization's IdP a member (idempotent).

    The identity provider decides who belongs: a first sign-in joins with the
    organization's default role; an existing membership keeps its role.
    """
    with tenant_context(organization), transaction.atomic():
        membership = Membership.objects.filter(user=user).first()
        if membership is not None:
            return membership
        membership = Membership.objects.create(user=user, role=organization.sso_default_role)
        audit_log_record(
            actor=Actor(label="single sign-on"),
            action="membership.provision",
            obj=membership,
            changes={"role": [None, membership.role]},
        )
    return membership


def _ensure_an_admin_remains(membership: Membership) -> None:
    others = Membership.objects.filter(role=Role.ADMIN).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise ValidationError(_("An organization needs at least one administrator."))


def membership_change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if role != Role.ADMIN:
            _ensure_an_admin_remains(membership)
        changes = _diff(membership, {"role": role})
        if changes:
            membership.save(update_fields=["role"])
            audit_log_record(
                actor=actor, action="membership.change_role", obj=membership, changes=changes
            )
    return membership


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        _ensure_an_admin_remains(membership)
        TeamMember.objects.filter(user_id=membership.user_id).delete()
        Team.objects.filter(lead_id=membership.user_id).update(lead=None)
        audit_log_record(actor=actor, action="membership.delete", obj=membership)
        membership.delete()


# --- Teams --------------------------------------------------------------------------


def _members_only(user_ids: list[int]) -> set[int]:
    found = set(Membership.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    missing = set(user_ids) - found
    if missing:
        raise ValidationError(_("Only members of this organization can join a team."))
    return found


def team_save(
    *,
    actor: Actor,
    name: str,
    lead_id: int | None,
    member_ids: list[int],
    team: Team | None = None,
) -> Team:
    """Create a team, or update its name, lead and members."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A team needs a name.")})
    wanted = _members_only(list({*member_ids, *([lead_id] if lead_id else [])}))
    with transaction.atomic():
        duplicate = Team.objects.filter(name__iexact=name)
        if team is not None:
            duplicate = duplicate.exclude(pk=team.pk)
        if duplicate.exists():
            raise ValidationError({"name": _("A team with this name already exists.")})
        creating = team is None
        if team is None:
            team = Team.objects.create(name=name, lead_id=lead_id)
            changes: dict[str, Any] = {"name": [None, name]}
            if lead_id:
                changes["lead"] = [None, _user_email(lead_id)]
        else:
            team = Team.objects.select_for_update().get(pk=team.pk)
            old_lead = team.lead.email if team.lead else None
            changes = _diff(team, {"name": name, "lead_id": lead_id})
            if changes.pop("lead_id", None):
                new_lead = _user_email(lead_id)
                changes["lead"] = [old_lead, new_lead]
            team.save()
        current = set(team.team_members.values_list("user_id", flat=True))
        if current != wanted:
            team.team_members.filter(user_id__in=current - wanted).delete()
            TeamMember.objects.bulk_create(
                [TeamMember(team=team, user_id=user_id) for user_id in wanted - current]
            )
            changes["members"] = [_user_emails(current), _user_emails(wanted)]
        if changes or creating:
            audit_log_record(
                actor=actor,
                action="team.create" if creating else "team.update",
                obj=team,
                changes=changes,
            )
    return team


def _user_email(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return get_user_model().objects.filter(pk=user_id).values_list("email", flat=True).first()


def _user_emails(user_ids: set[int]) -> list[str]:
    users = get_user_model().objects.filter(pk__in=user_ids)
    return sorted(users.values_list("email", flat=True))


def team_delete(*, actor: Actor, team: Team) -> None:
    with transaction.atomic():
        audit_log_record(actor=actor, action="team.delete", obj=team)
        team.delete()


# --- API keys -----------------------------------------------------------------------


def api_key_create(*, actor: Actor, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its full secret, which is never shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name, e.g. the CRM it is for.")})
    unknown = set(scopes) - set(API_SCOPES)
    if unknown or not scopes:
        raise ValidationError({"scopes": _("Choose at least one known scope.")})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            hashed_secret=hash_api_key_secret(secret),
            scopes=sorted(set(scopes)),
            created_by=actor.user,
        )
        audit_log_record(
            actor=actor,
            action="api_key.create",
            obj=api_key,
            changes={"scopes": [None, api_key.scopes]},
        )
    return api_key, f"{API_KEY_PREFIX}_{prefix}_{secret}"


def api_key_revoke(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            audit_log_record(actor=actor, action="api_key.revoke", obj=api_key)
    return api_key
