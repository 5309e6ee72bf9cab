"""Template context: the current organization, membership, capabilities and switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.permissions import ROLE_CAPABILITIES
from tenants.selectors import organization_list_for_user


def tenant(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    context: dict[str, Any] = {
        "organization": getattr(request, "organization", None),
        "membership": membership,
        "can": {str(c).replace(".", "_") for c in ROLE_CAPABILITIES.get(membership.role, ())}
        if membership
        else set(),
    }
    if membership is not None and user is not None and user.is_authenticated:
        context["user_organizations"] = organization_list_for_user(user=user)
    return context
