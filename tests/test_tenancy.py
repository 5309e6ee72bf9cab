"""Tenant isolation: the fail-closed manager, a census of every tenant model, and on
PostgreSQL row-level security that holds even for raw SQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models, transaction

from tenants.context import (
    TenantContextMissing,
    cross_tenant,
    current_organization_id,
    tenant_context,
)
from tenants.models import CrossTenantWrite, Organization, Team, TenantModel
from tests.conftest import Tenant, is_postgres
from tests.factories import TENANT_FACTORIES

# Tables that reference an organization but are not tenant rows themselves. Keep short.
CONTROL_PLANE_MODELS: set[str] = set()


def tenant_models() -> list[type[TenantModel]]:
    return [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.abstract]


def test_every_model_with_an_organization_is_tenant_scoped() -> None:
    for model in apps.get_models():
        refs_org = any(
            isinstance(f, models.ForeignKey) and f.related_model is Organization
            for f in model._meta.get_fields()
        )
        if refs_org and model._meta.label not in CONTROL_PLANE_MODELS:
            assert issubclass(model, TenantModel), f"{model._meta.label} must subclass TenantModel"


def test_every_tenant_model_has_a_census_factory() -> None:
    missing = [m._meta.label for m in tenant_models() if m not in TENANT_FACTORIES]
    assert not missing, f"add these to tests.factories.TENANT_FACTORIES: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_query_without_organization_fails_closed(model: type[TenantModel]) -> None:
    assert current_organization_id() is None
    with pytest.raises(TenantContextMissing):
        list(model.objects.all())
    with pytest.raises(TenantContextMissing):
        model.objects.filter(pk=1).exists()


@pytest.mark.django_db
def test_write_without_organization_fails_closed() -> None:
    with pytest.raises(TenantContextMissing):
        Team.objects.bulk_create([Team(name="orphan")])
    with pytest.raises(TenantContextMissing):
        Team(name="orphan").save()


def _rows_in_both(model: type[TenantModel], a: Tenant, b: Tenant) -> tuple[Any, Any]:
    factory = TENANT_FACTORIES[model]
    with tenant_context(a.organization):
        row_a = factory()
    with tenant_context(b.organization):
        row_b = factory()
    return row_a, row_b


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_organization_a_never_sees_rows_of_b(
    model: type[TenantModel], tenant_a: Tenant, tenant_b: Tenant
) -> None:
    row_a, row_b = _rows_in_both(model, tenant_a, tenant_b)
    with tenant_context(tenant_a.organization):
        visible = set(model.objects.values_list("pk", flat=True))
        assert row_a.pk in visible
        assert row_b.pk not in visible
        assert not model.objects.filter(pk=row_b.pk).exists()
        assert model.objects.filter(pk=row_b.pk).update(organization_id=row_b.organization_id) == 0
        assert model.objects.filter(pk=row_b.pk).delete()[0] == 0
        assert set(model.objects.values_list("organization_id", flat=True)) == {
            tenant_a.organization.pk
        }
    with cross_tenant(reason="test: the row of B still exists"):
        assert model.objects.filter(pk=row_b.pk).exists()


def test_a_row_of_b_cannot_be_saved_in_the_context_of_a(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        team_b = Team.objects.create(name="B team")
    team_b.name = "hijacked"
    with tenant_context(tenant_a.organization), pytest.raises(CrossTenantWrite):
        team_b.save()
    with tenant_context(tenant_b.organization):
        assert Team.objects.get(pk=team_b.pk).name == "B team"


def test_nested_contexts_restore_the_outer_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        Team.objects.create(name="A1")
        with tenant_context(tenant_b.organization):
            Team.objects.create(name="B1")
            assert list(Team.objects.values_list("name", flat=True)) == ["B1"]
        assert list(Team.objects.values_list("name", flat=True)) == ["A1"]
        assert current_organization_id() == tenant_a.organization.pk
        if is_postgres():
            assert _raw_team_names() == ["A1"]
    assert current_organization_id() is None


def test_a_failing_block_leaves_the_context(tenant_a: Tenant) -> None:
    def write_then_fail() -> None:
        with tenant_context(tenant_a.organization):
            Team.objects.create(name="half written")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        write_then_fail()
    assert current_organization_id() is None
    if is_postgres():  # there the context is one transaction
        with tenant_context(tenant_a.organization):
            assert not Team.objects.filter(name="half written").exists()


# --- PostgreSQL row-level security --------------------------------------------------


def _raw_team_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute('SELECT name FROM "tenants_team" ORDER BY name')
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def postgres_only(db: None) -> None:
    if not is_postgres():
        pytest.skip("row-level security exists on PostgreSQL only")


def test_application_role_is_bound_by_row_level_security(postgres_only: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
    hint = "connect as a role without SUPERUSER and BYPASSRLS, or RLS goes untested"
    assert not superuser, hint
    assert not bypass, hint


def test_every_tenant_table_has_row_level_security_enabled_and_forced(
    postgres_only: None,
) -> None:
    tables = {m._meta.db_table for m in tenant_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname = ANY(%s)",
            [list(tables)],
        )
        state = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
        cursor.execute("SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'")
        with_policy = {row[0] for row in cursor.fetchall()}
    problems = [t for t in tables if state.get(t) != (True, True) or t not in with_policy]
    assert not problems, f"add tenants.rls.EnableRowLevelSecurity to the migrations of {problems}"


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_raw_sql_sees_only_the_current_organization(
    postgres_only: None, model: type[TenantModel], tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _rows_in_both(model, tenant_a, tenant_b)
    table = model._meta.db_table
    query = f'SELECT DISTINCT organization_id FROM "{table}"'  # noqa: S608 - test table names
    with tenant_context(tenant_a.organization), connection.cursor() as cursor:
        cursor.execute(query)
        assert {r[0] for r in cursor.fetchall()} == {tenant_a.organization.pk}
        cursor.execute(
            f'UPDATE "{table}" SET organization_id = organization_id '  # noqa: S608
            "WHERE organization_id = %s",
            [tenant_b.organization.pk],
        )
        assert cursor.rowcount == 0
    # No organization set: the database itself returns nothing (fail closed).
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchall() == []


def test_raw_insert_into_another_organization_is_refused(
    postgres_only: None, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from django.db.utils import ProgrammingError

    with (
        tenant_context(tenant_a.organization),
        pytest.raises(ProgrammingError, match="row-level"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO tenants_team (organization_id, name, created_at) "
            "VALUES (%s, 'sneaky', now())",
            [tenant_b.organization.pk],
        )


@pytest.mark.django_db(transaction=True)
def test_the_setting_ends_with_the_transaction(postgres_only: None) -> None:
    organization = Organization.objects.create(slug="pooled", name="Pooled")
    with tenant_context(organization), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.organization_id', true)")
        assert cursor.fetchone()[0] == str(organization.pk)
    # Autocommit again: the pooled connection keeps nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.organization_id', true), '')")
        assert cursor.fetchone()[0] == ""
