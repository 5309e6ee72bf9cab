"""The user's notifications: ``/o/<org>/cases/notifications/``.

Newest first, unread ones highlighted, each with a link to its case; "Mark all as read"
is a POST. Opening a case marks the user's notifications about it read as well.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from closedloop.selectors import notification_list_for_user
from closedloop.services.notifications import notification_mark_read
from tenants.permissions import Capability, capability_required

PAGE_SIZE = 50


def _user_id(request: HttpRequest) -> int:
    return int(request.membership.user_id)  # type: ignore[attr-defined]


@capability_required(Capability.CASES_WORK)
@require_GET
def notification_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    paginator = Paginator(notification_list_for_user(user_id=_user_id(request)), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "closedloop/notifications.html",
        {"page": page, "notifications": page.object_list},
    )


@capability_required(Capability.CASES_WORK)
@require_POST
def notification_read_all(request: HttpRequest, org_slug: str) -> HttpResponse:
    count = notification_mark_read(user_id=_user_id(request))
    messages.success(
        request,
        ngettext(
            "%(count)s notification marked as read.",
            "%(count)s notifications marked as read.",
            count,
        )
        % {"count": count},
    )
    return redirect("closedloop:notifications", org_slug=org_slug)
