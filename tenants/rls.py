"""PostgreSQL row-level security for tenant tables.

Every tenant table gets ``EnableRowLevelSecurity("ModelName")`` in the migration that
creates it. The policy admits a row only when its ``organization_id`` equals the
transaction-local ``app.organization_id`` setting, or when ``app.cross_tenant`` is on
(set only by ``tenants.context.cross_tenant``). RLS is also FORCED, so the table owner
is bound by it too; only superusers and BYPASSRLS roles skip it, and the application
never connects as one. On other databases the operation does nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

from tenants.context import CROSS_TENANT_SETTING, ORG_SETTING

POLICY_NAME = "tenant_isolation"

_PREDICATE = (
    f"organization_id = NULLIF(current_setting('{ORG_SETTING}', true), '')::bigint "
    f"OR current_setting('{CROSS_TENANT_SETTING}', true) = 'on'"
)


def enable_sql(table: str) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"',
        f'CREATE POLICY {POLICY_NAME} ON "{table}" USING ({_PREDICATE}) WITH CHECK ({_PREDICATE})',
    ]


def disable_sql(table: str) -> list[str]:
    return [
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"',
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
    ]


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """Migration operation: enable and force the tenant policy on one model's table."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _table(self, app_label: str, state: ProjectState) -> str:
        return str(state.apps.get_model(app_label, self.model_name)._meta.db_table)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in enable_sql(self._table(app_label, to_state)):
                schema_editor.execute(statement)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in disable_sql(self._table(app_label, from_state)):
                schema_editor.execute(statement)

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.model_name], {})
