"""Management commands: the demo seed and first-organization set-up."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from tenants.context import tenant_context
from tenants.models import AuditLog, Membership, Organization, Role, Team


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_the_demo_login_works() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    demo = Organization.objects.get(slug="demo")
    with tenant_context(demo):
        assert Membership.objects.count() == 5
        assert Team.objects.count() == 4
        assert Membership.objects.get(user__username="owner@demo.example").role == Role.OWNER
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "admin@demo.example", "password": "demo-password-1"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # two organizations: the chooser
    assert client.get("/o/demo/").status_code == 200


@pytest.mark.django_db
def test_create_organization_with_a_new_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-very-good-password-42\n"))
    out = io.StringIO()
    call_command(
        "create_organization",
        "--slug=acme",
        "--name=Acme GmbH",
        "--admin-email=Boss@Acme.example",
        "--language=de",
        "--password-stdin",
        stdout=out,
    )
    assert "/o/acme/" in out.getvalue()
    acme = Organization.objects.get(slug="acme")
    assert acme.default_language == "de"
    user = get_user_model().objects.get(email="boss@acme.example")
    assert user.check_password("a-very-good-password-42")
    with tenant_context(acme):
        assert Membership.objects.get(user=user).role == Role.ADMIN
        assert AuditLog.objects.filter(action="organization.create").exists()


@pytest.mark.django_db
def test_create_organization_refuses_weak_passwords_and_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="too short"):
        call_command(
            "create_organization",
            "--slug=weak",
            "--name=Weak",
            "--admin-email=w@example.com",
            "--password-stdin",
        )
    assert not Organization.objects.filter(slug="weak").exists()
    assert not get_user_model().objects.filter(email="w@example.com").exists()
    Organization.objects.create(slug="taken", name="Taken")
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_organization", "--slug=taken", "--name=X", "--admin-email=x@example.com"
        )
