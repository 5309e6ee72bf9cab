"""The responses API: reading and filtering (``responses:read``), the incremental sync
with ``updated_since``, and ingest of responses collected elsewhere
(``responses:write``) through the submit path, the outbox and routing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from closedloop.models import Case, CaseResponse
from responses.models import OutboxEvent, Response
from responses.services import response_submit
from surveys.models import Invitation, SurveyVersion
from surveys.models_distribution import InvitationStatus
from surveys.services.lifecycle import survey_create, survey_publish
from tenants.context import tenant_context
from tenants.models import AuditLog
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    InvitationFactory,
    TouchpointFactory,
    api_key_with_secret,
    case_factory,
    published_survey,
    response_factory,
    survey_with_draft,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
Capture = Callable[..., AbstractContextManager[Any]]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def get(tenant: Tenant, path: str = "", key: str | None = None, **params: Any) -> Any:
    return Client().get(
        f"/api/v1/responses/{path}", params, HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}"
    )


def data_queries(tenant: Tenant, url: str) -> int:
    """The queries of a GET beyond those of every API request (the key, its last use,
    and on PostgreSQL the row-level security settings and savepoints): measured against
    ``/api/v1/organization/``, which reads nothing else."""

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as context:
            response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
            assert response.status_code == 200
        return len(context.captured_queries)

    count("/api/v1/organization/")  # the key's last use is written at most once a minute
    baseline = count("/api/v1/organization/")
    return count(url) - baseline


def follow(tenant: Tenant, url: str) -> Any:
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}").json()


def post(tenant: Tenant, body: dict[str, Any], key: str | None = None, **headers: Any) -> Any:
    return Client().post(
        "/api/v1/responses/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key or tenant.raw_key}",
        **headers,
    )


@pytest.fixture
def org(tenant_a: Tenant) -> Iterator[Tenant]:
    with tenant_context(tenant_a.organization):
        yield tenant_a


@pytest.fixture
def version(org: Tenant) -> SurveyVersion:
    with time_machine.travel(T0, tick=False):
        return published_survey()


@pytest.fixture
def contact(org: Tenant) -> Any:
    return ContactFactory(crm_id="C-10042", language="de")


def counts() -> tuple[int, int, int, int]:
    """Responses, outbox events, cases, audit entries: "nothing written" means equal."""
    return (
        Response.objects.count(),
        OutboxEvent.objects.count(),
        Case.objects.count(),
        AuditLog.objects.filter(action="responses.ingest").count(),
    )


def open_invitation(version: SurveyVersion, contact: Any, **kwargs: Any) -> Invitation:
    now = kwargs.pop("now", None) or datetime.now(UTC)
    fields: dict[str, Any] = {
        "status": InvitationStatus.SENT,
        "sent_at": now,
        "expires_at": now + timedelta(days=14),
        **kwargs,
    }
    invitation: Any = InvitationFactory(survey_version=version, contact=contact, **fields)
    return invitation


# --- Ingest --------------------------------------------------------------------------------


def test_ingest_of_a_detractor_opens_a_case_through_the_outbox(
    org: Tenant,
    version: SurveyVersion,
    contact: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    survey = version.survey
    with (
        time_machine.travel(T0 + timedelta(hours=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(
            org,
            {
                "survey": survey.pk,
                "answers": {"recommend": 2, "recommend-reason": "  Parcel came late  "},
                "responded_at": "2026-03-02T10:00:00+01:00",
                "crm_id": "C-10042",
                "external_id": "call-17",
            },
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    stored = Response.objects.get()
    assert response["Location"] == f"/api/v1/responses/{stored.pk}/"
    assert body == {
        "id": stored.pk,
        "survey": survey.pk,
        "survey_version": 1,
        "touchpoint": survey.touchpoint_id,
        "journey": survey.touchpoint.journey_id,
        "invitation": None,
        "contact": {"id": contact.pk, "crm_id": "C-10042"},
        "channel": "api",
        "language": "de",  # the contact's language, offered by the survey
        "status": "complete",
        "answers": {
            "recommend": {"type": "nps", "value": 2},
            "recommend-reason": {"type": "text", "value": "Parcel came late"},
        },
        "nps": 2,
        "nps_group": "detractor",
        "ces": None,
        "csat": None,
        "comment": "Parcel came late",
        "case": None,  # routing runs on commit, after this answer was written
        "external_id": "call-17",
        "responded_at": "2026-03-02T09:00:00Z",
        "completed_at": "2026-03-02T09:00:00Z",  # collected elsewhere: when answered
        "updated_at": "2026-03-02T11:30:00Z",
    }
    # The outbox event was dispatched and routing opened a case for the detractor.
    event = OutboxEvent.objects.get(response=stored)
    assert event.topic == "response.created"
    assert event.dispatched_at is not None
    assert event.payload["nps_group"] == "detractor"
    assert event.payload["channel"] == "api"
    case = Case.objects.get()
    assert case.response_id == stored.pk
    assert case.contact_id == contact.pk
    assert get(org, f"{stored.pk}/").json()["case"] == case.number
    audit = AuditLog.objects.get(action="responses.ingest")
    assert audit.object_id == str(stored.pk)
    assert audit.actor_label.startswith("API key ")
    assert stored.metadata == {"ingested_by": audit.actor_label, "external_id": "call-17"}


def test_ingest_for_an_invitation_answers_it_and_a_second_is_a_409(
    org: Tenant,
    version: SurveyVersion,
    contact: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    invitation = open_invitation(version, contact, channel="sms")
    body = {
        "invitation": invitation.pk,
        "answers": {"recommend": 9, "value-for-money": 4},
        "language": "en",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = post(org, body)
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["invitation"] == invitation.pk
    assert data["survey"] == version.survey_id
    assert data["contact"] == {"id": contact.pk, "crm_id": "C-10042"}
    assert data["channel"] == "sms"  # the invitation's channel
    assert data["language"] == "en"
    assert (data["nps"], data["nps_group"], data["csat"]) == (9, "promoter", 4)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ANSWERED
    assert list(invitation.events.values_list("to_status", flat=True))[-1] == "answered"
    before = counts()
    again = post(org, {**body, "answers": {"recommend": 3}})
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["detail"] == "The invitation has been answered already."
    assert counts() == before
    assert Response.objects.get().nps == 9


@pytest.mark.parametrize(
    ("status", "expired", "detail"),
    [
        ("scheduled", False, "The invitation cannot take a response: it is scheduled."),
        ("bounced", False, "The invitation cannot take a response: it is bounced."),
        ("expired", False, "The invitation cannot take a response: it is expired."),
        ("opened", True, "The invitation cannot take a response: it is opened and expired."),
        ("answered", False, "The invitation has been answered already."),
    ],
)
def test_an_invitation_that_cannot_take_a_response_is_a_409(
    org: Tenant,
    version: SurveyVersion,
    contact: Any,
    status: str,
    expired: bool,
    detail: str,
) -> None:
    now = datetime.now(UTC)
    invitation = open_invitation(
        version,
        contact,
        status=status,
        expires_at=now - timedelta(minutes=1) if expired else now + timedelta(days=1),
    )
    before = counts()
    response = post(org, {"invitation": invitation.pk, "answers": {"recommend": 5}})
    assert response.status_code == 409
    assert response.json()["detail"] == detail
    assert counts() == before
    invitation.refresh_from_db()
    assert invitation.status == status


def test_the_same_external_id_returns_the_stored_response_or_conflicts(
    org: Tenant, version: SurveyVersion
) -> None:
    body = {"survey": version.survey_id, "answers": {"recommend": 10}, "external_id": "x-1"}
    first = post(org, body)
    assert first.status_code == 201
    again = post(org, body)
    assert again.status_code == 200
    assert again.json() == first.json()
    before = counts()
    changed = post(org, {**body, "answers": {"recommend": 4}})
    assert changed.status_code == 409
    assert "x-1" in changed.json()["detail"]
    assert counts() == before
    assert Response.objects.get().nps == 10


def test_idempotency_key_replays_the_first_answer(
    org: Tenant, version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    body = {"survey": version.survey_id, "answers": {"recommend": 1}}
    with django_capture_on_commit_callbacks(execute=True):
        first = post(org, body, HTTP_IDEMPOTENCY_KEY="4b7c-ingest")
    with django_capture_on_commit_callbacks(execute=True):
        second = post(org, body, HTTP_IDEMPOTENCY_KEY="4b7c-ingest")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert Response.objects.count() == 1
    assert OutboxEvent.objects.filter(topic="response.created").count() == 1
    assert Case.objects.count() == 1
    # Without the key, the same body is a second response (the key is the guard).
    assert post(org, body).status_code == 201
    assert Response.objects.count() == 2


def test_channel_import_is_history_and_opens_no_case(
    org: Tenant, version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            org,
            {
                "survey": version.survey_id,
                "answers": {"recommend": 0},
                "channel": "import",
                "responded_at": "2025-06-01T08:00:00Z",
            },
        )
    assert response.status_code == 201
    body = response.json()
    assert body["channel"] == "import"
    assert body["language"] == "en"  # no contact: the survey's default language
    assert body["contact"] is None
    assert body["completed_at"] == body["responded_at"] == "2025-06-01T08:00:00Z"
    assert Case.objects.count() == 0


def test_choice_answers_are_stored_as_option_ids(org: Tenant) -> None:
    version = published_survey("purchase-csat")
    response = post(
        org,
        {
            "survey": version.survey_id,
            "answers": {
                "purchase-satisfaction": 2,
                "purchase-topic": "delivery",
                "purchase-comment": None,
            },
        },
    )
    assert response.status_code == 201
    assert response.json()["answers"] == {
        "purchase-satisfaction": {"type": "csat", "value": 2},
        "purchase-topic": {"type": "single_choice", "value": "delivery"},
    }
    assert response.json()["csat"] == 2


BAD_INPUT: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "unknown question id",
        {"answers": {"recommend": 5, "nope": 1}},
        {"answers": {"nope": ["No question with this id in version 1 of the survey."]}},
    ),
    (
        "score out of range",
        {"answers": {"recommend": 11}},
        {"answers": {"recommend": ["Choose a value from 0 to 10."]}},
    ),
    (
        "score as text",
        {"answers": {"recommend": "9"}},
        {"answers": {"recommend": ["Give a whole number from 0 to 10."]}},
    ),
    (
        "score as boolean",
        {"answers": {"recommend": True}},
        {"answers": {"recommend": ["Give a whole number from 0 to 10."]}},
    ),
    (
        "text as number",
        {"answers": {"recommend": 5, "recommend-reason": 7}},
        {"answers": {"recommend-reason": ["Give the answer as a string."]}},
    ),
    (
        "csat out of range and text too long",
        {"answers": {"recommend": 5, "value-for-money": 0, "recommend-reason": "x" * 2001}},
        {
            "answers": {
                "value-for-money": ["Choose a value from 1 to 5."],
                "recommend-reason": ["Please keep your answer to 2000 characters (it has 2001)."],
            }
        },
    ),
    (
        "required question missing",
        {"answers": {"value-for-money": 4}},
        {"answers": {"recommend": ["Please answer this question."]}},
    ),
    (
        "no answers",
        {"answers": {"recommend": None}},
        {"answers": {"recommend": ["Please answer this question."]}},
    ),
    (
        "answers not an object",
        {"answers": [5]},
        {"answers": ['Expected a dictionary of items but got type "list".']},
    ),
    ("no survey", {"survey": None}, {"survey": ["Give the survey (or the invitation)."]}),
    ("unknown survey", {"survey": 999_999}, {"survey": ["No survey with id 999999."]}),
    (
        "unknown contact",
        {"answers": {"recommend": 5}, "crm_id": "C-404"},
        {"crm_id": ["No contact with this CRM id."]},
    ),
    (
        "naive time",
        {"answers": {"recommend": 5}, "responded_at": "2026-03-02T10:00:00"},
        {"responded_at": ["Give the time with its zone, e.g. 2026-11-23T14:05:00+01:00 or ...Z."]},
    ),
    (
        "future time",
        {"answers": {"recommend": 5}, "responded_at": "2099-01-01T00:00:00Z"},
        {"responded_at": ["The time lies in the future."]},
    ),
    (
        "language not offered",
        {"answers": {"recommend": 5}, "language": "fr"},
        {"language": ["The survey is not offered in 'fr' (only en, de)."]},
    ),
    (
        "channel of a customer page",
        {"answers": {"recommend": 5}, "channel": "email"},
        {"channel": ['"email" is not a valid choice.']},
    ),
    (
        "external id too long",
        {"answers": {"recommend": 5}, "external_id": "e" * 81},
        {"external_id": ["Ensure this field has no more than 80 characters."]},
    ),
    (
        "unknown invitation",
        {"survey": None, "invitation": 999_999},
        {"invitation": ["No invitation with id 999999."]},
    ),
    (
        "survey id zero",
        {"survey": 0},
        {"survey": ["Ensure this value is greater than or equal to 1."]},
    ),
]


@pytest.mark.parametrize(("case", "change", "errors"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    org: Tenant,
    version: SurveyVersion,
    case: str,
    change: dict[str, Any],
    errors: dict[str, Any],
) -> None:
    body = {"survey": version.survey_id, "answers": {"recommend": 5}, **change}
    body = {name: value for name, value in body.items() if value is not None}
    before = counts()
    response = post(org, body)
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == errors
    assert counts() == before


def test_a_draft_survey_takes_no_responses(org: Tenant) -> None:
    draft = survey_with_draft()
    response = post(org, {"survey": draft.pk, "answers": {"recommend": 5}})
    assert response.status_code == 400
    assert response.json()["errors"] == {"survey": ["The survey has no published version yet."]}
    assert Response.objects.count() == 0


def test_an_invitation_brings_survey_contact_and_channel(
    org: Tenant, version: SurveyVersion, contact: Any
) -> None:
    invitation = open_invitation(version, contact)
    other = published_survey()
    response = post(
        org,
        {
            "invitation": invitation.pk,
            "survey": other.survey_id,
            "crm_id": "C-10042",
            "channel": "api",
            "answers": {"recommend": 5},
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "survey": [f"The invitation is for survey {version.survey_id}."],
        "crm_id": ["Leave this out with an invitation: it comes from there."],
        "channel": ["Leave this out with an invitation: it comes from there."],
    }
    assert Response.objects.count() == 0
    # The invitation's own survey may be named.
    same = post(
        org, {"invitation": invitation.pk, "survey": version.survey_id, "answers": {"recommend": 5}}
    )
    assert same.status_code == 201


def test_another_organizations_survey_or_invitation_is_unknown(
    org: Tenant, tenant_b: Tenant, version: SurveyVersion, contact: Any
) -> None:
    invitation = open_invitation(version, contact)
    for body in (
        {"survey": version.survey_id, "answers": {"recommend": 5}},
        {"invitation": invitation.pk, "answers": {"recommend": 5}},
    ):
        response = post(tenant_b, body)
        assert response.status_code == 400
        assert list(response.json()["errors"]) == [next(iter(body))]
    with tenant_context(tenant_b.organization):
        assert Response.objects.count() == 0


def test_missing_scopes_are_403(org: Tenant, version: SurveyVersion) -> None:
    response_id = response_factory(version=version).pk
    _key, read_only = api_key_with_secret(scopes=["responses:read"])
    _key, write_only = api_key_with_secret(scopes=["responses:write"])
    body = {"survey": version.survey_id, "answers": {"recommend": 5}}
    assert post(org, body, key=read_only).status_code == 403
    assert get(org, key=write_only).status_code == 403
    assert get(org, f"{response_id}/", key=write_only).status_code == 403
    assert Response.objects.count() == 1
    assert post(org, body, key=write_only).status_code == 201
    assert get(org, key=read_only).status_code == 200


# --- Reading -------------------------------------------------------------------------------


@pytest.fixture
def spread(org: Tenant, version: SurveyVersion, contact: Any) -> dict[str, Any]:
    """Responses over two surveys at two touchpoints of two journeys, several channels,
    groups and times, one partial."""
    other = published_survey("support-ces", touchpoint=TouchpointFactory(), name="Support")
    other_contact: Any = ContactFactory(crm_id="C-2")
    rows: dict[str, Any] = {}

    def at(hours: int, key: str, **kwargs: Any) -> None:
        with time_machine.travel(T0 + timedelta(hours=hours), tick=False):
            rows[key] = response_factory(**kwargs)

    at(1, "promoter_link", version=version, answers={"recommend": 10}, channel="link")
    at(
        2,
        "detractor_api",
        version=version,
        answers={"recommend": 1},
        channel="api",
        contact=contact,
    )
    at(3, "passive_widget", version=version, answers={"recommend": 7}, channel="widget")
    at(4, "ces_email", version=other, answers={"support-effort": 6}, channel="email",
       contact=other_contact)  # fmt: skip
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        result = response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend": 4},
            question_ids=["recommend"],
            complete=False,
        )
        rows["partial"] = result.response
    rows["other"] = other
    return rows


def ids(tenant: Tenant, **params: Any) -> list[int]:
    response = get(tenant, **params)
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_list_filters(org: Tenant, version: SurveyVersion, contact: Any, spread: Any) -> None:
    r = {key: value.pk for key, value in spread.items() if isinstance(value, Response)}
    other = spread["other"]
    newest_first = [r["partial"], r["ces_email"], r["passive_widget"], r["detractor_api"]]
    newest_first.append(r["promoter_link"])
    assert ids(org) == newest_first
    assert ids(org, survey=version.survey_id) == [
        r["partial"],
        r["passive_widget"],
        r["detractor_api"],
        r["promoter_link"],
    ]
    assert ids(org, survey=other.survey_id) == [r["ces_email"]]
    assert ids(org, touchpoint=other.survey.touchpoint_id) == [r["ces_email"]]
    assert ids(org, journey=other.survey.touchpoint.journey_id) == [r["ces_email"]]
    assert ids(org, journey=version.survey.touchpoint.journey_id)[-1] == r["promoter_link"]
    assert ids(org, channel="widget") == [r["passive_widget"]]
    assert ids(org, channel="link") == [r["partial"], r["promoter_link"]]
    assert ids(org, nps_group="promoter") == [r["promoter_link"]]
    assert ids(org, nps_group="passive") == [r["passive_widget"]]
    assert ids(org, nps_group="detractor") == [r["partial"], r["detractor_api"]]
    assert ids(org, completed="false") == [r["partial"]]
    assert ids(org, completed="true") == newest_first[1:]
    assert ids(org, contact=contact.pk) == [r["detractor_api"]]
    assert ids(org, crm_id="C-2") == [r["ces_email"]]
    assert ids(org, crm_id="C-404") == []
    since, until = iso(T0 + timedelta(hours=2)), iso(T0 + timedelta(hours=4))
    assert ids(org, since=since, until=until) == [r["passive_widget"], r["detractor_api"]]
    assert ids(org, since=since, nps_group="detractor", channel="api") == [r["detractor_api"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-02T10:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"updated_since": "2026-03-02"}, "updated_since"),
        ({"nps_group": "fan"}, "nps_group"),
        ({"channel": "fax"}, "channel"),
        ({"completed": "maybe"}, "completed"),
        ({"survey": "abc"}, "survey"),
        ({"contact": str(2**70)}, "contact"),
    ],
)
def test_bad_filters_are_a_400(org: Tenant, params: dict[str, str], field: str) -> None:
    response = get(org, **params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_detail_has_answers_scores_contact_invitation_and_case(
    org: Tenant, version: SurveyVersion, contact: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    invitation = open_invitation(version, contact)
    with (
        time_machine.travel(T0 + timedelta(days=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        stored = response_factory(
            version=version,
            invitation=invitation,
            channel="email",
            language="de",
            answers={"recommend": 4, "recommend-reason": "Zu teuer", "value-for-money": 2},
        )
    case = Case.objects.get()
    response = get(org, f"{stored.pk}/")
    assert response.status_code == 200
    survey = version.survey
    now = iso(T0 + timedelta(days=1))
    assert response.json() == {
        "id": stored.pk,
        "survey": survey.pk,
        "survey_version": 1,
        "touchpoint": survey.touchpoint_id,
        "journey": survey.touchpoint.journey_id,
        "invitation": invitation.pk,
        "contact": {"id": contact.pk, "crm_id": "C-10042"},
        "channel": "email",
        "language": "de",
        "status": "complete",
        "answers": {
            "recommend": {"type": "nps", "value": 4},
            "recommend-reason": {"type": "text", "value": "Zu teuer"},
            "value-for-money": {"type": "csat", "value": 2},
        },
        "nps": 4,
        "nps_group": "detractor",
        "ces": None,
        "csat": 2,
        "comment": "Zu teuer",
        "case": case.number,
        "external_id": None,
        "responded_at": now,
        "completed_at": now,
        "updated_at": now,
    }


def test_another_organizations_response_is_404(
    org: Tenant, tenant_b: Tenant, version: SurveyVersion
) -> None:
    stored = response_factory(version=version)
    assert get(tenant_b, f"{stored.pk}/").status_code == 404
    assert get(tenant_b).json()["results"] == []
    assert get(org, f"{stored.pk}/").status_code == 200


def test_cursor_pages_cover_every_response_once(org: Tenant, version: SurveyVersion) -> None:
    for score in range(11):
        response_factory(version=version, answers={"recommend": score})
    expected = list(Response.objects.order_by("-id").values_list("id", flat=True))
    seen: list[int] = []
    url: str | None = "/api/v1/responses/?limit=4"
    pages = 0
    while url:
        body = follow(org, url)
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == expected


def test_list_queries_do_not_grow_with_responses(org: Tenant, version: SurveyVersion) -> None:
    other = published_survey("purchase-csat")
    for _ in range(6):
        case_factory(version=version)  # a detractor with a contact and a case
        response_factory(version=other, answers={"purchase-satisfaction": 4})
    assert CaseResponse.objects.count() == 6
    results = get(org).json()["results"]
    assert len(results) == 12
    assert sum(1 for row in results if row["case"] is not None) == 6
    assert sum(1 for row in results if row["contact"] is not None) == 6
    # The responses with their contact's CRM id and case number, then their versions.
    assert data_queries(org, "/api/v1/responses/") == 2
    assert data_queries(org, f"/api/v1/responses/{results[0]['id']}/") == 2
    assert data_queries(org, "/api/v1/responses/?updated_since=2020-01-01T00:00:00Z") == 2


# --- Incremental sync ----------------------------------------------------------------------


def test_updated_since_orders_by_change_and_sees_changes_made_while_paging(
    org: Tenant, version: SurveyVersion
) -> None:
    rows: list[Response] = []
    for hour in range(1, 7):
        with time_machine.travel(T0 + timedelta(hours=hour), tick=False):
            result = response_submit(
                version=version,
                channel="link",
                language="en",
                answers={"recommend": hour},
                question_ids=["recommend"],
                complete=False,
            )
            assert result.response is not None
            rows.append(result.response)
    # Since hour 2: hours 2..6, oldest change first.
    since = iso(T0 + timedelta(hours=2))
    first = get(org, updated_since=since, limit=2).json()
    assert [row["id"] for row in first["results"]] == [rows[1].pk, rows[2].pk]
    assert first["results"][0]["updated_at"] == iso(T0 + timedelta(hours=2))
    # While the client pages: an answer already read and one not read yet change.
    with time_machine.travel(T0 + timedelta(hours=8), tick=False):
        for row in (rows[1], rows[3]):
            response_submit(
                version=version,
                channel="link",
                language="en",
                answers={"recommend-reason": "More to say"},
                question_ids=["recommend-reason"],
                complete=True,
                response=row,
            )
    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        page = follow(org, url)
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    # Nothing is missed: the changed ones come again at the end, with their new time.
    assert seen == [rows[1].pk, rows[2].pk, rows[4].pk, rows[5].pk, rows[1].pk, rows[3].pk]
    # The next sync starts at the newest change seen.
    latest = get(org, updated_since=iso(T0 + timedelta(hours=8))).json()["results"]
    assert [row["id"] for row in latest] == [rows[1].pk, rows[3].pk]
    assert {row["status"] for row in latest} == {"complete"}
    assert {row["updated_at"] for row in latest} == {iso(T0 + timedelta(hours=8))}


def test_updated_since_combines_with_filters(org: Tenant, version: SurveyVersion) -> None:
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        old = response_factory(version=version, answers={"recommend": 2})
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        new_detractor = response_factory(version=version, answers={"recommend": 3})
        response_factory(version=version, answers={"recommend": 10})
    since = iso(T0 + timedelta(hours=2))
    assert ids(org, updated_since=since, nps_group="detractor") == [new_detractor.pk]
    assert old.pk not in ids(org, updated_since=since)


def test_multiple_choice_answers_and_an_all_empty_answer(org: Tenant) -> None:
    """Option ids in the options' order; wrong types per question; nothing given at all."""
    schema = {
        "questions": [
            {
                "id": "extras",
                "type": "multiple_choice",
                "required": False,
                "text": {"en": "What did you add?"},
                "options": [
                    {"id": "gift", "label": {"en": "Gift wrap"}},
                    {"id": "express", "label": {"en": "Express"}},
                    {"id": "insurance", "label": {"en": "Insurance"}},
                ],
            },
            {
                "id": "topic",
                "type": "single_choice",
                "required": False,
                "text": {"en": "Topic?"},
                "options": [
                    {"id": "price", "label": {"en": "Price"}},
                    {"id": "delivery", "label": {"en": "Delivery"}},
                ],
            },
        ]
    }
    touchpoint: Any = TouchpointFactory()
    survey = survey_create(
        actor=SYSTEM,
        touchpoint=touchpoint,
        name="Extras",
        languages=["en"],
        default_language="en",
        schema=schema,
    )
    survey_publish(actor=SYSTEM, survey=survey)
    before = counts()
    empty = post(org, {"survey": survey.pk, "answers": {"extras": None, "topic": None}})
    assert empty.status_code == 400
    assert empty.json()["errors"] == {"answers": ["Give at least one answer."]}
    wrong = post(org, {"survey": survey.pk, "answers": {"extras": "gift", "topic": ["price"]}})
    assert wrong.status_code == 400
    assert wrong.json()["errors"] == {
        "answers": {
            "extras": ["Give a list of option ids."],
            "topic": ["Give one option id as a string."],
        }
    }
    unknown = post(org, {"survey": survey.pk, "answers": {"extras": ["gift", "golden"]}})
    assert unknown.json()["errors"] == {"answers": {"extras": ["Choose one of the options."]}}
    assert counts() == before
    stored = post(org, {"survey": survey.pk, "answers": {"extras": ["express", "gift"]}})
    assert stored.status_code == 201
    assert stored.json()["answers"] == {
        "extras": {"type": "multiple_choice", "value": ["gift", "express"]}
    }
    assert stored.json()["nps"] is None
