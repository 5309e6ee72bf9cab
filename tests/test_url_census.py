"""Every URL is classified, and no organization can reach another's pages or objects.

The census walks the URL resolver, so new routes join automatically: a route under
``/o/<org_slug>/`` or ``/api/v1/`` is requested as organization A with B's slug and B's
objects and must answer 404 without changing anything; a route outside those prefixes
must be listed in PUBLIC_ROUTES, and an object kwarg without an entry in OBJECT_KWARGS
fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from closedloop.models import Case, CaseEvent
from contacts.models import ConsentEvent, Contact, ContactImport
from integrations.models import AlertChannel, WebhookDelivery, WebhookEndpoint
from responses.services.ingest import ImportReport, import_report_store
from surveys.models import (
    DistributionRule,
    Invitation,
    Journey,
    RecurringSchedule,
    SuppressedSend,
    Survey,
    SurveyVersion,
    Touchpoint,
)
from tenants.context import cross_tenant, tenant_context
from tenants.models import ApiKey, AuditLog, Membership, Role, Team
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    DistributionRuleFactory,
    InvitationFactory,
    JourneyFactory,
    MembershipFactory,
    RecurringScheduleFactory,
    SurveyVersionFactory,
    TeamFactory,
    TouchpointFactory,
    UserFactory,
    alert_channel_factory,
    api_key_factory,
    case_factory,
    contact_import_factory,
    escalation_step_factory,
    export_job_factory,
    message_template_factory,
    response_factory,
    root_cause_factory,
    routing_rule_factory,
    segment_attribute_factory,
    sla_policy_factory,
    survey_with_draft,
    theme_factory,
    webhook_delivery_factory,
    webhook_endpoint_factory,
)

# Routes anyone may reach, each with the reason it is safe.
PUBLIC_ROUTES = {
    "healthz": "liveness probe, no data",
    "readyz": "readiness probe, names failing parts only",
    "i18n/setlang/": "language switch",
    "": "redirects a signed-in user to their own organizations",
    "branding/<slug:org_slug>/logo": "logos are public: shown on survey pages and emails",
    "s/<str:token>/": "survey link: the 192-bit invitation token is the authorization",
    "s/<str:token>/thanks/": "thank-you page of a survey link: the invitation token authorizes",
    "l/<str:public_id>/": "open link: public by design (switch on/off per survey), rate limit",
    "r/<str:token>/": "a response's own link: the 192-bit response token is the authorization",
    "r/<str:token>/thanks/": "thank-you page of a response link: the response token authorizes",
    "u/<str:token>/": "unsubscribe link (RFC 8058 one-click): the invitation token authorizes",
    "integrations/anymail/postmark/tracking/": "ESP webhook: anymail basic auth (secret)",
    "integrations/anymail/postmark/inbound/": "ESP inbound email: anymail basic auth (secret)",
    "f/<str:token>/": "follow-up survey of a case: the 144-bit follow-up token authorizes",
    "f/<str:token>/thanks/": "thank-you page of a follow-up survey: the token authorizes",
    "integrations/twilio/status/": "Twilio status callback: X-Twilio-Signature checked",
    "integrations/twilio/inbound/": "Twilio inbound SMS: X-Twilio-Signature checked",
    "w/v1/widget.js": "the widget's script: static, the same for everyone",
    "w/<str:public_id>/config": "widget: the survey's public id; CORS allow-list, rate limit",
    "w/<str:public_id>/responses": "widget submit: public id; Origin allow-list, rate limit",
}
# Django admin: staff only, narrowed by TenantAdmin. accounts/: sign-in, password, two-factor
# and single sign-on (django-allauth and tenants.views_auth): the user's own account only,
# rate-limited (ACCOUNT_RATE_LIMITS, public limits on the SSO pages); tests/test_auth_*.py.
PUBLIC_PREFIXES = ("admin/", "accounts/")
API_PUBLIC = {"api/v1/schema/", "api/v1/docs/", "api/v1/redoc/"}


def _export_job() -> Any:
    """A ready export of the organization's first admin: only the member who asked may
    download an export, and only while it is ready (one small file shared by all runs)."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    name = "exports/census/census.csv"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(b"id\n"))
    admin = Membership.objects.filter(role=Role.ADMIN).order_by("pk").first()
    assert admin is not None
    return export_job_factory(
        requested_by=admin.user,
        status="ready",
        rows=0,
        file=name,
        expires_at=timezone.now() + timedelta(days=1),
    )


def _case_number() -> SimpleNamespace:
    """Not a row id: a case's number, unique per organization. Every organization counts
    from 1, so the census case gets a number that only its own organization has."""
    case = case_factory()
    number = 500_000 + case.organization_id
    Case.objects.filter(pk=case.pk).update(number=number)
    return SimpleNamespace(pk=number)


# URL kwarg -> how to create B's object for it (inside B's context).
OBJECT_KWARGS: dict[str, Callable[[], Any]] = {
    "membership_id": lambda: MembershipFactory(role=Role.ADMIN, user=UserFactory()),
    "team_id": lambda: TeamFactory(),
    "api_key_id": api_key_factory,
    "journey_id": lambda: JourneyFactory(),
    "touchpoint_id": lambda: TouchpointFactory(),
    "survey_id": survey_with_draft,
    "version_id": lambda: SurveyVersionFactory(),
    # Not a row: a question's id inside the survey's draft (the template's NPS question).
    "question_id": lambda: SimpleNamespace(pk="recommend"),
    "rule_id": lambda: DistributionRuleFactory(),
    "invitation_id": lambda: InvitationFactory(),
    "recurring_id": lambda: RecurringScheduleFactory(),
    "contact_id": lambda: ContactFactory(),
    "import_id": contact_import_factory,
    "response_id": response_factory,
    # Closed-loop settings (``rule_id`` above is a distribution rule).
    "routing_rule_id": routing_rule_factory,
    "policy_id": sla_policy_factory,
    "step_id": escalation_step_factory,
    "root_cause_id": root_cause_factory,
    "template_id": message_template_factory,
    # Not a row id: the number of a case (closedloop:case-detail and its actions).
    "number": _case_number,
    # Dashboard theme taxonomy (metrics:theme-edit and its actions).
    "theme_id": theme_factory,
    # Dashboard segment attributes (metrics:segment-attribute-edit, -move, -delete).
    "segment_id": segment_attribute_factory,
    # Dashboard export jobs (metrics:export-download), requested by the admin.
    "export_id": _export_job,
    # Not a row: an import report kept in the cache under the organization's id.
    "report_id": lambda: SimpleNamespace(
        pk=import_report_store(report=ImportReport("census.csv", 0, "Census", 1))
    ),
    # Slack / Microsoft Teams alert channels (integrations:alert-channel-edit and actions).
    "alert_channel_id": alert_channel_factory,
    # Outbound webhook endpoints and their deliveries (web settings and API). A
    # delivery's routes name its endpoint too: the delivery belongs to the endpoint
    # created for ``webhook_id`` just before it.
    "webhook_id": webhook_endpoint_factory,
    "delivery_id": lambda: webhook_delivery_factory(
        endpoint=WebhookEndpoint.objects.order_by("-pk").first()
    ),
}


def walk(resolvers: list[Any], prefix: str = "") -> Iterator[str]:
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


ALL_ROUTES = sorted(set(walk(get_resolver().url_patterns)))
ORG_ROUTES = [r for r in ALL_ROUTES if r.startswith("o/<slug:org_slug>/")]
API_ROUTES = [r for r in ALL_ROUTES if r.startswith("api/v1/") and r not in API_PUBLIC]
KWARG = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def test_every_route_is_classified() -> None:
    unclassified = [
        r
        for r in ALL_ROUTES
        if not r.startswith(("o/<slug:org_slug>/", "api/v1/", *PUBLIC_PREFIXES))
        and r not in PUBLIC_ROUTES
    ]
    assert not unclassified, f"classify these routes in tests/test_url_census.py: {unclassified}"
    assert ORG_ROUTES
    assert API_ROUTES


def _fill(route: str, org_slug: str, objects: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name == "org_slug":
            return org_slug
        assert name in OBJECT_KWARGS, f"register URL kwarg {name!r} in OBJECT_KWARGS"
        return str(objects[name].pk)

    return "/" + KWARG.sub(replace, route)


def _objects_of(tenant: Tenant) -> dict[str, Any]:
    with tenant_context(tenant.organization):
        return {name: make() for name, make in OBJECT_KWARGS.items()}


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    with tenant_context(tenant.organization):
        return {
            "teams": sorted(Team.objects.values_list("id", "name", "lead_id")),
            "members": sorted(Membership.objects.values_list("id", "role")),
            "keys": sorted(ApiKey.objects.values_list("id", "revoked_at")),
            "audit": AuditLog.objects.count(),
            "journeys": sorted(Journey.objects.values_list("id", "name")),
            "touchpoints": sorted(Touchpoint.objects.values_list("id", "position", "name")),
            "surveys": sorted(Survey.objects.values_list("id", "name", "status")),
            "rules": sorted(DistributionRule.objects.values_list("id", "name", "is_active")),
            "invitations": sorted(Invitation.objects.values_list("id", "status")),
            "suppressed": SuppressedSend.objects.count(),
            "recurring": sorted(RecurringSchedule.objects.values_list("id", "name", "is_active")),
            "versions": sorted(
                (v.pk, v.number, str(v.schema), v.published_at) for v in SurveyVersion.objects.all()
            ),
            "contacts": sorted(Contact.objects.values_list("id", "crm_id", "email", "updated_at")),
            "consent": ConsentEvent.objects.count(),
            "imports": sorted(ContactImport.objects.values_list("id", "status")),
            "alert_channels": sorted(AlertChannel.objects.values_list("id", "name", "is_active")),
            "webhooks": sorted(
                WebhookEndpoint.objects.values_list("id", "url", "events", "is_active", "secret")
            ),
            "webhook_deliveries": sorted(WebhookDelivery.objects.values_list("id", "status")),
            "cases": sorted(Case.objects.values_list("id", "status", "priority", "owner_id")),
            "case_events": CaseEvent.objects.count(),
        }


@pytest.mark.parametrize("route", ORG_ROUTES)
def test_org_route_never_reaches_another_organization(
    route: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    objects_b = _objects_of(tenant_b)
    objects_a = _objects_of(tenant_a)
    before = _snapshot(tenant_b)
    has_objects = any(m.group("name") != "org_slug" for m in KWARG.finditer(route))
    missing = {name: type("Missing", (), {"pk": 999_999}) for name in OBJECT_KWARGS}
    data = {"name": "x", "action": "remove", "role": "viewer"}
    for method in ("get", "post"):
        send = getattr(tenant_a.client, method)
        url = _fill(route, tenant_b.organization.slug, objects_b)
        assert send(url, data).status_code == 404, f"{method.upper()} {url}"
        if has_objects:
            # A's own slug with B's object ids: the same answer as for ids that do not
            # exist (404, or 405 for a method the route never accepts).
            url = _fill(route, tenant_a.organization.slug, objects_b)
            status = send(url, data).status_code
            assert status in (404, 405), f"{method.upper()} {url}: {status}"
            nowhere = send(_fill(route, tenant_a.organization.slug, missing), data)
            assert status == nowhere.status_code, f"{method.upper()} {url} confirms existence"
    # The same route with A's own slug and objects is reachable for A's admin.
    own = _fill(route, tenant_a.organization.slug, objects_a)
    assert tenant_a.client.get(own).status_code in (200, 405), own
    assert _snapshot(tenant_b) == before


@pytest.mark.parametrize("route", API_ROUTES)
def test_api_route_never_reaches_another_organization(
    route: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    objects_b = _objects_of(tenant_b)
    before = _snapshot(tenant_b)
    url = _fill(route, tenant_b.organization.slug, objects_b)
    has_objects = any(m.group("name") != "org_slug" for m in KWARG.finditer(route))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {tenant_a.raw_key}"}
    missing = {name: type("Missing", (), {"pk": 999_999}) for name in OBJECT_KWARGS}
    for method in ("get", "post", "put", "patch", "delete"):
        send = getattr(tenant_a.client, method)

        def call(target: str, send: Any = send, method: str = method) -> Any:
            if method == "get":
                return send(target, **headers)
            return send(target, data="{}", content_type="application/json", **headers)

        response = call(url)
        if has_objects:
            # 404 like a missing object, or 405 for a method the route never accepts
            # (the same answer as for a missing id, so it confirms nothing).
            assert response.status_code in (404, 405), f"{method.upper()} {url}"
            nowhere = call(_fill(route, tenant_b.organization.slug, missing))
            assert response.status_code == nowhere.status_code, f"{method.upper()} {url}"
        body = response.content.decode()
        assert tenant_b.organization.slug not in body, f"{method.upper()} {url} leaks B"
        assert response.status_code < 500
    assert _snapshot(tenant_b) == before


@pytest.mark.parametrize("route", ORG_ROUTES)
def test_org_route_sends_anonymous_visitors_to_sign_in(route: str, tenant_b: Tenant) -> None:
    from django.test import Client

    url = _fill(route, "does-not-exist", {k: type("O", (), {"pk": 1}) for k in OBJECT_KWARGS})
    real = _fill(
        route, tenant_b.organization.slug, {k: type("O", (), {"pk": 1}) for k in OBJECT_KWARGS}
    )
    for candidate in (url, real):
        response = Client().get(candidate)
        # The same answer whether the organization exists or not.
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_superuser_is_not_a_member_of_every_organization(tenant_b: Tenant) -> None:
    from django.test import Client

    root: Any = UserFactory(username="root@example.com", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    assert client.get(tenant_b.url()).status_code == 404


def test_cross_tenant_is_explicit_and_leaves_no_state(tenant_a: Tenant) -> None:
    with cross_tenant(reason="test"):
        assert Team.objects.count() == 0
    from tenants.context import current_state

    assert not current_state().cross_tenant
