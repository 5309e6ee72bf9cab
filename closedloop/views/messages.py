"""Messages to the customer from the case page (``{% case_reply_panel case %}``).

* ``POST /o/<org>/cases/<number>/messages/``: send a message
  (``closedloop.services.messages.case_message_send``), then back to the case page
  with a confirmation (post/redirect/get). A message that cannot go shows the composer
  again with the errors and the text as written (400).
* ``GET /o/<org>/cases/<number>/messages/compose/?template=<id>&language=<code>``: the
  composer filled with a reply template in the customer's language, placeholders
  filled in, ready to edit. With htmx the panel swaps in only the composer; without
  JavaScript it is a page of its own.

Only members who work cases and may see the case (``closedloop.selectors.case_get``:
their own, their teams', unassigned; every case with ``cases.view_all``) reach these.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closedloop.forms_messages import CaseMessageForm, TemplatePickForm
from closedloop.inbound_email import reply_text
from closedloop.models import Case, CaseMessage, MessageChannel, MessageDirection
from closedloop.selectors import case_get
from closedloop.selectors_messages import case_message_list, message_template_list
from closedloop.services.messages import (
    case_channels,
    case_message_send,
    message_language,
    message_template_fill,
)
from closedloop.views.inbox import request_access
from tenants.permissions import Capability, capability_required, membership_has
from tenants.services import Actor


def _case_or_404(request: HttpRequest, number: int) -> Case:
    try:
        return case_get(access=request_access(request), number=number)
    except Case.DoesNotExist:
        raise Http404 from None


def _message_rows(case: Case) -> list[dict[str, Any]]:
    rows = []
    for message in case_message_list(case):
        shown = message.body
        if message.direction == MessageDirection.IN and message.channel == MessageChannel.EMAIL:
            shown = reply_text(message.body)
        rows.append(
            {
                "message": message,
                "text": shown,
                "full_text": message.body if shown != message.body.strip() else "",
            }
        )
    return rows


def _templates(channels: list[str]) -> list[Any]:
    return [t for t in message_template_list() if t.channel in channels]


def reply_panel_context(
    *,
    request: HttpRequest,
    case: Case,
    form: CaseMessageForm | None = None,
    pick_form: TemplatePickForm | None = None,
) -> dict[str, Any]:
    """What ``closedloop/_case_reply.html`` shows: the case's messages and, for members
    who work cases, the composer for the channels the customer can be reached on."""
    organization = request.organization  # type: ignore[attr-defined]
    channels = case_channels(case)
    may_send = membership_has(getattr(request, "membership", None), Capability.CASES_WORK)
    templates = _templates(channels) if may_send and channels else []
    if form is None:
        form = CaseMessageForm(
            channels=channels,
            templates=templates,
            initial={
                "channel": channels[0] if channels else None,
                "language": message_language(case),
            },
        )
    if pick_form is None:
        pick_form = TemplatePickForm(
            templates=templates, initial={"language": form["language"].value()}
        )
    kwargs = {"org_slug": organization.slug, "number": case.number}
    return {
        "organization": organization,
        "case": case,
        "message_rows": _message_rows(case),
        "channels": channels,
        "may_send": may_send and bool(channels),
        "may_work": may_send,
        "form": form,
        "pick_form": pick_form,
        "has_templates": bool(templates),
        "send_url": reverse("closedloop:case-message-send", kwargs=kwargs),
        "compose_url": reverse("closedloop:case-message-compose", kwargs=kwargs),
        "case_url": reverse("closedloop:case-detail", kwargs=kwargs),
    }


def _composer_page(
    request: HttpRequest, case: Case, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    if getattr(request, "htmx", False):
        return render(request, "closedloop/_case_reply.html", context, status=200)
    return render(request, "closedloop/case_reply_page.html", context, status=status)


@capability_required(Capability.CASES_WORK)
@require_POST
def case_message_send_view(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    case = _case_or_404(request, number)
    channels = case_channels(case)
    form = CaseMessageForm(request.POST, channels=channels, templates=_templates(channels))
    if form.is_valid():
        data = form.cleaned_data
        try:
            message = case_message_send(
                case=case,
                actor=Actor.of_user(request.user),
                channel=data["channel"],
                body=data["body"],
                subject=data["subject"],
                template=form.chosen_template(),
                language=data["language"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _sent_text(message))
            location = reverse(
                "closedloop:case-detail", kwargs={"org_slug": org_slug, "number": case.number}
            )
            return redirect(f"{location}#reply-heading")
    context = reply_panel_context(request=request, case=case, form=form)
    return _composer_page(request, case, context, status=400)


def _sent_text(message: CaseMessage) -> str:
    if message.channel == MessageChannel.SMS:
        return _("Your SMS to %(address)s is on its way.") % {"address": message.to_address}
    return _("Your email to %(address)s is on its way.") % {"address": message.to_address}


@capability_required(Capability.CASES_WORK)
@require_GET
def case_message_compose(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    case = _case_or_404(request, number)
    channels = case_channels(case)
    templates = _templates(channels)
    pick_form = TemplatePickForm(request.GET or None, templates=templates)
    initial: dict[str, Any] = {
        "channel": channels[0] if channels else None,
        "language": message_language(case),
    }
    template = pick_form.chosen_template() if pick_form.is_valid() else None
    if template is not None:
        language = pick_form.cleaned_data.get("language") or None
        filled = message_template_fill(template=template, case=case, language=language)
        initial.update(
            channel=template.channel,
            template=template.pk,
            language=filled["language"],
            subject=filled["subject"],
            body=filled["body"],
        )
    form = CaseMessageForm(channels=channels, templates=templates, initial=initial)
    context = reply_panel_context(request=request, case=case, form=form, pick_form=pick_form)
    return _composer_page(request, case, context)
