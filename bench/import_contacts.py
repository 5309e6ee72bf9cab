"""Benchmark the contact CSV import: a first import (creates) and a re-import (updates).

    python bench/import_contacts.py [--rows 100000] [--no-consent]

Runs against the configured database (``DATABASE_URL``, else the SQLite file in var/):
applies migrations, creates a throwaway organization, generates a CSV with pandas
(German headers, ``;`` delimiter, UTF-8 with BOM, as a German Excel export), imports it
through the same service the UI and ``manage.py import_contacts`` use, imports it again
with changed revenue (every row an update), prints rows/s and seconds for both, and
deletes the organization with everything in it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from contacts.models import ConsentEvent, Contact, ContactImport  # noqa: E402
from contacts.services import ImportConsent, ImportResult, contact_import_file  # noqa: E402
from tenants.context import cross_tenant, tenant_context  # noqa: E402
from tenants.models import AuditLog, Organization  # noqa: E402
from tenants.services import Actor  # noqa: E402

FIRST = ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lea", "Paul", "Laura", "Noah"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Huber"]


def make_csv(rows: int, revenue_offset: int = 0) -> bytes:
    rng = np.random.default_rng(42)
    index = np.arange(rows)
    first = np.array(FIRST)[index % len(FIRST)]
    last = np.array(LAST)[(index // len(FIRST)) % len(LAST)]
    frame = pd.DataFrame(
        {
            "Kundennummer": [f"K-{i:07d}" for i in index],
            "Vorname": first,
            "Nachname": last,
            "E-Mail": [f"kunde{i}@example.com" for i in index],
            # Unique, valid German mobile numbers in national format.
            "Telefon": [f"0151 {20000000 + i}" for i in index],
            "Sprache": rng.choice(["de", "en"], size=rows),
            "Segment": rng.choice(["enterprise", "smb", "consumer"], size=rows),
            "Umsatz": rng.integers(100, 500_000, size=rows) + revenue_offset,
            "Kundenbetreuer": rng.choice(["owner@demo.example", "lead@demo.example"], size=rows),
        }
    )
    return frame.to_csv(sep=";", index=False).encode("utf-8-sig")


def timed_import(data: bytes, consent: ImportConsent) -> tuple[float, ImportResult]:
    actor = Actor(label="bench/import_contacts.py")
    started = time.perf_counter()
    _import, result = contact_import_file(
        actor=actor, file_name="bench.csv", data=data, consent=consent
    )
    return time.perf_counter() - started, result


def report(label: str, rows: int, seconds: float, result: ImportResult) -> None:
    print(
        f"{label:<10} {rows:>8,} rows  {seconds:7.2f} s  {rows / seconds:>9,.0f} rows/s  "
        f"(created {result.created:,}, updated {result.updated:,}, "
        f"unchanged {result.unchanged:,}, failed {result.failed:,}, "
        f"consents {result.consent_recorded:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--no-consent", action="store_true", help="do not record email consent on import"
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    consent = (
        ImportConsent()
        if args.no_consent
        else ImportConsent(
            channels=("email",), wording="Ja, ich möchte zu Umfragen eingeladen werden."
        )
    )
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    started = time.perf_counter()
    first_file, second_file = make_csv(args.rows), make_csv(args.rows, revenue_offset=1)
    print(
        f"generated 2 CSV files of {len(first_file) / 2**20:.1f} MB in "
        f"{time.perf_counter() - started:.1f} s"
    )

    organization = Organization.objects.create(
        slug=f"bench-{uuid.uuid4().hex[:12]}", name="Benchmark (throwaway)"
    )
    try:
        with tenant_context(organization):
            seconds, result = timed_import(first_file, consent)
        report("import", args.rows, seconds, result)
        with tenant_context(organization):
            seconds, result = timed_import(second_file, consent)
        report("re-import", args.rows, seconds, result)
        with tenant_context(organization):
            counts = (Contact.objects.count(), ConsentEvent.objects.count())
        print(f"stored: {counts[0]:,} contacts, {counts[1]:,} consent events")
    finally:
        started = time.perf_counter()
        with cross_tenant(reason="bench: delete the throwaway organization"), transaction.atomic():
            ContactImport.objects.filter(organization=organization).delete()
            ConsentEvent.objects.filter(organization=organization).delete()
            AuditLog.objects.filter(organization=organization).delete()
            Contact.objects.filter(organization=organization).delete()
            # Only this benchmark's rows point at the organization; the foreign keys of
            # every other table refuse the delete otherwise.
            with connection.cursor() as cursor:
                table = Organization._meta.db_table
                cursor.execute(f'DELETE FROM "{table}" WHERE id = %s', [organization.pk])  # noqa: S608
        print(f"deleted the benchmark organization in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
