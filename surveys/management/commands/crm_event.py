"""Process a CRM event for one contact: ``manage.py crm_event <org-slug> <event-type> <crm-id>``.

Evaluates the organization's active distribution rules for the event and prints, per
rule, what was scheduled or why it was suppressed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.models import Contact
from surveys.services.distribution import crm_event_process
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import SYSTEM


class Command(BaseCommand):
    help = "Run the distribution rules for a CRM event of one contact."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", help="organization slug")
        parser.add_argument("event_type", help="e.g. order_completed")
        parser.add_argument("crm_id", help="the contact's CRM id")
        parser.add_argument(
            "--attribute",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an event attribute for the rules' conditions (repeatable)",
        )
        parser.add_argument("--occurred-at", help="ISO 8601 time with zone (default: now)")
        parser.add_argument("--dry-run", action="store_true", help="decide, schedule nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization {options['organization']!r}.")
        attributes = {}
        for item in options["attribute"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"Write attributes as KEY=VALUE, not {item!r}.")
            attributes[key.strip()] = value.strip()
        occurred_at = timezone.now()
        if options["occurred_at"]:
            parsed = parse_datetime(options["occurred_at"])
            if parsed is None:
                raise CommandError("--occurred-at is not an ISO 8601 time.")
            occurred_at = parsed
        with tenant_context(organization):
            contact = Contact.objects.filter(crm_id=options["crm_id"]).first()
            if contact is None:
                raise CommandError(f"No contact with CRM id {options['crm_id']!r}.")
            try:
                outcomes = crm_event_process(
                    event_type=options["event_type"],
                    contact=contact,
                    occurred_at=occurred_at,
                    attributes=attributes,
                    actor=SYSTEM,
                    dry_run=options["dry_run"],
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        if not outcomes:
            self.stdout.write("No active rule for this event.")
        for outcome in outcomes:
            self.stdout.write(
                json.dumps(
                    {
                        "rule": outcome.rule_name,
                        "result": outcome.result,
                        "channel": outcome.channel,
                        "reason": outcome.reason,
                        "detail": outcome.detail,
                        "send_at": outcome.send_at.isoformat() if outcome.send_at else None,
                        "invitation": outcome.invitation_id,
                    },
                    ensure_ascii=False,
                )
            )
