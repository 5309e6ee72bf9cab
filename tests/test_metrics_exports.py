"""Dashboard exports through the HTTP client and the Celery tasks: responses and cases
as CSV and XLSX with the dashboard's filters, export jobs for large exports (built by the
task, emailed, downloaded by the requester only, expired and cleaned up)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from closedloop.models import CaseRootCause, CaseStatus, Priority
from metrics.models import ExportJob, ExportStatus, ResponseTheme
from metrics.services import exports as export_services
from metrics.services.exports import STALE_PENDING, STALE_RUNNING
from metrics.tasks_exports import (
    export_build_task,
    export_files_expire_task,
    export_jobs_requeue_task,
)
from surveys.models import SurveyVersion
from surveys.services.lifecycle import survey_publish
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    TeamFactory,
    TouchpointFactory,
    case_factory,
    export_job_factory,
    published_survey,
    response_factory,
    root_cause_factory,
    survey_with_draft,
    theme_factory,
)

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]

PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}
QUERY = "start=2026-03-01&end=2026-03-31"
# 10 March 2026 09:00 UTC is 10:00 in Berlin (the organization's zone).
AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

TOPIC_EN = "What was your rating mainly about?"
TOPIC_DE = "Worauf bezieht sich Ihre Bewertung vor allem?"
EXTRAS_EN = "What else did you buy?"
EXTRAS_DE = "Was haben Sie noch gekauft?"
RECOMMEND_EN = "How likely are you to recommend us to a friend or colleague?"


def checkout_survey(**kwargs: Any) -> SurveyVersion:
    """The purchase CSAT template (a single choice) plus a multiple-choice question."""
    survey = survey_with_draft("purchase-csat", name=kwargs.pop("name", "Checkout"), **kwargs)
    draft = SurveyVersion.objects.get(survey=survey, published_at__isnull=True)
    draft.schema["questions"].append(
        {
            "id": "extras",
            "type": "multiple_choice",
            "required": False,
            "text": {"en": EXTRAS_EN, "de": EXTRAS_DE},
            "options": [
                {"id": "bag", "label": {"en": "A bag", "de": "Eine Tasche"}},
                {"id": "case", "label": {"en": "A case", "de": "Eine Hülle"}},
            ],
        }
    )
    draft.save()
    version = survey_publish(actor=SYSTEM, survey=survey)
    return SurveyVersion.objects.select_related("survey__touchpoint__journey").get(pk=version.pk)


@pytest.fixture
def data(tenant_a: Tenant) -> dict[str, Any]:
    """Two surveys at two touchpoints, four responses in March and one in February."""
    with tenant_context(tenant_a.organization):
        checkout = checkout_survey()
        nps = published_survey(name="Relationship")
        gold: Any = ContactFactory(
            crm_id="K-1", first_name="Jürgen", last_name="Groß", attributes={"tier": "gold"}
        )
        first = response_factory(
            version=checkout,
            answers={
                "purchase-satisfaction": 5,
                "purchase-topic": "delivery",
                "extras": ["bag", "case"],
                "purchase-comment": "Schnelle Lieferung, große Freude",
            },
            contact=gold,
            language="de",
            responded_at=AT,
        )
        formula = response_factory(
            version=checkout,
            answers={
                "purchase-satisfaction": 1,
                "purchase-comment": '=HYPERLINK("http://evil.example","Click")',
            },
            responded_at=AT + timedelta(hours=1),
        )
        promoter = response_factory(
            version=nps,
            answers={"recommend": 10, "recommend-reason": "Great service"},
            contact=gold,
            responded_at=AT + timedelta(days=1),
        )
        detractor = response_factory(
            version=nps,
            answers={"recommend": 3, "recommend-reason": "Slow"},
            responded_at=AT + timedelta(days=2),
        )
        february = response_factory(
            version=nps,
            answers={"recommend": 9},
            responded_at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC),
        )
        theme = theme_factory(name="Speed test")
        for response in (first, promoter):
            ResponseTheme.objects.create(
                response=response, theme=theme, responded_at=response.responded_at
            )
    return {
        "checkout": checkout,
        "nps": nps,
        "first": first,
        "formula": formula,
        "promoter": promoter,
        "detractor": detractor,
        "february": february,
    }


def export(
    client: Any,
    tenant: Tenant,
    query: str = QUERY,
    **form: str,
) -> Any:
    fields = {"kind": "responses", "format": "csv", "language": "en", **form}
    return client.post(tenant.url(f"dashboard/exports/new/?{query}"), fields)


def content_of(response: Any) -> bytes:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def read_csv(response: Any) -> pd.DataFrame:
    raw = content_of(response)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for Excel"
    return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def by_id(frame: pd.DataFrame, response: Any) -> dict[str, str]:
    # The first column is the response id, whatever the language of the headers.
    rows = frame[frame[frame.columns[0]] == str(response.pk)]
    assert len(rows) == 1
    return dict(rows.iloc[0])


def test_small_export_downloads_a_csv_with_flattened_answers(
    tenant_a: Tenant, data: dict[str, Any]
) -> None:
    response = export(tenant_a.client, tenant_a)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="responses-alpha-2026-03-01-2026-03-31.csv"'
    )
    frame = read_csv(response)
    assert len(frame) == 4  # February is outside the period
    fixed = [
        "Response ID",
        "Responded at",
        "Completed at",
        "Status",
        "Survey",
        "Survey version",
        "Journey",
        "Touchpoint",
        "Channel",
        "Language",
        "Contact CRM ID",
        "Contact name",
        "NPS",
        "NPS group",
        "CES",
        "CSAT",
        "Comment",
        "Themes",
        "crm.tier",
    ]
    assert list(frame.columns[: len(fixed)]) == fixed
    # Question columns: surveys by name (Checkout, Relationship), questions in order.
    assert list(frame.columns[len(fixed) :]) == [
        "How satisfied are you with your purchase?",
        TOPIC_EN,
        "Is there anything else you would like to tell us?",
        EXTRAS_EN,
        RECOMMEND_EN,
        "What is the main reason for your score?",
        "How satisfied are you with the value for money?",
    ]
    # Oldest first.
    assert list(frame["Response ID"]) == [
        str(data[key].pk) for key in ("first", "formula", "promoter", "detractor")
    ]
    first = by_id(frame, data["first"])
    assert first["Responded at"] == "2026-03-10T10:00:00"  # Berlin local time
    assert first["Status"] == "complete"
    assert first["Survey"] == "Checkout"
    assert first["Survey version"] == "1"
    assert first["Journey"] == data["checkout"].survey.touchpoint.journey.name
    assert first["Touchpoint"] == data["checkout"].survey.touchpoint.name
    assert first["Channel"] == "Open link"
    assert first["Language"] == "de"
    assert first["Contact CRM ID"] == "K-1"
    assert first["Contact name"] == "Jürgen Groß"
    assert first["CSAT"] == "5"
    assert first["NPS"] == ""
    assert first["Comment"] == "Schnelle Lieferung, große Freude"
    assert first["Themes"] == "Speed test"
    assert first["crm.tier"] == "gold"
    assert first[TOPIC_EN] == "Delivery"  # the option's label, not its id
    assert first[EXTRAS_EN] == "A bag; A case"
    promoter = by_id(frame, data["promoter"])
    assert promoter["NPS"] == "10"
    assert promoter["NPS group"] == "promoter"
    assert promoter[RECOMMEND_EN] == "10"
    assert promoter["What is the main reason for your score?"] == "Great service"
    assert promoter[TOPIC_EN] == ""
    with tenant_context(tenant_a.organization):
        entry = AuditLog.objects.get(action="metrics.export")
    assert entry.actor == tenant_a.admin
    assert entry.changes["rows"] == [None, 4]
    assert entry.changes["filters"][1]["start"] == "2026-03-01"


def test_headers_and_labels_follow_the_chosen_language(
    tenant_a: Tenant, data: dict[str, Any]
) -> None:
    german = read_csv(export(tenant_a.client, tenant_a, language="de"))
    assert TOPIC_DE in german.columns
    assert EXTRAS_DE in german.columns
    assert TOPIC_EN not in german.columns
    first = by_id(german, data["first"])
    assert first[TOPIC_DE] == "Die Lieferung"
    assert first[EXTRAS_DE] == "Eine Tasche; Eine Hülle"
    assert (
        "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen weiterempfehlen?"
        in german.columns
    )
    english = read_csv(export(tenant_a.client, tenant_a, language="en"))
    assert TOPIC_EN in english.columns
    assert TOPIC_DE not in english.columns


def test_a_question_without_the_language_falls_back_to_the_default_language(
    tenant_a: Tenant,
) -> None:
    with tenant_context(tenant_a.organization):
        survey = survey_with_draft("support-ces", name="Support", languages=["en", "de"])
        draft = SurveyVersion.objects.get(survey=survey, published_at__isnull=True)
        del draft.schema["questions"][1]["text"]["de"]
        draft.save()
        version = survey_publish(actor=SYSTEM, survey=survey)
        response_factory(
            version=version,
            answers={"support-effort": 6, "support-easier": "Nichts"},
            responded_at=AT,
        )
    frame = read_csv(export(tenant_a.client, tenant_a, language="de"))
    assert "Wie einfach war es, Ihr Anliegen heute zu klären?" in frame.columns
    assert "What could we have done to make it easier for you?" in frame.columns
    assert frame.iloc[0]["CES"] == "6"


def test_the_same_question_id_in_two_surveys_names_the_survey(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        shop = published_survey(name="Shop NPS")
        care = published_survey(name="Care NPS")
        response_factory(version=shop, answers={"recommend": 9}, responded_at=AT)
        response_factory(version=care, answers={"recommend": 4}, responded_at=AT)
    frame = read_csv(export(tenant_a.client, tenant_a))
    assert f"{RECOMMEND_EN} (Care NPS)" in frame.columns
    assert f"{RECOMMEND_EN} (Shop NPS)" in frame.columns
    values = dict(zip(frame["Survey"], frame[f"{RECOMMEND_EN} (Care NPS)"], strict=True))
    assert values == {"Care NPS": "4", "Shop NPS": ""}


def test_xlsx_has_a_bold_frozen_header_and_real_datetimes(
    tenant_a: Tenant, data: dict[str, Any]
) -> None:
    response = export(tenant_a.client, tenant_a, format="xlsx", language="de")
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith(
        'filename="responses-alpha-2026-03-01-2026-03-31.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(content_of(response))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:3] == ["Antwort-ID", "Beantwortet am", "Abgeschlossen am"]
    assert TOPIC_DE in header
    assert len(rows) == 5
    assert sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
    first = dict(zip(header, rows[1], strict=True))
    assert first["Antwort-ID"] == data["first"].pk
    assert first["Beantwortet am"] == datetime(2026, 3, 10, 10, 0, tzinfo=UTC).replace(tzinfo=None)
    # (naive: 10:00 Berlin local time, written without a time zone)
    assert first["CSAT"] == 5
    assert first["NPS"] is None
    assert first[TOPIC_DE] == "Die Lieferung"
    assert first["Name des Kontakts"] == "Jürgen Groß"
    width = sheet.column_dimensions["B"].width
    assert width is not None
    assert 8 <= width <= 60


def test_formula_injection_is_neutralised(tenant_a: Tenant, data: dict[str, Any]) -> None:
    frame = read_csv(export(tenant_a.client, tenant_a))
    comment = by_id(frame, data["formula"])["Comment"]
    assert comment == '\'=HYPERLINK("http://evil.example","Click")'
    sheet = load_workbook(
        io.BytesIO(content_of(export(tenant_a.client, tenant_a, format="xlsx")))
    ).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    column = header.index("Comment") + 1
    cells = [sheet.cell(row=row, column=column) for row in range(2, sheet.max_row + 1)]
    formula_cell = next(cell for cell in cells if "HYPERLINK" in str(cell.value))
    assert formula_cell.data_type == "s"
    assert str(formula_cell.value).startswith("'=")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("group=detractor", {"detractor"}),
        ("group=promoter", {"promoter"}),
        ("", {"first", "formula", "promoter", "detractor"}),
    ],
)
def test_score_group_filter(
    tenant_a: Tenant, data: dict[str, Any], query: str, expected: set[str]
) -> None:
    frame = read_csv(export(tenant_a.client, tenant_a, f"{QUERY}&{query}"))
    assert set(frame["Response ID"]) == {str(data[key].pk) for key in expected}


def test_touchpoint_theme_and_period_filters(tenant_a: Tenant, data: dict[str, Any]) -> None:
    touchpoint = data["checkout"].survey.touchpoint_id
    frame = read_csv(export(tenant_a.client, tenant_a, f"{QUERY}&touchpoint={touchpoint}"))
    assert set(frame["Response ID"]) == {str(data["first"].pk), str(data["formula"].pk)}
    assert set(frame["Survey"]) == {"Checkout"}
    # Only the checkout survey's questions are columns.
    assert RECOMMEND_EN not in frame.columns
    with tenant_context(tenant_a.organization):
        theme = ResponseTheme.objects.filter(response=data["first"]).get().theme_id
    themed = read_csv(export(tenant_a.client, tenant_a, f"{QUERY}&theme={theme}"))
    assert set(themed["Response ID"]) == {str(data["first"].pk), str(data["promoter"].pk)}
    february = read_csv(export(tenant_a.client, tenant_a, "start=2026-02-01&end=2026-02-28"))
    assert list(february["Response ID"]) == [str(data["february"].pk)]


def test_empty_export_has_the_headers(tenant_a: Tenant, data: dict[str, Any]) -> None:
    frame = read_csv(export(tenant_a.client, tenant_a, "start=2025-01-01&end=2025-01-31"))
    assert len(frame) == 0
    assert list(frame.columns[:2]) == ["Response ID", "Responded at"]


def test_cases_export(tenant_a: Tenant) -> None:
    owner = tenant_a.member(Role.OWNER, first_name="Olga", last_name="Owner")
    with tenant_context(tenant_a.organization):
        team: Any = TeamFactory(name="Care")
        case = case_factory(
            owner=owner,
            team=team,
            title="=cmd|' /C calc'!A0",
            status=CaseStatus.RESOLVED,
            priority=Priority.HIGH,
            created_at=AT,
            first_responded_at=AT + timedelta(hours=2),
            resolved_at=AT + timedelta(hours=5),
            first_response_breached_at=AT + timedelta(hours=1),
            recovered=True,
            resolution_summary="Refunded",
        )
        CaseRootCause.objects.create(case=case, root_cause=root_cause_factory(name="Courier"))
        CaseRootCause.objects.create(case=case, root_cause=root_cause_factory(name="Address"))
        old = case_factory(created_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        other_touchpoint: Any = TouchpointFactory()
    frame = read_csv(export(tenant_a.client, tenant_a, kind="cases"))
    assert list(frame.columns) == [
        "Case number",
        "Title",
        "Status",
        "Priority",
        "Opened",
        "First contact",
        "Resolved",
        "Closed",
        "First contact due",
        "Resolution due",
        "SLA breached",
        "Owner",
        "Team",
        "Journey",
        "Touchpoint",
        "Root causes",
        "Recovered",
        "Resolution summary",
        "NPS",
        "Response ID",
    ]
    assert list(frame["Case number"]) == [str(case.number)]  # January's case is outside
    row = dict(frame.iloc[0])
    assert row["Title"] == "'=cmd|' /C calc'!A0"
    assert row["Status"] == "Resolved"
    assert row["Priority"] == "High"
    assert row["Opened"] == "2026-03-10T10:00:00"
    assert row["First contact"] == "2026-03-10T12:00:00"
    assert row["Closed"] == ""
    assert row["SLA breached"] == "yes"
    assert row["Owner"] == "Olga Owner"
    assert row["Team"] == "Care"
    assert row["Root causes"] == "Address, Courier"
    assert row["Recovered"] == "yes"
    assert row["Resolution summary"] == "Refunded"
    assert row["NPS"] == "2"
    assert row["Response ID"] == str(case.response_id)
    assert row["Touchpoint"] == case.touchpoint.name
    response = export(tenant_a.client, tenant_a, kind="cases")
    assert 'filename="cases-alpha-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    # The touchpoint filter applies to cases too.
    none = read_csv(
        export(tenant_a.client, tenant_a, f"{QUERY}&touchpoint={other_touchpoint.pk}", kind="cases")
    )
    assert len(none) == 0
    january = read_csv(
        export(tenant_a.client, tenant_a, "start=2026-01-01&end=2026-01-31", kind="cases")
    )
    assert list(january["Case number"]) == [str(old.number)]
    assert dict(january.iloc[0])["SLA breached"] == "no"


def test_the_page_shows_the_form_the_counts_and_own_jobs(
    tenant_a: Tenant, data: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    manager = tenant_a.member(Role.CX_MANAGER)
    with tenant_context(tenant_a.organization):
        mine = export_job_factory(requested_by=tenant_a.admin, rows=12_345)
        export_job_factory(requested_by=tenant_a.admin, status="failed", error="Disk full")
        theirs = export_job_factory(requested_by=manager)
    with django_assert_max_num_queries(25):
        page = tenant_a.client.get(tenant_a.url(f"dashboard/exports/?{QUERY}&group=promoter"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="export-form"' in text
    action = re.search(r'<form method="post" action="([^"]+)" id="export-form"', text)
    assert action is not None
    assert "start=2026-03-01" in action.group(1)
    assert "group=promoter" in action.group(1)
    assert re.search(r'id="export-count-responses">1<', text)
    assert re.search(r'id="export-count-cases">0<', text)
    assert f'id="export-job-{mine.pk}"' in text
    assert f'id="export-job-{theirs.pk}"' not in text
    assert "Disk full" in text
    # A pending job makes the list poll (htmx), and a plain link refreshes it.
    assert 'hx-trigger="every 5s"' in text
    assert 'id="export-jobs-refresh"' in text
    # The form's language and the filter bar's language are two fields with own ids.
    assert text.count('id="id_language"') == 1
    assert 'id="id_export_language"' in text


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_owners_and_viewers_cannot_export(
    tenant_a: Tenant, data: dict[str, Any], role: str
) -> None:
    user = tenant_a.member(role)
    client = tenant_a.client_for(user)
    with tenant_context(tenant_a.organization):
        job = export_job_factory(requested_by=user)
    assert client.get(tenant_a.url("dashboard/exports/")).status_code == 403
    assert export(client, tenant_a).status_code == 403
    download = client.get(tenant_a.url(f"dashboard/exports/{job.pk}/download/"))
    assert download.status_code == 403


def test_cx_managers_can_export(tenant_a: Tenant, data: dict[str, Any]) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    assert client.get(tenant_a.url("dashboard/exports/")).status_code == 200
    assert export(client, tenant_a).status_code == 200


def test_invalid_form_shows_the_page_again(tenant_a: Tenant, data: dict[str, Any]) -> None:
    response = export(tenant_a.client, tenant_a, format="pdf")
    assert response.status_code == 400
    assert 'id="export-form"' in response.content.decode()
    assert tenant_a.client.get(tenant_a.url("dashboard/exports/new/")).status_code == 405


def test_large_export_becomes_a_job_built_emailed_and_downloaded_by_its_requester(
    tenant_a: Tenant,
    tenant_b: Tenant,
    data: dict[str, Any],
    settings: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.METRICS_EXPORT_SYNC_MAX_ROWS = 2
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://feedback.example"
    with django_capture_on_commit_callbacks(execute=True):
        response = export(tenant_a.client, tenant_a, format="xlsx", language="de")
    assert response.status_code == 302
    assert response["Location"] == tenant_a.url(f"dashboard/exports/?{QUERY}")
    with tenant_context(tenant_a.organization):
        job = ExportJob.objects.get()
    assert job.requested_by == tenant_a.admin
    assert (job.kind, job.format, job.language) == ("responses", "xlsx", "de")
    assert job.filters == PERIOD
    assert job.status == ExportStatus.READY
    assert job.rows == 4
    assert job.attempts == 1
    assert job.expires_at is not None
    assert job.finished_at is not None
    assert job.expires_at - job.finished_at == timedelta(days=7)
    assert default_storage.exists(job.file.name)
    assert job.file.name.startswith("exports/")
    # The email: to the requester, with the absolute download link.
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [tenant_a.admin.email]
    link = f"https://feedback.example/o/alpha/dashboard/exports/{job.pk}/download/"
    assert link in str(email.body)
    page = tenant_a.client.get(response["Location"])
    assert "We will email you when it is ready" in page.content.decode()
    assert f'href="/o/alpha/dashboard/exports/{job.pk}/download/"' in page.content.decode()
    # The requester downloads it.
    download = tenant_a.client.get(tenant_a.url(f"dashboard/exports/{job.pk}/download/"))
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="responses-alpha-2026-03-01-2026-03-31.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(content_of(download))).active
    assert sheet is not None
    assert sheet.max_row == 5
    assert TOPIC_DE in [cell.value for cell in sheet[1]]
    # Another CX manager of the organization: 404, like another organization.
    colleague = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    url = f"dashboard/exports/{job.pk}/download/"
    assert colleague.get(tenant_a.url(url)).status_code == 404
    assert tenant_b.client.get(tenant_b.url(url)).status_code == 404
    assert tenant_b.client.get(tenant_a.url(url)).status_code == 404
    # Building again changes nothing and sends no second email.
    assert (
        export_build_task.delay(organization_id=tenant_a.organization.pk, job_id=job.pk).get()
        == "skipped"
    )
    assert len(mail.outbox) == 1


def test_expired_exports_cannot_be_downloaded_and_their_files_are_deleted(
    tenant_a: Tenant,
    data: dict[str, Any],
    settings: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.METRICS_EXPORT_SYNC_MAX_ROWS = 2
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        export(tenant_a.client, tenant_a)
    with tenant_context(tenant_a.organization):
        job = ExportJob.objects.get()
    name = job.file.name
    url = tenant_a.url(f"dashboard/exports/{job.pk}/download/")
    assert tenant_a.client.get(url).status_code == 200
    # Not yet expired: the daily sweep keeps it.
    assert export_files_expire_task.delay().get() == 0
    with tenant_context(tenant_a.organization):
        ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = tenant_a.client.get(url)
    assert response.status_code == 302
    page = tenant_a.client.get(response["Location"])
    assert "no longer available" in page.content.decode()
    assert "Expired" in page.content.decode()
    assert export_files_expire_task.delay().get() == 1
    assert not default_storage.exists(name)
    with tenant_context(tenant_a.organization):
        job.refresh_from_db()
    assert job.file.name == ""
    assert job.status == ExportStatus.READY  # the record stays: who exported what, when
    assert tenant_a.client.get(url).status_code == 302
    assert export_files_expire_task.delay().get() == 0


def test_a_failing_build_is_retried_then_marked_failed(
    tenant_a: Tenant, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(export_services, "export_frame", broken)
    with tenant_context(tenant_a.organization):
        job = export_job_factory(requested_by=tenant_a.admin, filters=PERIOD)
    result = export_build_task.delay(organization_id=tenant_a.organization.pk, job_id=job.pk)
    assert result.get() == "failed"
    assert len(calls) == export_services.MAX_ATTEMPTS
    with tenant_context(tenant_a.organization):
        job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert job.error == "OSError: disk full"
    assert job.attempts == export_services.MAX_ATTEMPTS
    assert not mail.outbox
    download = tenant_a.client.get(tenant_a.url(f"dashboard/exports/{job.pk}/download/"))
    assert download.status_code == 302


def test_damaged_filters_fail_the_job_at_once(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        job = export_job_factory(requested_by=tenant_a.admin, filters={"start": "yesterday"})
    result = export_build_task.delay(organization_id=tenant_a.organization.pk, job_id=job.pk)
    assert result.get() == "failed"
    with tenant_context(tenant_a.organization):
        job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert job.attempts == 1
    assert job.error.startswith("The export could not be built")


def test_running_jobs_are_left_alone_unless_their_worker_died(
    tenant_a: Tenant, data: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    org = tenant_a.organization.pk
    with tenant_context(tenant_a.organization):
        busy = export_job_factory(
            requested_by=tenant_a.admin,
            filters=PERIOD,
            status="running",
            started_at=timezone.now() - timedelta(minutes=1),
            attempts=1,
        )
        dead = export_job_factory(
            requested_by=tenant_a.admin,
            filters=PERIOD,
            status="running",
            started_at=timezone.now() - STALE_RUNNING - timedelta(minutes=1),
            attempts=1,
        )
        gave_up = export_job_factory(
            requested_by=tenant_a.admin,
            filters=PERIOD,
            status="running",
            started_at=timezone.now() - STALE_RUNNING - timedelta(minutes=1),
            attempts=export_services.MAX_ATTEMPTS,
        )
    assert export_build_task.delay(organization_id=org, job_id=busy.pk).get() == "running"
    assert export_build_task.delay(organization_id=org, job_id=dead.pk).get() == "ready"
    assert export_build_task.delay(organization_id=org, job_id=gave_up.pk).get() == "failed"
    with tenant_context(tenant_a.organization):
        statuses = dict(ExportJob.objects.values_list("pk", "status"))
        dead.refresh_from_db()
    assert statuses == {busy.pk: "running", dead.pk: "ready", gave_up.pk: "failed"}
    assert dead.attempts == 2
    assert dead.rows == 4


def test_the_sweep_sends_stuck_jobs_again(
    tenant_a: Tenant, data: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    with tenant_context(tenant_a.organization):
        stuck = export_job_factory(
            requested_by=tenant_a.admin,
            filters=PERIOD,
            created_at=timezone.now() - STALE_PENDING - timedelta(minutes=1),
        )
        fresh = export_job_factory(requested_by=tenant_a.admin, filters=PERIOD)
    assert export_jobs_requeue_task.delay().get() == 1
    with tenant_context(tenant_a.organization):
        stuck.refresh_from_db()
        fresh.refresh_from_db()
    assert stuck.status == ExportStatus.READY
    assert fresh.status == ExportStatus.PENDING
    assert len(mail.outbox) == 1


def test_xlsx_too_long_for_a_sheet_is_refused(
    tenant_a: Tenant, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_services, "XLSX_MAX_ROWS", 3)
    response = export(tenant_a.client, tenant_a, format="xlsx")
    assert response.status_code == 302
    page = tenant_a.client.get(response["Location"])
    assert "do not fit into one Excel sheet" in page.content.decode()
    with tenant_context(tenant_a.organization):
        assert not ExportJob.objects.exists()
    # CSV has no such limit.
    assert export(tenant_a.client, tenant_a, format="csv").status_code == 200


def test_build_queries_do_not_grow_with_the_rows(
    tenant_a: Tenant, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    org = tenant_a.organization.pk

    def build_queries(count: int) -> int:
        with tenant_context(tenant_a.organization):
            for index in range(count):
                version = checkout_survey(name=f"Checkout {count}-{index}")
                response_factory(
                    version=version,
                    answers={"purchase-satisfaction": 4, "purchase-topic": "price"},
                    contact=ContactFactory(attributes={"tier": f"t{index}"}),
                    responded_at=AT,
                )
            job = export_job_factory(requested_by=tenant_a.admin, filters=PERIOD)
        with CaptureQueriesContext(connection) as queries:
            assert export_build_task.delay(organization_id=org, job_id=job.pk).get() == "ready"
        with tenant_context(tenant_a.organization):
            job.refresh_from_db()
            ExportJob.objects.filter(pk=job.pk).delete()
        assert job.rows is not None
        return len(queries)

    few = build_queries(2)
    many = build_queries(8)  # 10 responses of 10 surveys, 10 contacts
    assert many == few
    assert few <= 30  # PostgreSQL adds savepoints and the tenant setting per context
