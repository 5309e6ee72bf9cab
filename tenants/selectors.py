"""Reads for organizations, members, teams, API keys and the audit log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, QuerySet

from tenants.context import cross_tenant
from tenants.models import ApiKey, AuditLog, Membership, Organization, Team, TeamMember


def organization_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> list[Organization]:
    """Every active organization the user belongs to (for sign-in and the switcher)."""
    if not user.is_authenticated:
        return []
    with cross_tenant(reason="list the organizations a user belongs to"):
        organization_ids = Membership.objects.filter(user_id=user.pk).values("organization_id")
        return list(
            Organization.objects.filter(id__in=organization_ids, is_active=True).only(
                "slug", "name"
            )
        )


def membership_list() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("user__email")


def team_list() -> QuerySet[Team]:
    return (
        Team.objects.select_related("lead")
        .annotate(member_count=Count("team_members"))
        .prefetch_related(
            Prefetch("team_members", queryset=TeamMember.objects.select_related("user"))
        )
        .order_by("name")
    )


def team_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Team]:
    return Team.objects.filter(team_members__user=user).select_related("lead").order_by("name")


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("revoked_at", "-created_at")


def audit_log_list() -> QuerySet[AuditLog]:
    return AuditLog.objects.order_by("-created_at", "-id")
