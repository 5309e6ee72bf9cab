"""What a new organization starts with: SLA policies with escalation ladders, routing
rules by NPS group, a root-cause taxonomy and reply templates (German and English).

Detractors: high priority, first contact within 24 h, resolution within 48 h. Passives:
normal priority, 5 days. Promoters: low priority, 7 days (thank them and ask for a
referral). Ladder: remind the owner at 75 % of each target; at the due time the
target is marked breached and the team lead notified; 24 h after the resolution was
due the managers are notified.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from closedloop.models import (
    AssignMode,
    EscalationAction,
    EscalationStep,
    MessageChannel,
    MessageTemplate,
    Priority,
    RootCause,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
)

HOUR = 60
DAY = 24 * HOUR

ROOT_CAUSES = (
    "Delivery",
    "Product quality",
    "Price",
    "Staff behaviour",
    "Waiting time",
    "Billing",
    "Website or app",
    "Communication",
    "Other",
)


def _ladder(policy: SlaPolicy) -> None:
    steps = []
    if policy.first_response_minutes:
        steps += [
            EscalationStep(
                policy=policy,
                target=SlaTarget.FIRST_RESPONSE,
                at_percent=75,
                action=EscalationAction.REMIND_OWNER,
            ),
            EscalationStep(
                policy=policy,
                target=SlaTarget.FIRST_RESPONSE,
                at_percent=100,
                action=EscalationAction.NOTIFY_TEAM_LEAD,
            ),
        ]
    steps += [
        EscalationStep(
            policy=policy,
            target=SlaTarget.RESOLUTION,
            at_percent=75,
            action=EscalationAction.REMIND_OWNER,
        ),
        EscalationStep(
            policy=policy,
            target=SlaTarget.RESOLUTION,
            at_percent=100,
            action=EscalationAction.NOTIFY_TEAM_LEAD,
        ),
        EscalationStep(
            policy=policy,
            target=SlaTarget.RESOLUTION,
            after_due_minutes=DAY,
            action=EscalationAction.NOTIFY_MANAGERS,
        ),
    ]
    EscalationStep.objects.bulk_create(steps)


def closedloop_defaults_create(*, language: str = "en") -> bool:
    """Create the defaults in the current organization unless it has routing rules or
    SLA policies already; True when it created them."""
    if RoutingRule.objects.exists() or SlaPolicy.objects.exists():
        return False
    with transaction.atomic(), translation.override(language):
        detractor = SlaPolicy.objects.create(
            name=_("Detractors: contact in 24 h, resolve in 48 h"),
            first_response_minutes=DAY,
            resolution_minutes=2 * DAY,
        )
        passive = SlaPolicy.objects.create(
            name=_("Passives: contact in 2 days, resolve in 5 days"),
            first_response_minutes=2 * DAY,
            resolution_minutes=5 * DAY,
        )
        promoter = SlaPolicy.objects.create(
            name=_("Promoters: thank within 7 days"),
            first_response_minutes=None,
            resolution_minutes=7 * DAY,
        )
        for policy in (detractor, passive, promoter):
            _ladder(policy)
        rules = [
            (_("Detractors"), "detractor", Priority.HIGH, detractor),
            (_("Passives"), "passive", Priority.NORMAL, passive),
            (_("Promoters: thank and ask for a referral"), "promoter", Priority.LOW, promoter),
        ]
        RoutingRule.objects.bulk_create(
            [
                RoutingRule(
                    position=index,
                    name=name,
                    conditions=[{"field": "nps_group", "op": "in", "value": [group]}],
                    priority=priority,
                    sla_policy=policy,
                    assign_mode=AssignMode.TOUCHPOINT_TEAM,
                )
                for index, (name, group, priority, policy) in enumerate(rules, start=1)
            ]
        )
        RootCause.objects.bulk_create([RootCause(name=_(name)) for name in ROOT_CAUSES])
        MessageTemplate.objects.bulk_create(_templates())
    return True


def _templates() -> list[MessageTemplate]:
    return [
        MessageTemplate(
            name="Apology",
            channel=MessageChannel.EMAIL,
            subject={
                "en": "About your feedback to {organization}",
                "de": "Zu Ihrem Feedback an {organization}",
            },
            body={
                "en": (
                    "Dear {first_name},\n\nthank you for telling us about your experience "
                    "with {touchpoint}. I am sorry that we let you down. I have looked into "
                    "it and would like to make it right.\n\n{owner_name}\n{organization}"
                ),
                "de": (
                    "Guten Tag {first_name},\n\nvielen Dank, dass Sie uns von Ihrer "
                    "Erfahrung mit {touchpoint} berichtet haben. Es tut mir leid, dass wir "
                    "Sie enttäuscht haben. Ich habe mich darum gekümmert und möchte es "
                    "wiedergutmachen.\n\n{owner_name}\n{organization}"
                ),
            },
        ),
        MessageTemplate(
            name="Apology",
            channel=MessageChannel.SMS,
            subject={},
            body={
                "en": (
                    "{organization}: Thank you for your feedback, {first_name}. Sorry we "
                    "let you down - I will call you today. {owner_name}"
                ),
                "de": (
                    "{organization}: Danke für Ihr Feedback, {first_name}. Es tut uns leid "
                    "- ich rufe Sie heute an. {owner_name}"
                ),
            },
        ),
        MessageTemplate(
            name="Thank you and referral",
            channel=MessageChannel.EMAIL,
            subject={
                "en": "Thank you, {first_name}!",
                "de": "Vielen Dank, {first_name}!",
            },
            body={
                "en": (
                    "Dear {first_name},\n\nthank you for your kind words about {touchpoint}. "
                    "If you know someone who would like us too, we would be glad if you "
                    "recommended us.\n\n{owner_name}\n{organization}"
                ),
                "de": (
                    "Guten Tag {first_name},\n\nvielen Dank für Ihre freundlichen Worte zu "
                    "{touchpoint}. Wenn Sie jemanden kennen, dem wir auch gefallen würden, "
                    "freuen wir uns über Ihre Empfehlung.\n\n{owner_name}\n{organization}"
                ),
            },
        ),
    ]
