"""Django admin for platform staff: look at the closed loop (read-only).

Cases change only through their services (the transition table, the SLA clock, the
timeline and the outbox); rules, policies and templates through the settings pages,
which validate them. The admin shows everything, narrowed to the staff user's
organizations, so staff can see why a case escalated or an email did not go out.
"""

from __future__ import annotations

from django.contrib import admin

from closedloop.models import (
    BusinessHours,
    Case,
    CaseEscalation,
    CaseEvent,
    CaseFollowUp,
    CaseMessage,
    CaseResponse,
    EscalationStep,
    MessageTemplate,
    Notification,
    RootCause,
    RoutingRule,
    SlaPolicy,
)
from responses.admin import ReadOnlyAdmin


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "title",
        "status",
        "priority",
        "impact",
        "owner",
        "team",
        "resolution_due_at",
        "next_escalation_at",
        "created_at",
        "organization",
    )
    list_filter = ("organization", "status", "priority", "sla_policy")
    search_fields = ("=number", "title", "contact__email", "contact__crm_id")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "team", "organization")
    raw_id_fields = ("response", "contact")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("case", "kind", "actor_label", "created_at", "organization")
    list_filter = ("organization", "kind")
    search_fields = ("=case__number", "text", "actor_label")
    date_hierarchy = "created_at"
    list_select_related = ("case", "organization")


@admin.register(CaseEscalation)
class CaseEscalationAdmin(ReadOnlyAdmin):
    list_display = ("case", "key", "step", "fired_at", "organization")
    list_filter = ("organization",)
    search_fields = ("=case__number", "key")
    date_hierarchy = "fired_at"
    list_select_related = ("case", "step", "organization")


@admin.register(CaseResponse)
class CaseResponseAdmin(ReadOnlyAdmin):
    list_display = ("case", "response", "created_at", "organization")
    list_filter = ("organization",)
    search_fields = ("=case__number",)
    list_select_related = ("case", "organization")


@admin.register(CaseMessage)
class CaseMessageAdmin(ReadOnlyAdmin):
    list_display = (
        "case",
        "direction",
        "channel",
        "status",
        "to_address",
        "attempts",
        "created_at",
        "sent_at",
        "organization",
    )
    list_filter = ("organization", "direction", "channel", "status", "is_follow_up")
    search_fields = ("=case__number", "to_address", "from_address", "external_id", "error")
    date_hierarchy = "created_at"
    list_select_related = ("case", "organization")


@admin.register(CaseFollowUp)
class CaseFollowUpAdmin(ReadOnlyAdmin):
    list_display = ("case", "sent_at", "answered_at", "concern_resolved", "nps", "organization")
    list_filter = ("organization", "concern_resolved")
    search_fields = ("=case__number", "comment")
    list_select_related = ("case", "organization")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "title",
        "user",
        "kind",
        "created_at",
        "read_at",
        "email_pending",
        "email_sent_at",
        "organization",
    )
    list_filter = ("organization", "kind", "email_pending")
    search_fields = ("title", "user__email", "email_error")
    date_hierarchy = "created_at"
    list_select_related = ("user", "organization")


@admin.register(RoutingRule)
class RoutingRuleAdmin(ReadOnlyAdmin):
    list_display = (
        "position",
        "name",
        "enabled",
        "open_case",
        "priority",
        "sla_policy",
        "assign_mode",
        "organization",
    )
    list_filter = ("organization", "enabled", "assign_mode")
    search_fields = ("name",)
    list_select_related = ("sla_policy", "organization")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "first_response_minutes",
        "resolution_minutes",
        "business_hours_only",
        "organization",
    )
    list_filter = ("organization", "business_hours_only")
    search_fields = ("name",)


@admin.register(EscalationStep)
class EscalationStepAdmin(ReadOnlyAdmin):
    list_display = ("policy", "target", "at_percent", "after_due_minutes", "action", "organization")
    list_filter = ("organization", "target", "action")
    search_fields = ("policy__name",)
    list_select_related = ("policy", "organization")


@admin.register(BusinessHours)
class BusinessHoursAdmin(ReadOnlyAdmin):
    list_display = ("organization", "timezone", "opens_at", "closes_at", "weekdays", "holidays")
    list_filter = ("organization",)


@admin.register(RootCause)
class RootCauseAdmin(ReadOnlyAdmin):
    list_display = ("name", "active", "organization")
    list_filter = ("organization", "active")
    search_fields = ("name", "description")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "channel", "updated_at", "organization")
    list_filter = ("organization", "channel")
    search_fields = ("name",)
