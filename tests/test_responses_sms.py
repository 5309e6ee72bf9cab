"""Answers by SMS reply, end to end: an SMS invitation goes out through the file adapter,
the customer's replies come in through the Twilio webhook (signed as Twilio signs) or
``manage.py sms_reply``, and the response is stored through the submit service."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext
from twilio.request_validator import RequestValidator

from responses.models import OutboxEvent, Response
from responses.services.sms import OUT_OF_RANGE, SCORE, TEXT_REPLY, sms_reply_parse
from surveys.models import Invitation, SurveyVersion
from surveys.services.invitations import invitation_send
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.distribution_support import make_contact, published_survey, scheduled_invitation
from tests.factories import SurveyVersionFactory

SITE = "https://feedback.example"
TOKEN = "twilio-auth-token"
PHONE = "+491701234567"
INBOUND = "/integrations/twilio/inbound/"
_sids = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _providers(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SMS_BACKEND = "file"


def _invite(
    tenant: Tenant,
    *,
    language: str = "en",
    crm_id: str = "c-1",
    template: str = "relationship-nps",
    version: SurveyVersion | None = None,
) -> Invitation:
    """An SMS invitation sent through the file adapter, as the distribution sends it."""
    with tenant_context(tenant.organization):
        contact = make_contact(crm_id, phone=PHONE, language=language, grant=("sms",))
        survey = version.survey if version is not None else published_survey(template_key=template)
        invitation = scheduled_invitation(contact, survey, channel="sms")
        if version is not None:
            Invitation.objects.filter(pk=invitation.pk).update(survey_version=version)
        outcome = invitation_send(
            organization_id=tenant.organization.pk, invitation_id=invitation.pk
        )
        assert outcome.result == "sent", outcome
        return Invitation.objects.get(pk=invitation.pk)


def _sms(body: str, *, sid: str = "", phone: str = PHONE) -> str | None:
    """Text the service as Twilio does; the reply in the TwiML, or None without one."""
    params = {"From": phone, "To": "+4915100000000", "Body": body}
    params["MessageSid"] = sid or f"SM{next(_sids):032d}"
    signature = RequestValidator(TOKEN).compute_signature(f"{SITE}{INBOUND}", params)
    response = Client().post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    match = re.search(r"<Message>(.*?)</Message>", response.content.decode(), re.S)
    return html.unescape(match.group(1)) if match else None


def _response(tenant: Tenant, invitation: Invitation) -> Response | None:
    with tenant_context(tenant.organization):
        return Response.objects.filter(invitation_id=invitation.pk).first()


def _outbox(settings: Any) -> list[dict[str, Any]]:
    folder = Path(settings.OUTBOX_DIR) / "sms"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _translated(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


THANKS = "Thank you for your feedback."
HELP = "Please reply with a number from 0 to 10."


# --- The invitation --------------------------------------------------------------------


def test_the_sms_invitation_of_an_nps_survey_says_a_reply_answers(
    tenant_a: Tenant, settings: Any
) -> None:
    nps = _invite(tenant_a)
    ces = _invite(tenant_a, crm_id="c-2", template="support-ces")
    bodies = {message["metadata"]["invitation_id"]: message for message in _outbox(settings)}
    nps_sms = bodies[str(nps.pk)]
    assert "Reply with a number 0-10" in nps_sms["body"]
    assert f"{SITE}/s/{nps.token}/" in nps_sms["body"]
    assert nps_sms["segments"] <= 2
    assert "Reply with a number" not in bodies[str(ces.pk)]["body"]


# --- Score, follow-up, comment -----------------------------------------------------------


def test_score_then_comment_by_reply(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a)
    reply = _sms("9")
    assert reply == "Thank you! What did you like most? Reply with a few words."
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.status, response.channel, response.language) == ("partial", "sms", "en")
    assert (response.nps, response.nps_group) == (9, "promoter")
    assert response.answers == {"recommend": 9}
    assert response.metadata["sms_awaiting"] == "recommend-reason"
    with tenant_context(tenant_a.organization):
        assert Invitation.objects.get(pk=invitation.pk).status == "answered"

    assert _sms("Great service") == THANKS
    response = _response(tenant_a, invitation)
    assert response is not None
    assert response.status == "complete"
    assert response.comment == "Great service"
    assert response.answers == {"recommend": 9, "recommend-reason": "Great service"}
    assert "sms_awaiting" not in response.metadata
    with tenant_context(tenant_a.organization):
        topics = list(OutboxEvent.objects.values_list("topic", flat=True))
    assert topics == ["response.created", "response.completed"]
    # The conversation is over: further texts are left to others.
    assert _sms("And thanks again") is None


def test_a_german_contact_gets_german_texts(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a, language="de")
    reply = _sms("3")
    assert reply is not None
    assert "Was sollten wir verbessern?" in reply
    assert reply.startswith(_translated("de", "Thank you!"))
    assert _sms("Die Lieferung war zu langsam.") == _translated("de", THANKS)
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.language, response.nps_group) == ("de", "detractor")
    assert response.comment == "Die Lieferung war zu langsam."


FULL_WIDTH_NINE = "\uff19"


@pytest.mark.parametrize("body", [" 9 ", "9.", "9!", "9/10", "9 / 10", "9 von 10", FULL_WIDTH_NINE])
def test_score_replies_are_read_tolerantly(tenant_a: Tenant, body: str) -> None:
    invitation = _invite(tenant_a)
    assert _sms(body) is not None
    response = _response(tenant_a, invitation)
    assert response is not None
    assert response.nps == 9


@pytest.mark.parametrize(
    ("body", "kind", "score"),
    [
        ("0", SCORE, 0),
        ("10", SCORE, 10),
        ("10/10", SCORE, 10),
        ("8 out of 10", SCORE, 8),
        ("12", OUT_OF_RANGE, None),
        ("-1", OUT_OF_RANGE, None),
        ("7,5", OUT_OF_RANGE, None),
        ("100", OUT_OF_RANGE, None),
        ("nine", TEXT_REPLY, None),
        ("9 because of the fast delivery", TEXT_REPLY, None),
    ],
)
def test_reply_parsing(body: str, kind: str, score: int | None) -> None:
    parsed = sms_reply_parse(body)
    assert (parsed.kind, parsed.score) == (kind, score)


@pytest.mark.parametrize("body", ["12", "-1", "7,5", "great"])
def test_a_reply_that_is_no_score_gets_help(tenant_a: Tenant, body: str) -> None:
    invitation = _invite(tenant_a)
    assert _sms(body) == HELP
    assert _response(tenant_a, invitation) is None
    assert _sms("10") is not None  # the help worked
    response = _response(tenant_a, invitation)
    assert response is not None
    assert response.nps == 10


def test_a_new_score_changes_the_answer_while_it_may_change(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a)
    _sms("9")
    assert _sms("4") == "Thank you! What should we improve? Reply with a few words."
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.nps, response.nps_group, response.status) == (4, "detractor", "partial")
    assert _sms("Slow delivery") == THANKS
    assert _sms("5") == THANKS  # complete, within the change window (a day)
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.nps, response.comment, response.status) == (5, "Slow delivery", "complete")
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert _sms("10") is None
    response = _response(tenant_a, invitation)
    assert response is not None
    assert response.nps == 5


def test_the_comment_is_taken_within_48_hours_only(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a)
    _sms("7")
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert _sms("Could be cheaper") is None
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.status, response.comment) == ("partial", "")


def test_a_survey_without_follow_up_is_complete_with_the_score(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        version: Any = SurveyVersionFactory(published_at=timezone.now())  # one NPS question
    invitation = _invite(tenant_a, version=version)
    assert _sms("8") == THANKS
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.status, response.nps) == ("complete", 8)


# --- Who is asked --------------------------------------------------------------------------


def test_unknown_numbers_and_other_surveys_get_no_reply(tenant_a: Tenant) -> None:
    assert _sms("9", phone="+491709999999") is None
    ces = _invite(tenant_a, template="support-ces")
    assert _sms("9") is None  # the survey does not start with an NPS question
    assert _response(tenant_a, ces) is None


def test_an_expired_invitation_takes_no_reply(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a)
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert _sms("9") is None
    assert _response(tenant_a, invitation) is None


def test_an_answer_on_the_survey_page_is_not_changed_by_sms(tenant_a: Tenant) -> None:
    from responses.services import response_submit

    invitation = _invite(tenant_a)
    with tenant_context(tenant_a.organization):
        response_submit(
            version=invitation.survey_version,
            channel="email",
            language="en",
            answers={"recommend": 6},
            question_ids=["recommend"],
            complete=False,
            invitation=invitation,
        )
    assert _sms("10") is None
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.nps, response.channel) == (6, "email")


def test_the_most_recent_organization_gets_the_reply(tenant_a: Tenant, tenant_b: Tenant) -> None:
    older = _invite(tenant_b)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        newer = _invite(tenant_a)
        assert _sms("9") is not None
    assert _response(tenant_a, newer) is not None
    assert _response(tenant_b, older) is None


# --- Retries ---------------------------------------------------------------------------


def test_a_retried_message_is_handled_once(tenant_a: Tenant) -> None:
    invitation = _invite(tenant_a)
    first = _sms("9", sid="SM-score")
    assert _sms("9", sid="SM-score") == first
    assert _sms("Friendly staff", sid="SM-comment") == THANKS
    assert _sms("Friendly staff", sid="SM-comment") == THANKS
    # A retry of the score after the comment changes nothing and replies as before.
    assert _sms("9", sid="SM-score") == first
    with tenant_context(tenant_a.organization):
        assert Response.objects.count() == 1
        assert OutboxEvent.objects.count() == 2
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.status, response.comment) == ("complete", "Friendly staff")
    assert set(response.metadata["sms_sids"]) == {"SM-score", "SM-comment"}


# --- Without Twilio: manage.py sms_reply -------------------------------------------------


def test_the_command_plays_the_conversation_into_the_outbox(
    tenant_a: Tenant, settings: Any
) -> None:
    invitation = _invite(tenant_a)
    out = io.StringIO()
    call_command("sms_reply", PHONE, "10", stdout=out)
    assert "What did you like most?" in out.getvalue()
    call_command("sms_reply", PHONE, "Everything", "--message-sid", "local-1", stdout=out)
    call_command("sms_reply", PHONE, "Everything", "--message-sid", "local-1", stdout=out)
    response = _response(tenant_a, invitation)
    assert response is not None
    assert (response.nps, response.comment, response.status) == (10, "Everything", "complete")
    replies = [m for m in _outbox(settings) if "in_reply_to" in m["metadata"]]
    assert [m["to"] for m in replies] == [PHONE] * 3
    assert "What did you like most?" in replies[0]["body"]
    assert [m["body"] for m in replies[1:]] == [THANKS, THANKS]
    silent = io.StringIO()
    call_command("sms_reply", "+491709999999", "9", stdout=silent)
    assert silent.getvalue().strip() == "(no reply)"


def test_the_command_handles_stop_like_the_webhook(tenant_a: Tenant) -> None:
    _invite(tenant_a)
    out = io.StringIO()
    call_command("sms_reply", PHONE, "STOP", "--no-send", stdout=out)
    assert "no more SMS from us" in out.getvalue()
