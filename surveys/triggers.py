"""A database trigger that refuses any change to a published survey version.

The services and ``SurveyVersion.save()`` already refuse; the trigger also stops
``QuerySet.update()``, raw SQL and anything else that reaches the table. Changing a
published row raises ``IntegrityError``. One change is allowed: ``published_by_id``
becoming NULL, which is what deleting that user account does (``on_delete=SET_NULL``).

PostgreSQL compares the whole row as JSON (so a column added later is covered too);
SQLite lists the columns.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

TABLE = "surveys_surveyversion"
NAME = "surveys_version_immutable"

POSTGRESQL_FORWARDS = [
    f"""
    CREATE OR REPLACE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.published_at IS NOT NULL AND (
        (to_jsonb(NEW) - 'published_by_id') IS DISTINCT FROM (to_jsonb(OLD) - 'published_by_id')
        OR (NEW.published_by_id IS NOT NULL
            AND NEW.published_by_id IS DISTINCT FROM OLD.published_by_id)
      ) THEN
        RAISE EXCEPTION USING
          MESSAGE = 'survey version ' || OLD.id || ' is published and cannot change',
          ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN NEW;
    END
    $$
    """,
    f'DROP TRIGGER IF EXISTS {NAME} ON "{TABLE}"',
    f'CREATE TRIGGER {NAME} BEFORE UPDATE ON "{TABLE}" FOR EACH ROW EXECUTE FUNCTION {NAME}()',
]
POSTGRESQL_BACKWARDS = [
    f'DROP TRIGGER IF EXISTS {NAME} ON "{TABLE}"',
    f"DROP FUNCTION IF EXISTS {NAME}()",
]

_SQLITE_COLUMNS = [
    "id",
    "organization_id",
    "survey_id",
    "number",
    "schema",
    "languages",
    "default_language",
    "created_at",
    "published_at",
]
SQLITE_FORWARDS = [
    f"DROP TRIGGER IF EXISTS {NAME}",
    f"""
    CREATE TRIGGER {NAME} BEFORE UPDATE ON "{TABLE}" FOR EACH ROW
    WHEN OLD.published_at IS NOT NULL AND (
      {" OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in _SQLITE_COLUMNS)}
      OR (NEW.published_by_id IS NOT NULL AND NEW.published_by_id IS NOT OLD.published_by_id)
    )
    BEGIN
      SELECT RAISE(ABORT, 'survey version is published and cannot change');
    END
    """,
]
SQLITE_BACKWARDS = [f"DROP TRIGGER IF EXISTS {NAME}"]

_STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARDS, POSTGRESQL_BACKWARDS),
    "sqlite": (SQLITE_FORWARDS, SQLITE_BACKWARDS),
}


class ProtectPublishedVersions(migrations.operations.base.Operation):
    """Migration operation: install the trigger on PostgreSQL and SQLite."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _run(self, schema_editor: BaseDatabaseSchemaEditor, index: int) -> None:
        statements = _STATEMENTS.get(schema_editor.connection.vendor)
        if statements is not None:
            for statement in statements[index]:
                schema_editor.execute(statement)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, 0)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, 1)

    def describe(self) -> str:
        return "Refuse updates of published survey versions (trigger)"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {})
