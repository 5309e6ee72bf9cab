"""Organizations created before the closed loop existed get its defaults too (new ones
get them when they are created: closedloop.signals)."""

from typing import Any

from django.db import migrations


def create_defaults(apps: Any, schema_editor: Any) -> None:
    from closedloop.services.defaults import defaults_create_for
    from tenants.context import cross_tenant

    organization = apps.get_model("tenants", "Organization")
    with cross_tenant(reason="migration: closed-loop defaults of existing organizations"):
        for org_id, language in organization.objects.values_list("pk", "default_language"):
            defaults_create_for(apps.get_model, organization_id=org_id, language=language)


class Migration(migrations.Migration):
    dependencies = [("closedloop", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
