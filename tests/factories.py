"""factory_boy factories. Tenant rows take their organization from the current
``tenant_context``; create them inside ``tenant_context(org)``."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from tenants.models import ApiKey, AuditLog, Membership, Organization, Role, Team, TeamMember
from tenants.permissions import API_SCOPES
from tenants.services import SYSTEM, api_key_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("correct-horse-9")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    actor_label = "system"
    action = "test.event"
    object_type = "tenants.team"
    object_id = "1"


def api_key_factory(**kwargs: Any) -> ApiKey:
    return api_key_with_secret(**kwargs)[0]


def api_key_with_secret(scopes: list[str] | None = None, name: str = "CRM") -> tuple[ApiKey, str]:
    return api_key_create(actor=SYSTEM, name=name, scopes=scopes or list(API_SCOPES))


# Every concrete tenant model needs an entry: the isolation census fails on a model that
# has none, so a new model cannot skip the isolation tests.
TENANT_FACTORIES: dict[type, Any] = {
    Membership: MembershipFactory,
    Team: TeamFactory,
    TeamMember: TeamMemberFactory,
    ApiKey: api_key_factory,
    AuditLog: AuditLogFactory,
}
