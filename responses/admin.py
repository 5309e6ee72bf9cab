"""Django admin for platform staff: look at responses and the outbox (read-only).

Answers change only through the submit service (which scores them and writes the
outbox); the admin shows them and lets staff see why an outbox event is stuck.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from responses.models import OutboxEvent, Response
from tenants.admin import TenantAdmin


class ReadOnlyAdmin(TenantAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "survey",
        "channel",
        "status",
        "nps",
        "ces",
        "csat",
        "responded_at",
        "organization",
    )
    list_filter = ("organization", "channel", "status", "nps_group")
    search_fields = ("comment", "survey__name")
    date_hierarchy = "responded_at"
    list_select_related = ("survey", "organization")


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "topic", "created_at", "attempts", "dispatched_at", "organization")
    list_filter = ("organization", "topic")
    search_fields = ("last_error",)
