"""Django admin for platform staff.

Admin requests cross tenants on purpose (see ``TenantMiddleware``); ``TenantAdmin``
narrows every list and lookup to the organizations the staff user is a member of.
Superusers see every organization.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.models import ApiKey, AuditLog, Membership, Organization, Team, TeamMember


def _staff_organization_ids(request: HttpRequest) -> QuerySet[Any]:
    return Membership.objects.filter(user_id=request.user.pk).values("organization_id")


class TenantAdmin(admin.ModelAdmin[Any]):
    list_filter: ClassVar[tuple[str, ...]] = ("organization",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).select_related("organization")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(organization_id__in=_staff_organization_ids(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tenant rows are created through the product's services, which write the audit
        # log and check invariants; the admin is for looking and small corrections.
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "timezone", "default_language", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active", "default_language")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(id__in=_staff_organization_ids(request))


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("organization", "role")
    search_fields = ("user__email", "user__username")
    readonly_fields = ("user",)


@admin.register(Team)
class TeamAdmin(TenantAdmin):
    list_display = ("name", "organization", "lead")
    search_fields = ("name",)
    readonly_fields = ("lead",)


@admin.register(TeamMember)
class TeamMemberAdmin(TenantAdmin):
    list_display = ("team", "user", "organization")
    readonly_fields = ("team", "user")


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ("name", "display_prefix", "organization", "last_used_at", "revoked_at")
    readonly_fields = ("scopes", "created_by", "last_used_at")
    fields = ("name", "scopes", "created_by", "last_used_at", "revoked_at")


@admin.register(AuditLog)
class AuditLogAdmin(TenantAdmin):
    list_display = ("created_at", "organization", "actor_label", "action", "object_repr")
    list_filter = ("organization", "action")
    search_fields = ("actor_label", "object_repr", "action")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
