"""Invitation messages: email (HTML + text) and SMS in the contact's language.

Language: the contact's, else the survey's default, else the organization's. Links are
absolute (``settings.SITE_URL``): the survey link ``/s/<token>/`` and the unsubscribe
link ``/u/<token>/``, which email also names in the ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` headers (RFC 8058 one-click).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from integrations.channels import EmailMessage, SmsMessage
from integrations.sms_encoding import sms_length
from surveys.models import SurveyVersion
from surveys.models_distribution import Invitation
from surveys.schema import NPS, QUESTION_TYPES

SMS_MAX_SEGMENTS = 2
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def message_language(invitation: Invitation) -> str:
    for code in (
        invitation.contact.language,
        invitation.survey.default_language,
        invitation.organization.default_language,
    ):
        if code in LANGUAGE_CODES:
            return code
    return str(settings.LANGUAGE_CODE)


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def survey_link(invitation: Invitation) -> str:
    return absolute(reverse("responses:invitation", kwargs={"token": invitation.token}))


def unsubscribe_link(invitation: Invitation) -> str:
    return absolute(reverse("surveys:invitation-unsubscribe", kwargs={"token": invitation.token}))


def logo_url(invitation: Invitation) -> str:
    organization = invitation.organization
    if not organization.logo_content_type:
        return ""
    return absolute(reverse("tenants:organization-logo", kwargs={"org_slug": organization.slug}))


@dataclass(frozen=True, slots=True)
class _Context:
    language: str
    values: dict[str, object]


def _context(invitation: Invitation, *, reminder: bool) -> _Context:
    organization = invitation.organization
    return _Context(
        message_language(invitation),
        {
            "organization": organization,
            "brand_colour": organization.brand_colour,
            "logo_url": logo_url(invitation),
            "contact": invitation.contact,
            "survey": invitation.survey,
            "survey_link": survey_link(invitation),
            "unsubscribe_link": unsubscribe_link(invitation),
            "reminder": reminder,
            "expires_at": invitation.expires_at,
        },
    )


def invitation_email(invitation: Invitation, *, reminder: bool = False) -> EmailMessage:
    context = _context(invitation, reminder=reminder)
    with translation.override(context.language):
        values = {**context.values, "language": context.language}
        name = invitation.organization.name
        if reminder:
            subject = _("Reminder: how did we do, %(organization)s asks") % {"organization": name}
        else:
            subject = _("How did we do? %(organization)s would like your opinion") % {
                "organization": name
            }
        text = render_to_string("emails/invitation.txt", values)
        html = render_to_string("emails/invitation.html", values)
    unsubscribe = unsubscribe_link(invitation)
    return EmailMessage(
        to=invitation.contact.email,
        subject=subject,
        text=text,
        html=html,
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        metadata={
            "invitation_id": str(invitation.pk),
            "organization_id": str(invitation.organization_id),
        },
        tags=("reminder" if reminder else "invitation",),
    )


def sms_reply_question(version: SurveyVersion) -> dict[str, Any] | None:
    """The NPS question a customer can answer by replying with a number: the version's
    first question when it is an NPS question (``responses.sms`` takes the reply)."""
    first = next((q for q in version.questions if q.get("type") in QUESTION_TYPES), None)
    return first if first is not None and first.get("type") == NPS else None


def sms_text(invitation: Invitation, *, reminder: bool = False) -> str:
    """The SMS body, at most ``SMS_MAX_SEGMENTS`` segments: a long organization name is
    shortened to make room for the link and the opt-out hint. A survey that starts with
    an NPS question says that a reply with the number is an answer."""
    language = message_language(invitation)
    link = survey_link(invitation)
    name = invitation.organization.name
    with translation.override(language):
        hint = _("STOP to opt out")
        by_reply = sms_reply_question(invitation.survey_version) is not None
        while True:
            values = {"organization": name, "link": link}
            if by_reply and reminder:
                body = (
                    _(
                        "Reminder from %(organization)s: how likely are you to recommend us? "
                        "Reply with a number 0-10 or answer here: %(link)s"
                    )
                    % values
                )
            elif by_reply:
                body = (
                    _(
                        "%(organization)s: how likely are you to recommend us? "
                        "Reply with a number 0-10 or answer here: %(link)s"
                    )
                    % values
                )
            elif reminder:
                body = _("Reminder from %(organization)s: your opinion counts. %(link)s") % values
            else:
                body = _("%(organization)s: how did we do? Tell us in 1 minute: %(link)s") % values
            body = f"{body} {hint}"
            if sms_length(body).segments <= SMS_MAX_SEGMENTS or len(name) <= 3:
                return body
            name = name[: max(3, len(name) // 2)].rstrip()


def invitation_sms(invitation: Invitation, *, reminder: bool = False) -> SmsMessage:
    status_callback = None
    if settings.SMS_BACKEND == "twilio":
        status_callback = absolute(reverse("integrations:twilio-status"))
    return SmsMessage(
        to=invitation.contact.phone,
        body=sms_text(invitation, reminder=reminder),
        status_callback=status_callback,
        metadata={"invitation_id": str(invitation.pk)},
    )
