"""Helpers for the distribution tests: a published survey, contacts with consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record
from surveys.models import Invitation, Survey
from surveys.selectors import survey_version_current
from surveys.services import survey_publish
from surveys.services.distribution import new_token
from tenants.services import SYSTEM
from tests.factories import survey_with_draft


def published_survey(**kwargs: Any) -> Survey:
    survey = survey_with_draft(**kwargs)
    survey_publish(actor=SYSTEM, survey=survey)
    survey.refresh_from_db()
    return survey


def make_contact(
    crm_id: str,
    *,
    email: str = "",
    phone: str = "",
    language: str = "",
    timezone_name: str = "",
    grant: tuple[str, ...] = (),
    withdraw: tuple[str, ...] = (),
    **fields: Any,
) -> Contact:
    contact = Contact.objects.create(
        crm_id=crm_id,
        email=email,
        phone=phone,
        language=language,
        timezone=timezone_name,
        **fields,
    )
    for channel in grant:
        consent_record(
            contact=contact,
            channel=channel,
            action=ConsentAction.GRANT,
            source=ConsentSource.STAFF,
            actor=SYSTEM,
        )
    for channel in withdraw:
        consent_record(
            contact=contact,
            channel=channel,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.STAFF,
            actor=SYSTEM,
        )
    return contact


def scheduled_invitation(
    contact: Contact, survey: Survey, *, channel: str = "email", send_at: datetime | None = None
) -> Invitation:
    version = survey_version_current(survey)
    return Invitation.objects.create(
        contact=contact,
        survey=survey,
        survey_version=version,
        channel=channel,
        token=new_token(),
        trigger="manual",
        send_at=send_at or timezone.now(),
    )
