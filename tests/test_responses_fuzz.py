"""Fuzzing the public submit path: whatever a client sends to /s/<token>/, /l/<public_id>/
or /r/<token>/, the answer is never a 500, and the database never holds a response that
breaks its constraints or whose answers the version would refuse."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responses.answers import answers_clean, answers_score, survey_steps
from responses.models import OutboxEvent, Response
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import ContactFactory, InvitationFactory, SurveyFactory

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OK_STATUSES = {200, 303, 400, 404}

SCHEMA = {
    "questions": [
        {
            "id": "intro",
            "type": "single_choice",
            "required": False,
            "text": {"en": "How did you order?", "de": "Wie haben Sie bestellt?"},
            "options": [
                {"id": "web", "label": {"en": "Online", "de": "Online"}},
                {"id": "phone", "label": {"en": "By phone", "de": "Telefonisch"}},
            ],
        },
        {
            "id": "recommend",
            "type": "nps",
            "required": True,
            "text": {"en": "Would you recommend us?", "de": "Würden Sie uns empfehlen?"},
        },
        {
            "id": "reason",
            "type": "text",
            "required": False,
            "max_length": 300,
            "follow_up_for": "recommend",
            "text": {"en": "Why?", "de": "Warum?"},
            "texts_by_group": {"promoter": {"en": "What did you like?", "de": "Was gefiel?"}},
        },
        {
            "id": "topics",
            "type": "multiple_choice",
            "required": False,
            "text": {"en": "Topics", "de": "Themen"},
            "options": [
                {"id": "price", "label": {"en": "Price", "de": "Preis"}},
                {"id": "speed", "label": {"en": "Speed", "de": "Tempo"}},
                {"id": "staff", "label": {"en": "Staff", "de": "Personal"}},
            ],
        },
        {
            "id": "effort",
            "type": "ces",
            "required": True,
            "text": {"en": "Was it easy?", "de": "War es einfach?"},
        },
        {"id": "happy", "type": "csat", "required": False, "text": {"en": "Happy?"}},
    ]
}
QUESTION_IDS = [q["id"] for q in SCHEMA["questions"]]


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_IP = 0
    settings.PUBLIC_RATE_LIMIT_PER_TOKEN = 0


@pytest.fixture
def version(tenant_a: Tenant) -> SurveyVersion:
    with tenant_context(tenant_a.organization):
        survey: Any = SurveyFactory(
            status="active", open_link_enabled=True, answer_change_window=timedelta(hours=1)
        )
        return SurveyVersion.objects.create(
            survey=survey,
            number=1,
            schema=SCHEMA,
            languages=["en", "de"],
            default_language="en",
            published_at=timezone.now(),
        )


# --- Strategies ----------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from("\x00\r\n\t\"'<>&%;=\u2028\ufeff\u00e4\U0001f600"), max_size=20
    ),
    st.builds(
        lambda c, n: c * n, st.sampled_from("x\x00é😀"), st.sampled_from([301, 5_001, 70_000])
    ),
    st.sampled_from(
        ["0", "6", "9", "10", "11", "-1", "07", "1e1", "٣", " 9 ", "9.0", "web", "price"]
    ),
)
step_values = st.one_of(
    st.sampled_from(["0", "1", "2", "", "-1", "00", "01", "\u0661", "1\x00", "999999999999", "0 "]),
    st.text(max_size=8),
)
keys = st.one_of(
    st.sampled_from([*QUESTION_IDS, "step", "lang", "idempotency_key", "csrfmiddlewaretoken"]),
    st.text(max_size=12),
)
valid_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=16, max_size=64)


@st.composite
def forms(draw: Any) -> list[tuple[str, str]]:
    """A form as (name, value) pairs: repeated names become lists on the server."""
    pairs = draw(st.lists(st.tuples(keys, texts), max_size=12))
    if draw(st.booleans()):
        pairs.append(("step", draw(step_values)))
    if draw(st.booleans()):
        pairs.append(("idempotency_key", draw(st.one_of(valid_keys, texts))))
    if draw(st.booleans()):
        pairs.append(("lang", draw(st.sampled_from(["en", "de", "fr", "", "\x00"]))))
    if draw(st.booleans()):
        # Often a plausible answer, so the fuzzer also walks the happy path's states.
        pairs += [("step", "0"), ("recommend", draw(st.sampled_from(["3", "8", "10"])))]
    return pairs


content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=nope",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data; boundary=",
        "application/json",
        "text/plain",
        "",
        "\x00/\x00",
    ]
)
raw_bodies = st.one_of(
    st.binary(max_size=400),
    st.sampled_from(
        [
            b"step=0&recommend=9",
            b"step=0&recommend=9&recommend=10",
            b'--xyz\r\nContent-Disposition: form-data; name="step"\r\n\r\n0\r\n--xyz--\r\n',
            b'--xyz\r\nContent-Disposition: form-data; name="recommend"; filename="a"\r\n\r\n9',
            b"%ff%fe=%00&step=%E0%A4",
            b'{"step": 0, "recommend": 9}',
            b"a=" + b"b" * 3_000_000,
            b"&".join(b"k%d=1" % i for i in range(1_500)),
        ]
    ),
)


# --- Checks -------------------------------------------------------------------------


def _post(client: Client, url: str, pairs: list[tuple[str, str]], multipart: bool) -> Any:
    if multipart:
        data: dict[str, list[str]] = {}
        for name, value in pairs:
            data.setdefault(name, []).append(value)
        return client.post(url, data)
    return client.post(url, urlencode(pairs), content_type="application/x-www-form-urlencoded")


def _assert_store_is_sound(tenant: Tenant) -> None:
    with tenant_context(tenant.organization):
        responses = list(Response.objects.select_related("survey_version"))
        with_events = set(OutboxEvent.objects.values_list("response_id", flat=True))
        for response in responses:
            version = response.survey_version
            known = {qid for step in survey_steps(version) for qid in step}
            assert set(response.answers) <= known, response.answers
            for qid, value in response.answers.items():
                again = answers_clean(version, {qid: value}, [qid])
                assert again.values.get(qid) == value, (qid, value, again.errors)
            if response.status == "complete":
                assert answers_clean(version, response.answers).is_valid, response.answers
            scores = answers_score(version, response.answers)
            assert (response.nps, response.nps_group, response.ces, response.csat) == (
                scores.nps,
                scores.nps_group,
                scores.ces,
                scores.csat,
            )
            assert response.comment == scores.comment
            assert response.pk in with_events  # written with its outbox event, never alone


# --- Tests --------------------------------------------------------------------------


def test_fuzz_invitation_link(tenant_a: Tenant, version: SurveyVersion) -> None:
    with tenant_context(tenant_a.organization):
        now = timezone.now()
        invitation: Any = InvitationFactory(
            contact=ContactFactory(language="de"),
            survey_version=version,
            survey=version.survey,
            status="sent",
            sent_at=now,
            expires_at=now + timedelta(days=14),
        )
    url = f"/s/{invitation.token}/"

    @FUZZ
    @given(pairs=forms(), multipart=st.booleans())
    def run(pairs: list[tuple[str, str]], multipart: bool) -> None:
        page = _post(Client(), url, pairs, multipart)
        assert page.status_code in OK_STATUSES, page.status_code
        _assert_store_is_sound(tenant_a)
        with tenant_context(tenant_a.organization):
            assert Response.objects.filter(invitation=invitation).count() <= 1

    run()


def test_fuzz_open_link(tenant_a: Tenant, version: SurveyVersion) -> None:
    url = f"/l/{version.survey.public_id}/"
    shared = Client()  # keeps its cookie: later examples continue "its" response

    @FUZZ
    @given(pairs=forms(), multipart=st.booleans(), reuse=st.booleans(), query=st.text(max_size=30))
    def run(pairs: list[tuple[str, str]], multipart: bool, reuse: bool, query: str) -> None:
        client = shared if reuse else Client()
        target = f"{url}?{urlencode({'crm_id': query, 'sig': query, 'lang': query})}"
        page = _post(client, target, pairs, multipart)
        assert page.status_code in OK_STATUSES, page.status_code
        _assert_store_is_sound(tenant_a)

    run()


def test_fuzz_response_link(tenant_a: Tenant, version: SurveyVersion) -> None:
    started = Client().post(
        f"/l/{version.survey.public_id}/",
        {"step": "0", "recommend": "9", "idempotency_key": "f" * 24},
    )
    assert started.status_code == 303
    with tenant_context(tenant_a.organization):
        token = Response.objects.get().token
    url = f"/r/{token}/"

    @FUZZ
    @given(pairs=forms(), multipart=st.booleans())
    def run(pairs: list[tuple[str, str]], multipart: bool) -> None:
        page = _post(Client(), url, pairs, multipart)
        assert page.status_code in OK_STATUSES, page.status_code
        _assert_store_is_sound(tenant_a)
        with tenant_context(tenant_a.organization):
            assert Response.objects.count() == 1

    run()


def test_fuzz_raw_bodies_and_queries(tenant_a: Tenant, version: SurveyVersion) -> None:
    with tenant_context(tenant_a.organization):
        now = timezone.now()
        invitation: Any = InvitationFactory(
            contact=ContactFactory(),
            survey_version=version,
            survey=version.survey,
            status="sent",
            sent_at=now,
            expires_at=now + timedelta(days=14),
        )
    Client().post(f"/s/{invitation.token}/", {"step": "0", "recommend": "5"})
    with tenant_context(tenant_a.organization):
        token = Response.objects.get().token
    urls = [
        f"/s/{invitation.token}/",
        f"/l/{version.survey.public_id}/",
        f"/r/{token}/",
        f"/s/{invitation.token}/thanks/",
    ]

    @FUZZ
    @given(
        url=st.sampled_from(urls),
        body=raw_bodies,
        content_type=content_types,
        query=st.lists(st.tuples(keys, texts), max_size=4),
    )
    def run(url: str, body: bytes, content_type: str, query: list[tuple[str, str]]) -> None:
        target = f"{url}?{urlencode(query)}"
        client = Client()
        method = "GET" if not body else "POST"
        page = client.generic(method, target, body, content_type=content_type)
        assert page.status_code in {*OK_STATUSES, 405}, page.status_code
        _assert_store_is_sound(tenant_a)

    run()
