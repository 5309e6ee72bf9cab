from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from config.celery import app as celery_app
from tenants.context import tenant_context
from tenants.models import ApiKey, Membership, Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, api_key_with_secret

PASSWORD = "correct-horse-9"


@pytest.fixture(scope="session", autouse=True)
def _session_settings() -> None:
    """Settings for the whole run, applied before any server (live_server) starts."""
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False  # the test client and live server speak HTTP
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_services(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    # Receivers in tests listen on loopback (tests that check the SSRF guard turn it off).
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    always_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    # A request or task of an earlier test may have left another language active in
    # this thread; every test starts in the default language.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()
    celery_app.conf.task_always_eager = always_eager


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Tenant:
    """An organization with an admin, a signed-in client and an API key."""

    organization: Organization
    admin: Any
    client: Client
    api_key: ApiKey
    raw_key: str

    def member(self, role: str, **user_kwargs: Any) -> Any:
        with tenant_context(self.organization):
            return MembershipFactory(role=role, user=UserFactory(**user_kwargs)).user

    def client_for(self, user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def url(self, path: str = "") -> str:
        return f"/o/{self.organization.slug}/{path}"


def make_tenant(slug: str) -> Tenant:
    organization: Any = OrganizationFactory(slug=slug, name=f"{slug.upper()} Corp")
    admin: Any = UserFactory(username=f"admin@{slug}.example")
    with tenant_context(organization):
        Membership.objects.create(user=admin, role=Role.ADMIN)
        api_key, raw_key = api_key_with_secret()
    client = Client()
    client.force_login(admin)
    return Tenant(organization, admin, client, api_key, raw_key)


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return make_tenant("alpha")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return make_tenant("bravo")
