"""Django admin for contacts: narrowed to the staff user's organizations by TenantAdmin.

Contacts and imports change through the product's services; the consent ledger is
append-only, so it is read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from contacts.models import ConsentEvent, Contact, ContactImport
from tenants.admin import TenantAdmin


@admin.register(Contact)
class ContactAdmin(TenantAdmin):
    list_display = ("crm_id", "first_name", "last_name", "email", "phone", "organization")
    search_fields = ("crm_id", "email", "last_name", "phone")
    readonly_fields = ("last_surveyed_at", "created_at", "updated_at")


@admin.register(ConsentEvent)
class ConsentEventAdmin(TenantAdmin):
    list_display = ("occurred_at", "contact", "channel", "action", "source", "organization")
    list_filter = ("organization", "channel", "action", "source")
    list_select_related = ("contact", "organization")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContactImport)
class ContactImportAdmin(TenantAdmin):
    list_display = (
        "created_at",
        "file_name",
        "status",
        "created_count",
        "updated_count",
        "failed_count",
        "organization",
    )
    list_filter = ("organization", "status")
    exclude = ("source",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
