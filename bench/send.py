"""Benchmark the invitation send path: scheduling in bulk, then sending one by one.

    python bench/send.py [--invitations 2000] [--workers 1]

Runs against the configured database (``DATABASE_URL``, else the SQLite file in var/):
applies migrations, creates a throwaway organization with a published survey and
contacts (email and SMS consent granted), schedules invitations through the manual-send
service (the budget and consent checks, bulk inserts) and sends them through
``invitation_send`` (claim, render, provider call, record: the path the Celery task
runs) with

* the embedded file adapters (.eml files and SMS JSON files in a temporary folder),
* Postmark through anymail and Twilio through its client, both against a local fake
  HTTP endpoint (tests/fakes.py) on the loopback interface.

Prints invitations per second for each, and deletes the organization afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from contacts.models import ConsentEvent, Contact  # noqa: E402
from surveys.models import (  # noqa: E402
    Invitation,
    InvitationEvent,
    Journey,
    SuppressedSend,
    Survey,
)
from surveys.services import (  # noqa: E402
    journey_create,
    survey_create_from_template,
    survey_publish,
    touchpoint_add,
)
from surveys.services.distribution import (  # noqa: E402
    distribution_settings_update,
    manual_send,
)
from surveys.services.invitations import invitation_send  # noqa: E402
from tenants.context import cross_tenant, tenant_context  # noqa: E402
from tenants.models import AuditLog, Organization  # noqa: E402
from tenants.services import Actor  # noqa: E402
from tests.fakes import FakeProvider, Reply  # noqa: E402

ACTOR = Actor(label="bench/send.py")
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # one INFO line per header


def make_contacts(count: int) -> None:
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                crm_id=f"B-{n:07d}",
                first_name="Kim",
                email=f"kunde{n}@example.com",
                phone=f"+4915120{n:06d}",
                language="de" if n % 2 else "en",
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                contact=contact,
                channel=channel,
                action="grant",
                source="import",
                actor_label=ACTOR.label,
            )
            for contact in contacts
            for channel in ("email", "sms")
        ],
        batch_size=1000,
    )


def make_survey(journey: Journey, name: str) -> Survey:
    touchpoint = touchpoint_add(actor=ACTOR, journey=journey, name=name)
    survey = survey_create_from_template(
        actor=ACTOR,
        touchpoint=touchpoint,
        template_key="relationship-nps",
        name=name,
        languages=["en", "de"],
        default_language="en",
    )
    survey_publish(actor=ACTOR, survey=survey)
    survey.refresh_from_db()
    return survey


def schedule(survey: Survey, channel: str) -> list[int]:
    started = time.perf_counter()
    plan = manual_send(
        actor=ACTOR, survey=survey, channel=channel, contacts=Contact.objects.all(), dry_run=False
    )
    seconds = time.perf_counter() - started
    print(
        f"  scheduled {plan.scheduled:,} {channel} invitations in {seconds:.2f} s "
        f"({plan.scheduled / seconds:,.0f}/s, skipped {plan.skipped_total})"
    )
    return list(
        Invitation.objects.filter(survey=survey, status="scheduled")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def send_all(organization_id: int, ids: list[int], workers: int) -> tuple[float, dict[str, int]]:
    def send(invitation_id: int) -> str:
        return invitation_send(organization_id=organization_id, invitation_id=invitation_id).result

    def send_chunk(chunk: list[int]) -> list[str]:
        try:
            return [send(invitation_id) for invitation_id in chunk]
        finally:
            connections.close_all()

    started = time.perf_counter()
    if workers == 1:
        results = [send(invitation_id) for invitation_id in ids]
    else:
        chunks = [ids[n::workers] for n in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            results = [r for chunk in pool.map(send_chunk, chunks) for r in chunk]
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for result in results:
        counts[result] = counts.get(result, 0) + 1
    return seconds, counts


def report(label: str, count: int, seconds: float, counts: dict[str, int]) -> None:
    print(
        f"{label:<28} {count:>7,} invitations  {seconds:7.2f} s  "
        f"{count / seconds:>8,.0f} invitations/s  {counts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invitations", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="threads sending in parallel")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    outbox = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    settings.OUTBOX_DIR = outbox
    settings.SITE_URL = "https://feedback.example"
    organization = Organization.objects.create(
        slug=f"bench-{uuid.uuid4().hex[:12]}", name="Benchmark (throwaway)"
    )
    org_id = organization.pk
    try:
        with tenant_context(organization):
            distribution_settings_update(actor=ACTOR, min_days_between_invitations=0)
            make_contacts(args.invitations)
            journey = journey_create(actor=ACTOR, name="Bench")
            surveys = {
                mode: make_survey(journey, mode)
                for mode in ("file-email", "file-sms", "postmark", "twilio")
            }

        settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
        settings.SMS_BACKEND = "file"
        with tenant_context(organization):
            ids = schedule(surveys["file-email"], "email")
        report("file adapter, email", len(ids), *send_all(org_id, ids, args.workers))
        with tenant_context(organization):
            ids = schedule(surveys["file-sms"], "sms")
        report("file adapter, SMS", len(ids), *send_all(org_id, ids, args.workers))

        with FakeProvider() as fake:
            fake.default = Reply(
                200, {"ErrorCode": 0, "Message": "OK", "MessageID": "pm", "To": "x@example.com"}
            )
            settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
            settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "bench", "POSTMARK_API_URL": fake.url}
            with tenant_context(organization):
                ids = schedule(surveys["postmark"], "email")
            report("anymail/Postmark (fake HTTP)", len(ids), *send_all(org_id, ids, args.workers))
            print(f"  requests at the fake endpoint: {len(fake.received):,}")

        with FakeProvider() as fake:
            fake.default = Reply(201, {"sid": "SM" + "0" * 32, "status": "queued"})
            settings.SMS_BACKEND = "twilio"
            settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
            settings.TWILIO_AUTH_TOKEN = "bench"  # noqa: S105 - fake endpoint
            settings.TWILIO_FROM_NUMBER = "+4930123456"
            settings.TWILIO_API_BASE_URL = fake.url
            with tenant_context(organization):
                ids = schedule(surveys["twilio"], "sms")
            report("Twilio client (fake HTTP)", len(ids), *send_all(org_id, ids, args.workers))
            print(f"  requests at the fake endpoint: {len(fake.received):,}")
    finally:
        started = time.perf_counter()
        with cross_tenant(reason="bench: delete the throwaway organization"):
            InvitationEvent.objects.filter(organization_id=org_id).delete()
            SuppressedSend.objects.filter(organization_id=org_id).delete()
            Invitation.objects.filter(organization_id=org_id).delete()
            Survey.objects.filter(organization_id=org_id).delete()
            ConsentEvent.objects.filter(organization_id=org_id).delete()
            AuditLog.objects.filter(organization_id=org_id).delete()
            Contact.objects.filter(organization_id=org_id).delete()
            organization.delete()
        print(f"deleted the benchmark organization in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
