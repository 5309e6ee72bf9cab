"""Benchmark the bulk API: 100,000 contacts upserted and 100,000 CRM events turned into
scheduled invitations, through the real HTTP API.

    DATABASE_URL=postgres://feedback_dev@127.0.0.1:5432/bench_bulk \\
        .venv/bin/python bench/bulk.py [--contacts 100000] [--events 100000]

Runs against the configured database (``DATABASE_URL``, else the SQLite file in var/):
applies migrations, then creates an organization ``bench-bulk-<random>`` (time zone
Europe/Berlin) with a published survey (CSAT after purchase), an active distribution
rule for the event ``order_completed`` (email, 2 hours after the event) and an API key
with the scopes ``contacts:write`` and ``events:write``. Then, through Django's test
client in this process (the whole request path: URL routing, authentication, throttling,
JSON parsing, the views and services, the JSON answer; no network and no web server):

1. ``POST /api/v1/contacts/bulk/`` in batches of 10,000 (``--contacts`` contacts with
   email, name, language and a CRM attribute; every one created);
2. ``POST /api/v1/events/batch/`` in batches of 1,000 (``--events`` events
   ``order_completed`` for the contacts in turn; each schedules one invitation).

It prints the time and rate of each phase (contacts/s; events/s to invitation
scheduled), the slowest batch, and checks the stored counts: every contact, one
scheduled invitation per event (with ``--events`` at most ``--contacts``). The
throttle is raised (``API_RATE_LIMIT``) so it measures the application, not the limit.
The organization stays; drop the database to remove it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["API_RATE_LIMIT"] = "100000000/min"

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:
    django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from contacts.models import Contact  # noqa: E402
from surveys.models import Invitation  # noqa: E402
from surveys.services import (  # noqa: E402
    journey_create,
    survey_create_from_template,
    survey_publish,
    touchpoint_add,
)
from surveys.services.distribution import distribution_rule_create  # noqa: E402
from tenants.context import tenant_context  # noqa: E402
from tenants.models import Organization  # noqa: E402
from tenants.services import Actor, api_key_create  # noqa: E402

ACTOR = Actor(label="bench/bulk.py")
CONTACT_BATCH = 10_000
EVENT_BATCH = 1_000
FIRST = ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lea", "Paul", "Laura", "Noah"]
SEGMENTS = ["consumer", "smb", "enterprise"]


def setup() -> tuple[Organization, str]:
    organization = Organization.objects.create(
        slug=f"bench-bulk-{uuid.uuid4().hex[:8]}",
        name="Bulk benchmark",
        timezone="Europe/Berlin",
    )
    with tenant_context(organization):
        journey = journey_create(actor=ACTOR, name="Online shop")
        touchpoint = touchpoint_add(actor=ACTOR, journey=journey, name="Checkout")
        survey = survey_create_from_template(
            actor=ACTOR,
            touchpoint=touchpoint,
            template_key="purchase-csat",
            name="Satisfaction after purchase",
            languages=["de", "en"],
            default_language="de",
        )
        survey_publish(actor=ACTOR, survey=survey)
        distribution_rule_create(
            actor=ACTOR,
            name="Order completed: survey after 2 hours",
            event_type="order_completed",
            survey=survey,
            channel="email",
            delay=timedelta(hours=2),
            defer_when_blocked=False,
            is_active=True,
        )
        _key, raw = api_key_create(
            actor=ACTOR, name="bench", scopes=["contacts:write", "events:write"]
        )
    return organization, raw


def contact_items(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "crm_id": f"K-{i:07d}",
            "first_name": FIRST[i % len(FIRST)],
            "email": f"kunde{i}@example.com",
            "language": "de" if i % 3 else "en",
            "attributes": {"segment": SEGMENTS[i % len(SEGMENTS)]},
        }
        for i in range(start, stop)
    ]


def event_items(start: int, stop: int, contacts: int, at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "type": "order_completed",
            "occurred_at": (at + timedelta(seconds=i)).isoformat(),
            "contact": {"crm_id": f"K-{i % contacts:07d}"},
            "attributes": {"order_id": f"O-{i}"},
        }
        for i in range(start, stop)
    ]


def post(client: Client, key: str, path: str, body: dict[str, Any]) -> tuple[float, Any]:
    data = json.dumps(body)
    started = time.perf_counter()
    answer = client.post(
        path, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code} {answer.content[:2000]!r}")
    return seconds, answer.json()


def report(name: str, count: int, unit: str, timings: list[float]) -> None:
    total = sum(timings)
    print(
        f"{name:<10} {count:>8,} {unit:<9} in {total:6.1f} s  {count / total:>9,.0f} {unit}/s  "
        f"({len(timings)} requests, slowest {max(timings):.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    if args.contacts < 1 or not 0 <= args.events <= args.contacts:
        parser.error("use --contacts >= 1 and 0 <= --events <= --contacts")

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    organization, key = setup()
    print(f"organization: {organization.slug}; requests through the in-process test client")
    client = Client()

    timings = []
    created = 0
    for start in range(0, args.contacts, CONTACT_BATCH):
        stop = min(start + CONTACT_BATCH, args.contacts)
        seconds, body = post(
            client, key, "/api/v1/contacts/bulk/", {"items": contact_items(start, stop)}
        )
        timings.append(seconds)
        created += body["created"]
    report("contacts", args.contacts, "contacts", timings)

    at = datetime.now(UTC).replace(microsecond=0)
    timings = []
    scheduled = 0
    for start in range(0, args.events, EVENT_BATCH):
        stop = min(start + EVENT_BATCH, args.events)
        seconds, body = post(
            client,
            key,
            "/api/v1/events/batch/",
            {"events": event_items(start, stop, args.contacts, at)},
        )
        timings.append(seconds)
        scheduled += body["totals"]["scheduled"]
    if args.events:
        report("events", args.events, "events", timings)

    with tenant_context(organization):
        stored_contacts = Contact.objects.count()
        stored_invitations = Invitation.objects.filter(status="scheduled").count()
    print(
        f"stored: {stored_contacts:,} contacts ({created:,} created), "
        f"{stored_invitations:,} scheduled invitations ({scheduled:,} answered scheduled)"
    )
    expected = (args.contacts, args.contacts, args.events, args.events)
    if (stored_contacts, created, stored_invitations, scheduled) != expected:
        raise SystemExit(f"count mismatch: expected {expected}")
    print("counts: OK")


if __name__ == "__main__":
    main()
