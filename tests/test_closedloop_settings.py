"""Closed-loop settings pages (routing rules, SLA policies and ladders, business hours,
root causes, reply templates) through the HTTP client as members of each role."""

from __future__ import annotations

import html
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, time
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from closedloop.models import (
    BusinessHours,
    Case,
    EscalationStep,
    MessageTemplate,
    Priority,
    RootCause,
    RoutingRule,
    SlaPolicy,
)
from responses.models import Response
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tests.conftest import Tenant
from tests.factories import (
    JourneyFactory,
    TeamFactory,
    TouchpointFactory,
    case_factory,
    case_root_cause_factory,
    escalation_step_factory,
    message_template_factory,
    published_survey,
    response_factory,
    root_cause_factory,
    routing_rule_factory,
    sla_policy_factory,
)

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]
SETTINGS = "cases/settings/"


def text(page: Any) -> str:
    return html.unescape(page.content.decode())


def rules(tenant: Tenant) -> list[tuple[int, str]]:
    with tenant_context(tenant.organization):
        return list(RoutingRule.objects.order_by("position").values_list("position", "name"))


def audit_actions(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        return list(AuditLog.objects.order_by("id").values_list("action", flat=True))


def rule_data(
    name: str = "Enterprise detractors",
    conditions: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A rule form as a browser posts it: main fields plus condition rows."""
    rows = conditions or []
    data: dict[str, Any] = {
        "name": name,
        "enabled": "on",
        "open_case": "on",
        "priority": str(Priority.URGENT),
        "sla_policy": "",
        "assign_mode": "touchpoint_team",
        "assign_user": "",
        "assign_team": "",
        "account_owner_attribute": "",
        "position": "1",
        "conditions-TOTAL_FORMS": str(max(3, len(rows))),
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "20",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"conditions-{index}-{key}"] = value
    data.update(fields)
    return data


@pytest.fixture
def version(tenant_a: Tenant) -> SurveyVersion:
    with tenant_context(tenant_a.organization):
        return published_survey()


def submit(
    tenant: Tenant,
    version: SurveyVersion,
    capture: Capture,
    score: int,
    comment: str = "",
    **kwargs: Any,
) -> Response:
    """A response through the submit service; routing runs from the outbox on commit."""
    answers: dict[str, Any] = {"recommend": score}
    if comment:
        answers["recommend-reason"] = comment
    with tenant_context(tenant.organization), capture(execute=True):
        return response_factory(version=version, answers=answers, **kwargs)


def case_of(tenant: Tenant, response: Response) -> Case | None:
    with tenant_context(tenant.organization):
        return Case.objects.filter(case_responses__response=response).first()


# --- Who may see the pages ------------------------------------------------------------


def page_paths(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        rule = RoutingRule.objects.first()
        policy = SlaPolicy.objects.first()
        cause = RootCause.objects.first()
        template = MessageTemplate.objects.first()
    assert rule, "a new organization has defaults"
    assert policy
    assert cause
    assert template
    return [
        SETTINGS,
        SETTINGS + "routing/",
        SETTINGS + "routing/new/",
        SETTINGS + f"routing/{rule.pk}/",
        SETTINGS + f"routing/{rule.pk}/test/",
        SETTINGS + "sla/",
        SETTINGS + "sla/new/",
        SETTINGS + f"sla/{policy.pk}/",
        SETTINGS + "hours/",
        SETTINGS + "root-causes/",
        SETTINGS + f"root-causes/{cause.pk}/",
        SETTINGS + "templates/",
        SETTINGS + "templates/new/",
        SETTINGS + f"templates/{template.pk}/",
    ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CX_MANAGER])
def test_every_settings_page_renders_for_admins_and_cx_managers(
    tenant_a: Tenant, role: str
) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for path in page_paths(tenant_a):
        page = client.get(tenant_a.url(path))
        assert page.status_code == 200, path
        assert "Routing rules" in text(page), path  # the settings navigation


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_owners_and_viewers_are_refused(tenant_a: Tenant, role: str) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    for path in page_paths(tenant_a):
        assert client.get(tenant_a.url(path)).status_code == 403, path
    before = rules(tenant_a)
    response = client.post(tenant_a.url(SETTINGS + "routing/new/"), rule_data())
    assert response.status_code == 403
    assert rules(tenant_a) == before


def test_non_members_get_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.client.get(tenant_a.url(SETTINGS)).status_code == 404
    assert tenant_b.client.get(tenant_a.url(SETTINGS + "routing/")).status_code == 404


def test_landing_page_links_the_sections_with_counts(tenant_a: Tenant) -> None:
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS)))
    for section in ("routing/", "sla/", "hours/", "root-causes/", "templates/"):
        assert tenant_a.url(SETTINGS + section) in page
    assert "3 rules, 3 enabled." in page
    assert "3 policies." in page
    assert "Not set: every SLA clock runs around the clock." in page


def test_organization_settings_link_to_closed_loop_settings(tenant_a: Tenant) -> None:
    page = text(tenant_a.client.get(tenant_a.url("settings/")))
    assert tenant_a.url(SETTINGS) in page


# --- Routing rules --------------------------------------------------------------------


def test_rule_list_shows_order_conditions_in_words_and_actions(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        journey: Any = JourneyFactory(name="Online shop")
        routing_rule_factory(
            name="Shop refunds",
            conditions=[
                {"field": "journey", "op": "in", "value": [journey.pk]},
                {"field": "comment", "op": "contains_any", "value": ["refund", "broken"]},
                {"field": "attribute:revenue", "op": "gte", "value": 5000},
            ],
            open_case=False,
        )
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS + "routing/")))
    assert "NPS group is detractor" in page
    assert "Open a case, priority High" in page
    assert "SLA: Detractors: contact in 24 h, resolve in 48 h" in page
    assert "Journey is Online shop" in page
    assert "Comment mentions “refund” or “broken”" in page
    assert "CRM attribute “revenue” is at least 5000" in page
    assert "No case" in page
    assert page.index("Detractors") < page.index("Passives") < page.index("Shop refunds")


def test_rule_list_queries_do_not_grow_with_rules(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert tenant_a.client.get(tenant_a.url(SETTINGS + "routing/")).status_code == 200
        return len(queries)

    few = count()
    with tenant_context(tenant_a.organization):
        team = TeamFactory()
        for number in range(8):
            routing_rule_factory(
                name=f"Extra {number}", assign_mode="team_least_open", assign_team=team
            )
    assert count() == few
    # PostgreSQL adds the tenant context's savepoints and settings to the count.
    with django_assert_max_num_queries(20):
        tenant_a.client.get(tenant_a.url(SETTINGS + "routing/"))


def test_a_created_rule_routes_new_responses_first_match_wins(
    tenant_a: Tenant, version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        policy = sla_policy_factory(name="Urgent: 4 hours", resolution_minutes=240)
    data = rule_data(
        "Refund detractors",
        [
            {"field": "nps_group", "value": "Detractor"},  # the operator is picked
            {"field": "comment", "op": "contains_any", "value": "refund, broken"},
        ],
        sla_policy=str(policy.pk),
        position="1",
    )
    response = tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data)
    assert response.status_code == 302
    assert rules(tenant_a)[0] == (1, "Refund detractors")
    assert [name for _pos, name in rules(tenant_a)][1] == "Detractors"
    with tenant_context(tenant_a.organization):
        rule = RoutingRule.objects.get(name="Refund detractors")
    assert rule.conditions == [
        {"field": "nps_group", "op": "in", "value": ["detractor"]},
        {"field": "comment", "op": "contains_any", "value": ["refund", "broken"]},
    ]
    assert "routing_rule.create" in audit_actions(tenant_a)

    refund = submit(tenant_a, version, django_capture_on_commit_callbacks, 2, "I want a refund now")
    case = case_of(tenant_a, refund)
    assert case is not None
    assert case.priority == Priority.URGENT
    assert case.rule_id == rule.pk
    assert case.sla_policy_id == policy.pk

    # Without the keyword, the next rule (the default "Detractors") takes it.
    late = submit(tenant_a, version, django_capture_on_commit_callbacks, 2, "The parcel was late")
    other = case_of(tenant_a, late)
    assert other is not None
    assert other.priority == Priority.HIGH
    assert other.rule_id != rule.pk


def test_a_bad_condition_shows_its_message_beside_the_row_and_saves_nothing(
    tenant_a: Tenant,
) -> None:
    before = rules(tenant_a)
    data = rule_data(
        "Broken",
        [
            {"field": "nps", "op": "between", "value": "3-12"},
            {"field": "attribute", "name": "", "op": "eq", "value": "enterprise"},
            {"field": "ces", "op": "gte", "value": "lots"},
        ],
    )
    page = tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data)
    assert page.status_code == 200
    body = text(page)
    assert "Scores of NPS run from 0 to 10." in body
    assert "Name the CRM attribute." in body
    assert "Give a number." in body
    assert rules(tenant_a) == before


def test_an_operator_that_does_not_fit_the_field_is_refused(tenant_a: Tenant) -> None:
    before = rules(tenant_a)
    data = rule_data("Odd", [{"field": "comment", "op": "gte", "value": "5"}])
    body = text(tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data))
    assert "“gte” does not apply to comment" in body
    assert rules(tenant_a) == before


def test_assignment_needs_what_its_mode_uses(tenant_a: Tenant) -> None:
    before = rules(tenant_a)
    url = tenant_a.url(SETTINGS + "routing/new/")
    body = text(tenant_a.client.post(url, rule_data(assign_mode="account_owner")))
    assert "This field is required." in body
    body = text(tenant_a.client.post(url, rule_data(assign_mode="team_round_robin")))
    assert "Choose the team whose members get the cases." in body
    body = text(tenant_a.client.post(url, rule_data(assign_mode="user")))
    assert "Choose the user who gets the cases." in body
    assert rules(tenant_a) == before


def test_account_owner_rule_and_crm_conditions_keep_what_was_typed(tenant_a: Tenant) -> None:
    data = rule_data(
        "Key accounts",
        [
            {"field": "attribute", "name": "segment", "op": "in", "value": "Enterprise, Gold"},
            {"field": "attribute", "name": "revenue", "op": "gte", "value": "5000"},
            {"field": "answer", "name": "recommend", "op": "lte", "value": "6"},
            {"field": "attribute", "name": "account_owner", "op": "exists"},
        ],
        assign_mode="account_owner",
        account_owner_attribute="account_owner",
        assign_team="",
    )
    response = tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data)
    assert response.status_code == 302, text(response)
    with tenant_context(tenant_a.organization):
        rule = RoutingRule.objects.get(name="Key accounts")
    assert rule.conditions[0] == {
        "field": "attribute:segment",
        "op": "in",
        "value": ["Enterprise", "Gold"],
    }
    assert rule.conditions[1] == {"field": "attribute:revenue", "op": "gte", "value": 5000}
    assert rule.conditions[3] == {"field": "attribute:account_owner", "op": "exists", "value": True}
    assert rule.conditions[2] == {"field": "answer:recommend", "op": "lte", "value": 6}
    assert rule.account_owner_attribute == "account_owner"
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS + "routing/")))
    assert "CRM attribute “segment” is “Enterprise” or “Gold”" in page
    assert "Answer to question “recommend” is at most 6" in page
    assert "CRM attribute “account_owner” is present" in page
    assert "The contact's account owner (CRM attribute “account_owner”" in page


def test_journey_and_touchpoint_are_chosen_from_the_organizations_lists(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_a.organization):
        journey: Any = JourneyFactory(name="Service")
        touchpoint: Any = TouchpointFactory(journey=journey, name="Call centre")
    with tenant_context(tenant_b.organization):
        foreign: Any = JourneyFactory(name="Foreign")
    form = text(tenant_a.client.get(tenant_a.url(SETTINGS + "routing/new/")))
    assert f'value="journey:{journey.pk}"' in form
    assert f'value="touchpoint:{touchpoint.pk}"' in form
    assert "Foreign" not in form
    data = rule_data(
        "Service calls",
        [
            {"field": "journey", "items": [f"journey:{journey.pk}"]},
            {"field": "touchpoint", "value": "call centre"},  # typed by name
        ],
    )
    response = tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data)
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        rule = RoutingRule.objects.get(name="Service calls")
    assert rule.conditions == [
        {"field": "journey", "op": "in", "value": [journey.pk]},
        {"field": "touchpoint", "op": "in", "value": [touchpoint.pk]},
    ]
    # Another organization's journey is not a choice, by id or by name.
    for row in (
        {"field": "journey", "items": [f"journey:{foreign.pk}"]},
        {"field": "journey", "value": "Foreign"},
    ):
        body = text(
            tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), rule_data("X", [row]))
        )
        assert "not one of the available choices" in body or "No journey is called" in body
    edit = text(tenant_a.client.get(tenant_a.url(SETTINGS + f"routing/{rule.pk}/")))
    assert f'<option value="journey:{journey.pk}" selected>' in edit


def test_edit_shows_the_stored_conditions_and_saves_changes(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule = RoutingRule.objects.get(position=1)
    url = tenant_a.url(SETTINGS + f"routing/{rule.pk}/")
    form = text(tenant_a.client.get(url))
    assert 'value="Detractors"' in form
    assert 'name="conditions-0-value" value="detractor"' in form
    data = rule_data(
        "Detractors and passives",
        [{"field": "nps_group", "op": "in", "value": "detractor, passive"}],
        priority=str(Priority.NORMAL),
        enabled="",
    )
    del data["position"]
    data["conditions-INITIAL_FORMS"] = "1"
    assert tenant_a.client.post(url, data).status_code == 302
    with tenant_context(tenant_a.organization):
        rule.refresh_from_db()
        entry = AuditLog.objects.filter(action="routing_rule.update").get()
    assert rule.name == "Detractors and passives"
    assert rule.enabled is False
    assert rule.priority == Priority.NORMAL
    assert rule.conditions == [
        {"field": "nps_group", "op": "in", "value": ["detractor", "passive"]}
    ]
    assert entry.changes["name"] == ["Detractors", "Detractors and passives"]
    assert rule.position == 1


def test_removing_every_condition_makes_a_catch_all_rule(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        rule = RoutingRule.objects.get(position=3)
    data = rule_data("Everything else", [{"field": "", "value": ""}])
    del data["position"]
    assert (
        tenant_a.client.post(tenant_a.url(SETTINGS + f"routing/{rule.pk}/"), data).status_code
        == 302
    )
    with tenant_context(tenant_a.organization):
        rule.refresh_from_db()
    assert rule.conditions == []
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS + "routing/")))
    assert "Every response" in page


def test_move_enable_and_delete_keep_the_order_dense(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        third = RoutingRule.objects.get(position=3)
        first = RoutingRule.objects.get(position=1)
    base = SETTINGS + "routing/"
    client = tenant_a.client
    assert (
        client.post(tenant_a.url(base + f"{third.pk}/move/"), {"direction": "up"}).status_code
        == 302
    )
    assert [name for _p, name in rules(tenant_a)] == [
        "Detractors",
        "Promoters: thank and ask for a referral",
        "Passives",
    ]
    client.post(tenant_a.url(base + f"{first.pk}/move/"), {"direction": "up"})  # already first
    assert rules(tenant_a)[0] == (1, "Detractors")
    client.post(tenant_a.url(base + f"{first.pk}/enable/"), {"enabled": "0"})
    with tenant_context(tenant_a.organization):
        assert RoutingRule.objects.get(pk=first.pk).enabled is False
    page = text(client.get(tenant_a.url(base)))
    assert "disabled" in page
    client.post(tenant_a.url(base + f"{first.pk}/delete/"), {})
    assert rules(tenant_a) == [(1, "Promoters: thank and ask for a referral"), (2, "Passives")]
    assert client.get(tenant_a.url(base + f"{first.pk}/move/")).status_code == 405
    actions = audit_actions(tenant_a)
    for action in ("routing_rule.move", "routing_rule.disable", "routing_rule.delete"):
        assert action in actions


def test_preview_counts_matches_on_recent_responses_without_saving(
    tenant_a: Tenant, version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    submit(tenant_a, version, django_capture_on_commit_callbacks, 1, "Broken screen")
    submit(tenant_a, version, django_capture_on_commit_callbacks, 3, "Slow delivery")
    submit(tenant_a, version, django_capture_on_commit_callbacks, 10, "Great")
    before = rules(tenant_a)
    data = rule_data("Broken", [{"field": "comment", "value": "broken"}], preview="1")
    data["position"] = "4"  # last: the default rules take every NPS response first
    page = text(tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data))
    assert "1 of the last 3 responses match these conditions." in page
    assert "0 of them would reach this rule" in page
    assert "Broken screen" in page
    assert "Promoters: thank and ask for a referral" in page  # takes the NPS 10 today
    assert rules(tenant_a) == before
    data["position"] = "1"
    page = text(tenant_a.client.post(tenant_a.url(SETTINGS + "routing/new/"), data))
    assert "1 of them would reach this rule" in page


def test_rule_test_page_shows_which_rule_takes_recent_responses(
    tenant_a: Tenant, version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    submit(tenant_a, version, django_capture_on_commit_callbacks, 8, "Fine")
    with tenant_context(tenant_a.organization):
        passives = RoutingRule.objects.get(name="Passives")
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS + f"routing/{passives.pk}/test/")))
    assert "1 of 1 response matches these conditions." in page
    assert "1 of them would reach this rule" in page
    assert "Fine" in page


# --- SLA policies and escalation ladders ---------------------------------------------


def test_policy_list_shows_targets_in_hours_and_days(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        sla_policy_factory(
            name="Office hours",
            first_response_minutes=240,
            resolution_minutes=90,
            business_hours_only=True,
        )
    page = text(tenant_a.client.get(tenant_a.url(SETTINGS + "sla/")))
    for duration in ("1 day", "2 days", "7 days", "4 hours", "1 h 30 min"):
        assert duration in page
    assert "(not set: around the clock)" in page
    assert "Resolution: at 75 % of the time: Remind the owner" in page
    assert "Resolution: 1 day after the due time: Notify the managers" in page


def test_policy_create_edit_and_its_ladder(tenant_a: Tenant) -> None:
    client = tenant_a.client
    response = client.post(
        tenant_a.url(SETTINGS + "sla/new/"),
        {"name": "VIP", "first_response_hours": "2", "resolution_hours": "8.5"},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        policy = SlaPolicy.objects.get(name="VIP")
    assert (policy.first_response_minutes, policy.resolution_minutes) == (120, 510)
    assert not policy.business_hours_only
    assert response["Location"] == tenant_a.url(SETTINGS + f"sla/{policy.pk}/")

    duplicate = client.post(
        tenant_a.url(SETTINGS + "sla/new/"), {"name": "vip", "resolution_hours": "8"}
    )
    assert "An SLA policy with this name already exists." in text(duplicate)
    backwards = client.post(
        tenant_a.url(SETTINGS + "sla/new/"),
        {"name": "Backwards", "first_response_hours": "10", "resolution_hours": "8"},
    )
    assert "The first contact cannot be due after the resolution." in text(backwards)

    steps = tenant_a.url(SETTINGS + f"sla/{policy.pk}/steps/")
    ok = client.post(
        steps, {"target": "first_response", "at_percent": "75", "action": "remind_owner"}
    )
    assert ok.status_code == 302
    ok = client.post(
        steps, {"target": "resolution", "after_due_hours": "24", "action": "notify_managers"}
    )
    assert ok.status_code == 302
    both = client.post(
        steps,
        {
            "target": "resolution",
            "at_percent": "50",
            "after_due_hours": "1",
            "action": "remind_owner",
        },
    )
    assert "Give either a share of the time or a delay after the due time, not both." in text(both)
    neither = client.post(steps, {"target": "resolution", "action": "remind_owner"})
    assert "not both" in text(neither)
    with tenant_context(tenant_a.organization):
        ladder = list(
            EscalationStep.objects.filter(policy=policy).values_list(
                "target", "at_percent", "after_due_minutes", "action"
            )
        )
    assert sorted(ladder) == [
        ("first_response", 75, None, "remind_owner"),
        ("resolution", None, 1440, "notify_managers"),
    ]
    page = text(client.get(tenant_a.url(SETTINGS + f"sla/{policy.pk}/")))
    assert "First contact: at 75 % of the time: Remind the owner" in page

    # Removing the first-contact target is refused while the ladder has steps for it.
    edit = client.post(
        tenant_a.url(SETTINGS + f"sla/{policy.pk}/"),
        {"name": "VIP", "first_response_hours": "", "resolution_hours": "8.5"},
    )
    assert "delete them before removing the first-contact target" in text(edit)
    with tenant_context(tenant_a.organization):
        first_step = EscalationStep.objects.get(policy=policy, target="first_response")
    deleted = client.post(tenant_a.url(SETTINGS + f"sla/steps/{first_step.pk}/delete/"), {})
    assert deleted.status_code == 302
    edit = client.post(
        tenant_a.url(SETTINGS + f"sla/{policy.pk}/"),
        {
            "name": "VIP customers",
            "first_response_hours": "",
            "resolution_hours": "12",
            "business_hours_only": "on",
        },
    )
    assert edit.status_code == 302
    with tenant_context(tenant_a.organization):
        policy.refresh_from_db()
    assert policy.name == "VIP customers"
    assert policy.first_response_minutes is None
    assert policy.resolution_minutes == 720
    assert policy.business_hours_only
    # A first-contact step on a policy without that target is refused.
    refused = client.post(
        steps, {"target": "first_response", "at_percent": "50", "action": "remind_owner"}
    )
    assert "This policy has no first-contact target." in text(refused)
    actions = audit_actions(tenant_a)
    for action in (
        "sla_policy.create",
        "escalation_step.create",
        "escalation_step.delete",
        "sla_policy.update",
    ):
        assert action in actions


def test_a_policy_in_use_cannot_be_deleted(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        used_by_rule = SlaPolicy.objects.get(name__startswith="Passives")
        case = case_factory()
        used_by_case = case.sla_policy
        unused = sla_policy_factory(name="Spare")
        escalation_step_factory(policy=unused)
    assert used_by_case is not None
    client = tenant_a.client
    page = client.post(tenant_a.url(SETTINGS + f"sla/{used_by_rule.pk}/delete/"), follow=True)
    assert "The routing rules “Passives” use this policy." in text(page)
    # Free it from its rule: the open case still holds the detractor policy.
    with tenant_context(tenant_a.organization):
        RoutingRule.objects.filter(sla_policy=used_by_case).update(sla_policy=None)
    page = client.post(tenant_a.url(SETTINGS + f"sla/{used_by_case.pk}/delete/"), follow=True)
    assert "1 open case runs on this policy." in text(page)
    page = client.post(tenant_a.url(SETTINGS + f"sla/{unused.pk}/delete/"), follow=True)
    assert "SLA policy “Spare” deleted." in text(page)
    with tenant_context(tenant_a.organization):
        assert SlaPolicy.objects.filter(pk=used_by_rule.pk).exists()
        assert SlaPolicy.objects.filter(pk=used_by_case.pk).exists()
        assert not SlaPolicy.objects.filter(pk=unused.pk).exists()
        assert not EscalationStep.objects.filter(policy_id=unused.pk).exists()
    assert "sla_policy.delete" in audit_actions(tenant_a)


def test_changing_a_policy_moves_the_due_times_of_its_open_cases(tenant_a: Tenant) -> None:
    opened = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
    with time_machine.travel(opened, tick=False), tenant_context(tenant_a.organization):
        case = case_factory()
    policy = case.sla_policy
    assert policy is not None
    assert case.resolution_due_at == datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
    with time_machine.travel(opened, tick=False):
        response = tenant_a.client.post(
            tenant_a.url(SETTINGS + f"sla/{policy.pk}/"),
            {"name": policy.name, "first_response_hours": "8", "resolution_hours": "72"},
        )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        case.refresh_from_db()
    assert case.first_response_due_at == datetime(2026, 5, 12, 16, 0, tzinfo=UTC)
    assert case.resolution_due_at == datetime(2026, 5, 15, 8, 0, tzinfo=UTC)
    # The ladder's first step (the reminder at 75 %) comes with the new target.
    assert case.next_escalation_at == datetime(2026, 5, 12, 14, 0, tzinfo=UTC)


# --- Business hours -------------------------------------------------------------------


def hours_data(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "weekdays": ["1", "2", "3", "4", "5"],
        "opens_at": "09:00",
        "closes_at": "17:00",
        "holidays": "",
    }
    data.update(fields)
    return data


def test_business_hours_are_validated(tenant_a: Tenant) -> None:
    url = tenant_a.url(SETTINGS + "hours/")
    page = text(tenant_a.client.post(url, hours_data(timezone="Mars/Olympus")))
    assert "Select a valid choice. Mars/Olympus is not one of the available choices." in page
    page = text(tenant_a.client.post(url, hours_data(opens_at="18:00", closes_at="08:00")))
    assert "Closing time must be after opening time." in page
    page = text(
        tenant_a.client.post(url, hours_data(holidays="2026-12-24\n2026-13-01\n\nnext monday"))
    )
    assert "Line 2: “2026-13-01” is not a date; write it like 2026-12-24." in page
    assert "Line 4: “next monday” is not a date" in page
    page = text(tenant_a.client.post(url, hours_data(weekdays=[])))
    assert "Choose at least one working day." in page
    with tenant_context(tenant_a.organization):
        assert not BusinessHours.objects.exists()


def test_business_hours_save_show_a_sample_and_can_be_removed(tenant_a: Tenant) -> None:
    url = tenant_a.url(SETTINGS + "hours/")
    friday_evening = datetime(2026, 5, 15, 16, 0, tzinfo=UTC)  # 18:00 in Berlin
    with time_machine.travel(friday_evening, tick=False):
        saved = tenant_a.client.post(url, hours_data(holidays="2026-05-19\n2026-05-18\n2026-05-18"))
        assert saved.status_code == 302
        page = text(tenant_a.client.get(url))
    with tenant_context(tenant_a.organization):
        hours = BusinessHours.objects.get()
    assert hours.weekdays == [1, 2, 3, 4, 5]
    assert (hours.opens_at, hours.closes_at) == (time(9), time(17))
    assert hours.holidays == ["2026-05-18", "2026-05-19"]
    # 24 working hours from Friday 18:00: Mon 18 and Tue 19 are holidays, so Wed-Fri 8 h each.
    assert "would be due at <strong>Friday, 22 May 2026, 17:00</strong> (Europe/Berlin)" in page
    assert "Counting around the clock, it would be due at Saturday, 16 May 2026, 18:00." in page
    assert "2026-05-18\n2026-05-19" in page
    removed = tenant_a.client.post(tenant_a.url(SETTINGS + "hours/clear/"), follow=True)
    assert "Business hours removed." in text(removed)
    with tenant_context(tenant_a.organization):
        assert not BusinessHours.objects.exists()
    assert audit_actions(tenant_a)[-2:] == ["business_hours.save", "business_hours.clear"]


def test_business_hours_move_due_times_of_business_hour_policies(tenant_a: Tenant) -> None:
    opened = datetime(2026, 5, 15, 16, 0, tzinfo=UTC)  # Friday 18:00 in Berlin
    with tenant_context(tenant_a.organization):
        policy = sla_policy_factory(
            name="Office",
            first_response_minutes=None,
            resolution_minutes=8 * 60,
            business_hours_only=True,
        )
        RoutingRule.objects.filter(name="Detractors").update(sla_policy=policy)
    with time_machine.travel(opened, tick=False), tenant_context(tenant_a.organization):
        case = case_factory()
    assert case.resolution_due_at == datetime(2026, 5, 16, 0, 0, tzinfo=UTC)  # no hours yet
    with time_machine.travel(opened, tick=False):
        tenant_a.client.post(tenant_a.url(SETTINGS + "hours/"), hours_data())
    with tenant_context(tenant_a.organization):
        case.refresh_from_db()
    assert case.resolution_due_at == datetime(2026, 5, 18, 15, 0, tzinfo=UTC)  # Mon 17:00
    tenant_a.client.post(tenant_a.url(SETTINGS + "hours/clear/"))
    with tenant_context(tenant_a.organization):
        case.refresh_from_db()
    assert case.resolution_due_at == datetime(2026, 5, 16, 0, 0, tzinfo=UTC)


# --- Root causes ----------------------------------------------------------------------


def test_root_causes_unique_rename_deactivate_and_delete(tenant_a: Tenant) -> None:
    url = tenant_a.url(SETTINGS + "root-causes/")
    client = tenant_a.client
    assert client.post(url, {"name": "Packaging", "description": "Damaged box"}).status_code == 302
    page = text(client.post(url, {"name": "packaging"}))
    assert "A root cause with this name already exists." in page
    with tenant_context(tenant_a.organization):
        packaging = RootCause.objects.get(name="Packaging")
        delivery = RootCause.objects.get(name="Delivery")
        case_root_cause_factory(root_cause=delivery)
        assert RootCause.objects.filter(name__iexact="packaging").count() == 1
    page = text(
        client.post(tenant_a.url(SETTINGS + f"root-causes/{packaging.pk}/"), {"name": "Delivery"})
    )
    assert "A root cause with this name already exists." in page
    renamed = client.post(
        tenant_a.url(SETTINGS + f"root-causes/{packaging.pk}/"),
        {"name": "Packaging and labels", "description": ""},
    )
    assert renamed.status_code == 302
    # A used cause cannot be deleted, only deactivated (and brought back).
    page = text(
        client.post(tenant_a.url(SETTINGS + f"root-causes/{delivery.pk}/delete/"), follow=True)
    )
    assert "Cases are tagged with “Delivery”, so it stays for their record." in page
    client.post(tenant_a.url(SETTINGS + f"root-causes/{delivery.pk}/active/"), {"active": "0"})
    with tenant_context(tenant_a.organization):
        assert RootCause.objects.get(pk=delivery.pk).active is False
    page = text(client.get(url))
    assert "deactivated" in page
    assert "Reactivate" in page
    client.post(tenant_a.url(SETTINGS + f"root-causes/{delivery.pk}/active/"), {"active": "1"})
    client.post(tenant_a.url(SETTINGS + f"root-causes/{packaging.pk}/delete/"))
    with tenant_context(tenant_a.organization):
        assert RootCause.objects.get(pk=delivery.pk).active is True
        assert not RootCause.objects.filter(pk=packaging.pk).exists()
    actions = audit_actions(tenant_a)
    for action in (
        "root_cause.create",
        "root_cause.update",
        "root_cause.deactivate",
        "root_cause.activate",
        "root_cause.delete",
    ):
        assert action in actions


# --- Reply templates ------------------------------------------------------------------


def template_data(**fields: Any) -> dict[str, Any]:
    data = {
        "name": "Callback",
        "channel": "email",
        "subject_en": "Your feedback, {first_name}",
        "body_en": "Dear {first_name},\nI will call you. {owner_name}, {organization}",
        "subject_de": "",
        "body_de": "",
    }
    data.update(fields)
    return data


def test_templates_check_placeholders_and_subjects(tenant_a: Tenant) -> None:
    url = tenant_a.url(SETTINGS + "templates/new/")
    page = text(tenant_a.client.post(url, template_data(body_en="Hello {firstname}")))
    assert "Unknown placeholder {firstname}; use {first_name}" in page
    page = text(tenant_a.client.post(url, template_data(body_de="Hallo {first_name")))
    assert "Braces must come in pairs, like {first_name}." in page
    page = text(tenant_a.client.post(url, template_data(subject_en="")))
    assert "An email needs a subject." in page
    page = text(tenant_a.client.post(url, template_data(body_en="", subject_en="")))
    assert "Write the text in at least one language." in page
    page = text(tenant_a.client.post(url, template_data(name="Apology")))
    assert "A template with this name exists for this channel already." in page
    with tenant_context(tenant_a.organization):
        assert not MessageTemplate.objects.filter(name="Callback").exists()
    # The same name on another channel is fine.
    sms = tenant_a.client.post(url, template_data(name="Thank you and referral", channel="sms"))
    assert sms.status_code == 302


def test_template_create_preview_edit_and_delete(tenant_a: Tenant) -> None:
    url = tenant_a.url(SETTINGS + "templates/new/")
    page = text(tenant_a.client.post(url, template_data(preview="1")))
    assert "Dear Anna," in page
    owner = tenant_a.admin.get_full_name() or tenant_a.admin.get_username()
    assert f"{owner}, ALPHA Corp" in page
    assert "Your feedback, Anna" in page
    with tenant_context(tenant_a.organization):
        assert not MessageTemplate.objects.filter(name="Callback").exists()
    created = tenant_a.client.post(
        url, template_data(channel="sms", subject_en="ignored", body_de="Hallo {first_name}")
    )
    assert created.status_code == 302
    with tenant_context(tenant_a.organization):
        template = MessageTemplate.objects.get(name="Callback")
    assert template.channel == "sms"
    assert template.subject == {}
    assert template.body["de"] == "Hallo {first_name}"
    edit_url = tenant_a.url(SETTINGS + f"templates/{template.pk}/")
    page = text(tenant_a.client.get(edit_url))
    assert "Hallo Anna" in page  # the saved template's preview
    assert "{case_number}" in page  # the placeholder list
    assert (
        tenant_a.client.post(edit_url, template_data(name="Call back", channel="sms")).status_code
        == 302
    )
    with tenant_context(tenant_a.organization):
        template.refresh_from_db()
    assert template.name == "Call back"
    assert "de" not in template.body
    tenant_a.client.post(tenant_a.url(SETTINGS + f"templates/{template.pk}/delete/"))
    with tenant_context(tenant_a.organization):
        assert not MessageTemplate.objects.filter(pk=template.pk).exists()
    actions = audit_actions(tenant_a)
    for action in (
        "message_template.create",
        "message_template.update",
        "message_template.delete",
    ):
        assert action in actions


# --- Another organization's objects ---------------------------------------------------


def test_another_organizations_settings_objects_are_not_found(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_b.organization):
        rule = RoutingRule.objects.first()
        policy = SlaPolicy.objects.first()
        step = EscalationStep.objects.first()
        cause = root_cause_factory(name="B only")
        template = message_template_factory()
    assert rule
    assert policy
    assert step
    client = tenant_a.client
    for path in (
        f"routing/{rule.pk}/",
        f"routing/{rule.pk}/test/",
        f"sla/{policy.pk}/",
        f"root-causes/{cause.pk}/",
        f"templates/{template.pk}/",
    ):
        assert client.get(tenant_a.url(SETTINGS + path)).status_code == 404, path
    for path, data in (
        (f"routing/{rule.pk}/", rule_data("Hijacked")),
        (f"routing/{rule.pk}/delete/", {}),
        (f"routing/{rule.pk}/move/", {"direction": "down"}),
        (f"routing/{rule.pk}/enable/", {"enabled": "0"}),
        (f"sla/{policy.pk}/delete/", {}),
        (f"sla/{policy.pk}/steps/", {"target": "resolution", "at_percent": "50"}),
        (f"sla/steps/{step.pk}/delete/", {}),
        (f"root-causes/{cause.pk}/active/", {"active": "0"}),
        (f"root-causes/{cause.pk}/delete/", {}),
        (f"templates/{template.pk}/delete/", {}),
    ):
        assert client.post(tenant_a.url(SETTINGS + path), data).status_code == 404, path
    with tenant_context(tenant_b.organization):
        assert (
            RoutingRule.objects.filter(pk=rule.pk, enabled=True).exclude(name="Hijacked").exists()
        )
        assert SlaPolicy.objects.filter(pk=policy.pk).exists()
        assert EscalationStep.objects.filter(pk=step.pk).exists()
        assert RootCause.objects.filter(pk=cause.pk, active=True).exists()
        assert MessageTemplate.objects.filter(pk=template.pk).exists()
    # And a rule may not name B's SLA policy, team or user.
    with tenant_context(tenant_b.organization):
        other_team: Any = TeamFactory()
    page = text(
        client.post(
            tenant_a.url(SETTINGS + "routing/new/"),
            rule_data(
                sla_policy=str(policy.pk),
                assign_mode="team_least_open",
                assign_team=str(other_team.pk),
            ),
        )
    )
    assert page.count("is not one of the available choices") == 2
