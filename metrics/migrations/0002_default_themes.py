"""Organizations created before the themes existed get the default taxonomy too, and
their comments are tagged with it (new organizations get it when they are created:
metrics.signals). Idempotent: an organization with any theme is left alone."""

from typing import Any

from django.db import migrations


def create_default_themes(apps: Any, schema_editor: Any) -> None:
    from metrics.defaults import theme_defaults_create_for
    from tenants.context import cross_tenant

    organization = apps.get_model("tenants", "Organization")
    with cross_tenant(reason="migration: default themes of existing organizations"):
        for org_id, language in organization.objects.values_list("pk", "default_language"):
            theme_defaults_create_for(apps.get_model, organization_id=org_id, language=language)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
        ("responses", "0002_alter_outboxevent_topic"),
    ]

    operations = [migrations.RunPython(create_default_themes, migrations.RunPython.noop)]
