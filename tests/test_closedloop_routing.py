"""Routing: the rule conditions (a table), their validation, and responses becoming
cases through the real entry point (submit -> outbox -> routing handler)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from closedloop.models import (
    AssignMode,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseResponse,
    CaseStatus,
    Priority,
    RoutingRule,
    SlaPolicy,
)
from closedloop.routing import Facts, conditions_clean, conditions_match
from closedloop.services.cases import case_transition
from closedloop.services.routing import response_route
from contacts.models import Contact
from responses.models import OutboxEvent, Response
from responses.services import outbox_dispatch, response_submit
from surveys.models import SurveyVersion, Touchpoint
from tenants.context import tenant_context
from tenants.models import Role, Team, TeamMember
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import (
    ContactFactory,
    TouchpointFactory,
    UserFactory,
    published_survey,
    response_factory,
    routing_rule_factory,
)

START = datetime(2026, 5, 12, 8, 30, tzinfo=UTC)  # a Tuesday
Capture = Callable[..., AbstractContextManager[Any]]

# --- The rule table ------------------------------------------------------------------

BASE_FACTS: dict[str, Any] = {
    "nps": 3,
    "nps_group": "detractor",
    "ces": None,  # no CES question in this survey
    "csat": 4,
    "journey": 1,
    "touchpoint": 7,
    "channel": "email",
    "comment": "I want a refund for the late parcel",
    "answers": {"topic": "delivery", "extras": ["gift", "express"], "spend": "12000"},
    "attributes": {"segment": "Gold", "revenue": "12000", "region": "", "employees": 250},
}


def facts(**overrides: Any) -> Facts:
    return Facts(**{**BASE_FACTS, **overrides})


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


RULE_TABLE: list[tuple[str, list[dict[str, Any]], dict[str, Any], bool]] = [
    ("no conditions match everything", [], {}, True),
    ("nps group in", [cond("nps_group", "in", ["detractor"])], {}, True),
    ("nps group not in", [cond("nps_group", "in", ["passive", "promoter"])], {}, False),
    ("nps group missing", [cond("nps_group", "in", ["detractor"])], {"nps_group": None}, False),
    ("nps lte", [cond("nps", "lte", 6)], {}, True),
    ("nps lte above", [cond("nps", "lte", 6)], {"nps": 7}, False),
    ("nps gte as text", [cond("nps", "gte", "3")], {}, True),
    ("nps between upper bound", [cond("nps", "between", [0, 6])], {"nps": 6}, True),
    ("nps between lower bound", [cond("nps", "between", [0, 6])], {"nps": 0}, True),
    ("nps between outside", [cond("nps", "between", [7, 8])], {"nps": 6}, False),
    ("nps missing", [cond("nps", "gte", 0)], {"nps": None}, False),
    ("ces not asked", [cond("ces", "lte", 3)], {}, False),
    ("ces between", [cond("ces", "between", [1, 2])], {"ces": 2}, True),
    ("csat gte", [cond("csat", "gte", 4)], {}, True),
    ("csat lte", [cond("csat", "lte", 2)], {}, False),
    ("journey in", [cond("journey", "in", [1, 2])], {}, True),
    ("touchpoint not in", [cond("touchpoint", "in", ["8"])], {}, False),
    ("channel in", [cond("channel", "in", ["email"])], {}, True),
    ("channel not in", [cond("channel", "in", ["sms", "widget"])], {}, False),
    ("keyword", [cond("comment", "contains_any", ["refund"])], {}, True),
    (
        "keyword only at word start",
        [cond("comment", "contains_any", ["refund"])],
        {"comment": "We prefund accounts"},
        False,
    ),
    (
        "keyword start of a longer word, any case",
        [cond("comment", "contains_any", "refund")],
        {"comment": "REFUNDS please!"},
        True,
    ),
    (
        "any keyword of several",
        [cond("comment", "contains_any", "Lieferung, refund")],
        {"comment": "Die Lieferung kam zu spät"},
        True,
    ),
    (
        "keyword in an empty comment",
        [cond("comment", "contains_any", ["late"])],
        {"comment": ""},
        False,
    ),
    ("answer eq ignores case", [cond("answer:topic", "eq", "Delivery")], {}, True),
    ("answer in", [cond("answer:topic", "in", ["price", "product"])], {}, False),
    ("multiple choice: any chosen", [cond("answer:extras", "in", ["express"])], {}, True),
    ("multiple choice eq", [cond("answer:extras", "eq", "gift")], {}, True),
    ("multiple choice keyword", [cond("answer:extras", "contains_any", ["exp"])], {}, True),
    ("answer number as text", [cond("answer:spend", "gte", 10000)], {}, True),
    ("answer missing", [cond("answer:reason", "eq", "x")], {}, False),
    ("attribute in", [cond("attribute:segment", "in", ["Gold", "Platinum"])], {}, True),
    ("attribute number as text gte", [cond("attribute:revenue", "gte", "10000")], {}, True),
    ("attribute number as text lte", [cond("attribute:revenue", "lte", 5000)], {}, False),
    ("attribute number eq", [cond("attribute:revenue", "eq", "12000.0")], {}, True),
    ("attribute int", [cond("attribute:employees", "gte", 250)], {}, True),
    (
        "attribute not a number",
        [cond("attribute:revenue", "gte", 1)],
        {"attributes": {"revenue": "12.000,50"}},
        False,
    ),
    ("attribute exists", [cond("attribute:segment", "exists")], {}, True),
    ("attribute empty is missing", [cond("attribute:region", "exists")], {}, False),
    ("attribute missing", [cond("attribute:tier", "eq", "A")], {}, False),
    (
        "all must hold",
        [cond("nps_group", "in", ["detractor"]), cond("channel", "in", ["sms"])],
        {},
        False,
    ),
    (
        "all hold",
        [
            cond("nps_group", "in", ["detractor"]),
            cond("comment", "contains_any", ["parcel"]),
            cond("attribute:segment", "eq", "gold"),
        ],
        {},
        True,
    ),
]


@pytest.mark.parametrize(
    ("conditions", "overrides", "expected"),
    [pytest.param(c, o, e, id=name) for name, c, o, e in RULE_TABLE],
)
def test_rule_table(
    conditions: list[dict[str, Any]], overrides: dict[str, Any], expected: bool
) -> None:
    clean, errors = conditions_clean(conditions)
    assert errors == []
    assert conditions_match(clean, facts(**overrides)) is expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nps", "Conditions must be a list."),
        (["nps"], "Condition 1 is not a condition."),
        ([cond("mood", "in", ["x"])], "unknown field “mood”"),
        ([cond("answer:", "eq", "x")], "unknown field “answer:”"),
        ([cond("nps", "in", [1])], "“in” does not apply to nps (use gte, lte, between)"),
        ([cond("nps", "gte", 11)], "scores of NPS run from 0 to 10"),
        ([cond("ces", "between", [0, 3])], "scores of CES run from 1 to 7"),
        ([cond("csat", "lte", "six")], "give a number"),
        ([cond("nps", "between", [6, 3])], "give a lowest and a highest value"),
        ([cond("nps", "between", [3])], "give a lowest and a highest value"),
        ([cond("comment", "contains_any", " , ")], "name at least one word"),
        ([cond("nps_group", "in", [])], "choose at least one value"),
        ([cond("nps_group", "in", ["angry"])], "choose detractor, passive or promoter"),
        ([cond("channel", "in", ["fax"])], "choose channels from"),
        ([cond("touchpoint", "in", ["abc"])], "choose from the list"),
        ([cond("answer:topic", "eq", "  ")], "give a value"),
        ([cond("nps", "gte", 0), cond("attribute:x", "between", [1, 2])], "Condition 2:"),
    ],
)
def test_conditions_clean_refuses_bad_input(raw: Any, message: str) -> None:
    _clean, errors = conditions_clean(raw)
    assert len(errors) == 1
    assert message in errors[0]


def test_conditions_clean_normalises_values() -> None:
    clean, errors = conditions_clean(
        [
            cond("comment", "contains_any", "Refund,\n Erstattung"),
            cond("touchpoint", "in", ["3", "12"]),
            cond("nps", "between", ["0", "6"]),
            cond("attribute:vip", "exists", "whatever"),
            cond("answer:topic", "eq", " delivery "),
        ]
    )
    assert errors == []
    assert [c["value"] for c in clean] == [
        ["refund", "erstattung"],
        [3, 12],
        [0, 6],
        True,
        "delivery",
    ]
    assert conditions_clean(None) == ([], [])


# --- Routing through the real entry point --------------------------------------------


@pytest.fixture
def org(tenant_a: Tenant) -> Iterator[Tenant]:
    with tenant_context(tenant_a.organization):
        yield tenant_a


@pytest.fixture
def version(org: Tenant) -> SurveyVersion:
    return published_survey()


@pytest.fixture
def submit(
    version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> Callable[..., Response]:
    """Submit a response the way a channel does; the outbox handler runs on commit."""

    def _submit(score: int, comment: str = "", **kwargs: Any) -> Response:
        answers: dict[str, Any] = {"recommend": score}
        if comment:
            answers["recommend-reason"] = comment
        kwargs.setdefault("version", version)
        with django_capture_on_commit_callbacks(execute=True):
            return response_factory(answers=answers, **kwargs)

    return _submit


def open_cases() -> list[Case]:
    return list(Case.objects.filter(status__in=["new", "in_progress", "waiting"]))


def kinds(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))


def test_a_detractor_becomes_a_high_priority_case_due_in_24_and_48_hours(
    submit: Callable[..., Response],
) -> None:
    contact: Any = ContactFactory()
    with time_machine.travel(START, tick=False):
        response = submit(2, "Parcel was late", contact=contact)
    case = Case.objects.get()
    assert case.response_id == response.pk
    assert case.contact_id == contact.pk
    assert case.status == CaseStatus.NEW
    assert case.priority == Priority.HIGH
    assert case.sla_policy is not None
    assert case.sla_policy.name == "Detractors: contact in 24 h, resolve in 48 h"
    assert case.created_at == START
    assert case.first_response_due_at == START + timedelta(hours=24)
    assert case.resolution_due_at == START + timedelta(hours=48)
    assert case.next_escalation_at == START + timedelta(hours=18)  # 75 % of 24 h
    assert case.title == "NPS 2 at " + response.touchpoint.name
    assert CaseResponse.objects.filter(case=case).count() == 1
    assert kinds(case) == [CaseEventKind.OPENED]


@pytest.mark.parametrize(
    ("score", "priority", "first_due", "resolution_due"),
    [
        (7, Priority.NORMAL, timedelta(days=2), timedelta(days=5)),
        (10, Priority.LOW, None, timedelta(days=7)),
    ],
)
def test_passives_and_promoters_get_the_default_rules(
    submit: Callable[..., Response],
    score: int,
    priority: int,
    first_due: timedelta | None,
    resolution_due: timedelta,
) -> None:
    with time_machine.travel(START, tick=False):
        submit(score)
    case = Case.objects.get()
    assert case.priority == priority
    assert case.first_response_due_at == (START + first_due if first_due else None)
    assert case.resolution_due_at == START + resolution_due


def test_a_response_dispatched_again_opens_no_second_case(
    submit: Callable[..., Response],
) -> None:
    response = submit(1, "Nobody called back", contact=ContactFactory())
    case = Case.objects.get()
    events = list(OutboxEvent.objects.filter(response=response))
    assert events
    assert all(event.dispatched_at is not None for event in events)
    # Dispatched again: done already, nothing runs.
    for event in events:
        assert outbox_dispatch(organization_id=event.organization_id, event_id=event.pk)
    # A crash after the handler but before the mark: the handler runs again.
    OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=None)
    for event in events:
        assert outbox_dispatch(organization_id=event.organization_id, event_id=event.pk)
    assert response_route(response=response) == case
    assert response_route(response=response) == case
    assert Case.objects.count() == 1
    assert CaseResponse.objects.count() == 1
    assert kinds(case) == [CaseEventKind.OPENED]


def test_further_feedback_of_the_contact_joins_the_open_case_and_raises_priority(
    submit: Callable[..., Response],
) -> None:
    contact: Any = ContactFactory()
    first = submit(7, "Okay", contact=contact)
    case = Case.objects.get()
    assert case.priority == Priority.NORMAL
    second = submit(1, "Now it broke", contact=contact)
    third = submit(3, "Still broken", contact=contact)
    assert open_cases() == [case]
    case.refresh_from_db()
    assert case.response_id == first.pk
    assert case.priority == Priority.HIGH
    assert set(CaseResponse.objects.filter(case=case).values_list("response_id", flat=True)) == {
        first.pk,
        second.pk,
        third.pk,
    }
    assert kinds(case) == [
        CaseEventKind.OPENED,
        CaseEventKind.RESPONSE_JOINED,
        CaseEventKind.PRIORITY,  # raised by the detractor rule, once
        CaseEventKind.RESPONSE_JOINED,
    ]
    priority = CaseEvent.objects.get(case=case, kind=CaseEventKind.PRIORITY)
    assert priority.data == {"from": Priority.NORMAL, "to": Priority.HIGH}


def test_a_contact_whose_case_is_resolved_gets_a_new_case(
    submit: Callable[..., Response], django_capture_on_commit_callbacks: Capture
) -> None:
    contact: Any = ContactFactory()
    submit(2, contact=contact)
    first = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(
            case=first, to_status=CaseStatus.RESOLVED, actor=SYSTEM, resolution_summary="Refunded"
        )
    submit(4, contact=contact)
    assert Case.objects.count() == 2
    (second,) = open_cases()
    assert second.pk != first.pk
    assert second.contact_id == contact.pk


def test_imported_responses_open_no_case(version: SurveyVersion) -> None:
    result = response_submit(
        version=version,
        channel="import",
        language="en",
        answers={"recommend": 0, "recommend-reason": "Terrible"},
        responded_at=START,
    )
    assert result.response is not None
    for event in OutboxEvent.objects.filter(response=result.response):
        assert outbox_dispatch(organization_id=event.organization_id, event_id=event.pk)
    assert response_route(response=result.response) is None
    assert not Case.objects.exists()


def test_a_rule_that_opens_no_case_stops_later_rules(submit: Callable[..., Response]) -> None:
    routing_rule_factory(
        position=0,
        name="Test customers",
        conditions=[cond("attribute:test_account", "exists")],
        open_case=False,
    )
    submit(0, attributes={"test_account": "yes"})
    assert not Case.objects.exists()
    submit(0)
    assert Case.objects.get().priority == Priority.HIGH


def test_disabled_rules_are_skipped(submit: Callable[..., Response]) -> None:
    routing_rule_factory(
        position=0, name="Everything urgent", conditions=[], enabled=False, priority=Priority.URGENT
    )
    submit(0)
    assert Case.objects.get().priority == Priority.HIGH


def test_a_keyword_rule_matches_when_the_comment_arrives_in_the_second_step(
    version: SurveyVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    RoutingRule.objects.all().delete()
    routing_rule_factory(
        name="Refunds",
        conditions=[cond("comment", "contains_any", ["refund"])],
        priority=Priority.URGENT,
    )
    with django_capture_on_commit_callbacks(execute=True):
        partial = response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend": 8},
            question_ids=["recommend"],
            complete=False,
        ).response
    assert partial is not None
    assert not Case.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response_submit(
            version=version,
            channel="link",
            language="en",
            answers={"recommend-reason": "I want a refund"},
            question_ids=["recommend-reason"],
            response=partial,
        )
    case = Case.objects.get()
    assert case.response_id == partial.pk
    assert case.priority == Priority.URGENT
    assert case.sla_policy is None
    assert case.next_escalation_at is None


# --- Assignment ----------------------------------------------------------------------


def team_of(org: Tenant, name: str, size: int, *, lead: bool = True) -> tuple[Team, list[Any]]:
    users = [org.member(Role.OWNER) for _ in range(size)]
    team = Team.objects.create(name=name, lead=org.member(Role.OWNER) if lead else None)
    for user in users:
        TeamMember.objects.create(team=team, user=user)
    return team, sorted(users, key=lambda user: user.pk)


def first_rule(**kwargs: Any) -> RoutingRule:
    kwargs.setdefault("sla_policy", SlaPolicy.objects.order_by("resolution_minutes").first())
    return routing_rule_factory(position=0, name="Assigned detractors", **kwargs)


def test_assign_to_a_user(org: Tenant, submit: Callable[..., Response]) -> None:
    user = org.member(Role.OWNER)
    first_rule(assign_mode=AssignMode.USER, assign_user=user)
    submit(2)
    case = Case.objects.get()
    assert case.owner_id == user.pk
    assigned = CaseEvent.objects.get(case=case, kind=CaseEventKind.ASSIGNED)
    assert assigned.data["how"] == "user"


def test_round_robin_cycles_through_the_team_in_order(
    org: Tenant, submit: Callable[..., Response]
) -> None:
    team, members = team_of(org, "Care", 3)
    first_rule(assign_mode=AssignMode.TEAM_ROUND_ROBIN, assign_team=team)
    for _ in range(5):
        submit(2)
    owners = list(Case.objects.order_by("number").values_list("owner_id", flat=True))
    ids = [user.pk for user in members]
    assert owners == [ids[0], ids[1], ids[2], ids[0], ids[1]]
    assert set(Case.objects.values_list("team_id", flat=True)) == {team.pk}


def test_least_open_picks_the_member_with_the_fewest_open_cases(
    org: Tenant, submit: Callable[..., Response]
) -> None:
    team, (busy, free) = team_of(org, "Care", 2)
    rule = first_rule(assign_mode=AssignMode.USER, assign_user=busy)
    submit(2)
    submit(2)
    RoutingRule.objects.filter(pk=rule.pk).update(
        assign_mode=AssignMode.TEAM_LEAST_OPEN, assign_team=team
    )
    submit(2)  # busy has 2 open cases, free none
    submit(2)  # busy 2, free 1
    owners = list(Case.objects.order_by("number").values_list("owner_id", flat=True))
    assert owners == [busy.pk, busy.pk, free.pk, free.pk]
    submit(2)  # 2 each: the lower id
    assert Case.objects.order_by("-number")[0].owner_id == min(busy.pk, free.pk)


def test_account_owner_by_crm_attribute_with_the_touchpoint_team_as_fallback(
    org: Tenant, version: SurveyVersion, submit: Callable[..., Response]
) -> None:
    account_owner = org.member(Role.OWNER, email="kim.owner@example.com")
    stranger = UserFactory(email="not.a.member@example.com")  # a user of no membership here
    team, (care,) = team_of(org, "Care", 1)
    Touchpoint.objects.filter(pk=version.survey.touchpoint_id).update(team=team)
    first_rule(assign_mode=AssignMode.ACCOUNT_OWNER, account_owner_attribute="account_owner")

    submit(2, attributes={"account_owner": "Kim.Owner@example.com "})
    submit(2)  # no attribute
    submit(2, attributes={"account_owner": stranger.email})
    cases = list(Case.objects.order_by("number"))
    assert [(c.owner_id, c.team_id) for c in cases] == [
        (account_owner.pk, team.pk),
        (care.pk, team.pk),
        (care.pk, team.pk),
    ]
    hows = [CaseEvent.objects.get(case=c, kind=CaseEventKind.ASSIGNED).data["how"] for c in cases]
    assert hows == ["account_owner", "touchpoint_team", "touchpoint_team"]


def test_impact_puts_a_valuable_detractor_at_a_heavy_touchpoint_first(
    submit: Callable[..., Response],
) -> None:
    heavy = published_survey(touchpoint=TouchpointFactory(weight=Decimal("2.00")))
    light = published_survey(touchpoint=TouchpointFactory(weight=Decimal("1.00")))
    submit(5, version=light, contact=ContactFactory())
    submit(0, version=heavy, contact=ContactFactory(), attributes={"revenue": "500000"})
    submit(6, version=heavy, contact=ContactFactory(), attributes={"revenue": "800"})
    ranked = list(Case.objects.order_by("-impact").values_list("title", "impact"))
    # priority weight (high: 4) x (1 + severity) x customer value x touchpoint weight
    valuable = 4 * (1 + 1.0) * (1 + math.log10(1 + 500)) * 2
    assert ranked[0][1] == pytest.approx(valuable, abs=0.01)
    assert ranked[0][0].startswith("NPS 0 at ")
    assert [title.split(" at ")[0] for title, _ in ranked] == ["NPS 0", "NPS 6", "NPS 5"]
    assert ranked[2][1] == pytest.approx(4 * 1.5 * 1 * 1)
    assert Contact.objects.count() == 3
