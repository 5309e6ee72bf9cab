"""Routing: a response becomes a case (or joins its contact's open case).

``response_route`` runs from the response outbox (``closedloop.handlers``) for every
event of a response, in the event's transaction:

* A response that already opened or joined a case (``CaseResponse``) is not routed
  again: re-running never opens a second case. A later event of that response (the
  comment arrived) refreshes the case's impact and is noted on the timeline.
* Otherwise the organization's enabled rules are asked in order; the first whose
  conditions hold decides. A response no rule takes is asked again on its next event
  (a keyword rule may match once the comment is there).
* A contact with an open case gets no second case: the response joins the open one
  (noted on its timeline; the priority rises when the new rule's is higher). The
  partial unique index ``case_one_open_per_contact`` settles races.

Impact: ``priority weight x (1 + severity) x customer value x touchpoint weight`` where
severity is 0-1 from the score (NPS 0 -> 1, NPS 6 -> 0.4; CES and CSAT likewise), the
priority weights are 1/2/4/8 (low ... urgent), and customer value is
``1 + log10(1 + revenue / 1000)`` from the contact's CRM attribute ``revenue`` (or
``annual_revenue``, ``customer_value``, ``lifetime_value``); 1 without one.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from closedloop.models import (
    OPEN_CASE_STATUSES,
    AssignMode,
    Case,
    CaseEventKind,
    CaseResponse,
    Priority,
    RoutingRule,
)
from closedloop.routing import Facts, conditions_match
from closedloop.services.clock import case_clock_refresh
from closedloop.services.notifications import members_only, notify
from closedloop.services.timeline import case_event_add
from contacts.models import Contact
from responses.models import Response, ResponseChannel
from surveys.models import Touchpoint
from tenants.models import Team, TeamMember
from tenants.services import Actor

PRIORITY_WEIGHT = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 4, Priority.URGENT: 8}
VALUE_ATTRIBUTES = ("revenue", "annual_revenue", "customer_value", "lifetime_value")
ROUTING_ACTOR = Actor(label="routing")


def response_facts(response: Response) -> Facts:
    return Facts(
        nps=response.nps,
        nps_group=response.nps_group,
        ces=response.ces,
        csat=response.csat,
        journey=response.journey_id,
        touchpoint=response.touchpoint_id,
        channel=response.channel,
        comment=response.comment,
        answers=response.answers or {},
        attributes=response.contact_attributes or {},
    )


def rule_for_response(
    response: Response, rules: list[RoutingRule] | None = None
) -> RoutingRule | None:
    """The first enabled rule whose conditions hold, or None."""
    facts = response_facts(response)
    if rules is None:
        rules = list(RoutingRule.objects.filter(enabled=True).select_related("sla_policy"))
    return next(
        (rule for rule in rules if rule.enabled and conditions_match(rule.conditions, facts)), None
    )


def severity(response: Response) -> float:
    if response.nps is not None:
        return (10 - response.nps) / 10
    if response.ces is not None:
        return (7 - response.ces) / 6
    if response.csat is not None:
        return (5 - response.csat) / 4
    return 0.5


def customer_value(attributes: dict[str, Any]) -> float:
    for name in VALUE_ATTRIBUTES:
        raw = attributes.get(name)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            revenue = float(str(raw).strip())
        except ValueError:
            continue
        if math.isfinite(revenue) and revenue > 0:
            return 1 + math.log10(1 + revenue / 1000)
    return 1.0


def case_impact(case: Case, response: Response | None = None) -> float:
    response = response or case.response
    touchpoint_weight = float(case.touchpoint.weight) if case.touchpoint_id else 1.0
    value = PRIORITY_WEIGHT.get(Priority(case.priority), 2) * (1 + severity(response))
    value *= customer_value(response.contact_attributes or {}) * touchpoint_weight
    return round(value, 2)


def _least_open(user_ids: list[int]) -> int | None:
    if not user_ids:
        return None
    counts = dict(
        Case.objects.filter(owner_id__in=user_ids, status__in=OPEN_CASE_STATUSES)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    return min(user_ids, key=lambda uid: (counts.get(uid, 0), uid))


def _team_members(team_id: int | None) -> list[int]:
    if team_id is None:
        return []
    return members_only(
        TeamMember.objects.filter(team_id=team_id)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def _round_robin(rule: RoutingRule, members: list[int]) -> int | None:
    if not members:
        return None
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    last = rule.last_assigned_user_id
    later = [uid for uid in members if last is not None and uid > last]
    chosen = later[0] if later else members[0]
    RoutingRule.objects.filter(pk=rule.pk).update(last_assigned_user_id=chosen)
    return chosen


def _user_by_email(email: str) -> int | None:
    from tenants.models import Membership

    email = email.strip()
    if not email:
        return None
    return (
        Membership.objects.filter(user__email__iexact=email)
        .values_list("user_id", flat=True)
        .first()
    )


def assignee(
    rule: RoutingRule, response: Response, touchpoint: Touchpoint
) -> tuple[int | None, int | None, str]:
    """(owner id, team id, how) for a new case under ``rule``."""
    fallback_team = touchpoint.team_id
    mode = rule.assign_mode
    if mode == AssignMode.USER and rule.assign_user_id and members_only([rule.assign_user_id]):
        return rule.assign_user_id, rule.assign_team_id or fallback_team, "user"
    if mode == AssignMode.ACCOUNT_OWNER and rule.account_owner_attribute:
        email = (response.contact_attributes or {}).get(rule.account_owner_attribute)
        owner = _user_by_email(str(email)) if email else None
        if owner is not None:
            return owner, fallback_team, "account_owner"
    if mode == AssignMode.TEAM_ROUND_ROBIN and rule.assign_team_id:
        return (
            _round_robin(rule, _team_members(rule.assign_team_id)),
            rule.assign_team_id,
            "round_robin",
        )
    if mode == AssignMode.TEAM_LEAST_OPEN and rule.assign_team_id:
        return _least_open(_team_members(rule.assign_team_id)), rule.assign_team_id, "least_open"
    if mode == AssignMode.NOBODY:
        return None, None, "nobody"
    # The touchpoint's team (also the fallback of the modes above).
    return _least_open(_team_members(fallback_team)), fallback_team, "touchpoint_team"


def case_title(response: Response, touchpoint: Touchpoint) -> str:
    if response.nps is not None:
        return _("NPS %(score)s at %(touchpoint)s") % {
            "score": response.nps,
            "touchpoint": touchpoint.name,
        }
    if response.ces is not None:
        return _("CES %(score)s at %(touchpoint)s") % {
            "score": response.ces,
            "touchpoint": touchpoint.name,
        }
    if response.csat is not None:
        return _("CSAT %(score)s at %(touchpoint)s") % {
            "score": response.csat,
            "touchpoint": touchpoint.name,
        }
    return _("Feedback at %(touchpoint)s") % {"touchpoint": touchpoint.name}


def _next_number() -> int:
    return (Case.objects.aggregate(n=Max("number"))["n"] or 0) + 1


def _open_case_of(contact_id: int | None) -> Case | None:
    if contact_id is None:
        return None
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("sla_policy", "touchpoint", "response")
        .filter(contact_id=contact_id, status__in=OPEN_CASE_STATUSES)
        .first()
    )


def _join(case: Case, response: Response, rule: RoutingRule, now: datetime) -> Case:
    CaseResponse.objects.create(case=case, response=response, created_at=now)
    fields = ["updated_at"]
    text = _("%(channel)s feedback at %(touchpoint)s") % {
        "channel": response.get_channel_display(),
        "touchpoint": response.touchpoint.name,
    }
    case_event_add(
        case=case,
        kind=CaseEventKind.RESPONSE_JOINED,
        actor=ROUTING_ACTOR,
        text=text,
        data={"response_id": response.pk, "rule_id": rule.pk, "nps": response.nps},
        at=now,
    )
    if rule.priority > case.priority:
        before = case.priority
        case.priority = rule.priority
        fields.append("priority")
        case_event_add(
            case=case,
            kind=CaseEventKind.PRIORITY,
            actor=ROUTING_ACTOR,
            text=_("Raised by further feedback (rule “%(rule)s”).") % {"rule": rule.name},
            data={"from": before, "to": rule.priority},
            at=now,
        )
    impact = max(case.impact, case_impact(case, response))
    if impact != case.impact:
        case.impact = impact
        fields.append("impact")
    case.updated_at = now
    case.save(update_fields=fields)
    if case.owner_id is not None:
        notify(
            user_ids=[case.owner_id],
            kind="case_feedback",
            title=_("New feedback on case #%(number)s") % {"number": case.number},
            case=case,
        )
    return case


def _open(response: Response, rule: RoutingRule, now: datetime) -> Case:
    touchpoint = response.touchpoint
    owner_id, team_id, how = assignee(rule, response, touchpoint)
    case = Case(
        number=_next_number(),
        title=case_title(response, touchpoint)[:200],
        priority=rule.priority,
        response=response,
        contact_id=response.contact_id,
        touchpoint=touchpoint,
        journey_id=response.journey_id,
        rule=rule,
        sla_policy=rule.sla_policy,
        owner_id=owner_id,
        team_id=team_id,
        created_at=now,
        updated_at=now,
    )
    case.impact = case_impact(case, response)
    case_clock_refresh(case, fired=set())
    case.save()
    CaseResponse.objects.create(case=case, response=response, created_at=now)
    case_event_add(
        case=case,
        kind=CaseEventKind.OPENED,
        actor=ROUTING_ACTOR,
        text=_("Opened by rule “%(rule)s”.") % {"rule": rule.name},
        data={
            "rule_id": rule.pk,
            "response_id": response.pk,
            "priority": case.priority,
            "sla_policy_id": case.sla_policy_id,
        },
        at=now,
    )
    if owner_id is not None or team_id is not None:
        case_event_add(
            case=case,
            kind=CaseEventKind.ASSIGNED,
            actor=ROUTING_ACTOR,
            data={
                "from": {"owner": None, "team": None},
                "to": {"owner": owner_id, "team": team_id},
                "how": how,
            },
            at=now,
        )
    title = _("New case #%(number)s: %(title)s") % {"number": case.number, "title": case.title}
    if owner_id is not None:
        notify(
            user_ids=[owner_id], kind="case_assigned", title=title, body=response.comment, case=case
        )
    elif team_id is not None:
        lead = Team.objects.filter(pk=team_id).values_list("lead_id", flat=True).first()
        notify(
            user_ids=[lead, *_team_members(team_id)], kind="case_unassigned", title=title, case=case
        )
    return case


def response_route(*, response: Response, now: datetime | None = None) -> Case | None:
    """Open or join a case for the response if a rule says so; the case, or None.

    Idempotent per response. Imported history opens no cases."""
    if response.channel == ResponseChannel.IMPORT:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        link = CaseResponse.objects.filter(response=response).select_related("case").first()
        if link is not None:
            return _refresh(link.case, response)
        rule = rule_for_response(response)
        if rule is None or not rule.open_case:
            return None
        # Serialize routing per contact (two responses of one contact at once).
        if response.contact_id is not None:
            Contact.objects.select_for_update().filter(pk=response.contact_id).first()
        existing = _open_case_of(response.contact_id)
        if existing is not None:
            return _join(existing, response, rule, now)
        try:
            with transaction.atomic():
                return _open(response, rule, now)
        except IntegrityError:
            # Another worker opened the contact's case (or took the number) meanwhile.
            existing = _open_case_of(response.contact_id)
            if existing is not None:
                return _join(existing, response, rule, now)
            with transaction.atomic():
                return _open(response, rule, now)


def _refresh(case: Case, response: Response) -> Case:
    """A routed response changed (the comment arrived, a score changed)."""
    impact = case_impact(case, response) if case.response_id == response.pk else case.impact
    changes: dict[str, Any] = {}
    if impact != case.impact and case.is_open:
        changes["impact"] = impact
    if case.response_id == response.pk and response.nps is not None:
        title = case_title(response, case.touchpoint)[:200]
        if title != case.title:
            changes["title"] = title
    if changes:
        Case.objects.filter(pk=case.pk).update(**changes)
        for name, value in changes.items():
            setattr(case, name, value)
    return case


__all__ = ["ROUTING_ACTOR", "case_impact", "response_route", "rule_for_response"]
