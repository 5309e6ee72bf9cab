"""The conventions every API view inherits from ``tenants.api.TenantAPIView``.

Idempotency, throttling, cursor pagination and aware times are the base class's, not an
endpoint's, so they are proven once here on a tiny test-only view (teams of the key's
organization: a tenant model with a plain insert) mounted beside the real API. The
censuses in tests/test_api_scopes.py prove every real endpoint uses the base class.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import include, path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api import AwareDateTimeField, TenantAPIView
from tenants.context import cross_tenant, tenant_context
from tenants.models import IdempotencyKey, Team
from tests.conftest import Tenant, is_postgres
from tests.factories import api_key_with_secret

URL = "/api/v1/test/teams/"


class _TeamSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    due = AwareDateTimeField(required=False)
    failure = serializers.ChoiceField(choices=["", "raise", "503"], default="")
    sleep = serializers.FloatField(default=0, max_value=5)


class _TeamView(TenantAPIView):
    """Test only: GET lists teams (cursor pages), POST creates one."""

    model = Team
    serializer_class = _TeamSerializer
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "organization:read",
        "POST": "contacts:write",
    }

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([{"id": t.pk, "name": t.name} for t in page])

    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Numbered: team names are unique, and a test may create the same one twice.
        team = Team.objects.create(name=f"{data['name']} {Team.objects.count() + 1}")
        time.sleep(data["sleep"])
        if data["failure"] == "raise":
            raise RuntimeError("the view failed after writing")
        if data["failure"] == "503":
            return Response({"detail": "try again"}, status=503)
        due = data.get("due")
        return Response(
            {"id": team.pk, "name": team.name, "due": due.isoformat() if due else None},
            status=201,
            headers={"Location": f"{URL}{team.pk}/"},
        )


urlpatterns = [
    path("api/v1/test/teams/", _TeamView.as_view()),
    path("api/v1/", include("config.api")),
]

pytestmark = pytest.mark.urls(__name__)


def _auth(raw_key: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def _post(raw_key: str, body: dict[str, Any], key: str | None = None, **extra: Any) -> Any:
    headers = _auth(raw_key)
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return Client(**extra).post(URL, body, content_type="application/json", **headers)


def _teams(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        return sorted(Team.objects.values_list("name", flat=True))


# --- Idempotency ----------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_answer_once(tenant_a: Tenant) -> None:
    first = _post(tenant_a.raw_key, {"name": "Care"}, key="k-1")
    second = _post(tenant_a.raw_key, {"name": "Care"}, key="k-1")

    assert first.status_code == second.status_code == 201
    body = {"id": first.json()["id"], "name": "Care 1", "due": None}
    assert first.json() == second.json() == body
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert _teams(tenant_a) == ["Care 1"]


def test_without_a_key_every_post_has_its_effect(tenant_a: Tenant) -> None:
    _post(tenant_a.raw_key, {"name": "Care"})
    _post(tenant_a.raw_key, {"name": "Care"})
    assert _teams(tenant_a) == ["Care 1", "Care 2"]


def test_same_key_with_another_body_is_a_422_problem(tenant_a: Tenant) -> None:
    _post(tenant_a.raw_key, {"name": "Care"}, key="k-1")
    response = _post(tenant_a.raw_key, {"name": "Shop"}, key="k-1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 422
    assert "different request" in response.json()["detail"]
    assert _teams(tenant_a) == ["Care 1"]


@pytest.mark.parametrize("key", ["x" * 256, ""])
def test_a_key_of_bad_length_is_a_400_naming_the_header(tenant_a: Tenant, key: str) -> None:
    response = _post(tenant_a.raw_key, {"name": "Care"}, key=key)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["errors"]
    assert _teams(tenant_a) == []
    with tenant_context(tenant_a.organization):
        assert not IdempotencyKey.objects.exists()


def test_a_key_of_255_characters_is_accepted(tenant_a: Tenant) -> None:
    assert _post(tenant_a.raw_key, {"name": "Care"}, key="x" * 255).status_code == 201


def test_an_invalid_request_is_stored_and_replayed_too(tenant_a: Tenant) -> None:
    """A 4xx answer is the answer: the retry gets the same 400, not a second try."""
    first = _post(tenant_a.raw_key, {"name": ""}, key="k-1")
    second = _post(tenant_a.raw_key, {"name": ""}, key="k-1")

    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert first.json()["errors"] == {"name": ["This field may not be blank."]}
    assert second["Idempotent-Replayed"] == "true"


def test_an_exception_is_not_stored_and_its_writes_roll_back(tenant_a: Tenant) -> None:
    failed = _post(
        tenant_a.raw_key,
        {"name": "Care", "failure": "raise"},
        key="k-1",
        raise_request_exception=False,
    )
    assert failed.status_code == 500
    assert _teams(tenant_a) == []
    with tenant_context(tenant_a.organization):
        assert not IdempotencyKey.objects.exists()

    # The retry runs again (and may now succeed with the same key and body).
    retried = _post(
        tenant_a.raw_key,
        {"name": "Care", "failure": "raise"},
        key="k-1",
        raise_request_exception=False,
    )
    assert retried.status_code == 500
    assert "Idempotent-Replayed" not in retried


def test_a_5xx_answer_is_not_stored(tenant_a: Tenant) -> None:
    first = _post(tenant_a.raw_key, {"name": "Care", "failure": "503"}, key="k-1")
    second = _post(tenant_a.raw_key, {"name": "Care", "failure": "503"}, key="k-1")

    assert first.status_code == second.status_code == 503
    assert "Idempotent-Replayed" not in second
    # The view's own writes of a 5xx it returns (not raises) stay: the view decides.
    assert _teams(tenant_a) == ["Care 1", "Care 2"]
    with tenant_context(tenant_a.organization):
        assert not IdempotencyKey.objects.exists()


def test_keys_belong_to_one_api_key(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        _, other_raw = api_key_with_secret(name="Shop")
    first = _post(tenant_a.raw_key, {"name": "Care"}, key="shared")
    other = _post(other_raw, {"name": "Care"}, key="shared")

    assert first.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert first.json()["id"] != other.json()["id"]
    assert _teams(tenant_a) == ["Care 1", "Care 2"]


def test_keys_of_two_organizations_are_independent(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _post(tenant_a.raw_key, {"name": "Care"}, key="shared")
    other = _post(tenant_b.raw_key, {"name": "Care"}, key="shared")

    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert _teams(tenant_a) == _teams(tenant_b) == ["Care 1"]


def test_get_ignores_the_idempotency_key(tenant_a: Tenant) -> None:
    response = Client().get(URL, HTTP_IDEMPOTENCY_KEY="x" * 300, **_auth(tenant_a.raw_key))
    assert response.status_code == 200


def test_expiry_task_forgets_answers_older_than_a_day(tenant_a: Tenant) -> None:
    from tenants.tasks import idempotency_keys_expire_task

    _post(tenant_a.raw_key, {"name": "Old"}, key="old")
    _post(tenant_a.raw_key, {"name": "New"}, key="new")
    with tenant_context(tenant_a.organization):
        IdempotencyKey.objects.filter(key="old").update(
            created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1)
        )
        IdempotencyKey.objects.filter(key="new").update(
            created_at=datetime.now(UTC) - timedelta(hours=23)
        )

    idempotency_keys_expire_task.delay()

    with cross_tenant(reason="test: every organization's keys"):
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    # An expired key is a new request again; a kept one still replays.
    assert "Idempotent-Replayed" not in _post(tenant_a.raw_key, {"name": "Old"}, key="old")
    assert _post(tenant_a.raw_key, {"name": "New"}, key="new")["Idempotent-Replayed"] == "true"
    assert _teams(tenant_a) == ["New 2", "Old 1", "Old 3"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_have_one_effect_and_one_answer(tenant_a: Tenant) -> None:
    """The second request waits on the key's unique index until the first commits, then
    replays its answer (PostgreSQL; SQLite serialises writers differently)."""
    if not is_postgres():
        pytest.skip("needs PostgreSQL row locks")
    results: list[Any] = []

    def send(delay: float) -> None:
        time.sleep(delay)
        try:
            results.append(_post(tenant_a.raw_key, {"name": "Care", "sleep": 0.8}, key="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(d,)) for d in (0, 0.3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [201, 201]
    assert results[0].json() == results[1].json()
    assert sorted(r.get("Idempotent-Replayed", "") for r in results) == ["", "true"]
    assert _teams(tenant_a) == ["Care 1"]


# --- Throttling -----------------------------------------------------------------------


def test_the_request_over_the_limit_is_a_429_problem(tenant_a: Tenant, settings: Any) -> None:
    from django.core.cache import cache

    settings.API_RATE_LIMIT = "3/min"
    cache.clear()
    with tenant_context(tenant_a.organization):
        _, other_raw = api_key_with_secret(name="Shop")
    with time_machine.travel(datetime(2026, 11, 23, 14, 5, 10, tzinfo=UTC), tick=False):
        answers = [Client().get(URL, **_auth(tenant_a.raw_key)) for _ in range(4)]
        other = Client().get(URL, **_auth(other_raw))

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert {a["RateLimit-Reset"] for a in answers} == {"51"}
    throttled = answers[3]
    assert throttled["Content-Type"] == "application/problem+json"
    assert throttled.json()["status"] == 429
    assert throttled.json()["title"] == "Too many requests"
    assert 49 <= int(throttled["Retry-After"]) <= 51
    assert other.status_code == 200
    assert other["RateLimit-Remaining"] == "2"


def test_the_next_window_admits_requests_again(tenant_a: Tenant, settings: Any) -> None:
    from django.core.cache import cache

    settings.API_RATE_LIMIT = "1/min"
    cache.clear()
    with time_machine.travel(datetime(2026, 11, 23, 14, 5, 10, tzinfo=UTC), tick=False) as clock:
        assert Client().get(URL, **_auth(tenant_a.raw_key)).status_code == 200
        assert Client().get(URL, **_auth(tenant_a.raw_key)).status_code == 429
        clock.shift(timedelta(seconds=50))
        assert Client().get(URL, **_auth(tenant_a.raw_key)).status_code == 200


def test_a_throttled_post_does_not_burn_its_idempotency_key(
    tenant_a: Tenant, settings: Any
) -> None:
    from django.core.cache import cache

    settings.API_RATE_LIMIT = "1/min"
    cache.clear()
    with time_machine.travel(datetime(2026, 11, 23, 14, 5, 10, tzinfo=UTC), tick=False) as clock:
        Client().get(URL, **_auth(tenant_a.raw_key))
        throttled = _post(tenant_a.raw_key, {"name": "Care"}, key="k-1")
        clock.shift(timedelta(minutes=1))
        retried = _post(tenant_a.raw_key, {"name": "Care"}, key="k-1")

    assert throttled.status_code == 429
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert _teams(tenant_a) == ["Care 1"]


# --- Cursor pagination ----------------------------------------------------------------


def _make_teams(tenant: Tenant, names: list[str]) -> None:
    with tenant_context(tenant.organization):
        Team.objects.bulk_create([Team(name=name) for name in names])


def test_cursor_pages_cover_every_row_once_while_rows_are_added(tenant_a: Tenant) -> None:
    _make_teams(tenant_a, [f"t{i:02}" for i in range(25)])
    seen: list[str] = []
    url: str | None = f"{URL}?limit=10"
    pages = 0
    while url:
        response = Client().get(url, **_auth(tenant_a.raw_key))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        seen += [row["name"] for row in body["results"]]
        _make_teams(tenant_a, [f"new{pages}"])  # lands before the cursor: not in later pages
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == [f"t{i:02}" for i in reversed(range(25))]  # newest first, each once


def test_previous_link_returns_the_earlier_page(tenant_a: Tenant) -> None:
    _make_teams(tenant_a, [f"t{i}" for i in range(5)])
    first = Client().get(f"{URL}?limit=2", **_auth(tenant_a.raw_key)).json()
    second = Client().get(first["next"], **_auth(tenant_a.raw_key)).json()
    back = Client().get(second["previous"], **_auth(tenant_a.raw_key)).json()

    assert first["previous"] is None
    assert [r["name"] for r in second["results"]] == ["t2", "t1"]
    assert back["results"] == first["results"]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        # DRF's cursor pagination never refuses a page size: out of range or not a
        # number falls back to the default (100), above the maximum is cut to 1,000.
        ("1", 1),
        ("0", 100),
        ("-5", 100),
        ("abc", 100),
        ("1000", 1000),
        ("1001", 1000),
    ],
)
def test_limit_is_bounded(tenant_a: Tenant, limit: str, expected: int) -> None:
    _make_teams(tenant_a, [f"t{i}" for i in range(1001)])
    response = Client().get(f"{URL}?limit={limit}", **_auth(tenant_a.raw_key))

    assert response.status_code == 200
    assert len(response.json()["results"]) == expected


def test_a_forged_cursor_is_a_404_problem(tenant_a: Tenant) -> None:
    response = Client().get(f"{URL}?cursor=not-a-cursor", **_auth(tenant_a.raw_key))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Invalid cursor"


# --- Times ----------------------------------------------------------------------------


def test_a_naive_time_is_a_400_naming_the_field(tenant_a: Tenant) -> None:
    response = _post(tenant_a.raw_key, {"name": "Care", "due": "2026-11-23T14:05:00"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["due"]
    assert "zone" in response.json()["errors"]["due"][0]
    assert _teams(tenant_a) == []


@pytest.mark.parametrize(
    ("given", "returned"),
    [
        ("2026-11-23T14:05:00Z", "2026-11-23T14:05:00+00:00"),
        ("2026-11-23T14:05:00+01:00", "2026-11-23T13:05:00+00:00"),
    ],
)
def test_an_aware_time_is_accepted(tenant_a: Tenant, given: str, returned: str) -> None:
    response = _post(tenant_a.raw_key, {"name": "Care", "due": given})

    assert response.status_code == 201
    assert response.json()["due"] == returned


# --- Unknown URLs ---------------------------------------------------------------------


@pytest.mark.urls("config.urls")
@pytest.mark.parametrize("url", ["/api/v1/nothing/", "/api/v1/organization/x/", "/api/v2/"])
def test_an_unknown_api_url_is_a_404_problem(tenant_a: Tenant, url: str) -> None:
    response = Client().get(url, **_auth(tenant_a.raw_key))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "No such resource.",
        "instance": url,
    }


@pytest.mark.urls("config.urls")
def test_an_unknown_page_stays_html(db: None) -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
