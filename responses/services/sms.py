"""Answers by SMS reply: a number 0-10 answers the NPS question of an SMS invitation, the
next text is the comment.

A customer who got an SMS invitation for a survey that starts with an NPS question
(``surveys.messages.sms_reply_question``) may reply with the score instead of opening
the link. The score is stored at once (a partial response, channel ``sms``); the reply
asks the survey's follow-up question for the customer's group (detractor, passive,
promoter), and the response remembers that it awaits the comment
(``metadata["sms_awaiting"]`` = the follow-up question id, ``metadata["sms_asked_at"]``).
The next text from that number within ``COMMENT_WINDOW`` completes the response. A new
number changes the score while the response can change (``response_can_change``).

Idempotency: providers retry a message they got no answer for, with the same message id.
The ids handled for a response are kept with the reply sent
(``metadata["sms_sids"]``: id -> reply, the last ``SIDS_KEPT``); a retry gets the same
reply and changes nothing. Replies to one invitation are serialized on its row lock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from responses.models import Response, ResponseChannel, ResponseStatus
from responses.services.submit import NON_FIELD, response_can_change, response_submit
from surveys.messages import message_language, sms_reply_question
from surveys.models import SurveyVersion
from surveys.models_distribution import OPEN_STATUSES, Invitation, InvitationChannel
from surveys.rendering import resolve_language, survey_text
from surveys.schema import TEXT

# How long after asking for the comment a text reply still counts as the comment.
COMMENT_WINDOW = timedelta(hours=48)
# SMS invitations of one number looked at (newest first) to find the one a reply answers.
RECENT_INVITATIONS = 10
SIDS_KEPT = 20

SCORE, OUT_OF_RANGE, TEXT_REPLY = "score", "out_of_range", "text"
# "9", "9/10", "9 von 10", "9 out of 10", "12", "-1", "7,5"; after NFKC (full-width
# digits) and without trailing punctuation.
_NUMBER = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>\d{1,3})(?P<fraction>[.,]\d+)?"
    r"(?:\s*(?:/|of|out of|von|aus)\s*10)?$",
    re.IGNORECASE,
)
_TRAILING = ".!?,;:)( \t\r\n"


@dataclass(frozen=True, slots=True)
class SmsReply:
    """What a customer's text says: ``score`` (0-10), ``out_of_range`` (a number that is
    no score) or ``text`` (anything else, the comment)."""

    kind: str
    score: int | None = None
    text: str = ""


def sms_reply_parse(body: str) -> SmsReply:
    text = unicodedata.normalize("NFKC", body).replace("\x00", "").strip()
    match = _NUMBER.match(text.rstrip(_TRAILING))
    if match is None:
        return SmsReply(TEXT_REPLY, text=text)
    number = int(match["number"])
    if match["sign"] == "-" or match["fraction"] or number > 10:
        return SmsReply(OUT_OF_RANGE, text=text)
    return SmsReply(SCORE, score=number, text=text)


def _follow_up(version: SurveyVersion, nps_id: str) -> dict[str, Any] | None:
    """The text question that follows up on the NPS question, if the survey has one."""
    return next(
        (
            q
            for q in version.questions
            if q.get("type") == TEXT and str(q.get("follow_up_for", "")) == nps_id
        ),
        None,
    )


def _follow_up_text(
    version: SurveyVersion, question: dict[str, Any], group: str | None, language: str
) -> str:
    fallback = version.default_language
    by_group = (question.get("texts_by_group") or {}).get(group or "")
    return survey_text(by_group, language, fallback) or survey_text(
        question.get("text"), language, fallback
    )


def _conversation(phone: str, now: datetime) -> tuple[Invitation, Response | None] | None:
    """The SMS invitation (for a survey answerable by reply) that a text from ``phone``
    answers, with its response: the most recent one that is still open or that was
    answered by SMS."""
    invitations = list(
        Invitation.objects.filter(
            channel=InvitationChannel.SMS, contact__phone=phone, sent_at__isnull=False
        )
        .select_related("survey_version__survey__touchpoint", "contact", "organization")
        .order_by("-sent_at", "-id")[:RECENT_INVITATIONS]
    )
    if not invitations:
        return None
    responses = {
        r.invitation_id: r
        for r in Response.objects.filter(invitation_id__in=[i.pk for i in invitations])
    }
    for invitation in invitations:
        if sms_reply_question(invitation.survey_version) is None:
            continue
        response = responses.get(invitation.pk)
        if response is not None:
            if response.channel == ResponseChannel.SMS:
                return invitation, response
            continue  # answered on the survey page: the conversation is elsewhere
        if invitation.status in OPEN_STATUSES and (
            invitation.expires_at is None or invitation.expires_at > now
        ):
            return invitation, None
    return None


def _asked_recently(response: Response, now: datetime) -> str:
    """The follow-up question id the response awaits by SMS ("" if none or too late)."""
    metadata = response.metadata if isinstance(response.metadata, dict) else {}
    awaiting = str(metadata.get("sms_awaiting") or "")
    try:
        asked_at = datetime.fromisoformat(str(metadata.get("sms_asked_at", "")))
    except ValueError:
        return ""
    return awaiting if awaiting and now - asked_at <= COMMENT_WINDOW else ""


_KEEP = object()


def _remember(
    response: Response, *, message_sid: str, reply: str, awaiting: object, now: datetime
) -> None:
    """Store the handled message id with its reply, and what the response awaits now
    (a question id, None for nothing, ``_KEEP`` to leave it)."""
    row = Response.objects.select_for_update().get(pk=response.pk)
    metadata = dict(row.metadata or {})
    if message_sid:
        sids = dict(metadata.get("sms_sids") or {})
        sids[message_sid] = reply
        metadata["sms_sids"] = dict(list(sids.items())[-SIDS_KEPT:])
    if awaiting is None:
        metadata.pop("sms_awaiting", None)
        metadata.pop("sms_asked_at", None)
    elif awaiting is not _KEEP:
        metadata["sms_awaiting"] = awaiting
        metadata["sms_asked_at"] = now.isoformat()
    if metadata != row.metadata:
        row.metadata = metadata
        row.save(update_fields=["metadata"])
    response.metadata = metadata


def response_sms_reply(*, phone: str, body: str, message_sid: str) -> str | None:
    """Take a customer's SMS reply as an answer in the current organization.

    Returns the reply to send (in the customer's language), or None when the text is
    nothing this organization asked for (no open SMS invitation for the number, no
    comment awaited): another handler may take it then. Must run in the organization's
    context.
    """
    if not phone:
        return None
    reply = sms_reply_parse(body)
    now = timezone.now()
    found = _conversation(phone, now)
    if found is None:
        return None
    invitation, _response = found
    with transaction.atomic():
        # One reply per invitation at a time: a provider's retry waits for the original.
        Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        response = Response.objects.filter(invitation_id=invitation.pk).first()
        if response is not None and response.channel != ResponseChannel.SMS:
            return None  # answered on the survey page meanwhile
        if response is not None:
            handled = (response.metadata or {}).get("sms_sids") or {}
            if message_sid and message_sid in handled:
                return str(handled[message_sid]) or None
        version = response.survey_version if response is not None else invitation.survey_version
        language = resolve_language(version, message_language(invitation))
        with translation.override(language):
            if reply.kind == SCORE:
                return _answer_score(invitation, response, version, reply, language, message_sid)
            if response is not None and not response_can_change(response, now):
                return None
            if reply.kind == OUT_OF_RANGE:
                return _("Please reply with a number from 0 to 10.")
            if response is None:
                return _("Please reply with a number from 0 to 10.") if reply.text else None
            return _answer_comment(invitation, response, reply, message_sid, now)


def _answer_score(
    invitation: Invitation,
    response: Response | None,
    version: SurveyVersion,
    reply: SmsReply,
    language: str,
    message_sid: str,
) -> str | None:
    now = timezone.now()
    if response is not None and not response_can_change(response, now):
        return None
    question = sms_reply_question(version)
    if question is None:
        return None
    nps_id = str(question.get("id", ""))
    follow_up = _follow_up(version, nps_id)
    result = response_submit(
        version=version,
        channel=ResponseChannel.SMS,
        language=response.language if response is not None else language,
        answers={nps_id: reply.score},
        question_ids=[nps_id],
        complete=follow_up is None,
        invitation=invitation,
    )
    if result.response is None or result.errors:
        return _("Please reply with a number from 0 to 10.") if result.response is None else None
    stored = result.response
    if follow_up is None or stored.status == ResponseStatus.COMPLETE:
        text = _("Thank you for your feedback.")
        _remember(stored, message_sid=message_sid, reply=text, awaiting=_KEEP, now=now)
        return text
    question_text = _follow_up_text(version, follow_up, stored.nps_group, language)
    thanks = _("Thank you!")
    hint = _("Reply with a few words.")
    text = f"{thanks} {question_text} {hint}"
    _remember(stored, message_sid=message_sid, reply=text, awaiting=str(follow_up["id"]), now=now)
    return text


def _answer_comment(
    invitation: Invitation,
    response: Response,
    reply: SmsReply,
    message_sid: str,
    now: datetime,
) -> str | None:
    awaiting = _asked_recently(response, now)
    if not awaiting or not reply.text:
        return None
    result = response_submit(
        version=response.survey_version,
        channel=ResponseChannel.SMS,
        language=response.language,
        answers={awaiting: reply.text},
        question_ids=[awaiting],
        complete=True,
        invitation=invitation,
    )
    if result.response is None:  # e.g. longer than the question allows
        messages = result.errors.get(awaiting) or result.errors.get(NON_FIELD) or []
        return str(messages[0]) if messages else None
    text = _("Thank you for your feedback.")
    _remember(result.response, message_sid=message_sid, reply=text, awaiting=None, now=now)
    return text


__all__ = ["COMMENT_WINDOW", "SmsReply", "response_sms_reply", "sms_reply_parse"]
