"""Create an API key for an organization from the command line and print it once.

    manage.py api_key_create --org demo --name CRM --all-scopes
    manage.py api_key_create --org demo --name CRM --scope contacts:write --scope events:write

The secret is printed on standard output (alone on its line, for ``KEY=$(...)``) and is
never shown again: only its hash is stored. The audit log records the key as created by
the system.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.context import tenant_context
from tenants.models import Organization
from tenants.permissions import API_SCOPES
from tenants.services import SYSTEM, api_key_create


class Command(BaseCommand):
    help = "Create an API key for an organization and print it (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug, e.g. demo")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. CRM")
        scopes = parser.add_mutually_exclusive_group(required=True)
        scopes.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=sorted(API_SCOPES),
            metavar="SCOPE",
            help=f"A scope; repeat for several. One of: {', '.join(sorted(API_SCOPES))}",
        )
        scopes.add_argument("--all-scopes", action="store_true", help="Every scope.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"], is_active=True).first()
        if organization is None:
            raise CommandError(f"No active organization with slug '{options['org']}'.")
        scopes = sorted(API_SCOPES) if options["all_scopes"] else options["scopes"]
        with tenant_context(organization):
            try:
                api_key, raw_key = api_key_create(actor=SYSTEM, name=options["name"], scopes=scopes)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(
            f"Created API key '{api_key.name}' for {organization.slug} with scopes "
            f"{', '.join(api_key.scopes)}. Store it now: it is not shown again."
        )
        self.stdout.write(raw_key)
