"""The customer's survey pages: invitation links, open links, response links, thank-you,
rate limits, and the survey's share page with its QR codes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact
from contacts.services import consent_record
from responses.models import Response
from responses.signing import sign_params
from surveys.models import Invitation, Survey, SurveyVersion
from surveys.services.lifecycle import survey_archive
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import ContactFactory, InvitationFactory, published_survey

DETRACTOR_TEXT = "What should we improve?"
PROMOTER_TEXT = "What did you like most?"


def _invitation(tenant: Tenant, *, language: str = "en", **survey: Any) -> Invitation:
    with tenant_context(tenant.organization):
        version = published_survey(**survey)
        contact = ContactFactory(language=language)
        now = timezone.now()
        invitation: Any = InvitationFactory(
            contact=contact,
            survey_version=version,
            survey=version.survey,
            status="sent",
            sent_at=now,
            expires_at=now + timedelta(days=14),
        )
        return invitation


def _open_survey(tenant: Tenant, **survey: Any) -> SurveyVersion:
    with tenant_context(tenant.organization):
        return published_survey(open_link_enabled=True, **survey)


def _responses(tenant: Tenant, **filters: Any) -> list[Response]:
    with tenant_context(tenant.organization):
        return list(Response.objects.filter(**filters).order_by("id"))


def _body(response: Any) -> str:
    return response.content.decode()


# --- Invitation link: two steps ------------------------------------------------------


def test_invitation_link_answers_in_two_steps(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    client = Client()
    url = f"/s/{invitation.token}/"

    page = client.get(url)
    body = _body(page)
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["X-Robots-Tag"] == "noindex"
    # The score: eleven submit buttons in a fieldset with a legend; the ends are labelled.
    buttons = re.findall(r'<button type="submit" name="recommend" value="(\d+)"', body)
    assert buttons == [str(n) for n in range(11)]
    assert "<legend" in body
    assert '0<span class="visually-hidden"> \u2013 Not at all likely</span>' in body
    assert '10<span class="visually-hidden"> \u2013 Extremely likely</span>' in body
    assert 'name="step" value="0"' in body
    assert "Step 1 of 2" in body

    first = client.post(url, {"step": "0", "recommend": "3", "lang": "en"})
    assert first.status_code == 303
    assert first["Location"] == f"{url}?step=1&lang=en"
    (stored,) = _responses(tenant_a)
    assert stored.status == "partial"
    assert stored.nps == 3
    assert stored.nps_group == "detractor"
    assert stored.channel == "email"
    assert stored.invitation_id == invitation.pk
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get(pk=invitation.pk).status == "answered"

    second_page = client.get(first["Location"])
    body = _body(second_page)
    assert second_page.status_code == 200
    assert DETRACTOR_TEXT in body  # the follow-up chosen for the customer's group
    assert PROMOTER_TEXT not in body
    assert "Your score: 3" in body
    assert f'href="{url}?step=0&amp;lang=en"' in body  # change the score

    done = client.post(
        url,
        {"step": "1", "recommend-reason": "Slow delivery", "value-for-money": "2", "lang": "en"},
    )
    assert done.status_code == 303
    assert done["Location"] == f"{url}thanks/?lang=en"
    (stored,) = _responses(tenant_a)
    assert stored.status == "complete"
    assert stored.comment == "Slow delivery"
    assert stored.csat == 2
    assert stored.answers == {
        "recommend": 3,
        "recommend-reason": "Slow delivery",
        "value-for-money": 2,
    }
    thanks = client.get(done["Location"])
    assert thanks.status_code == 200
    assert "Thank you!" in _body(thanks)


def test_follow_up_text_depends_on_the_score(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    client = Client()
    url = f"/s/{invitation.token}/"
    client.post(url, {"step": "0", "recommend": "10"})
    body = _body(client.get(f"{url}?step=1"))
    assert PROMOTER_TEXT in body
    assert DETRACTOR_TEXT not in body
    # Back to the score, a different group: the follow-up follows.
    client.post(url, {"step": "0", "recommend": "8"})
    body = _body(client.get(f"{url}?step=1"))
    assert "What would it take for you to rate us higher?" in body
    assert len(_responses(tenant_a)) == 1


def test_returning_customer_resumes_at_the_first_unanswered_step(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    url = f"/s/{invitation.token}/"
    Client().post(url, {"step": "0", "recommend": "9"})
    later = Client().get(url)  # another browser, the same link
    body = _body(later)
    assert 'name="step" value="1"' in body
    assert PROMOTER_TEXT in body
    back = _body(Client().get(f"{url}?step=0"))
    assert 'class="nps-button is-chosen">9' in back  # the earlier answer is shown
    # A step beyond the reachable one falls back to where the customer stands.
    fresh = _invitation(tenant_a)
    assert 'name="step" value="0"' in _body(Client().get(f"/s/{fresh.token}/?step=1"))


def test_answers_can_change_within_the_window_never_a_second_response(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a, answer_change_window=timedelta(hours=2))
    client = Client()
    url = f"/s/{invitation.token}/"
    client.post(url, {"step": "0", "recommend": "4"})
    client.post(url, {"step": "1", "recommend-reason": "Late"})
    again = _body(client.get(url))
    assert "you can change your answers" in again
    assert 'class="nps-button is-chosen">4' in again
    assert client.post(url, {"step": "0", "recommend": "9"}).status_code == 303
    changed = client.post(url, {"step": "1", "recommend-reason": "On second thought: fine"})
    assert changed.status_code == 303
    (stored,) = _responses(tenant_a)
    assert stored.status == "complete"
    assert (stored.nps, stored.nps_group) == (9, "promoter")
    assert stored.comment == "On second thought: fine"


def test_after_the_window_the_answers_are_read_only(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a, answer_change_window=timedelta(hours=1))
    client = Client()
    url = f"/s/{invitation.token}/"
    client.post(url, {"step": "0", "recommend": "6"})
    client.post(url, {"step": "1", "recommend-reason": "Too expensive"})
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        page = client.get(url)
        body = _body(page)
        assert page.status_code == 200
        assert "can no longer be changed" in body
        assert "Too expensive" in body
        assert "<form" not in body
        refused = client.post(url, {"step": "0", "recommend": "10"})
        assert refused.status_code == 400
        assert "can no longer change" in _body(refused)
        thanks = _body(client.get(f"{url}thanks/"))
        assert "Change my answers" not in thanks
    (stored,) = _responses(tenant_a)
    assert stored.nps == 6


def test_the_same_step_posted_twice_stores_one_response(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    client = Client()
    url = f"/s/{invitation.token}/"
    for _ in range(2):
        assert client.post(url, {"step": "0", "recommend": "7"}).status_code == 303
    for _ in range(2):
        assert client.post(url, {"step": "1", "recommend-reason": "ok"}).status_code == 303
    assert len(_responses(tenant_a)) == 1

    version = _open_survey(tenant_a)
    link = f"/l/{version.survey.public_id}/"
    form = {"step": "0", "recommend": "7", "idempotency_key": "k" * 22}
    first, second = Client().post(link, form), Client().post(link, form)
    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert len(_responses(tenant_a, survey_id=version.survey_id)) == 1


def test_an_opted_out_contact_may_still_answer(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    with tenant_context(tenant_a.organization):
        consent_record(
            contact=Contact.objects.get(pk=invitation.contact_id),
            channel="email",
            action="withdraw",
            source="unsubscribe_link",
            actor=SYSTEM,
        )
    url = f"/s/{invitation.token}/"
    assert Client().get(url).status_code == 200
    assert Client().post(url, {"step": "0", "recommend": "5"}).status_code == 303


# --- Links that lead nowhere --------------------------------------------------------


def test_unknown_expired_and_disabled_links_look_the_same(tenant_a: Tenant) -> None:
    expired = _invitation(tenant_a)
    closed = _open_survey(tenant_a)
    with tenant_context(tenant_a.organization):
        Survey.objects.filter(pk=closed.survey_id).update(open_link_enabled=False)
    client = Client()
    unknown = client.get("/s/" + "A" * 32 + "/")
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        gone = client.get(f"/s/{expired.token}/")
    pages = [
        unknown,
        gone,
        client.get("/r/" + "B" * 32 + "/"),
        client.get("/l/" + "C" * 16 + "/"),
        client.get(f"/l/{closed.survey.public_id}/"),
        client.post(f"/l/{closed.survey.public_id}/", {"step": "0", "recommend": "9"}),
        client.get("/s/%00/"),
        client.get("/s/" + "x" * 300 + "/"),
    ]
    assert {page.status_code for page in pages} == {404}
    assert len({page.content for page in pages}) == 1
    assert "This survey is not available" in _body(unknown)
    assert _responses(tenant_a) == []


def test_open_link_only_while_enabled_and_active(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    link = f"/l/{version.survey.public_id}/"
    page = Client().get(link)
    assert page.status_code == 200
    assert 'name="idempotency_key"' in _body(page)
    with tenant_context(tenant_a.organization):
        survey_archive(actor=SYSTEM, survey=Survey.objects.get(pk=version.survey_id))
    assert Client().get(link).status_code == 404


# --- Open link: identity, cookie, resume ---------------------------------------------


def _signed(version: SurveyVersion, params: dict[str, str]) -> str:
    return urlencode({**params, "sig": sign_params(version.survey.link_secret, params)})


def test_open_link_with_signed_crm_id_links_the_contact(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    with tenant_context(tenant_a.organization):
        contact: Any = ContactFactory(crm_id="K-100", attributes={"tier": "silver"})
    query = _signed(version, {"crm_id": "K-100", "a.segment": "gold"})
    link = f"/l/{version.survey.public_id}/?{query}"
    client = Client()
    page = _body(client.get(link))
    assert f'action="{link.replace("&", "&amp;")}"' in page  # the parameters travel along
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    sent = client.post(link, {"step": "0", "recommend": "10", "idempotency_key": key.group(1)})
    assert sent.status_code == 303
    (stored,) = _responses(tenant_a)
    assert sent["Location"] == f"/r/{stored.token}/?step=1&lang=en"
    assert stored.contact_id == contact.pk
    assert stored.contact_attributes == {"tier": "silver", "segment": "gold"}
    assert stored.metadata["crm_id"] == "K-100"
    assert stored.channel == "link"
    cookie = sent.cookies[f"fb_resp_{version.survey.public_id}"]
    assert cookie.value == stored.token
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 30 * 24 * 3600
    # The browser comes back to the open link: it continues its own response.
    again = client.get(f"/l/{version.survey.public_id}/")
    assert again.status_code == 303
    assert again["Location"].startswith(f"/r/{stored.token}/")
    resumed = _body(client.get(again["Location"]))
    assert 'name="step" value="1"' in resumed
    assert PROMOTER_TEXT in resumed
    done = client.post(f"/r/{stored.token}/", {"step": "1", "recommend-reason": "Great"})
    assert done["Location"] == f"/r/{stored.token}/thanks/?lang=en"
    assert len(_responses(tenant_a)) == 1


def test_tampered_signature_answers_anonymously(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    with tenant_context(tenant_a.organization):
        ContactFactory(crm_id="K-200")
    query = _signed(version, {"crm_id": "K-200", "a.segment": "gold"}).replace("gold", "platinum")
    link = f"/l/{version.survey.public_id}/?{query}"
    sent = Client().post(link, {"step": "0", "recommend": "2", "idempotency_key": "t" * 24})
    assert sent.status_code == 303
    (stored,) = _responses(tenant_a)
    assert stored.contact_id is None
    assert stored.contact_attributes == {}
    assert "crm_id" not in stored.metadata


def test_signed_crm_id_of_an_unknown_contact_creates_no_contact(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    link = f"/l/{version.survey.public_id}/?{_signed(version, {'crm_id': 'NEW-1'})}"
    Client().post(link, {"step": "0", "recommend": "9", "idempotency_key": "u" * 24})
    (stored,) = _responses(tenant_a)
    assert stored.contact_id is None
    assert stored.metadata["crm_id"] == "NEW-1"
    with tenant_context(tenant_a.organization):
        assert not Contact.objects.filter(crm_id="NEW-1").exists()


def test_open_link_without_idempotency_key_is_refused(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    refused = Client().post(f"/l/{version.survey.public_id}/", {"step": "0", "recommend": "9"})
    assert refused.status_code == 400
    assert "out of date" in _body(refused)
    assert _responses(tenant_a) == []


# --- Language ----------------------------------------------------------------------


def test_contact_language_decides_the_invitation_page(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a, language="de")
    body = _body(Client().get(f"/s/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="de">' in body
    assert "Wie wahrscheinlich ist es" in body
    assert "Zum Inhalt springen" in body or "Skip to content" in body
    # An explicit switch wins.
    english = _body(Client().get(f"/s/{invitation.token}/?lang=en"))
    assert '<html lang="en">' in english
    # Errors come out in the page's language.
    refused = Client().post(f"/s/{invitation.token}/", {"step": "0", "lang": "de"})
    assert refused.status_code == 400
    assert '<html lang="de">' in _body(refused)


def test_open_link_follows_the_browser_and_the_switch(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    link = f"/l/{version.survey.public_id}/"
    german = Client().get(link, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    body = _body(german)
    assert '<html lang="de">' in body
    assert german["Content-Language"] == "de"
    assert "Wie wahrscheinlich ist es" in body
    assert 'hreflang="en"' in body
    assert 'hreflang="de"' in body
    switched = _body(Client().get(f"{link}?lang=en", HTTP_ACCEPT_LANGUAGE="de"))
    assert '<html lang="en">' in switched
    unknown = _body(Client().get(f"{link}?lang=fr", HTTP_ACCEPT_LANGUAGE="fr"))
    assert '<html lang="en">' in unknown  # the version's default language
    sent = Client().post(
        link, {"step": "0", "recommend": "9", "lang": "de", "idempotency_key": "d" * 24}
    )
    assert sent["Location"].endswith("lang=de")
    (stored,) = _responses(tenant_a)
    assert stored.language == "de"


def test_single_language_survey_has_no_switch(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a, languages=["en"])
    assert "hreflang" not in _body(Client().get(f"/l/{version.survey.public_id}/"))


# --- Thank you ---------------------------------------------------------------------


def test_thank_you_asks_only_promoters_for_a_review(tenant_a: Tenant) -> None:
    review = "https://reviews.example.com/acme"
    promoter = _invitation(tenant_a, review_url=review)
    detractor = _invitation(tenant_a, review_url=review)
    client = Client()
    for invitation, score in ((promoter, "10"), (detractor, "2")):
        url = f"/s/{invitation.token}/"
        client.post(url, {"step": "0", "recommend": score})
        client.post(url, {"step": "1"})
    happy = _body(client.get(f"/s/{promoter.token}/thanks/"))
    assert "Would you share your experience?" in happy
    assert f'href="{review}" target="_blank" rel="noopener noreferrer"' in happy
    assert "Change my answers" in happy
    unhappy = _body(client.get(f"/s/{detractor.token}/thanks/"))
    assert "Thank you!" in unhappy
    assert review not in unhappy


def test_thank_you_before_answering_leads_to_the_survey(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    page = Client().get(f"/s/{invitation.token}/thanks/")
    assert page.status_code == 303
    assert page["Location"].startswith(f"/s/{invitation.token}/")


# --- Bad input ---------------------------------------------------------------------


def test_bad_input_gets_a_400_page_and_stores_nothing(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    url = f"/s/{invitation.token}/"
    client = Client()
    cases = [
        {"recommend": "9"},  # no step
        {"step": "7", "recommend": "9"},
        {"step": "-1", "recommend": "9"},
        {"step": "0", "recommend": "11"},
        {"step": "0", "recommend": ["3", "4"]},
        {"step": "0", "recommend": "\x00"},
    ]
    for data in cases:
        page = client.post(url, data)
        assert page.status_code == 400, data
        assert 'role="alert"' in _body(page)
    broken = client.post(url, b"--x\r\n\x00garbage", content_type="multipart/form-data")
    assert broken.status_code == 400
    assert _responses(tenant_a) == []
    # A later step without the first: back to the start.
    skipped = client.post(url, {"step": "1", "recommend-reason": "hi"})
    assert skipped.status_code == 303
    client.post(url, {"step": "0", "recommend": "9"})
    too_long = client.post(url, {"step": "1", "recommend-reason": "x" * 2001})
    assert too_long.status_code == 400
    body = _body(too_long)
    assert "Please keep your answer to 2000 characters" in body
    assert 'href="#recommend-reason-answer"' in body  # the summary links to the field
    assert 'aria-describedby="recommend-reason-limit recommend-reason-errors"' in body
    (stored,) = _responses(tenant_a)
    assert stored.status == "partial"


# --- Rate limit --------------------------------------------------------------------


def test_too_many_requests_get_a_readable_429(tenant_a: Tenant, settings: Any) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_IP = 2
    invitation = _invitation(tenant_a)
    cache.clear()  # earlier tests in this process counted requests from 127.0.0.1 too
    client = Client()
    assert client.get(f"/s/{invitation.token}/").status_code == 200
    assert client.get(f"/s/{invitation.token}/").status_code == 200
    limited = client.get(f"/s/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="de")
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert '<html lang="de">' in _body(limited)
    assert limited["Cache-Control"] == "no-store"
    assert client.post("/l/whatever/", {"step": "0"}).status_code == 429
    assert client.get(f"/r/{'z' * 32}/thanks/").status_code == 429


# --- Queries -----------------------------------------------------------------------


def _data_statements(captured: CaptureQueriesContext) -> list[str]:
    """Reads and writes, without transaction control (BEGIN, SAVEPOINT, set_config),
    which PostgreSQL adds and SQLite does not."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].split(" ", 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}
        and "set_config" not in q["sql"]
    ]


def test_open_link_get_and_post_take_few_queries(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    link = f"/l/{version.survey.public_id}/"
    client = Client()
    with CaptureQueriesContext(connection) as first_visit:
        assert client.get(link).status_code == 200
    assert len(_data_statements(first_visit)) == 1  # the survey, then cached
    with CaptureQueriesContext(connection) as second_visit:
        assert Client().get(link).status_code == 200
    assert _data_statements(second_visit) == []
    form = {"step": "0", "recommend": "9", "idempotency_key": "q" * 24}
    with CaptureQueriesContext(connection) as first_step:
        assert client.post(link, form).status_code == 303
    # One INSERT with the scored answers, one for the outbox event.
    assert [sql.split(" ", 1)[0] for sql in _data_statements(first_step)] == ["INSERT", "INSERT"]
    (stored,) = _responses(tenant_a)
    second = {"step": "1", "recommend-reason": "Friendly", "value-for-money": "5"}
    with CaptureQueriesContext(connection) as second_step:
        assert client.post(f"/r/{stored.token}/", second).status_code == 303
    assert len(_data_statements(second_step)) <= 4  # find by token, lock, update, outbox


# --- Share page and QR codes ---------------------------------------------------------


def test_qr_codes_of_the_open_link(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a, name="Kiosk Feedback")
    base = tenant_a.url(f"surveys/{version.survey_id}/")
    png = tenant_a.client.get(base + "qr.png")
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert png["Content-Disposition"] == 'attachment; filename="kiosk-feedback-qr.png"'
    svg = tenant_a.client.get(base + "qr.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    assert svg["Content-Disposition"] == 'attachment; filename="kiosk-feedback-qr.svg"'


def test_share_page_changes_the_settings_and_validates_origins(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    url = tenant_a.url(f"surveys/{version.survey_id}/share/")
    page = tenant_a.client.get(url)
    body = _body(page)
    assert page.status_code == 200
    assert f"/l/{version.survey.public_id}/" in body
    assert "qr.svg" in body
    detail = _body(tenant_a.client.get(tenant_a.url(f"surveys/{version.survey_id}/")))
    assert f'href="{url}"' in detail

    form = {
        "open_link_enabled": "on",
        "widget_enabled": "on",
        "change_window_amount": "3",
        "change_window_unit": "days",
        "allowed_origins": "https://shop.example.com/\nhttp://evil.example.com\nhttps://a.example/path",
    }
    refused = tenant_a.client.post(url, form)
    assert refused.status_code == 400
    body = _body(refused)
    assert "“http://evil.example.com” is not a website origin" in body
    assert "“https://a.example/path” is not a website origin" in body

    form["allowed_origins"] = (
        "https://Shop.Example.com/\nhttp://localhost:8000\nhttps://shop.example.com"
    )
    saved = tenant_a.client.post(url, form)
    assert saved.status_code == 302
    with tenant_context(tenant_a.organization):
        survey = Survey.objects.get(pk=version.survey_id)
        audit = AuditLog.objects.filter(action="survey.sharing_update").get()
    assert survey.allowed_origins == ["https://shop.example.com", "http://localhost:8000"]
    assert survey.widget_enabled
    assert survey.answer_change_window == timedelta(days=3)
    assert audit.changes["answer_change_window"] == [86400, 3 * 86400]

    form.update(widget_enabled="", allowed_origins="", change_window_amount="9999")
    assert tenant_a.client.post(url, form).status_code == 400


def test_share_page_viewers_see_but_cannot_change(tenant_a: Tenant) -> None:
    version = _open_survey(tenant_a)
    viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
    url = tenant_a.url(f"surveys/{version.survey_id}/share/")
    page = viewer.get(url)
    assert page.status_code == 200
    assert 'name="allowed_origins"' not in _body(page)
    assert viewer.get(tenant_a.url(f"surveys/{version.survey_id}/qr.png")).status_code == 200
    refused = viewer.post(url, {"open_link_enabled": "", "change_window_amount": "1"})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("colour", "text"), [("#1f5f8b", "#ffffff"), ("#ffdd00", "#000000"), ("#000000", "#ffffff")]
)
def test_brand_colour_keeps_text_readable(colour: str, text: str) -> None:
    from responses.branding import brand_palette, contrast_ratio

    palette = brand_palette(colour)
    assert palette.on_brand == text
    assert contrast_ratio(palette.ink, "#ffffff") >= 4.5
    assert brand_palette("javascript:alert(1)").brand == "#1f5f8b"
