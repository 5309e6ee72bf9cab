"""Write the demo shop page: a fake "order confirmed" page that shows the website widget.

``make run`` serves the page from a second origin (``DEMO_SHOP_ORIGIN``, by default
http://127.0.0.1:8001), which the demo organization's widget survey allows. The page
loads the widget from ``SITE_URL`` and identifies a demo customer with parameters
signed by the survey's link secret, as a shop's back end would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.loader import render_to_string
from django.utils import translation

from contacts.models import Contact
from contacts.services import contact_create
from responses.demo import DEMO_SHOP_ORIGIN
from responses.signing import sign_params
from responses.widget import origin_normalize
from surveys.models import Survey, SurveyStatus
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import SYSTEM

DEMO_CRM_ID = "DEMO-SHOP"
IDENTITY_DAYS = 30  # a static page: the signature must outlive it (real shops: minutes)


class Command(BaseCommand):
    help = "Write var/demo_shop/index.html, a shop page that shows the demo widget survey."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", default="demo", help="Organization slug.")
        parser.add_argument(
            "--output",
            default=str(Path(settings.VAR_DIR) / "demo_shop"),
            help="Folder for index.html (default: var/demo_shop).",
        )
        parser.add_argument(
            "--crm-id", default=DEMO_CRM_ID, help="CRM id of the customer the page signs in."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(
                f"No organization {options['organization']!r}: run `manage.py seed_demo` first."
            )
        with tenant_context(organization):
            survey = (
                Survey.objects.filter(widget_enabled=True, status=SurveyStatus.ACTIVE)
                .order_by("pk")
                .first()
            )
            if survey is None:
                raise CommandError(f"{organization.slug} has no active survey with the widget on.")
            contact = Contact.objects.filter(crm_id=options["crm_id"]).first() or contact_create(
                actor=SYSTEM,
                crm_id=options["crm_id"],
                first_name="Dana",
                last_name="Demo",
                attributes={"segment": "demo"},
            )
            language = survey.default_language
            params = {
                "crm_id": contact.crm_id,
                "exp": str(int(time.time()) + IDENTITY_DAYS * 86_400),
                "a.order": "DS-1042",
                "a.shop": "demo-shop",
            }
            identity = {**params, "sig": sign_params(survey.link_secret, params)}
            with translation.override(language):
                page = render_to_string(
                    "responses/demo_shop.html",
                    {
                        "language": language,
                        "site_url": settings.SITE_URL,
                        "survey_name": survey.name,
                        "contact_name": contact.first_name or contact.crm_id,
                        "order": params["a.order"],
                        "widget_options": {
                            "survey": survey.public_id,
                            "lang": language,
                            "delay": 2,
                            "identity": identity,
                        },
                    },
                )
            origins = [origin_normalize(o) for o in survey.allowed_origins or []]
        folder = Path(options["output"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(page, encoding="utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop written to {folder / 'index.html'}: survey “{survey.name}” "
                f"({survey.public_id}), customer {contact.crm_id}. Open {DEMO_SHOP_ORIGIN}/"
            )
        )
        if origin_normalize(DEMO_SHOP_ORIGIN) not in origins:
            self.stderr.write(
                f"Note: {DEMO_SHOP_ORIGIN} is not among the survey's allowed origins "
                f"({', '.join(origins) or 'none'}); the widget will be refused there."
            )
