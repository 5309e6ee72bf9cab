"""The chat messages of alerts: Slack Block Kit and a Microsoft Teams Adaptive Card.

``alert_facts`` reads what a message says about a case (in the active language and the
organization's zone); ``slack_message`` and ``teams_message`` lay the same facts out for
each service. Customer free text is cut to ``EXCERPT`` characters and never carries the
contact's email address or phone number (nor anything that looks like one).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from closedloop.models import Case, SlaTarget
from integrations.models import AlertKind, AlertTrigger

EXCERPT = 300
HEADER_MAX = 150  # Slack's limit for a header block
REDACTED = "[…]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Eight digits or more, with the usual separators: phone numbers (and long ids).
_PHONE = re.compile(r"\+?\(?\d(?:[\s().\-/]*\d){7,}")


@dataclass(frozen=True)
class AlertFacts:
    header: str
    score: str
    comment: str
    facts: list[tuple[str, str]]
    url: str
    link_label: str


def _user_name(user: Any) -> str:
    if user is None:
        return _("nobody")
    return str(user.get_full_name() or user.email or user.get_username())


def _score(case: Case) -> str:
    response = case.response
    if response.nps is not None:
        return _("NPS %(score)s/10") % {"score": response.nps}
    if response.ces is not None:
        return _("CES %(score)s/7") % {"score": response.ces}
    if response.csat is not None:
        return _("CSAT %(score)s/5") % {"score": response.csat}
    return ""


def customer_text(text: str, *, contact: Any = None, limit: int = EXCERPT) -> str:
    """The customer's words fit for a chat channel: without the contact's email address
    or phone number (or anything shaped like one), on one line, at most ``limit``
    characters."""
    for known in (getattr(contact, "email", ""), getattr(contact, "phone", "")):
        if known:
            text = re.sub(re.escape(str(known)), REDACTED, text, flags=re.IGNORECASE)
    text = _EMAIL.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def case_url(case: Case) -> str:
    path = reverse(
        "closedloop:case-detail",
        kwargs={"org_slug": case.organization.slug, "number": case.number},
    )
    return f"{settings.SITE_URL}{path}"


def _local(value: datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    if value is None:
        return "—"
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M %Z")


def alert_facts(*, case: Case, trigger: str, target: str = "") -> AlertFacts:
    """What an alert about ``case`` says, in the active language. The case comes with
    its organization, response, contact, touchpoint, owner and team loaded."""
    zone = zoneinfo.ZoneInfo(case.organization.timezone)
    number = case.number
    if trigger == AlertTrigger.SLA_BREACH:
        label = str(SlaTarget(target).label) if target in SlaTarget.values else target
        header = _("SLA breached: case #%(number)s (%(target)s)") % {
            "number": number,
            "target": label,
        }
        due_at = (
            case.first_response_due_at
            if target == SlaTarget.FIRST_RESPONSE
            else case.resolution_due_at
        )
        due = (_("%(target)s was due") % {"target": label}, _local(due_at, zone))
    else:
        header = _("New high-priority case #%(number)s") % {"number": number}
        if case.first_responded_at is None and case.first_response_due_at is not None:
            due = (_("First contact due"), _local(case.first_response_due_at, zone))
        else:
            due = (_("Resolution due"), _local(case.resolution_due_at, zone))
    facts = [
        (_("Case"), f"#{number} · {case.get_priority_display()}"),
        (_("Touchpoint"), case.touchpoint.name),
        (_("Team"), case.team.name if case.team is not None else "—"),
        (_("Owner"), _user_name(case.owner)),
        due,
    ]
    return AlertFacts(
        header=header[:HEADER_MAX],
        score=_score(case),
        comment=customer_text(case.response.comment, contact=case.contact),
        facts=facts,
        url=case_url(case),
        link_label=_("Open case"),
    )


# --- Slack ----------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape Slack's mrkdwn control characters (&, <, >): customer text cannot make
    links, mentions (<!channel>) or formatting of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(facts: AlertFacts) -> str:
    return f"“{facts.comment}”" if facts.comment else _("(no comment)")


def slack_message(facts: AlertFacts) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` is the notification's fallback."""
    summary = f"*{slack_escape(facts.score)}* — " if facts.score else ""
    return {
        "text": slack_escape(f"{facts.header}: {facts.score} {_quote(facts)}".replace("  ", " ")),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": facts.header}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": summary + slack_escape(_quote(facts))},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_escape(k)}*\n{slack_escape(v)}"}
                    for k, v in facts.facts
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": facts.link_label},
                        "url": facts.url,
                        "style": "primary",
                    }
                ],
            },
        ],
    }


# --- Microsoft Teams ------------------------------------------------------------------


def teams_message(facts: AlertFacts) -> dict[str, Any]:
    """An Adaptive Card in the ``message`` envelope that Teams incoming webhooks and
    Workflows ("Post to a channel when a webhook request is received") accept."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": facts.header,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "style": "heading",
        }
    ]
    if facts.score:
        body.append({"type": "TextBlock", "text": facts.score, "weight": "Bolder", "wrap": True})
    body.append({"type": "TextBlock", "text": _quote(facts), "wrap": True, "isSubtle": True})
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts.facts]})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": [
                        {"type": "Action.OpenUrl", "title": facts.link_label, "url": facts.url}
                    ],
                },
            }
        ],
    }


def alert_message(kind: str, facts: AlertFacts) -> dict[str, Any]:
    return slack_message(facts) if kind == AlertKind.SLACK else teams_message(facts)


def alert_test_message(kind: str, *, channel_name: str, url: str) -> dict[str, Any]:
    """The message of the "Send a test message" button."""
    facts = AlertFacts(
        header=_("Test message from %(channel)s") % {"channel": channel_name},
        score="",
        comment="",
        facts=[(_("Status"), _("Alerts reach this channel."))],
        url=url,
        link_label=_("Open alert settings"),
    )
    message = alert_message(kind, facts)
    if kind == AlertKind.SLACK:
        message["text"] = slack_escape(facts.header)
        # No customer comment in a test: drop that section.
        message["blocks"] = [message["blocks"][0], *message["blocks"][2:]]
    else:
        content = message["attachments"][0]["content"]
        content["body"] = [content["body"][0], *content["body"][2:]]
    return message
