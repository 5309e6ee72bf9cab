"""Organization pages: landing, settings, members, teams, API keys, audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants.forms import (
    ApiKeyForm,
    MemberAddForm,
    MemberRoleForm,
    OrganizationForm,
    TeamForm,
    member_choices,
)
from tenants.models import ApiKey, Membership, Organization, Team
from tenants.permissions import API_SCOPES, Capability, capability_required, membership_has
from tenants.selectors import (
    api_key_list,
    audit_log_list,
    membership_list,
    organization_list_for_user,
    team_list,
    team_list_for_user,
)
from tenants.services import (
    Actor,
    api_key_create,
    api_key_revoke,
    membership_add,
    membership_change_role,
    membership_remove,
    organization_logo_set,
    organization_update,
    team_delete,
    team_save,
)


def _org(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined]


def _form_errors_to(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """After sign-in: straight into the only organization, or a chooser."""
    organizations = organization_list_for_user(user=request.user)
    if len(organizations) == 1:
        return redirect("tenants:organization-home", org_slug=organizations[0].slug)
    return render(request, "tenants/choose_organization.html", {"organizations": organizations})


@capability_required(Capability.ORGANIZATION_VIEW)
@require_GET
def organization_home(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The landing page: what this person should do next in this organization."""
    membership: Membership = request.membership  # type: ignore[attr-defined]
    counts = Membership.objects.aggregate(
        members=Count("id"), admins=Count("id", filter=Q(role="admin"))
    )
    context = {
        "member_count": counts["members"],
        **Team.objects.aggregate(
            team_count=Count("id"), teams_without_lead=Count("id", filter=Q(lead__isnull=True))
        ),
        "active_key_count": ApiKey.objects.filter(revoked_at__isnull=True).count(),
        "my_teams": team_list_for_user(user=membership.user),
        "recent_activity": audit_log_list()[:5]
        if membership_has(membership, Capability.AUDIT_LOG_VIEW)
        else [],
    }
    return render(request, "tenants/organization_home.html", context)


@capability_required(Capability.ORGANIZATION_MANAGE)
@require_http_methods(["GET", "POST"])
def organization_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = _org(request)
    # The form validates a copy: a ModelForm writes cleaned values into its instance,
    # and the service must see the stored values to record what changed.
    draft = Organization.objects.get(pk=organization.pk)
    form = OrganizationForm(request.POST or None, request.FILES or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        actor = Actor.of_user(request.user)
        try:
            organization_update(
                organization=organization,
                actor=actor,
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
            if form.cleaned_data["remove_logo"]:
                organization_logo_set(organization=organization, actor=actor, data=None)
            elif form.cleaned_data["logo_file"] is not None:
                organization_logo_set(
                    organization=organization,
                    actor=actor,
                    data=form.cleaned_data["logo_file"].read(),
                )
        except ValidationError as exc:
            organization.refresh_from_db()
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("tenants:organization-settings", org_slug=organization.slug)
    return render(request, "tenants/organization_settings.html", {"form": form})


@capability_required(Capability.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = membership_add(actor=Actor.of_user(request.user), **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("%(email)s was added.") % {"email": membership.user.email})
            return redirect("tenants:member-list", org_slug=org_slug)
    memberships = membership_list()
    return render(
        request,
        "tenants/member_list.html",
        {
            "form": form,
            "rows": [(m, MemberRoleForm(initial={"role": m.role})) for m in memberships],
        },
    )


@capability_required(Capability.MEMBERS_MANAGE)
@require_POST
def member_detail(request: HttpRequest, org_slug: str, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id)
    actor = Actor.of_user(request.user)
    try:
        if request.POST.get("action") == "remove":
            membership_remove(actor=actor, membership=membership)
            messages.success(
                request, _("%(email)s was removed.") % {"email": membership.user.email}
            )
        else:
            form = MemberRoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Choose a valid role."))
            else:
                membership_change_role(
                    actor=actor, membership=membership, role=form.cleaned_data["role"]
                )
                messages.success(request, _("Role changed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("tenants:member-list", org_slug=org_slug)


@capability_required(Capability.TEAMS_VIEW)
@require_http_methods(["GET", "POST"])
def team_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    can_manage = membership_has(request.membership, Capability.TEAMS_MANAGE)  # type: ignore[attr-defined]
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    form = TeamForm(request.POST or None, member_choices=member_choices()) if can_manage else None
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            team = team_save(
                actor=Actor.of_user(request.user),
                name=form.cleaned_data["name"],
                lead_id=form.cleaned_data["lead"],
                member_ids=form.cleaned_data["members"],
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
            return redirect("tenants:team-list", org_slug=org_slug)
    return render(
        request,
        "tenants/team_list.html",
        {"teams": team_list(), "form": form, "can_manage": can_manage},
    )


@capability_required(Capability.TEAMS_VIEW)
@require_http_methods(["GET", "POST"])
def team_detail(request: HttpRequest, org_slug: str, team_id: int) -> HttpResponse:
    team = get_object_or_404(team_list(), pk=team_id)
    can_manage = membership_has(request.membership, Capability.TEAMS_MANAGE)  # type: ignore[attr-defined]
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    actor = Actor.of_user(request.user)
    if request.method == "POST" and request.POST.get("action") == "delete":
        team_delete(actor=actor, team=team)
        messages.success(request, _("Team “%(name)s” deleted.") % {"name": team.name})
        return redirect("tenants:team-list", org_slug=org_slug)
    initial = {
        "name": team.name,
        "lead": team.lead_id,
        "members": [tm.user_id for tm in team.team_members.all()],
    }
    form = TeamForm(request.POST or None, initial=initial, member_choices=member_choices())
    if request.method == "POST" and form.is_valid():
        try:
            team_save(
                actor=actor,
                team=team,
                name=form.cleaned_data["name"],
                lead_id=form.cleaned_data["lead"],
                member_ids=form.cleaned_data["members"],
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Team saved."))
            return redirect("tenants:team-detail", org_slug=org_slug, team_id=team.pk)
    return render(
        request, "tenants/team_detail.html", {"team": team, "form": form, "can_manage": can_manage}
    )


@capability_required(Capability.API_KEYS_MANAGE)
@require_http_methods(["GET", "POST"])
def api_key_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            api_key, new_key = api_key_create(
                actor=Actor.of_user(request.user), **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            form = ApiKeyForm()
            messages.success(request, _("API key “%(name)s” created.") % {"name": api_key.name})
    response = render(
        request,
        "tenants/api_key_list.html",
        {"form": form, "keys": api_key_list(), "new_key": new_key, "scopes": API_SCOPES},
    )
    if new_key:
        # The secret is on this page once: keep it out of caches and history.
        response["Cache-Control"] = "no-store"
    return response


@capability_required(Capability.API_KEYS_MANAGE)
@require_POST
def api_key_revoke_view(request: HttpRequest, org_slug: str, api_key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects, pk=api_key_id)
    api_key_revoke(actor=Actor.of_user(request.user), api_key=api_key)
    messages.success(request, _("API key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("tenants:api-key-list", org_slug=org_slug)


@capability_required(Capability.AUDIT_LOG_VIEW)
@require_GET
def audit_log_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    page = Paginator(audit_log_list(), 50).get_page(request.GET.get("page"))
    return render(request, "tenants/audit_log_list.html", {"page": page})


@require_GET
def organization_logo(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's logo, public: it is shown on survey pages and in emails."""
    organization = Organization.objects.filter(slug=org_slug, is_active=True).first()
    if organization is None or not organization.logo:
        raise Http404
    response = HttpResponse(bytes(organization.logo), content_type=organization.logo_content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'"
    if organization.logo_updated_at:
        response["Last-Modified"] = http_date(organization.logo_updated_at.timestamp())
    return response
