"""``{% case_reply_panel case %}``: the case page's messages with the customer and the
composer (channel, template, language, subject, text).

Renders ``closedloop/_case_reply.html`` with ``closedloop.views.messages.
reply_panel_context``; the composer posts to ``closedloop:case-message-send``.
"""

from __future__ import annotations

from typing import Any

from django import template

from closedloop.models import Case

register = template.Library()


@register.inclusion_tag("closedloop/_case_reply.html", takes_context=True)
def case_reply_panel(context: template.Context, case: Case) -> dict[str, Any]:
    from closedloop.views.messages import reply_panel_context

    request = context["request"]
    return {
        **reply_panel_context(request=request, case=case),
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "can": context.get("can", set()),
    }
