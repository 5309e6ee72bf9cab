"""Template context: the "Cases" entry of the main navigation (members who work cases).

The counts (unread notifications, open cases of the user) are read only when a page
shows the navigation, in one query."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tenants.permissions import Capability, membership_has


def cases_nav(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if not membership_has(membership, Capability.CASES_WORK):
        return {}
    from closedloop.selectors import case_nav_counts

    user_id = membership.user_id  # type: ignore[union-attr]
    return {"cases_nav": SimpleLazyObject(lambda: case_nav_counts(user_id=user_id))}
