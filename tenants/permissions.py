"""What each role may do (web), and what each API key scope allows (API).

The table ``ROLE_CAPABILITIES`` is the single source of truth: views ask for a
capability, never for a role, so the documented role table and the code cannot drift.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from tenants.models import Role

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

    from tenants.models import Membership


class Capability(enum.StrEnum):
    ORGANIZATION_VIEW = "organization.view"
    ORGANIZATION_MANAGE = "organization.manage"
    MEMBERS_MANAGE = "members.manage"
    TEAMS_VIEW = "teams.view"
    TEAMS_MANAGE = "teams.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    AUDIT_LOG_VIEW = "audit_log.view"
    CONTACTS_VIEW = "contacts.view"
    CONTACTS_MANAGE = "contacts.manage"
    JOURNEYS_VIEW = "journeys.view"
    JOURNEYS_MANAGE = "journeys.manage"
    SURVEYS_VIEW = "surveys.view"
    SURVEYS_MANAGE = "surveys.manage"
    DISTRIBUTION_VIEW = "distribution.view"
    DISTRIBUTION_MANAGE = "distribution.manage"
    RESPONSES_VIEW = "responses.view"
    RESPONSES_IMPORT = "responses.import"
    # Cases: work the own and the team's cases; see every case; assign to others;
    # configure routing, SLAs, root causes and reply templates.
    CASES_WORK = "cases.work"
    CASES_VIEW_ALL = "cases.view_all"
    CASES_ASSIGN = "cases.assign"
    CLOSEDLOOP_MANAGE = "closedloop.manage"
    # The dashboard: read it, export what it shows (personal data), set up its themes,
    # segments and digest.
    METRICS_VIEW = "metrics.view"
    METRICS_EXPORT = "metrics.export"
    METRICS_MANAGE = "metrics.manage"
    # Outbound webhooks (settings): admins only, like API keys.
    WEBHOOKS_MANAGE = "webhooks.manage"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.CX_MANAGER: frozenset(
        {
            Capability.ORGANIZATION_VIEW,
            Capability.TEAMS_VIEW,
            Capability.TEAMS_MANAGE,
            Capability.CONTACTS_VIEW,
            Capability.CONTACTS_MANAGE,
            Capability.JOURNEYS_VIEW,
            Capability.JOURNEYS_MANAGE,
            Capability.SURVEYS_VIEW,
            Capability.SURVEYS_MANAGE,
            Capability.DISTRIBUTION_VIEW,
            Capability.DISTRIBUTION_MANAGE,
            Capability.RESPONSES_VIEW,
            Capability.RESPONSES_IMPORT,
            Capability.CASES_WORK,
            Capability.CASES_VIEW_ALL,
            Capability.CASES_ASSIGN,
            Capability.CLOSEDLOOP_MANAGE,
            Capability.METRICS_VIEW,
            Capability.METRICS_EXPORT,
            Capability.METRICS_MANAGE,
        }
    ),
    # Case owners look up the customers they call back, but do not edit them.
    # Everyone may look at journeys and surveys (to read feedback in context).
    Role.OWNER: frozenset(
        {
            Capability.ORGANIZATION_VIEW,
            Capability.TEAMS_VIEW,
            Capability.CONTACTS_VIEW,
            Capability.JOURNEYS_VIEW,
            Capability.SURVEYS_VIEW,
            Capability.DISTRIBUTION_VIEW,
            Capability.RESPONSES_VIEW,
            # Their own cases, their teams' and unassigned ones; team leads also assign
            # within their teams (checked per team, not by role).
            Capability.CASES_WORK,
            Capability.METRICS_VIEW,
        }
    ),
    Role.VIEWER: frozenset(
        {
            Capability.ORGANIZATION_VIEW,
            Capability.JOURNEYS_VIEW,
            Capability.SURVEYS_VIEW,
            Capability.RESPONSES_VIEW,
            Capability.METRICS_VIEW,
        }
    ),
}


def role_has(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())


def membership_has(membership: Membership | None, capability: Capability) -> bool:
    return membership is not None and role_has(membership.role, capability)


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def capability_required(capability: Capability) -> Callable[[ViewFunc], ViewFunc]:
    """Decorate an organization view: 403 for members whose role lacks the capability.

    Non-members never get here: the tenant middleware already answered 404.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not membership_has(getattr(request, "membership", None), capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


# --- API key scopes -------------------------------------------------------------------

# Scopes per resource and access; a key gets only what its integration needs.
API_SCOPES: dict[str, Any] = {
    "organization:read": _("Read the organization's profile."),
    "contacts:read": _("Read contacts and export a contact's data."),
    "contacts:write": _("Create and update contacts, also in bulk."),
    "contacts:erase": _("Erase a contact (GDPR): anonymises their responses."),
    "events:write": _("Send CRM events that trigger surveys."),
    "invitations:read": _("Read invitations and their status history."),
    "invitations:write": _("Create invitations directly."),
    "surveys:read": _("Read surveys, journeys and touchpoints."),
    "responses:read": _("Read responses."),
    "responses:write": _("Create responses collected elsewhere."),
    "cases:read": _("Read cases and their timelines."),
    "cases:write": _("Change a case's status or assignee and add notes."),
    "metrics:read": _("Read the dashboard's scores, trends and breakdowns."),
    "webhooks:read": _("Read webhook endpoints and their deliveries."),
    "webhooks:write": _("Create, change, delete webhook endpoints and redeliver."),
}


def scope_choices() -> list[tuple[str, str]]:
    return [(scope, f"{scope} — {text}") for scope, text in API_SCOPES.items()]


class HasApiScope(BasePermission):
    """The API key must carry the scope the view names for the request's method.

    A view declares ``required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}``;
    a method without an entry is refused, so a forgotten declaration fails closed.
    """

    message = "This API key lacks the scope required for this request."

    def has_permission(self, request: Request, view: APIView) -> bool:
        from tenants.models import ApiKey

        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        if request.method not in view.allowed_methods:
            return True  # DRF answers 405 next; no scope is involved
        required = getattr(view, "required_scopes", {}).get(request.method or "")
        if request.method in ("HEAD", "OPTIONS") and required is None:
            required = getattr(view, "required_scopes", {}).get("GET")
        return required is not None and required in api_key.scopes
