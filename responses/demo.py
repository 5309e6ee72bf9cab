"""Demo responses and answerable links (idempotent; called by ``manage.py seed_demo``).

* A year of answers to the demo surveys with their invitations, trends and comments
  (``responses.demo_history``): the part older than five weeks bulk-inserted, scored like
  submitted ones; the last five weeks through the submit service.
* Open links on every active survey; the widget on the online-shop survey, allowed on
  the demo shop's origin (``DEMO_SHOP_ORIGIN``).
* An open email invitation and an open SMS invitation to the NPS survey, so a sample
  survey link and an SMS reply ("9") can be tried right away.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record, contact_create
from responses.demo_history import seed_history
from responses.selectors import survey_public_id_forget
from responses.services import response_submit
from surveys.models import Survey, SurveyStatus, SurveyVersion, TouchpointProcess
from surveys.models_distribution import Invitation, InvitationStatus, InvitationTrigger
from surveys.schema import CES, CSAT, MULTIPLE_CHOICE, NPS, SINGLE_CHOICE, TEXT
from surveys.services.distribution import new_token
from surveys.services.invitations import invitation_transition
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import SYSTEM

DEMO_SHOP_ORIGIN = os.environ.get("DEMO_SHOP_ORIGIN", "http://127.0.0.1:8001")
NPS_SURVEY_NAME = "Relationship NPS at renewal"

COMMENTS = {
    "detractor": {
        "de": [
            "Die Lieferung kam drei Tage zu spät.",
            "Niemand hat auf meine E-Mail geantwortet.",
            "Das Produkt war beschädigt.",
            "Zu lange Wartezeit an der Hotline.",
        ],
        "en": [
            "Delivery was three days late.",
            "Nobody answered my email.",
            "The product arrived damaged.",
            "Far too long on hold.",
        ],
    },
    "passive": {
        "de": ["Ganz ok, aber etwas teuer.", "Die Bestellung war umständlich."],
        "en": ["Fine, but a bit pricey.", "Ordering was a bit clumsy."],
    },
    "promoter": {
        "de": ["Schnelle Lieferung, super Service!", "Sehr freundliche Beratung."],
        "en": ["Fast delivery, great service!", "Very friendly advice."],
    },
}


@dataclass(frozen=True, slots=True)
class DemoLinks:
    invitation_url: str = ""
    sms_phone: str = ""
    open_link_url: str = ""
    qr_url: str = ""


def _group(score: int) -> str:
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def _answers(version: SurveyVersion, rng: random.Random, language: str) -> dict[str, object]:
    answers: dict[str, object] = {}
    mood = rng.random()  # one mood per customer keeps the answers consistent
    group = "promoter" if mood > 0.45 else "passive" if mood > 0.2 else "detractor"
    for question in version.questions:
        qid, qtype = question["id"], question["type"]
        if qtype == NPS:
            answers[qid] = {"promoter": rng.choice([9, 10]), "passive": rng.choice([7, 8])}.get(
                group, rng.randint(0, 6)
            )
        elif qtype == CSAT:
            answers[qid] = {"promoter": 5, "passive": 4}.get(group, rng.randint(1, 3))
        elif qtype == CES:
            answers[qid] = {"promoter": rng.choice([6, 7]), "passive": 5}.get(
                group, rng.randint(1, 4)
            )
        elif qtype == SINGLE_CHOICE:
            answers[qid] = rng.choice(question["options"])["id"]
        elif qtype == MULTIPLE_CHOICE:
            answers[qid] = [rng.choice(question["options"])["id"]]
        elif qtype == TEXT and rng.random() < 0.7:
            answers[qid] = rng.choice(COMMENTS[group][language])
    return answers


def _contact(
    crm_id: str, first: str, last: str, *, email: str = "", phone: str = "", language: str = ""
) -> Contact:
    contact = Contact.objects.filter(crm_id=crm_id).first()
    if contact is None:
        contact = contact_create(
            actor=SYSTEM,
            crm_id=crm_id,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            language=language,
        )
        channel = "sms" if phone else "email"
        consent_record(
            contact=contact,
            channel=channel,
            action=ConsentAction.GRANT,
            source=ConsentSource.IMPORT,
            wording="Demo: agreed to feedback invitations.",
            actor=SYSTEM,
        )
    return contact


def _open_invitation(contact: Contact, version: SurveyVersion, channel: str) -> Invitation:
    invitation = (
        Invitation.objects.filter(contact=contact, survey_version=version, channel=channel)
        .exclude(status=InvitationStatus.ANSWERED)
        .first()
    )
    if invitation is None:
        invitation = Invitation.objects.create(
            contact=contact,
            survey=version.survey,
            survey_version=version,
            channel=channel,
            token=new_token(),
            trigger=InvitationTrigger.MANUAL,
            send_at=timezone.now(),
        )
        invitation_transition(
            invitation=invitation,
            to_status=InvitationStatus.SENT,
            reason="demo",
            provider="file",
            provider_message_id=f"demo-{invitation.pk}",
        )
    return invitation


def _answer_answered_invitations() -> None:
    """Invitations the distribution demo marked answered get their response."""
    answered = Invitation.objects.filter(
        status=InvitationStatus.ANSWERED, responses__isnull=True
    ).select_related("contact", "survey_version__survey__touchpoint")
    for invitation in answered:
        version = invitation.survey_version
        rng = random.Random(invitation.pk)  # noqa: S311 - demo data
        language = invitation.contact.language or version.default_language
        language = language if language in version.languages else version.default_language
        response_submit(
            version=version,
            channel=invitation.channel,
            language=language,
            answers=_answers(version, rng, language),
            invitation=invitation,
            metadata={"demo": True},
        )


def seed_responses(organization: Organization) -> DemoLinks:
    """Seed the demo responses and links; the links to try (absolute URLs)."""
    site = settings.SITE_URL
    with tenant_context(organization):
        active = list(
            Survey.objects.filter(status=SurveyStatus.ACTIVE).select_related("touchpoint")
        )
        for survey in active:
            widget = survey.touchpoint.process == TouchpointProcess.ONLINE_SHOP
            Survey.objects.filter(pk=survey.pk).update(
                open_link_enabled=True,
                widget_enabled=widget or survey.widget_enabled,
                allowed_origins=[DEMO_SHOP_ORIGIN] if widget else survey.allowed_origins,
            )
        survey_public_id_forget([survey.public_id for survey in active])
        seed_history(organization, active)
        _answer_answered_invitations()
        nps = Survey.objects.filter(name=NPS_SURVEY_NAME, status=SurveyStatus.ACTIVE).first()
        if nps is None:
            return DemoLinks()
        version = (
            SurveyVersion.objects.filter(survey=nps, published_at__isnull=False)
            .order_by("-number")
            .first()
        )
        if version is None:
            return DemoLinks()
        mail = _contact(
            "DEMO-LINK", "Greta", "Hoffmann", email="greta.hoffmann@example.com", language="de"
        )
        phone = _contact("DEMO-SMS", "Hugo", "Klein", phone="+491709876543", language="de")
        invitation = _open_invitation(mail, version, "email")
        _open_invitation(phone, version, "sms")
        return DemoLinks(
            invitation_url=site + reverse("responses:invitation", args=[invitation.token]),
            sms_phone=phone.phone,
            open_link_url=site + reverse("responses:open-link", args=[nps.public_id]),
            qr_url=site + reverse("responses:survey-qr-png", args=[organization.slug, nps.pk]),
        )
