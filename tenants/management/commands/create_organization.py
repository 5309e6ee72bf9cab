"""Create an organization and its first administrator (for a fresh installation)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tenants.models import Organization
from tenants.services import organization_create


class Command(BaseCommand):
    help = "Create an organization with a first administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True, help="URL name, e.g. acme (/o/acme/)")
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme GmbH'")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--timezone", default="Europe/Berlin")
        parser.add_argument("--language", default="en", choices=["en", "de"])
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the administrator's password from standard input (else prompt).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"An organization with slug '{options['slug']}' already exists.")
        email = options["admin_email"].strip().lower()
        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=email).first()
        with transaction.atomic():
            if user is None:
                password = (
                    input() if options["password_stdin"] else getpass.getpass("Admin password: ")
                )
                user = user_model(username=email, email=email)
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
                user.set_password(password)
                user.save()
            try:
                organization = organization_create(
                    slug=options["slug"],
                    name=options["name"],
                    admin=user,
                    timezone=options["timezone"],
                    default_language=options["language"],
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name} at /o/{organization.slug}/ ({email}).")
        )
