"""CSV import of contacts, through ``manage.py import_contacts`` and through the upload
and column-mapping pages: upsert by CRM id, per-row error reports, unreadable files."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from contacts.demo import SAMPLE_CSV
from contacts.models import ConsentEvent, Contact, ContactImport
from contacts.selectors import contact_consent_state
from contacts.services import consent_record
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import SYSTEM
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, whatever language an earlier test's request left active."""
    with translation.override("en"):
        yield


GERMAN = (
    "Kundennummer;Vorname;Nachname;E-Mail;Telefon;Sprache;Segment;Umsatz\n"
    "K-1;Anna;Müller;Anna.Mueller@Example.com;030 1234567;Deutsch;enterprise;125000\n"
    "K-2;Bernd;Bauer;bernd@example.com;0151 23456789;de;smb;1200,50\n"
    "K-3;Clara;Weiß;;+41 44 668 18 00;en;consumer;\n"
)
ENGLISH = (
    "Customer No,Given name,Family name,Mail,Mobile,Owner\n"
    "C-1,Dana,Scully,dana@example.com,+1 212 555 0199,owner@demo.example\n"
    '"C-2","Fox","Mulder, jr.","fox@example.com","",lead@demo.example\n'
)
MIXED = (
    "Kundennummer;Vorname;E-Mail;Telefon;Sprache;Zeitzone\n"
    "K-1;Anna;anna@example.com;030 1234567;de;\n"  # row 2: good
    "K-2;Bernd;bernd(at)example.com;030 1234567;de;\n"  # row 3: bad email
    "K-3;Clara;clara@example.com;12;de;\n"  # row 4: bad phone
    "\n"  # row 5: blank, skipped silently
    ";Dora;dora@example.com;;de;\n"  # row 6: no CRM id
    "K-1;Anna again;anna2@example.com;;de;\n"  # row 7: duplicate of row 2
    "K-4;Emil;emil@example.com;;fr;\n"  # row 8: unknown language
    "K-5;Frida;frida@example.com;;de;Europe/Bern\n"  # row 9: unknown time zone
    "K-6;Gustav;gustav@example.com;;de;Europe/Vienna\n"  # row 10: good
    "K-7;Hanna;NOT-AN-EMAIL;0;xx;Mars/Base\n"  # row 11: four problems
)


def _write(tmp_path: Path, text: str, name: str = "contacts.csv", **kwargs: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(kwargs.get("raw") or text.encode(kwargs.get("encoding", "utf-8")))
    return path


def _command(*args: Any) -> str:
    out = io.StringIO()
    call_command("import_contacts", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def _contacts(tenant: Tenant) -> dict[str, Contact]:
    with tenant_context(tenant.organization):
        return {c.crm_id: c for c in Contact.objects.all()}


def _imports(tenant: Tenant) -> list[ContactImport]:
    with tenant_context(tenant.organization):
        return list(ContactImport.objects.order_by("id"))


# --- The management command ------------------------------------------------------------


def test_command_imports_a_german_excel_export_with_automatic_mapping(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    path = _write(tmp_path, GERMAN, raw=codecs.BOM_UTF8 + GERMAN.encode())
    out = _command(
        "alpha", path, "--consent-email", "grant", "--consent-wording", "Ja, per E-Mail."
    )
    assert "3 rows: 3 created, 0 updated, 0 unchanged, 0 failed." in out
    assert "Consent grants recorded: 2" in out
    contacts = _contacts(tenant_a)
    anna = contacts["K-1"]
    assert (anna.first_name, anna.last_name, anna.email, anna.phone, anna.language) == (
        "Anna",
        "Müller",
        "anna.mueller@example.com",
        "+49301234567",
        "de",
    )
    assert anna.attributes == {"revenue": 125000, "segment": "enterprise"}
    assert contacts["K-2"].attributes == {"revenue": 1200.5, "segment": "smb"}
    assert contacts["K-3"].attributes == {"segment": "consumer"}  # empty cell: no key
    assert contacts["K-3"].phone == "+41446681800"
    [contact_import] = _imports(tenant_a)
    assert contact_import.status == "completed"
    assert contact_import.source is None  # the uploaded bytes are not kept
    assert contact_import.mapping["Kundennummer"] == "crm_id"
    assert contact_import.mapping["Umsatz"] == "attr:revenue"
    assert (contact_import.created_count, contact_import.failed_count) == (3, 0)
    with tenant_context(tenant_a.organization):
        states = {crm: contact_consent_state(c) for crm, c in contacts.items()}
        event = ConsentEvent.objects.get(contact=anna)
        audit = AuditLog.objects.filter(action="contact_import.run").get()
        per_contact = AuditLog.objects.filter(action="contact.import", object_id=str(anna.pk))
        assert per_contact.get().changes["email"] == [None, "anna.mueller@example.com"]
    assert states["K-1"] == {"email": "granted", "sms": "unknown"}
    assert states["K-3"]["email"] == "unknown"  # no address, no consent
    assert (event.source, event.wording, event.actor_label) == (
        "import",
        "Ja, per E-Mail.",
        "manage.py import_contacts",
    )
    assert audit.changes["created"] == [None, 3]
    assert audit.changes["failed"] == [None, 0]


def test_command_with_an_explicit_mapping(tenant_a: Tenant, tmp_path: Path) -> None:
    path = _write(tmp_path, ENGLISH)
    out = _command(
        "alpha",
        path,
        "--map",
        "crm_id=Customer No",
        "--map",
        "first_name=Given name",
        "--map",
        "last_name=Family name",
        "--map",
        "email=Mail",
        "--map",
        "attr:account_owner=Owner",
    )
    assert "2 rows: 2 created" in out
    contacts = _contacts(tenant_a)
    assert contacts["C-2"].last_name == "Mulder, jr."
    assert contacts["C-1"].phone == ""  # the Mobile column was not mapped
    assert contacts["C-1"].attributes == {"account_owner": "owner@demo.example"}


def test_command_reports_bad_rows_and_imports_the_good_ones(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    out = _command("alpha", _write(tmp_path, MIXED))
    assert "9 rows: 2 created, 0 updated, 0 unchanged, 7 failed." in out
    assert set(_contacts(tenant_a)) == {"K-1", "K-6"}
    [contact_import] = _imports(tenant_a)
    errors = [(e["row"], e["column"]) for e in contact_import.errors]
    assert errors == [
        (3, "E-Mail"),
        (4, "Telefon"),
        (6, "Kundennummer"),
        (7, "Kundennummer"),
        (8, "Sprache"),
        (9, "Zeitzone"),
        (11, "E-Mail"),
        (11, "Telefon"),
        (11, "Sprache"),
        (11, "Zeitzone"),
    ]
    messages = {e["row"]: e["message"] for e in contact_import.errors}
    assert messages[3] == "“bernd(at)example.com” is not a valid email address."
    assert messages[7] == "The CRM id “K-1” appears already in row 2."
    assert messages[6] == "The CRM id is missing."
    assert "row 4 [Telefon]: “12” is not a valid phone number." in out


def test_dry_run_writes_nothing(tenant_a: Tenant, tmp_path: Path) -> None:
    out = _command("alpha", _write(tmp_path, MIXED), "--dry-run")
    assert "Dry run: nothing was written" in out
    assert "2 created" in out
    assert _contacts(tenant_a) == {}
    assert _imports(tenant_a) == []
    with tenant_context(tenant_a.organization):
        assert not AuditLog.objects.filter(action__startswith="contact").exists()


def test_reimport_updates_instead_of_duplicating(tenant_a: Tenant, tmp_path: Path) -> None:
    _command("alpha", _write(tmp_path, GERMAN))
    first = _contacts(tenant_a)
    with tenant_context(tenant_a.organization):
        Contact.objects.filter(crm_id="K-1").update(attributes={"revenue": 1, "vip": "yes"})
    changed = GERMAN.replace("125000", "130000").replace(
        "K-2;Bernd;Bauer;bernd@example.com", "K-2;Bernd;Bauer;"
    )
    out = _command("alpha", _write(tmp_path, changed + "K-9;Ida;Neu;ida@example.com;;;smb;5\n"))
    assert "4 rows: 1 created, 2 updated, 1 unchanged, 0 failed." in out
    second = _contacts(tenant_a)
    assert len(second) == 4
    assert {crm: c.pk for crm, c in second.items() if crm in first} == {
        crm: c.pk for crm, c in first.items()
    }
    # Mapped attributes are set, the contact's other keys kept; an empty cell clears.
    assert second["K-1"].attributes == {"revenue": 130000, "segment": "enterprise", "vip": "yes"}
    assert second["K-2"].email == ""
    assert second["K-3"].updated_at == first["K-3"].updated_at
    with tenant_context(tenant_a.organization):
        change = AuditLog.objects.filter(action="contact.import", object_id=str(first["K-1"].pk))
        assert change.latest("id").changes == {
            "attributes.revenue": [1, 130000],
            "attributes.segment": [None, "enterprise"],
        }


def test_an_import_never_regrants_a_withdrawn_consent(tenant_a: Tenant, tmp_path: Path) -> None:
    _command("alpha", _write(tmp_path, GERMAN))
    with tenant_context(tenant_a.organization):
        anna = Contact.objects.get(crm_id="K-1")
        consent_record(
            contact=anna, channel="email", action="withdraw", source="reply_stop", actor=SYSTEM
        )
    out = _command(
        "alpha", _write(tmp_path, GERMAN), "--consent-email", "grant", "--consent-wording", "Ja"
    )
    assert "Consent grants recorded: 1; not granted because withdrawn: 1." in out
    with tenant_context(tenant_a.organization):
        assert contact_consent_state(anna)["email"] == "withdrawn"
        assert contact_consent_state(Contact.objects.get(crm_id="K-2"))["email"] == "granted"


def test_consent_needs_a_wording(tenant_a: Tenant, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="wording"):
        _command("alpha", _write(tmp_path, GERMAN), "--consent-sms", "grant")
    assert _contacts(tenant_a) == {}


def test_rows_with_too_many_fields_are_reported_in_place(tenant_a: Tenant, tmp_path: Path) -> None:
    text = "crm_id,email\nA-1,a@example.com\nA-2,b@example.com,surplus\nA-3,c@example.com\n"
    _command("alpha", _write(tmp_path, text))
    [contact_import] = _imports(tenant_a)
    assert [(e["row"], e["column"]) for e in contact_import.errors] == [(3, "")]
    assert "more fields than the header" in contact_import.errors[0]["message"]
    assert set(_contacts(tenant_a)) == {"A-1", "A-3"}


UNREADABLE = [
    (b"", "The file is empty."),
    (b"   \n\n", "The file is empty."),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "spreadsheet workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
    ("Kundennummer;Name\nK-1;Jürgen Weiß\n".encode("latin-1"), "not UTF-8"),
    (b"Kundennummer;E-Mail\n", "no contacts"),
    (b"K-1;anna@example.com\nK-2;bernd@example.com\n", "must name the columns"),
    (b'crm_id,email\nK-1,"unclosed\n', "could not be read as CSV"),
]


@pytest.mark.parametrize(("data", "message"), UNREADABLE)
def test_unreadable_files_import_nothing(
    tenant_a: Tenant, tmp_path: Path, data: bytes, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _command("alpha", _write(tmp_path, "", raw=data or b" "[:0]))
    assert _contacts(tenant_a) == {}
    assert _imports(tenant_a) == []


def test_a_mapping_without_the_crm_id_column_imports_nothing(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    path = _write(tmp_path, GERMAN)
    with pytest.raises(CommandError, match="no column “Customer No”"):
        _command("alpha", path, "--map", "crm_id=Customer No", "--map", "email=E-Mail")
    with pytest.raises(CommandError, match="Map one column to the CRM id"):
        _command("alpha", path, "--map", "email=E-Mail")
    with pytest.raises(CommandError, match="unknown field"):
        _command("alpha", path, "--map", "mail=E-Mail")
    with pytest.raises(CommandError, match="No organization"):
        _command("nowhere", path)
    assert _contacts(tenant_a) == {}


def test_comma_tab_and_utf16_files(tenant_a: Tenant, tmp_path: Path) -> None:
    _command("alpha", _write(tmp_path, ENGLISH.replace("Customer No", "CRM ID")))
    tabbed = "crm_id\temail\tphone\nT-1\tt@example.com\t030 1234567\n"
    _command("alpha", _write(tmp_path, tabbed))
    utf16 = "Kundennummer;Vorname;E-Mail\nU-1;Jürgen;u@example.de\n".encode("utf-16")
    _command("alpha", _write(tmp_path, "", raw=utf16))
    contacts = _contacts(tenant_a)
    assert set(contacts) == {"C-1", "C-2", "T-1", "U-1"}
    assert contacts["T-1"].phone == "+49301234567"
    assert contacts["U-1"].first_name == "Jürgen"


# --- The upload and mapping pages --------------------------------------------------------


def _upload(client: Client, tenant: Tenant, data: bytes, name: str = "kunden.csv") -> Any:
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(tenant.url("contacts/imports/new/"), {"file": upload})


def _mapping_data(page: Any, **overrides: str) -> dict[str, str]:
    """The mapping form as the page suggests it (selected options and key values)."""
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data = {k: v for k, v in data.items() if not isinstance(v, bool)}
    data.update(overrides)
    return data


def test_upload_map_and_import_the_demo_sample(tenant_a: Tenant) -> None:
    cx = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    response = _upload(cx, tenant_a, SAMPLE_CSV.read_bytes(), "contacts_sample.csv")
    assert response.status_code == 302
    [pending] = _imports(tenant_a)
    assert pending.status == "pending"
    assert response["Location"] == tenant_a.url(f"contacts/imports/{pending.pk}/")

    page = cx.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Kundennummer" in html
    assert "gerhard.koch0@example.net" in html  # first values are shown
    data = _mapping_data(page)
    columns = pending.columns
    assert data[f"target_{columns.index('Kundennummer')}"] == "crm_id"
    assert data[f"target_{columns.index('Telefon')}"] == "phone"
    assert data[f"target_{columns.index('Kundenbetreuer')}"] == "attribute"
    assert data[f"key_{columns.index('Kundenbetreuer')}"] == "account_owner"
    # Keep the owner under another key, and leave the time zone out.
    data[f"key_{columns.index('Kundenbetreuer')}"] = "owner_email"
    data[f"target_{columns.index('Zeitzone')}"] = ""
    data.update(consent_email="on", consent_wording="Ja, ich möchte an Umfragen teilnehmen.")
    response = cx.post(tenant_a.url(f"contacts/imports/{pending.pk}/"), data)
    assert response.status_code == 302

    [done] = _imports(tenant_a)
    assert (done.status, done.row_count, done.failed_count) == ("completed", 13, 5)
    assert done.created_count == 8
    contacts = _contacts(tenant_a)
    assert contacts["KD-20009"].email == "oliver.kuehn@example.com"
    assert contacts["KD-20009"].phone == "+498912345678"
    assert contacts["KD-20010"].language == "en"
    assert contacts["KD-20001"].attributes["revenue"] == 1250000.5
    assert contacts["KD-20001"].attributes["owner_email"] == "owner@demo.example"
    assert contacts["KD-20007"].timezone == ""  # column not imported, so no error
    assert "KD-20004" not in contacts

    result = cx.get(tenant_a.url(f"contacts/imports/{done.pk}/")).content.decode()
    assert "Error report" in result
    assert "“michael.brandt(at)example.com” is not a valid email address." in result
    report = cx.get(tenant_a.url(f"contacts/imports/{done.pk}/errors.csv"))
    assert report["Content-Disposition"] == 'attachment; filename="contacts_sample-errors.csv"'
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "message"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("6", "E-Mail"),
        ("7", "Telefon"),
        ("8", "Kundennummer"),
        ("9", "Kundennummer"),
        ("10", "Sprache"),
    ]
    listing = cx.get(tenant_a.url("contacts/imports/")).content.decode()
    assert "contacts_sample.csv" in listing
    # The result is final: the import cannot run twice.
    again = cx.post(tenant_a.url(f"contacts/imports/{done.pk}/"), data)
    assert again.status_code == 405
    assert len(_contacts(tenant_a)) == 8


def test_uploading_the_same_file_again_updates(tenant_a: Tenant) -> None:
    for expected in ((3, 0), (0, 0)):
        page = tenant_a.client.get(_upload(tenant_a.client, tenant_a, GERMAN.encode())["Location"])
        response = tenant_a.client.post(page.request["PATH_INFO"], _mapping_data(page))
        assert response.status_code == 302
        latest = _imports(tenant_a)[-1]
        assert (latest.created_count, latest.updated_count) == expected
    assert _imports(tenant_a)[-1].unchanged_count == 3
    assert len(_contacts(tenant_a)) == 3


def test_an_unreadable_upload_is_explained_and_stores_nothing(tenant_a: Tenant) -> None:
    response = _upload(tenant_a.client, tenant_a, "Name;Ort\nJürgen;Köln\n".encode("cp1252"))
    assert response.status_code == 200
    assert "The file is not UTF-8 encoded" in response.content.decode()
    assert _imports(tenant_a) == []


def test_a_mapping_without_crm_id_is_refused_and_nothing_imported(tenant_a: Tenant) -> None:
    page = tenant_a.client.get(_upload(tenant_a.client, tenant_a, GERMAN.encode())["Location"])
    response = tenant_a.client.post(page.request["PATH_INFO"], _mapping_data(page, target_0=""))
    assert response.status_code == 200
    assert "Map one column to the CRM id" in response.content.decode()
    bad_key = _mapping_data(page, target_6="attribute", key_6="Kunden Segment")
    response = tenant_a.client.post(page.request["PATH_INFO"], bad_key)
    assert "is not a valid attribute key" in response.content.decode()
    assert [i.status for i in _imports(tenant_a)] == ["pending"]
    assert _contacts(tenant_a) == {}


def test_a_pending_upload_can_be_discarded(tenant_a: Tenant) -> None:
    location = _upload(tenant_a.client, tenant_a, GERMAN.encode())["Location"]
    response = tenant_a.client.post(location, {"action": "discard"})
    assert response.status_code == 302
    assert _imports(tenant_a) == []
    assert tenant_a.client.get(location).status_code == 404
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.filter(action="contact_import.discard").exists()


def test_forgotten_uploads_are_deleted_after_a_day(tenant_a: Tenant) -> None:
    start = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _upload(tenant_a.client, tenant_a, GERMAN.encode(), "old.csv")
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        _upload(tenant_a.client, tenant_a, GERMAN.encode(), "new.csv")
    assert [i.file_name for i in _imports(tenant_a)] == ["new.csv"]


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_only_managers_import(tenant_a: Tenant, role: str) -> None:
    with tenant_context(tenant_a.organization):
        from tests.factories import contact_import_factory

        pending = contact_import_factory()
    client = tenant_a.client_for(tenant_a.member(role))
    for path in ("contacts/imports/", "contacts/imports/new/", f"contacts/imports/{pending.pk}/"):
        assert client.get(tenant_a.url(path)).status_code == 403, path
    assert _upload(client, tenant_a, GERMAN.encode()).status_code == 403
    response = client.post(tenant_a.url(f"contacts/imports/{pending.pk}/"), {"target_0": "crm_id"})
    assert response.status_code == 403
    assert _contacts(tenant_a) == {}
