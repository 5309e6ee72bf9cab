"""Django admin for platform staff: look at journeys and surveys, make small corrections.

Survey versions are read-only here: the questions change only through the builder's
services, and a published version never changes at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from surveys.models import Journey, Survey, SurveyVersion, Touchpoint
from tenants.admin import TenantAdmin


@admin.register(Journey)
class JourneyAdmin(TenantAdmin):
    list_display = ("name", "organization", "updated_at")
    search_fields = ("name",)


@admin.register(Touchpoint)
class TouchpointAdmin(TenantAdmin):
    list_display = ("name", "journey", "position", "process", "team", "weight", "organization")
    list_filter = ("organization", "process")
    search_fields = ("name", "journey__name")
    readonly_fields = ("journey", "position", "team")


@admin.register(Survey)
class SurveyAdmin(TenantAdmin):
    list_display = ("name", "touchpoint", "status", "default_language", "organization")
    list_filter = ("organization", "status")
    search_fields = ("name", "touchpoint__name")
    readonly_fields = ("touchpoint", "status", "default_language", "archived_at")


@admin.register(SurveyVersion)
class SurveyVersionAdmin(TenantAdmin):
    list_display = ("survey", "number", "published_at", "published_by", "organization")
    list_filter = ("organization",)
    search_fields = ("survey__name",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
