"""What a new organization starts with: SLA policies with escalation ladders, routing
rules by NPS group, a root-cause taxonomy and reply templates (German and English).

Detractors: high priority, first contact within 24 h, resolution within 48 h. Passives:
normal priority, 5 days. Promoters: low priority, 7 days (thank them and ask for a
referral). Ladder: remind the owner at 75 % of each target; at the due time the
target is marked breached and the team lead notified; 24 h after the resolution was
due the managers are notified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from closedloop.models import (
    AssignMode,
    EscalationAction,
    MessageChannel,
    Priority,
    SlaTarget,
)
from tenants.context import require_organization_id

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


ModelGetter = Callable[[str, str], Any]


def _ladder(get_model: ModelGetter, organization_id: int, policy: Any) -> None:
    step = get_model("closedloop", "EscalationStep")
    rungs: list[tuple[str, int | None, int | None, str]] = []
    if policy.first_response_minutes:
        rungs += [
            (SlaTarget.FIRST_RESPONSE, 75, None, EscalationAction.REMIND_OWNER),
            (SlaTarget.FIRST_RESPONSE, 100, None, EscalationAction.NOTIFY_TEAM_LEAD),
        ]
    rungs += [
        (SlaTarget.RESOLUTION, 75, None, EscalationAction.REMIND_OWNER),
        (SlaTarget.RESOLUTION, 100, None, EscalationAction.NOTIFY_TEAM_LEAD),
        (SlaTarget.RESOLUTION, None, DAY, EscalationAction.NOTIFY_MANAGERS),
    ]
    step.objects.bulk_create(
        [
            step(
                organization_id=organization_id,
                policy=policy,
                target=str(target),
                at_percent=percent,
                after_due_minutes=after,
                action=str(action),
            )
            for target, percent, after, action in rungs
        ]
    )


def closedloop_defaults_create(*, language: str = "en") -> bool:
    """Create the defaults in the current organization unless it has routing rules or
    SLA policies already; True when it created them."""
    return defaults_create_for(
        apps.get_model, organization_id=require_organization_id(), language=language
    )


def defaults_create_for(get_model: ModelGetter, *, organization_id: int, language: str) -> bool:
    """The defaults for one organization, with the given model classes (the current
    ones, or a migration's historical ones: every row names its organization)."""
    rule_model = get_model("closedloop", "RoutingRule")
    policy_model = get_model("closedloop", "SlaPolicy")
    if (
        rule_model.objects.filter(organization_id=organization_id).exists()
        or policy_model.objects.filter(organization_id=organization_id).exists()
    ):
        return False
    org = {"organization_id": organization_id}
    with transaction.atomic(), translation.override(language):
        detractor = policy_model.objects.create(
            name=_("Detractors: contact in 24 h, resolve in 48 h"),
            first_response_minutes=DAY,
            resolution_minutes=2 * DAY,
            **org,
        )
        passive = policy_model.objects.create(
            name=_("Passives: contact in 2 days, resolve in 5 days"),
            first_response_minutes=2 * DAY,
            resolution_minutes=5 * DAY,
            **org,
        )
        promoter = policy_model.objects.create(
            name=_("Promoters: thank within 7 days"),
            first_response_minutes=None,
            resolution_minutes=7 * DAY,
            **org,
        )
        for policy in (detractor, passive, promoter):
            _ladder(get_model, organization_id, policy)
        rules = [
            (_("Detractors"), "detractor", Priority.HIGH, detractor),
            (_("Passives"), "passive", Priority.NORMAL, passive),
            (_("Promoters: thank and ask for a referral"), "promoter", Priority.LOW, promoter),
        ]
        rule_model.objects.bulk_create(
            [
                rule_model(
                    position=index,
                    name=name,
                    enabled=True,
                    open_case=True,
                    conditions=[{"field": "nps_group", "op": "in", "value": [group]}],
                    priority=int(priority),
                    sla_policy=policy,
                    assign_mode=str(AssignMode.TOUCHPOINT_TEAM),
                    account_owner_attribute="",
                    **org,
                )
                for index, (name, group, priority, policy) in enumerate(rules, start=1)
            ]
        )
        cause_model = get_model("closedloop", "RootCause")
        cause_model.objects.bulk_create(
            [cause_model(name=_(name), description="", active=True, **org) for name in ROOT_CAUSES]
        )
        template_model = get_model("closedloop", "MessageTemplate")
        template_model.objects.bulk_create(
            [template_model(**fields, **org) for fields in _templates()]
        )
    return True


def _templates() -> list[dict[str, Any]]:
    return [
        {
            "name": "Apology",
            "channel": str(MessageChannel.EMAIL),
            "subject": {
                "en": "About your feedback to {organization}",
                "de": "Zu Ihrem Feedback an {organization}",
            },
            "body": {
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
        },
        {
            "name": "Apology",
            "channel": str(MessageChannel.SMS),
            "subject": {},
            "body": {
                "en": (
                    "{organization}: Thank you for your feedback, {first_name}. Sorry we "
                    "let you down - I will call you today. {owner_name}"
                ),
                "de": (
                    "{organization}: Danke für Ihr Feedback, {first_name}. Es tut uns leid "
                    "- ich rufe Sie heute an. {owner_name}"
                ),
            },
        },
        {
            "name": "Thank you and referral",
            "channel": str(MessageChannel.EMAIL),
            "subject": {
                "en": "Thank you, {first_name}!",
                "de": "Vielen Dank, {first_name}!",
            },
            "body": {
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
        },
    ]
