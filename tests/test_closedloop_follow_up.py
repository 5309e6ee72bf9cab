"""The follow-up survey of a resolved case: sent on resolution (email, else SMS, with
consent), answered once on the public page /f/<token>/ in the customer's language with
the organization's branding, and the recovery rule."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from closedloop.models import Case, CaseEvent, CaseFollowUp, CaseMessage, Notification
from closedloop.services.cases import case_transition
from contacts.models import Contact
from tenants.context import tenant_context
from tenants.models import Role
from tenants.services import Actor
from tests.conftest import Tenant
from tests.distribution_support import make_contact
from tests.factories import TeamFactory, TeamMemberFactory, case_factory

pytestmark = pytest.mark.django_db

SITE = "https://feedback.example"
PHONE = "+491701234567"
LINK = re.compile(r"https://feedback\.example/f/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.SMS_BACKEND = "file"
    cache.clear()


def _case(
    tenant: Tenant,
    *,
    email: str = "kim@example.com",
    phone: str = PHONE,
    language: str = "en",
    withdraw: tuple[str, ...] = (),
) -> tuple[Case, Any, Any]:
    """A case of a contact in a team with a lead: (case, owner, lead)."""
    owner = tenant.member(Role.OWNER, first_name="Olga", last_name="Owner")
    lead = tenant.member(Role.OWNER, first_name="Lea", last_name="Lead")
    with tenant_context(tenant.organization):
        team = TeamFactory(lead=lead)
        TeamMemberFactory(team=team, user=owner)
        contact = make_contact(
            "kim",
            first_name="Kim",
            email=email,
            phone=phone,
            language=language,
            grant=("email", "sms"),
            withdraw=withdraw,
        )
        case = case_factory(contact=contact, owner=owner, team=team)
    return case, owner, lead


def _resolve(tenant: Tenant, case: Case, owner: Any, captured: Any, **data: Any) -> Any:
    data.setdefault("to_status", "resolved")
    data.setdefault("resolution_summary", "Refunded the delivery fee.")
    data.setdefault("send_follow_up", "on")
    with captured(execute=True):
        return tenant.client_for(owner).post(tenant.url(f"cases/{case.number}/status/"), data)


def _follow_up(tenant: Tenant, case: Case) -> CaseFollowUp:
    with tenant_context(tenant.organization):
        return CaseFollowUp.objects.get(case_id=case.pk)


def _kinds(tenant: Tenant, case: Case) -> list[str]:
    with tenant_context(tenant.organization):
        return list(
            CaseEvent.objects.filter(case_id=case.pk)
            .order_by("created_at", "id")
            .values_list("kind", flat=True)
        )


def _reload(tenant: Tenant, case: Case) -> Case:
    with tenant_context(tenant.organization):
        return Case.objects.get(pk=case.pk)


def _answer(token: str, captured: Any, **data: Any) -> Any:
    with captured(execute=True):
        return Client().post(f"/f/{token}/", data)


# --- Sending on resolution ---------------------------------------------------------------


def test_resolving_with_the_follow_up_emails_the_link(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a)
    response = _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    assert response.status_code == 302

    follow_up = _follow_up(tenant_a, case)
    [sent] = [m for m in mail.outbox if m.to == ["kim@example.com"]]
    assert sent.subject == "Was your concern resolved? ALPHA Corp asks"
    assert f"{SITE}/f/{follow_up.token}/" in sent.body
    assert sent.body.startswith("Dear Kim,")
    assert sent.reply_to == [f"reply+{case.token}@feedback.example"]
    assert follow_up.language == "en"
    with tenant_context(tenant_a.organization):
        message = CaseMessage.objects.get(case_id=case.pk)
        event = CaseEvent.objects.get(case_id=case.pk, kind="follow_up_sent")
    assert (message.is_follow_up, message.status, message.channel) == (True, "sent", "email")
    assert event.actor_id == owner.pk
    assert event.data["follow_up_id"] == follow_up.pk
    assert _kinds(tenant_a, case)[-2:] == ["status", "follow_up_sent"]


def test_without_email_consent_the_follow_up_goes_by_sms(
    tenant_a: Tenant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a, withdraw=("email",))
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    follow_up = _follow_up(tenant_a, case)
    [file] = (Path(settings.OUTBOX_DIR) / "sms").glob("*.json")
    payload = json.loads(file.read_text())
    assert payload["to"] == PHONE
    assert f"{SITE}/f/{follow_up.token}/" in payload["body"]
    assert payload["segments"] <= 2
    assert [m for m in mail.outbox if m.to == ["kim@example.com"]] == []


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"withdraw": ("email", "sms")}, "the customer has opted out of surveys"),
        ({"email": "", "phone": ""}, "no email address or mobile number"),
    ],
)
def test_no_follow_up_without_a_way_to_ask_and_the_timeline_says_why(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, fields: dict[str, Any], why: str
) -> None:
    case, owner, _lead = _case(tenant_a, **fields)
    response = _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert _reload(tenant_a, case).status == "resolved"
    with tenant_context(tenant_a.organization):
        assert not CaseFollowUp.objects.filter(case_id=case.pk).exists()
        assert not CaseMessage.objects.filter(case_id=case.pk).exists()
        note = CaseEvent.objects.filter(case_id=case.pk, kind="note").last()
    assert note is not None
    assert why in note.text


def test_resolving_without_the_follow_up_sends_nothing(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks, send_follow_up="")
    with tenant_context(tenant_a.organization):
        assert not CaseFollowUp.objects.filter(case_id=case.pk).exists()
    assert "follow_up_sent" not in _kinds(tenant_a, case)


# --- The public page -------------------------------------------------------------------


def test_the_page_shows_the_organizations_branding_and_both_questions(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    tenant_a.organization.brand_colour = "#aa3300"
    tenant_a.organization.save()
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token

    page = Client().get(f"/f/{token}/")
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["Content-Language"] == "en"
    body = html.unescape(page.content.decode())
    assert "--brand:#aa3300" in body
    assert "ALPHA Corp" in body
    assert "Was your concern resolved?" in body
    assert "How likely are you to recommend ALPHA Corp to a friend or colleague?" in body
    assert re.findall(r'<input type="radio" name="nps" id="nps-(\d+)"', body) == [
        str(n) for n in range(11)
    ]
    assert re.findall(r'name="resolved" id="resolved-(\w+)"', body) == ["yes", "no"]
    assert '<label for="nps-0">0</label>' in body
    assert '<textarea name="comment" id="comment"' in body
    assert 'hreflang="de"' in body  # the language switch

    german = Client().get(f"/f/{token}/?lang=de")
    assert german["Content-Language"] == "de"
    assert '<html lang="de">' in german.content.decode()


def test_the_customer_answers_once_and_is_recovered(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token

    done = _answer(
        token,
        django_capture_on_commit_callbacks,
        resolved="yes",
        nps="9",
        comment="Quick and kind.",
        lang="en",
    )
    assert done.status_code == 303
    assert done["Location"] == f"/f/{token}/thanks/?lang=en"
    thanks = Client().get(done["Location"])
    assert "Your answers have been saved." in thanks.content.decode()

    follow_up = _follow_up(tenant_a, case)
    assert (follow_up.concern_resolved, follow_up.nps, follow_up.comment) == (
        True,
        9,
        "Quick and kind.",
    )
    assert _reload(tenant_a, case).recovered is True
    with tenant_context(tenant_a.organization):
        event = CaseEvent.objects.get(case_id=case.pk, kind="follow_up_answered")
        notices = list(
            Notification.objects.filter(kind__startswith="case_").values_list(
                "user_id", "kind", "title"
            )
        )
    assert event.data == {
        "follow_up_id": follow_up.pk,
        "concern_resolved": True,
        "nps": 9,
        "recovered": True,
    }
    assert event.actor_label == "customer"
    assert event.text == "Quick and kind."
    assert (
        owner.pk,
        "case_follow_up_answered",
        f"Case #{case.number}: the customer is recovered (NPS 9)",
    ) in notices
    assert not [n for n in notices if n[0] == lead.pk and n[1] == "case_not_recovered"]

    again = Client().get(f"/f/{token}/")
    assert again.status_code == 200
    assert "You have already answered these questions." in again.content.decode()
    second = _answer(token, django_capture_on_commit_callbacks, resolved="no", nps="0")
    assert second.status_code == 200
    assert "You have already answered these questions." in second.content.decode()
    assert _follow_up(tenant_a, case).nps == 9
    assert _reload(tenant_a, case).recovered is True


@pytest.mark.parametrize(
    ("resolved", "nps", "recovered"),
    [("yes", "9", True), ("", "7", True), ("no", "10", False), ("yes", "6", False)],
)
def test_the_recovery_rule(
    tenant_a: Tenant,
    django_capture_on_commit_callbacks: Any,
    resolved: str,
    nps: str,
    recovered: bool,
) -> None:
    case, owner, lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token
    data = {"nps": nps} | ({"resolved": resolved} if resolved else {})
    assert _answer(token, django_capture_on_commit_callbacks, **data).status_code == 303
    assert _reload(tenant_a, case).recovered is recovered
    with tenant_context(tenant_a.organization):
        lead_told = Notification.objects.filter(user=lead, kind="case_not_recovered").exists()
        note = CaseEvent.objects.filter(case_id=case.pk, kind="note").last()
    assert lead_told is not recovered
    if not recovered:
        assert note is not None
        assert note.text == (
            "Not recovered: the team lead was notified. The owner may reopen the case."
        )
        assert note.data["notified"] == [lead.pk]


def test_invalid_answers_are_shown_again_with_a_message(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token
    for data in ({"resolved": "yes"}, {"resolved": "yes", "nps": "11"}, {"nps": "x"}):
        refused = _answer(token, django_capture_on_commit_callbacks, comment="Kept", **data)
        assert refused.status_code == 400
        body = html.unescape(refused.content.decode())
        assert 'role="alert"' in body
        assert "Please choose a number from 0 to 10." in body
        assert ">Kept</textarea>" in body
    assert 'value="yes" checked' in html.unescape(
        _answer(token, django_capture_on_commit_callbacks, resolved="yes").content.decode()
    )
    assert _follow_up(tenant_a, case).answered_at is None
    assert _reload(tenant_a, case).recovered is None


def test_unknown_and_withdrawn_links_get_the_friendly_404(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    for token in ("not-a-real-follow-up-token", "x", "a" * 80):
        page = Client().get(f"/f/{token}/")
        assert page.status_code == 404
        assert "This survey is not available" in page.content.decode()
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token
    with tenant_context(tenant_a.organization):
        case_transition(case=case, to_status="in_progress", actor=Actor.of_user(owner))
    assert Client().get(f"/f/{token}/").status_code == 404  # the case was reopened
    assert _answer(token, django_capture_on_commit_callbacks, nps="9").status_code == 404
    assert Client().get(f"/f/{token}/thanks/").status_code == 404


def test_the_page_is_rate_limited(
    tenant_a: Tenant, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token
    settings.PUBLIC_RATE_LIMIT_PER_IP = 2
    client = Client()
    assert client.get(f"/f/{token}/").status_code == 200
    assert client.get(f"/f/{token}/").status_code == 200
    limited = client.get(f"/f/{token}/")
    assert limited.status_code == 429
    assert limited["Retry-After"]


def test_a_reopened_and_again_resolved_case_asks_again_on_the_same_link(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a)
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    token = _follow_up(tenant_a, case).token
    _answer(token, django_capture_on_commit_callbacks, resolved="no", nps="3")
    assert _reload(tenant_a, case).recovered is False
    with tenant_context(tenant_a.organization):
        case_transition(case=case, to_status="in_progress", actor=Actor.of_user(owner))
    assert _reload(tenant_a, case).recovered is None
    _resolve(
        tenant_a,
        case,
        owner,
        django_capture_on_commit_callbacks,
        resolution_summary="Replaced the product.",
    )
    follow_up = _follow_up(tenant_a, case)
    assert follow_up.token == token
    assert (follow_up.answered_at, follow_up.nps, follow_up.concern_resolved) == (None, None, None)
    links = [LINK.search(str(m.body)) for m in mail.outbox if m.to == ["kim@example.com"]]
    assert [link.group(1) for link in links if link] == [token, token]
    assert (
        _answer(token, django_capture_on_commit_callbacks, resolved="yes", nps="9").status_code
        == 303
    )
    assert _reload(tenant_a, case).recovered is True
    assert _kinds(tenant_a, case).count("follow_up_answered") == 2


def test_the_follow_up_speaks_the_customers_language(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    case, owner, _lead = _case(tenant_a, language="de")
    _resolve(tenant_a, case, owner, django_capture_on_commit_callbacks)
    follow_up = _follow_up(tenant_a, case)
    assert follow_up.language == "de"
    page = Client().get(f"/f/{follow_up.token}/")
    assert page["Content-Language"] == "de"
    with tenant_context(tenant_a.organization):
        contact = Contact.objects.get(pk=case.contact_id)
    assert contact.language == "de"
