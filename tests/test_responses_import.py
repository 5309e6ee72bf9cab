"""Importing historical responses from CSV: the command, the import page, the report and
its error download, idempotent re-imports, encodings and delimiters, time zones, bad
files, permissions and isolation."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from responses.models import Response
from responses.services import ingest
from responses.views import imports
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import published_survey

HEADER = "responded_at,crm_id,channel,external_id,recommend,recommend-reason"


def _survey(tenant: Tenant, template: str = "relationship-nps") -> SurveyVersion:
    with tenant_context(tenant.organization):
        return published_survey(template)


def _responses(tenant: Tenant) -> list[Response]:
    with tenant_context(tenant.organization):
        return list(Response.objects.select_related("contact").order_by("responded_at", "id"))


def _command(tenant: Tenant, version: SurveyVersion, path: Path) -> str:
    out = io.StringIO()
    call_command(
        "import_responses",
        "--org",
        tenant.organization.slug,
        "--survey",
        str(version.survey_id),
        str(path),
        stdout=out,
    )
    return out.getvalue()


def _write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "answers.csv"
    path.write_bytes(content)
    return path


def _upload(tenant: Tenant, version: SurveyVersion, content: bytes, client: Any = None) -> Any:
    client = client or tenant.client
    return client.post(
        tenant.url("responses/import/"),
        {
            "survey": str(version.survey_id),
            "file": SimpleUploadedFile("answers.csv", content, content_type="text/csv"),
        },
    )


# --- The command -----------------------------------------------------------------------


def test_the_command_imports_good_rows_and_reports_bad_ones(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    version = _survey(tenant_a)
    with tenant_context(tenant_a.organization):
        Contact.objects.create(crm_id="K-1", language="de")
    path = tmp_path / "history.csv"
    path.write_text(
        f"{HEADER}\n"
        "2025-03-01 10:00,K-1,email,a-1,9,Fast delivery\n"
        "2025-03-02,K-404,sms,a-2,3,\n"
        "2025-03-03,,fax,a-3,7,\n"  # unknown channel
        "03/04/2025,,,a-4,8,\n"  # not ISO
        "2025-03-05,,,a-5,11,\n",  # not a score
        encoding="utf-8",
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 rows were not imported"):
        call_command(
            "import_responses",
            "--org",
            tenant_a.organization.slug,
            "--survey",
            str(version.survey_id),
            str(path),
            stdout=out,
        )
    report = out.getvalue()
    assert "5 rows: 2 created, 0 updated, 0 unchanged, 3 failed." in report
    assert "Row 4 [channel]: Unknown channel" in report
    assert "Row 5 [responded_at]:" in report
    assert "Row 6 [recommend]: Choose a value from 0 to 10." in report
    first, second = _responses(tenant_a)
    assert (first.channel, first.status, first.nps, first.nps_group) == (
        "import",
        "complete",
        9,
        "promoter",
    )
    assert first.comment == "Fast delivery"
    assert first.contact is not None
    assert first.contact.crm_id == "K-1"
    assert first.language == "de"  # the contact's language
    assert first.metadata["original_channel"] == "email"
    assert first.metadata["external_id"] == "a-1"
    assert first.metadata["import_row"] == 2
    assert second.contact is None
    assert second.metadata["crm_id"] == "K-404"
    assert (second.nps_group, second.language) == ("detractor", "en")


def test_the_command_succeeds_when_every_row_is_stored(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "ok.csv"
    path.write_text("responded_at,recommend\n2025-01-01,10\n2025-01-02,0\n", encoding="utf-8")
    report = _command(tenant_a, version, path)
    assert "2 rows: 2 created" in report
    assert [r.nps for r in _responses(tenant_a)] == [10, 0]


def test_the_command_refuses_a_bad_file_and_stores_nothing(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "bad.csv"
    path.write_text("date,recommend\n2025-01-01,9\n", encoding="utf-8")
    with pytest.raises(CommandError, match="no “responded_at” column"):
        _command(tenant_a, version, path)
    assert _responses(tenant_a) == []


def test_the_command_does_not_reach_another_organizations_survey(
    tenant_a: Tenant, tenant_b: Tenant, tmp_path: Path
) -> None:
    theirs = _survey(tenant_b)
    path = tmp_path / "ok.csv"
    path.write_text("responded_at,recommend\n2025-01-01,10\n", encoding="utf-8")
    with pytest.raises(CommandError, match="No survey"):
        _command(tenant_a, theirs, path)
    assert _responses(tenant_b) == []


# --- Re-imports, encodings, time zones ---------------------------------------------------


def test_a_reimport_with_external_ids_adds_nothing(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "history.csv"
    path.write_text(
        "responded_at,external_id,recommend\n2025-01-01,x-1,9\n2025-01-02,x-2,6\n",
        encoding="utf-8",
    )
    assert "2 created" in _command(tenant_a, version, path)
    again = _command(tenant_a, version, path)
    assert "0 created, 0 updated, 2 unchanged, 0 failed" in again
    assert len(_responses(tenant_a)) == 2


def test_rows_without_external_id_are_new_each_time(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "history.csv"
    path.write_text("responded_at,recommend\n2025-01-01,9\n", encoding="utf-8")
    _command(tenant_a, version, path)
    _command(tenant_a, version, path)
    assert len(_responses(tenant_a)) == 2


def test_semicolons_and_latin_1(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "responded_at;recommend;recommend-reason;language\n"
        "2025-02-01;4;Lieferung zu spät, Kartons beschädigt;DE\n".encode("latin-1")
    )
    assert "1 created" in _command(tenant_a, version, path)
    [response] = _responses(tenant_a)
    assert response.comment == "Lieferung zu spät, Kartons beschädigt"
    assert response.language == "de"


def test_utf8_with_byte_order_mark(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffresponded_at,recommend-reason,recommend\n2025-02-01,Grüße,9\n".encode())
    _command(tenant_a, version, path)
    [response] = _responses(tenant_a)
    assert response.comment == "Grüße"


def test_times_without_zone_are_in_the_organizations_zone(tenant_a: Tenant, tmp_path: Path) -> None:
    assert tenant_a.organization.timezone == "Europe/Berlin"
    version = _survey(tenant_a)
    path = tmp_path / "times.csv"
    path.write_text(
        "responded_at,recommend\n"
        "2025-07-01 12:00,9\n"  # summer time: UTC+2
        "2025-01-15T12:00:00Z,8\n"
        "2025-01-16T12:00:00-05:00,7\n"
        "2025-01-20,6\n",  # a date: midnight in Berlin
        encoding="utf-8",
    )
    _command(tenant_a, version, path)
    times = [r.responded_at.astimezone(UTC) for r in _responses(tenant_a)]
    assert times == [
        datetime(2025, 1, 15, 12, 0, tzinfo=UTC),
        datetime(2025, 1, 16, 17, 0, tzinfo=UTC),
        datetime(2025, 1, 19, 23, 0, tzinfo=UTC),
        datetime(2025, 7, 1, 10, 0, tzinfo=UTC),
    ]


def test_choices_and_required_questions(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a, "purchase-csat")
    path = tmp_path / "csat.csv"
    path.write_text(
        "responded_at,purchase-satisfaction,purchase-topic,purchase-comment\n"
        "2025-01-01,5.0,delivery,Quick\n"  # "5.0" as spreadsheets write whole numbers
        "2025-01-02,,price,\n"  # a required question left empty
        "2025-01-03,4,teleportation,\n",  # no such option
        encoding="utf-8",
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_responses",
            "--org",
            tenant_a.organization.slug,
            "--survey",
            str(version.survey_id),
            str(path),
            stdout=out,
        )
    assert "Row 3 [purchase-satisfaction]: Please answer this question." in out.getvalue()
    assert "Row 4 [purchase-topic]: Choose one of the options." in out.getvalue()
    [response] = _responses(tenant_a)
    assert response.csat == 5
    assert response.answers["purchase-topic"] == "delivery"


def test_contacts_are_looked_up_in_one_query(tenant_a: Tenant, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    with tenant_context(tenant_a.organization):
        for n in range(30):
            Contact.objects.create(crm_id=f"K-{n}")
    rows = "".join(f"2025-01-01,K-{n},{n % 11}\n" for n in range(30))
    path = tmp_path / "many.csv"
    path.write_text(f"responded_at,crm_id,recommend\n{rows}", encoding="utf-8")
    with CaptureQueriesContext(connection) as queries:
        _command(tenant_a, version, path)
    contact_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "contacts_contact"' in q["sql"]
    ]
    assert len(contact_reads) == 1
    assert sum(r.contact is not None for r in _responses(tenant_a)) == 30


# --- The import page -------------------------------------------------------------------


def test_upload_report_and_error_download(tenant_a: Tenant) -> None:
    version = _survey(tenant_a)
    page = tenant_a.client.get(tenant_a.url("responses/import/"))
    assert page.status_code == 200
    assert version.survey.name in page.content.decode()
    columns = "<code>responded_at</code>; <code>recommend</code>; <code>recommend-reason</code>"
    assert columns in page.content.decode()
    content = (
        b"responded_at,recommend,recommend-reason,segment\n"
        b"2025-01-01,9,Great,gold\n"
        b"2025-01-02,ten,,gold\n"
        b"2025-01-03,,,\n"
        b"2025-01-04,5,=HYPERLINK(1),silver\n"
    )
    response = _upload(tenant_a, version, content)
    assert response.status_code == 302
    report_url = response["Location"]
    assert report_url.startswith(tenant_a.url("responses/import/"))
    report = tenant_a.client.get(report_url)
    assert report.status_code == 200
    body = report.content.decode()
    assert "answers.csv" in body
    assert "Column “segment” is no question of the survey" in body
    assert "Choose a value from 0 to 10." in body
    assert "The row has no answers." in body
    stored = _responses(tenant_a)
    assert [r.nps for r in stored] == [9, 5]
    assert stored[1].comment == "=HYPERLINK(1)"
    errors = tenant_a.client.get(report_url + "errors.csv")
    assert errors.status_code == 200
    assert errors["Content-Type"].startswith("text/csv")
    lines = errors.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,message"
    assert lines[1].startswith("3,recommend,")
    assert lines[2] == "4,,The row has no answers."


def test_a_bad_upload_gets_a_clear_error_and_stores_nothing(tenant_a: Tenant) -> None:
    version = _survey(tenant_a)
    for content, message in [
        (b"", "file is empty."),  # Django's own check
        (b"\n\n", "The file is empty."),
        (b"PK\x03\x04rest-of-a-workbook", "spreadsheet workbook"),
        (b"when,recommend\n2025-01-01,9\n", "no “responded_at” column"),
        (b"responded_at,segment\n2025-01-01,gold\n", "no column for any question"),
        (b"responded_at,recommend\n2025-01-01,9\n2025-01-02,9,9\n", "could not be read as CSV"),
        (b"responded_at,recommend\n2025-01-01,9,9\n", "more fields than the header"),
        (b"responded_at,recommend\n", "no responses"),
    ]:
        response = _upload(tenant_a, version, content)
        assert response.status_code == 400, content
        assert message in response.content.decode(), content
    assert _responses(tenant_a) == []


def test_the_row_limits(tenant_a: Tenant, monkeypatch: Any, tmp_path: Path) -> None:
    version = _survey(tenant_a)
    monkeypatch.setattr(imports, "WEB_MAX_ROWS", 2)
    content = b"responded_at,recommend\n2025-01-01,9\n2025-01-02,8\n2025-01-03,7\n"
    response = _upload(tenant_a, version, content)
    assert response.status_code == 400
    assert "at most 2 can be imported" in response.content.decode()
    monkeypatch.setattr(ingest, "MAX_ROWS", 1)  # the command's limit is the ceiling
    with pytest.raises(CommandError, match="at most 1 can be imported"):
        _command(tenant_a, version, _write(tmp_path, content))
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 20)
    response = _upload(tenant_a, version, b"responded_at,recommend\n2025-01-01,9\n")
    assert response.status_code == 400
    assert "The file is larger than" in response.content.decode()
    assert _responses(tenant_a) == []


def test_surveys_without_a_published_version_are_not_offered(tenant_a: Tenant) -> None:
    from tests.factories import survey_with_draft

    with tenant_context(tenant_a.organization):
        draft = survey_with_draft(name="Only a draft")
    page = tenant_a.client.get(tenant_a.url("responses/import/"))
    assert "Only a draft" not in page.content.decode()
    response = tenant_a.client.post(
        tenant_a.url("responses/import/"),
        {
            "survey": str(draft.pk),
            "file": SimpleUploadedFile("a.csv", b"responded_at,recommend\n2025-01-01,9\n"),
        },
    )
    assert response.status_code == 400
    assert _responses(tenant_a) == []


# --- Permissions and isolation ---------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_roles_without_the_import_capability_get_403(tenant_a: Tenant, role: str) -> None:
    version = _survey(tenant_a)
    client = tenant_a.client_for(tenant_a.member(role))
    assert client.get(tenant_a.url("responses/import/")).status_code == 403
    response = _upload(tenant_a, version, b"responded_at,recommend\n2025-01-01,9\n", client)
    assert response.status_code == 403
    assert _responses(tenant_a) == []


def test_a_cx_manager_may_import(tenant_a: Tenant) -> None:
    version = _survey(tenant_a)
    client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    response = _upload(tenant_a, version, b"responded_at,recommend\n2025-01-01,9\n", client)
    assert response.status_code == 302


def test_another_organizations_survey_is_a_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = _survey(tenant_b)
    _survey(tenant_a)
    page = tenant_a.client.get(tenant_a.url(f"responses/import/?survey={theirs.survey_id}"))
    assert page.status_code == 404
    response = _upload(tenant_a, theirs, b"responded_at,recommend\n2025-01-01,9\n")
    assert response.status_code == 404
    assert _responses(tenant_b) == []
    assert _responses(tenant_a) == []


def test_a_report_is_only_visible_in_its_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    version = _survey(tenant_a)
    response = _upload(tenant_a, version, b"responded_at,recommend\n2025-01-01,9\n")
    report_path = response["Location"].removeprefix(tenant_a.url())
    assert tenant_a.client.get(tenant_a.url(report_path)).status_code == 200
    # B's admin, in B's organization, with A's report id: not found.
    assert tenant_b.client.get(tenant_b.url(report_path)).status_code == 404
    assert tenant_b.client.get(tenant_b.url(report_path + "errors.csv")).status_code == 404
