"""Slack and Microsoft Teams alerts, set up per team under /o/<org>/teams/alerts/.

Members with ``teams.manage`` only (admins and CX managers): alerts are part of a
team's settings. The tenant middleware already answered 404 to non-members. The
incoming-webhook URL is a credential: pages show it masked once saved.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from integrations.forms_alerts import AlertChannelForm
from integrations.models import AlertChannel, AlertTrigger
from integrations.selectors_alerts import alert_channel_list, alert_team_choices
from integrations.services.alerts import (
    alert_channel_create,
    alert_channel_delete,
    alert_channel_set_active,
    alert_channel_test,
    alert_channel_update,
    alert_url_mask,
)
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

MANAGE = Capability.TEAMS_MANAGE


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


def _team_filter(request: HttpRequest) -> int | None:
    value = request.GET.get("team", "")
    return int(value) if value.isdigit() else None


def _list_url(org_slug: str, team_id: int | None = None) -> str:
    url = reverse("integrations:alert-channel-list", kwargs={"org_slug": org_slug})
    return f"{url}?team={team_id}" if team_id else url


def _errors_to(form: AlertChannelForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@capability_required(MANAGE)
@require_http_methods(["GET"])
def alert_channel_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    team_id = _team_filter(request)
    channels = list(alert_channel_list(team_id=team_id))
    teams = alert_team_choices()
    labels = dict(AlertTrigger.choices)
    context: dict[str, Any] = {
        "rows": [
            (
                channel,
                alert_url_mask(channel.url),
                [str(labels.get(t, t)) for t in channel.triggers or []],
            )
            for channel in channels
        ],
        "teams": teams,
        "team_id": team_id,
        "team_name": dict(teams).get(str(team_id), "") if team_id else "",
    }
    return render(request, "integrations/alert_channel_list.html", context)


def _form_page(request: HttpRequest, org_slug: str, channel: AlertChannel | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    if channel is None:
        initial: dict[str, Any] = {
            "team": _team_filter(request),
            "triggers": ["high_priority_case", "sla_breach"],
            "is_active": True,
        }
    else:
        initial = {
            "name": channel.name,
            "kind": channel.kind,
            "team": channel.team_id,
            "triggers": channel.triggers,
            "is_active": channel.is_active,
        }
    form = AlertChannelForm(
        data, initial=initial, team_choices=alert_team_choices(), editing=channel is not None
    )
    if request.method == "POST" and form.is_valid():
        fields = {
            "name": form.cleaned_data["name"],
            "kind": form.cleaned_data["kind"],
            "url": form.cleaned_data["url"],
            "team_id": form.cleaned_data["team"],
            "triggers": form.cleaned_data["triggers"],
            "is_active": form.cleaned_data["is_active"],
        }
        try:
            if channel is None:
                saved = alert_channel_create(actor=_actor(request), **fields)
            else:
                saved = alert_channel_update(actor=_actor(request), channel=channel, **fields)
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, _("Alert channel “%(name)s” saved.") % {"name": saved.name})
            return redirect(_list_url(org_slug, saved.team_id))
    context = {
        "channel": channel,
        "form": form,
        "masked_url": alert_url_mask(channel.url) if channel is not None else "",
    }
    return render(request, "integrations/alert_channel_form.html", context)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def alert_channel_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _form_page(request, org_slug, None)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def alert_channel_edit_view(
    request: HttpRequest, org_slug: str, alert_channel_id: int
) -> HttpResponse:
    channel = get_object_or_404(AlertChannel.objects, pk=alert_channel_id)
    return _form_page(request, org_slug, channel)


@capability_required(MANAGE)
@require_POST
def alert_channel_active_view(
    request: HttpRequest, org_slug: str, alert_channel_id: int
) -> HttpResponse:
    channel = get_object_or_404(AlertChannel.objects, pk=alert_channel_id)
    is_active = request.POST.get("active") == "on"
    alert_channel_set_active(actor=_actor(request), channel=channel, is_active=is_active)
    if is_active:
        text = _("Alert channel “%(name)s” switched on.")
    else:
        text = _("Alert channel “%(name)s” switched off.")
    messages.success(request, text % {"name": channel.name})
    return redirect(_list_url(org_slug, _team_filter(request)))


@capability_required(MANAGE)
@require_POST
def alert_channel_test_view(
    request: HttpRequest, org_slug: str, alert_channel_id: int
) -> HttpResponse:
    channel = get_object_or_404(AlertChannel.objects, pk=alert_channel_id)
    settings_url = f"{settings.SITE_URL}{_list_url(org_slug)}"
    result = alert_channel_test(actor=_actor(request), channel=channel, settings_url=settings_url)
    if result.ok:
        messages.success(request, _("Test message sent to “%(name)s”.") % {"name": channel.name})
    else:
        messages.error(
            request,
            _("The test message to “%(name)s” failed: %(error)s")
            % {"name": channel.name, "error": result.error},
        )
    return redirect(_list_url(org_slug, _team_filter(request)))


@capability_required(MANAGE)
@require_POST
def alert_channel_delete_view(
    request: HttpRequest, org_slug: str, alert_channel_id: int
) -> HttpResponse:
    channel = get_object_or_404(AlertChannel.objects, pk=alert_channel_id)
    name = channel.name
    alert_channel_delete(actor=_actor(request), channel=channel)
    messages.success(request, _("Alert channel “%(name)s” deleted.") % {"name": name})
    return redirect(_list_url(org_slug, _team_filter(request)))
