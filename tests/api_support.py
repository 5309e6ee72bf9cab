"""Helpers for the API-wide tests (conventions, scope and idempotency census, schemathesis):
the API routes found by walking the URL resolver, and an organization with one of every
object the API's paths name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import (
    TENANT_FACTORIES,
    ContactFactory,
    InvitationFactory,
    case_factory,
    published_survey,
    response_factory,
    webhook_delivery_factory,
    webhook_endpoint_factory,
)

API_PREFIX = "api/v1/"
# Documentation routes: public, not resources.
API_DOCS = {"api/v1/schema/", "api/v1/docs/", "api/v1/redoc/"}
KWARG = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")
# Methods every DRF view answers by itself (OPTIONS: the GET scope; HEAD: GET's).
IMPLICIT_METHODS = {"OPTIONS", "HEAD"}


@dataclass(frozen=True)
class ApiRoute:
    route: str  # "api/v1/contacts/<int:contact_id>/"
    name: str  # "api:contact-detail"
    view: type[Any]

    @property
    def key(self) -> str:
        """The route without converters, e.g. ``api/v1/contacts/<contact_id>/``."""
        return KWARG.sub(lambda m: f"<{m.group('name')}>", self.route)

    @property
    def methods(self) -> list[str]:
        """The HTTP methods the view implements (not counting OPTIONS and HEAD)."""
        return [
            method.upper()
            for method in self.view.http_method_names
            if method.upper() not in IMPLICIT_METHODS and hasattr(self.view, method)
        ]

    def url(self, ids: dict[str, Any]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group("name")
            assert name in ids, (
                f"{self.route}: give tests/api_support.py seed_api_objects() an object for "
                f"the URL kwarg {name!r}"
            )
            return str(ids[name])

        return "/" + KWARG.sub(fill, self.route)


def _walk(
    entries: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for entry in entries:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None) or getattr(
                entry.callback, "view_class", None
            )
            yield route, f"{namespace}{entry.name}", view


def api_routes() -> list[ApiRoute]:
    """Every API resource route (documentation excluded), sorted by route."""
    routes: dict[str, ApiRoute] = {}
    for route, name, view in _walk(get_resolver().url_patterns):
        if route.startswith(API_PREFIX) and route not in API_DOCS:
            assert view is not None, f"{route}: an API route needs a TenantAPIView"
            routes[route] = ApiRoute(route, name, view)
    return [routes[key] for key in sorted(routes)]


def seed_api_objects(tenant: Tenant) -> dict[str, Any]:
    """One of everything the API reads, linked as a CRM would see it (the invitation,
    response and case belong to the same contact and survey; the delivery to the
    webhook). Returns URL kwarg -> value."""
    with tenant_context(tenant.organization):
        version = published_survey()
        survey = version.survey
        contact: Any = ContactFactory(email="ada@example.com")
        invitation: Any = InvitationFactory(contact=contact, survey_version=version)
        response = response_factory(version=version, contact=contact)
        case = case_factory(version=version, contact=contact)
        endpoint = webhook_endpoint_factory()
        delivery = webhook_delivery_factory(endpoint=endpoint)
        uninvited: Any = ContactFactory(email="grace@example.com")
        ids: dict[str, Any] = {
            "contact_id": contact.pk,
            "invitation_id": invitation.pk,
            "survey_id": survey.pk,
            "response_id": response.pk,
            "number": case.number,
            "webhook_id": endpoint.pk,
            "delivery_id": delivery.pk,
            # Not a URL kwarg: a contact never invited (POST /invitations/ in the census).
            "uninvited_contact_id": uninvited.pk,
        }
        if survey.touchpoint_id:
            ids["touchpoint_id"] = survey.touchpoint_id
            ids["journey_id"] = survey.touchpoint.journey_id
    return ids


def row_counts(tenant: Tenant) -> dict[str, int]:
    """The number of rows of every tenant model in the organization."""
    with tenant_context(tenant.organization):
        return {
            model.__name__: model._default_manager.count()  # type: ignore[attr-defined]
            for model in TENANT_FACTORIES
        }
