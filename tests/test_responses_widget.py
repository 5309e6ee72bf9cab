"""The website widget's endpoints through the test client: the script, the survey's
configuration, submits, CORS, the contact budget, idempotency, bad bodies, rate limits."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.models import Contact
from responses.models import Response
from responses.signing import sign_params, verify_params
from surveys.models import Survey, SurveyStatus
from surveys.models_distribution import DistributionSettings
from tenants.context import tenant_context
from tenants.models import Role
from tests.conftest import Tenant
from tests.factories import ContactFactory, InvitationFactory, published_survey

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """The rate-limit counters live in the (process-wide) cache: start every test at 0."""
    cache.clear()


@pytest.fixture
def survey(tenant_a: Tenant) -> Survey:
    with tenant_context(tenant_a.organization):
        version = published_survey(
            widget_enabled=True, allowed_origins=[SHOP + "/", "http://127.0.0.1:8001"]
        )
    return version.survey


def config(client: Client, survey: Survey, origin: str | None = SHOP, **params: str) -> Any:
    headers = {"Origin": origin} if origin else {}
    return client.get(f"/w/{survey.public_id}/config", params, headers=headers)


def post(client: Client, survey: Survey, body: Any, origin: str | None = SHOP) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"Origin": origin} if origin else {}
    return client.post(
        f"/w/{survey.public_id}/responses",
        data,
        content_type="application/json",
        headers=headers,
    )


def answer(key: str = "k-1", **extra: Any) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "lang": "de",
        "answers": {"recommend": 9, "recommend-reason": "Schnelle Lieferung"},
        "page_url": "https://shop.example.com/checkout/done",
        **extra,
    }


def identity(survey: Survey, **params: str) -> dict[str, str]:
    return {**params, "sig": sign_params(survey.link_secret, params)}


def responses(tenant: Tenant) -> list[Response]:
    with tenant_context(tenant.organization):
        return list(Response.objects.select_related("contact"))


# --- The script ------------------------------------------------------------------------


def test_the_script_is_served_for_any_site(client: Client) -> None:
    response = client.get("/w/v1/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"FeedbackWidget" in response.content
    again = client.get("/w/v1/widget.js", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


# --- Configuration ---------------------------------------------------------------------


def test_config_for_an_allowed_origin(client: Client, survey: Survey) -> None:
    response = config(client, survey, lang="de-DE")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["show"] is True
    assert data["reason"] == ""
    assert data["survey"]["public_id"] == survey.public_id
    assert data["survey"]["language"] == "de"
    assert sorted(data["survey"]["languages"]) == ["de", "en"]
    nps, reason, _value = data["questions"]
    assert nps["type"] == "nps"
    assert nps["scale"] == list(range(11))
    assert nps["text"].startswith("Wie wahrscheinlich")
    assert reason["follow_up_for"] == "recommend"
    assert reason["texts_by_group"]["detractor"] == "Was sollten wir verbessern?"
    assert data["texts"]["submit"] == "Absenden"


def test_config_falls_back_to_the_default_language(client: Client, survey: Survey) -> None:
    data = config(client, survey, lang="fr").json()
    assert data["survey"]["language"] == "en"
    assert data["texts"]["submit"] == "Submit"


def test_config_refuses_other_origins_without_cors_headers(client: Client, survey: Survey) -> None:
    response = config(client, survey, origin=OTHER)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert response.json()["status"] == 403


def test_origins_match_on_scheme_host_and_port(client: Client, survey: Survey) -> None:
    assert config(client, survey, origin="http://127.0.0.1:8001").status_code == 200
    assert config(client, survey, origin="https://shop.example.com:443").status_code == 200
    assert config(client, survey, origin="http://shop.example.com").status_code == 403
    assert config(client, survey, origin="http://127.0.0.1:8002").status_code == 403
    assert config(client, survey, origin="null").status_code == 403


def test_config_without_origin_is_plain_json(client: Client, survey: Survey) -> None:
    response = config(client, survey, origin=None)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_unknown_and_disabled_surveys_are_404(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    response = client.get("/w/no-such-survey/config", headers={"Origin": SHOP})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    with tenant_context(tenant_a.organization):
        Survey.objects.filter(pk=survey.pk).update(widget_enabled=False)
    assert config(client, survey).status_code == 404
    assert post(client, survey, answer()).status_code == 404


def test_an_archived_survey_is_not_shown(client: Client, tenant_a: Tenant, survey: Survey) -> None:
    with tenant_context(tenant_a.organization):
        Survey.objects.filter(pk=survey.pk).update(status=SurveyStatus.ARCHIVED)
    data = config(client, survey).json()
    assert (data["show"], data["reason"], data["questions"]) == (False, "inactive", [])
    assert post(client, survey, answer()).status_code == 404


def test_preflight(client: Client, survey: Survey) -> None:
    for path in ("config", "responses"):
        response = client.options(
            f"/w/{survey.public_id}/{path}",
            headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == SHOP
        assert response["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
        assert response["Access-Control-Allow-Headers"] == "Content-Type"
        assert response["Access-Control-Max-Age"] == "600"
        refused = client.options(f"/w/{survey.public_id}/{path}", headers={"Origin": OTHER})
        assert refused.status_code == 403
        assert "Access-Control-Allow-Origin" not in refused


# --- Submit ----------------------------------------------------------------------------


def test_a_submit_stores_a_widget_response(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    response = post(client, survey, answer())
    assert response.status_code == 201, response.content
    assert response["Access-Control-Allow-Origin"] == SHOP
    data = response.json()
    assert data["status"] == "complete"
    (stored,) = responses(tenant_a)
    assert stored.token == data["token"]
    assert stored.channel == "widget"
    assert stored.language == "de"
    assert (stored.nps, stored.nps_group, stored.comment) == (9, "promoter", "Schnelle Lieferung")
    assert stored.contact is None
    assert stored.metadata == {
        "page_url": "https://shop.example.com/checkout/done",
        "origin": SHOP,
    }


def test_a_repeated_submit_stores_one_response(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    first = post(client, survey, answer())
    again = post(client, survey, answer())
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["token"] == again.json()["token"]
    assert len(responses(tenant_a)) == 1
    assert post(client, survey, answer(key="k-2")).status_code == 201
    assert len(responses(tenant_a)) == 2


def test_a_post_without_origin_is_refused(client: Client, tenant_a: Tenant, survey: Survey) -> None:
    response = post(client, survey, answer(), origin=None)
    assert response.status_code == 403
    refused = post(client, survey, answer(), origin=OTHER)
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused
    assert responses(tenant_a) == []


def test_an_identified_customer_is_linked_and_uses_up_the_budget(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory(crm_id="K-1", attributes={"segment": "silver"})
    signed = identity(survey, **{"crm_id": "K-1", "a.segment": "gold", "a.shop": "berlin"})
    assert config(client, survey, **signed).json()["show"] is True

    response = post(client, survey, answer(identity=signed))
    assert response.status_code == 201
    (stored,) = responses(tenant_a)
    assert stored.contact == contact
    assert stored.contact_attributes == {"segment": "gold", "shop": "berlin"}
    with tenant_context(tenant_a.organization):
        contact.refresh_from_db()
    assert contact.last_surveyed_at is not None

    data = config(client, survey, **signed).json()
    assert (data["show"], data["reason"], data["questions"]) == (False, "contact_budget", [])
    # Without an identity the page cannot tell who it is: the survey shows.
    assert config(client, survey).json()["show"] is True


def test_a_wrong_signature_answers_anonymously(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    with tenant_context(tenant_a.organization):
        ContactFactory(crm_id="K-1")
    forged = {"crm_id": "K-1", "sig": "0" * 64}
    assert post(client, survey, answer(identity=forged)).status_code == 201
    (stored,) = responses(tenant_a)
    assert stored.contact is None
    with tenant_context(tenant_a.organization):
        assert Contact.objects.get(crm_id="K-1").last_surveyed_at is None


def test_a_signed_unknown_customer_is_kept_in_the_metadata(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    signed = identity(survey, crm_id="K-404", exp=str(int(timezone.now().timestamp()) + 600))
    assert post(client, survey, answer(identity=signed)).status_code == 201
    (stored,) = responses(tenant_a)
    assert stored.contact is None
    assert stored.metadata["crm_id"] == "K-404"


def test_the_budget_follows_the_distribution_settings(
    client: Client, tenant_a: Tenant, survey: Survey
) -> None:
    with tenant_context(tenant_a.organization):
        ContactFactory(crm_id="K-1", last_surveyed_at=timezone.now() - timedelta(days=10))
        ContactFactory(crm_id="K-2", last_surveyed_at=timezone.now() - timedelta(days=40))
        ContactFactory(crm_id="K-3")
        InvitationFactory(
            contact=Contact.objects.get(crm_id="K-3"),
            survey=survey,
            status="scheduled",
            send_at=timezone.now() + timedelta(hours=2),
        )
    shown = {
        crm_id: config(client, survey, **identity(survey, crm_id=crm_id)).json()["show"]
        for crm_id in ("K-1", "K-2", "K-3")
    }
    assert shown == {"K-1": False, "K-2": True, "K-3": False}
    with tenant_context(tenant_a.organization):
        DistributionSettings.objects.update_or_create(defaults={"min_days_between_invitations": 7})
    signed = identity(survey, crm_id="K-1")
    assert config(client, survey, **signed).json()["show"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('"text"', None),
        ("null", None),
        (b"\xff\xfe", None),
        ("[" * 5000 + "]" * 5000, None),
        ("1" * 5000, None),
        ({"answers": {"recommend": 9}}, "idempotency_key"),
        ({"idempotency_key": 7, "answers": {}}, "idempotency_key"),
        ({"idempotency_key": "x" * 65, "answers": {}}, "idempotency_key"),
        ({"idempotency_key": "k", "answers": [9]}, "answers"),
        ({"idempotency_key": "k", "answers": {}, "identity": "K-1"}, "identity"),
        ({"idempotency_key": "k", "answers": {}, "identity": {"crm_id": ["K"]}}, "identity"),
        ({"idempotency_key": "k", "answers": {}, "page_url": 5}, "page_url"),
        ({"idempotency_key": "k", "answers": {"recommend": "eleven"}}, "recommend"),
        ({"idempotency_key": "k", "answers": {"recommend": {"a": 1}}}, "recommend"),
        ({"idempotency_key": "k", "answers": {}}, "recommend"),
    ],
)
def test_bad_bodies_are_400(
    client: Client, tenant_a: Tenant, survey: Survey, body: Any, field: str | None
) -> None:
    response = post(client, survey, body)
    assert response.status_code == 400, response.content
    assert response["Access-Control-Allow-Origin"] == SHOP
    data = response.json()
    assert data["status"] == 400
    assert data["title"]
    if field:
        assert data["errors"][field]
    assert responses(tenant_a) == []


def test_field_errors_are_in_the_survey_language(client: Client, survey: Survey) -> None:
    body = {"idempotency_key": "k", "lang": "de", "answers": {"recommend": 12}}
    data = post(client, survey, body).json()
    with translation.override("de"):
        message = gettext("Choose a value from %(min)s to %(max)s.") % {"min": 0, "max": 10}
    assert data["errors"] == {"recommend": [message]}


def test_large_bodies_are_413(client: Client, tenant_a: Tenant, survey: Survey) -> None:
    body = answer()
    body["answers"]["recommend-reason"] = "x" * (64 * 1024)
    response = post(client, survey, body)
    assert response.status_code == 413
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert responses(tenant_a) == []


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["idempotency_key", "answers", "identity", "lang", "page_url", "recommend", "x"]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_garbage_never_fails_with_500(client: Client, survey: Survey, body: Any) -> None:
    cache.clear()
    response = post(client, survey, body)
    assert response.status_code in (200, 201, 400), response.content


def test_the_rate_limit_answers_429(settings: Any, client: Client, survey: Survey) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_IP = 2
    assert config(client, survey).status_code == 200
    assert post(client, survey, answer()).status_code == 201
    limited = post(client, survey, answer(key="k-2"))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited["Access-Control-Allow-Origin"] == SHOP
    assert config(client, survey).status_code == 429


def test_repeats_of_one_submit_are_limited_by_key(
    settings: Any, client: Client, survey: Survey
) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_TOKEN = 2
    assert [post(client, survey, answer()).status_code for _ in range(3)] == [201, 200, 429]
    assert post(client, survey, answer(key="k-2")).status_code == 201


# --- The demo shop ---------------------------------------------------------------------


def test_demo_shop_page_shows_the_widget_survey_to_a_signed_customer(
    settings: Any, tenant_a: Tenant, survey: Survey, tmp_path: Any
) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    out = StringIO()
    call_command(
        "demo_shop", organization=tenant_a.organization.slug, output=str(tmp_path), stdout=out
    )
    page = (tmp_path / "index.html").read_text()
    assert '<script src="http://127.0.0.1:8000/w/v1/widget.js" async></script>' in page
    options = json.loads(
        page.split('id="widget-options" type="application/json">')[1].split("</script>")[0]
    )
    assert options["survey"] == survey.public_id
    signed = verify_params(survey.link_secret, options["identity"])
    assert signed.valid
    assert signed.crm_id == "DEMO-SHOP"
    with tenant_context(tenant_a.organization):
        assert Contact.objects.filter(crm_id="DEMO-SHOP").exists()
    assert survey.public_id in out.getvalue()
    # Idempotent: a second run reuses the customer.
    call_command("demo_shop", organization=tenant_a.organization.slug, output=str(tmp_path))


# --- The share page --------------------------------------------------------------------


def test_the_share_page_shows_the_embed_code(
    settings: Any, tenant_a: Tenant, survey: Survey
) -> None:
    settings.SITE_URL = "https://feedback.example.com"
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/share/"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://feedback.example.com/w/v1/widget.js" in html
    assert f'survey: "{survey.public_id}"' in html
    assert f'data-feedback-survey="{survey.public_id}"' in html
    assert "<code>http://127.0.0.1:8001</code>" in html
    assert survey.link_secret in html  # administrators sign with it

    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    html = viewer.get(tenant_a.url(f"surveys/{survey.pk}/share/")).content.decode()
    assert survey.public_id in html
    assert survey.link_secret not in html
