"""Slack and Microsoft Teams alerts: what triggers them, what the receivers get, how
sending retries, and the settings pages (docs/integrations/alerts.md).

Receivers are real HTTP servers on loopback (tests/fakes.py) spoken to with
``requests``, as production speaks to Slack and Teams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client

from closedloop.models import Case, Priority
from closedloop.services.cases import case_priority_set
from closedloop.tasks import escalation_sweep_task
from integrations.alert_messages import customer_text, slack_escape
from integrations.models import AlertChannel, AlertDelivery
from integrations.services.alerts import (
    alert_channel_create,
    alert_delivery_send,
    alert_url_validate,
)
from integrations.tasks_alerts import alert_deliveries_due_task, alert_delivery_send_task
from responses.models import OutboxEvent
from responses.services.outbox import outbox_dispatch
from tenants.context import tenant_context
from tenants.models import AuditLog, Organization, Role, Team, TeamMember
from tenants.services import Actor
from tests.conftest import Tenant, is_postgres
from tests.factories import (
    ContactFactory,
    TouchpointFactory,
    UserFactory,
    alert_channel_factory,
    case_factory,
    published_survey,
)
from tests.fakes import FakeProvider, Reply

START = datetime(2026, 5, 11, 8, 0, tzinfo=UTC)  # 10:00 in Berlin (CEST)
SITE = "https://feedback.example.com"
COMMENT = (
    "Parcel was late <!channel> & the driver was rude. Call me: +49 170 1234567 "
    "or write to jane.doe@example.com / jane@home.example"
)
CLEAN = "Parcel was late <!channel> & the driver was rude. Call me: […] or write to […] / […]"
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def _alert_settings(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    settings.SITE_URL = SITE


@pytest.fixture
def receivers() -> Iterator[dict[str, FakeProvider]]:
    names = ("care", "everyone", "shop", "off", "sla_only")
    providers = {name: FakeProvider() for name in names}
    for provider in providers.values():
        provider.__enter__()
        provider.default = Reply(body=b"ok")
    yield providers
    for provider in providers.values():
        provider.__exit__(None, None, None)


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.default = Reply(body=b"ok")
        yield provider


@dataclass
class World:
    care: Team
    shop: Team
    owner: Any
    version: Any


def _world(tenant: Tenant) -> World:
    """Two teams; the survey's touchpoint belongs to customer care, whose one member
    gets the cases."""
    owner = tenant.member(Role.OWNER, email="olivia@alpha.example")
    owner.first_name, owner.last_name = "Olivia", "Owner"
    owner.save()
    care = Team.objects.create(name="Customer care")
    shop = Team.objects.create(name="Web shop")
    TeamMember.objects.create(team=care, user=owner)
    touchpoint = TouchpointFactory(team=care, name="Delivery")
    return World(care, shop, owner, published_survey(touchpoint=touchpoint))


@pytest.fixture
def world(tenant_a: Tenant) -> Iterator[World]:
    with tenant_context(tenant_a.organization):
        yield _world(tenant_a)


def _detractor_case(world: World, **kwargs: Any) -> Case:
    contact = ContactFactory(email="jane.doe@example.com", phone="+4917012345678")
    kwargs.setdefault("answers", {"recommend": 2, "recommend-reason": COMMENT})
    return case_factory(version=world.version, contact=contact, **kwargs)


def _slack(number: int, header: str, facts: list[tuple[str, str]], quote: str) -> dict[str, Any]:
    return {
        "text": f"{header}: NPS 2/10 {quote}".replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*NPS 2/10* — "
                    + quote.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
                },
            },
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open case"},
                        "url": f"{SITE}/o/alpha/cases/{number}/",
                        "style": "primary",
                    }
                ],
            },
        ],
    }


def _teams(number: int, header: str, facts: list[tuple[str, str]], quote: str) -> dict[str, Any]:
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
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": header,
                            "size": "Large",
                            "weight": "Bolder",
                            "wrap": True,
                            "style": "heading",
                        },
                        {"type": "TextBlock", "text": "NPS 2/10", "weight": "Bolder", "wrap": True},
                        {"type": "TextBlock", "text": quote, "wrap": True, "isSubtle": True},
                        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]},
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open case",
                            "url": f"{SITE}/o/alpha/cases/{number}/",
                        }
                    ],
                },
            }
        ],
    }


# --- New high-priority case ----------------------------------------------------------


def test_new_high_priority_case_reaches_its_team_and_everyone_channels(
    tenant_a: Tenant,
    world: World,
    receivers: dict[str, FakeProvider],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    hp, sla = "high_priority_case", "sla_breach"
    care = alert_channel_factory(
        name="Care", url=receivers["care"].url + "/slack", team=world.care, triggers=[hp, sla]
    )
    everyone = alert_channel_factory(
        name="All", kind="teams", url=receivers["everyone"].url + "/teams", triggers=[hp]
    )
    alert_channel_factory(name="Shop", url=receivers["shop"].url, team=world.shop)
    alert_channel_factory(name="Off", url=receivers["off"].url, team=world.care, is_active=False)
    alert_channel_factory(name="SLA", url=receivers["sla_only"].url, triggers=[sla])

    with time_machine.travel(START, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = _detractor_case(world)

    assert case.priority == Priority.HIGH
    assert case.team_id == world.care.pk
    facts = [
        ("Case", f"#{case.number} · High"),
        ("Touchpoint", "Delivery"),
        ("Team", "Customer care"),
        ("Owner", "Olivia Owner"),
        ("First contact due", "2026-05-12 10:00 CEST"),
    ]
    header = f"New high-priority case #{case.number}"
    [slack] = receivers["care"].received
    assert (slack.method, slack.path) == ("POST", "/slack")
    assert slack.headers["Content-Type"] == "application/json"
    assert slack.json == _slack(case.number, header, facts, f"“{CLEAN}”")
    [teams] = receivers["everyone"].received
    assert teams.path == "/teams"
    assert teams.json == _teams(case.number, header, facts, f"“{CLEAN}”")
    for name in ("shop", "off", "sla_only"):
        assert receivers[name].received == [], name
    # Never the contact's email or phone, in any form.
    for received in (slack, teams):
        assert b"jane" not in received.body
        assert b"1234567" not in received.body

    rows = AlertDelivery.objects.order_by("channel__name")
    assert [(d.channel_id, d.dedupe_key, d.status, d.attempts) for d in rows] == [
        (everyone.pk, f"high_priority_case:{case.pk}", "succeeded", 1),
        (care.pk, f"high_priority_case:{case.pk}", "succeeded", 1),
    ]
    assert all(d.sent_at == START and d.last_status_code == 200 for d in rows)


def test_handling_the_event_again_alerts_once(
    tenant_a: Tenant,
    world: World,
    receiver: FakeProvider,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    alert_channel_factory(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        case = _detractor_case(world)
    assert len(receiver.received) == 1
    opened = OutboxEvent.objects.get(topic="case.created", payload__case_id=case.pk)
    OutboxEvent.objects.filter(pk=opened.pk).update(dispatched_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_dispatch(organization_id=tenant_a.organization.pk, event_id=opened.pk)
    assert len(receiver.received) == 1
    assert AlertDelivery.objects.count() == 1


def test_raising_the_priority_alerts_once(
    tenant_a: Tenant,
    world: World,
    receiver: FakeProvider,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    channel = alert_channel_factory(url=receiver.url, triggers=["high_priority_case"])
    alert_channel_factory(name="Passive", url=receiver.url, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        # A passive (normal priority): no alert.
        case = case_factory(version=world.version, answers={"recommend": 8})
    assert case.priority == Priority.NORMAL
    assert receiver.received == []
    actor = Actor.of_user(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        case_priority_set(case=case, actor=actor, priority=Priority.HIGH)
    with django_capture_on_commit_callbacks(execute=True):
        case_priority_set(case=case, actor=actor, priority=Priority.URGENT)
    [alert] = receiver.received
    assert alert.json["blocks"][0]["text"]["text"] == f"New high-priority case #{case.number}"
    assert AlertDelivery.objects.get().channel_id == channel.pk


# --- SLA breach ----------------------------------------------------------------------


def test_sla_breach_through_the_sweep_alerts_once(
    tenant_a: Tenant,
    world: World,
    receiver: FakeProvider,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    Organization.objects.filter(pk=tenant_a.organization.pk).update(default_language="de")
    alert_channel_factory(url=receiver.url, kind="teams", team=world.care, triggers=["sla_breach"])
    with time_machine.travel(START, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = _detractor_case(world)
    assert receiver.received == []

    for hours in (23.9, 24, 24.5):  # before, at, and after the first-contact due time
        with (
            time_machine.travel(START + timedelta(hours=hours), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            escalation_sweep_task()
            escalation_sweep_task()
            alert_deliveries_due_task()

    [alert] = receiver.received
    card = alert.json["attachments"][0]["content"]
    # German: the organization's language.
    assert card["body"][0]["text"] == f"SLA verletzt: Fall #{case.number} (Erstkontakt)"
    facts = card["body"][3]["facts"]
    assert {"title": "Fall", "value": f"#{case.number} · Hoch"} in facts
    assert {"title": "Bearbeiter/in", "value": "Olivia Owner"} in facts
    assert facts[-1]["value"] == "2026-05-12 10:00 CEST"  # the due time that passed
    delivery = AlertDelivery.objects.get()
    assert delivery.dedupe_key == f"sla_breach:{case.pk}:first_response"
    assert delivery.trigger == "sla_breach"
    assert delivery.status == "succeeded"


# --- Sending -------------------------------------------------------------------------


def _pending_alert(world: World, receiver: FakeProvider, capture: Capture, **kwargs: Any) -> Any:
    channel = alert_channel_factory(url=receiver.url, triggers=["high_priority_case"], **kwargs)
    with time_machine.travel(START, tick=False), capture(execute=True):
        _detractor_case(world)
    return channel


def _sweep_at(seconds: float) -> None:
    with time_machine.travel(START + timedelta(seconds=seconds), tick=False):
        alert_deliveries_due_task()


def test_a_failing_receiver_gets_one_message_after_retries(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(500, b"oops"), Reply(500, b"oops"))
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500: oops"
    # Exponential backoff with jitter: 30 s (+ up to 10 %), then 60 s.
    assert timedelta(seconds=30) <= delivery.next_attempt_at - START <= timedelta(seconds=33)
    _sweep_at(20)  # not due yet
    assert len(receiver.received) == 1
    _sweep_at(40)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert (
        timedelta(seconds=60)
        <= delivery.next_attempt_at - (START + timedelta(seconds=40))
        <= timedelta(seconds=66)
    )
    _sweep_at(120)
    _sweep_at(600)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("succeeded", 3, "")
    assert delivery.sent_at == START + timedelta(seconds=120)
    assert len(receiver.received) == 3
    assert receiver.received[0].body == receiver.received[2].body
    # Succeeded: never sent again, whatever calls the task.
    assert (
        alert_delivery_send_task(organization_id=delivery.organization_id, delivery_id=delivery.pk)
        == "skipped"
    )
    assert len(receiver.received) == 3


def test_429_waits_for_retry_after(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(429, b"rate_limited", headers={"Retry-After": "120"}))
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    delivery = AlertDelivery.objects.get()
    assert delivery.next_attempt_at == START + timedelta(seconds=120)
    assert (delivery.status, delivery.last_status_code) == ("pending", 429)
    _sweep_at(119)
    assert len(receiver.received) == 1
    _sweep_at(120)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert len(receiver.received) == 2


def test_a_client_error_fails_at_once(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(404, b"no_team"))
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("failed", "HTTP 404: no_team")
    _sweep_at(3600)
    assert len(receiver.received) == 1


def test_retries_stop_after_six_hours(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.default = Reply(503, b"busy")
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    for minutes in range(1, 6 * 60 + 30):
        _sweep_at(minutes * 60)
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error == "gave up: HTTP 503: busy"
    # Backoff doubles up to 30 minutes: about 15 tries in 6 hours, not one a minute.
    assert 10 <= delivery.attempts == len(receiver.received) <= 20


def test_a_send_stuck_in_sending_is_requeued_after_five_minutes(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(500))
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    # A worker claimed the retry and died during the call.
    AlertDelivery.objects.update(status="sending", claimed_at=START + timedelta(minutes=1))
    _sweep_at(5 * 60)
    assert AlertDelivery.objects.get().status == "sending"
    _sweep_at(6 * 60 + 1)
    assert AlertDelivery.objects.get().status == "succeeded"
    assert len(receiver.received) == 2


def test_disabled_channel_gets_nothing(
    tenant_a: Tenant,
    world: World,
    receiver: FakeProvider,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    alert_channel_factory(url=receiver.url, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        _detractor_case(world)
    assert receiver.received == []
    assert AlertDelivery.objects.count() == 0

    # Switched off while a retry was waiting: the retry fails, nothing is sent.
    receiver.queue(Reply(500))
    channel = _pending_alert(world, receiver, django_capture_on_commit_callbacks, name="Later")
    AlertChannel.objects.filter(pk=channel.pk).update(is_active=False)
    _sweep_at(3600)
    delivery = AlertDelivery.objects.get(channel=channel)
    assert (delivery.status, delivery.last_error) == ("failed", "channel switched off")
    assert len(receiver.received) == 1


def test_send_skips_a_row_another_worker_claimed(
    world: World, receiver: FakeProvider, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.queue(Reply(500))
    _pending_alert(world, receiver, django_capture_on_commit_callbacks)
    delivery = AlertDelivery.objects.get()
    AlertDelivery.objects.update(status="sending", claimed_at=START)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        assert (
            alert_delivery_send(organization_id=delivery.organization_id, delivery_id=delivery.pk)
            == "skipped"
        )
    assert len(receiver.received) == 1


# --- URL validation ------------------------------------------------------------------

SLACK_ERROR = "A Slack incoming webhook URL starts with https://hooks.slack.com/services/."


@pytest.mark.parametrize(
    ("kind", "url", "ok"),
    [
        ("slack", "https://hooks.slack.com/services/T0/B0/abcd", True),
        ("slack", "http://hooks.slack.com/services/T0/B0/abcd", False),
        ("slack", "https://hooks.slack.com.evil.example/services/T0/B0/abcd", False),
        ("slack", "https://hooks.slack.com/workflows/T0/A0/1/abcd", False),
        ("slack", "https://hooks.slack.com:8443/services/T0/B0/abcd", False),
        ("slack", "https://user:pw@hooks.slack.com/services/T0/B0/abcd", False),
        ("slack", "https://contoso.webhook.office.com/webhookb2/abc", False),
        ("teams", "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/d/e", True),
        ("teams", "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/x", True),
        (
            "teams",
            "https://default1a.2b.environment.api.powerplatform.com:443/powerautomate/"
            "automations/direct/workflows/abc/triggers/manual/paths/invoke",
            True,
        ),
        ("teams", "https://webhook.office.com.evil.example/x", False),
        ("teams", "https://hooks.slack.com/services/T0/B0/abcd", False),
        ("teams", "http://127.0.0.1:8000/hook", False),
        ("teams", "not a url", False),
    ],
)
def test_webhook_urls_are_checked(settings: Any, kind: str, url: str, ok: bool) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    if ok:
        assert alert_url_validate(kind=kind, url=f" {url} ") == url
        return
    with pytest.raises(ValidationError) as caught:
        alert_url_validate(kind=kind, url=url)
    assert list(caught.value.message_dict) == ["url"]


def test_any_http_url_only_when_private_networks_are_allowed(settings: Any) -> None:
    assert alert_url_validate(kind="teams", url="http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(ValidationError, match="Microsoft Teams webhook URL"):
        alert_url_validate(kind="teams", url="http://127.0.0.1:9/x")


# --- Settings pages ------------------------------------------------------------------


def _list_url(tenant: Tenant) -> str:
    return tenant.url("teams/alerts/")


def test_pages_per_role(tenant_a: Tenant, world: World) -> None:
    channel = alert_channel_factory(
        url="https://hooks.slack.com/services/T000/B000/SECRETabcd", team=world.care
    )
    pages = [
        _list_url(tenant_a),
        tenant_a.url("teams/alerts/new/"),
        tenant_a.url(f"teams/alerts/{channel.pk}/"),
    ]
    for role, status in [
        (Role.ADMIN, 200),
        (Role.CX_MANAGER, 200),
        (Role.OWNER, 403),
        (Role.VIEWER, 403),
    ]:
        client = tenant_a.client_for(tenant_a.member(role))
        for page in pages:
            assert client.get(page).status_code == status, (role, page)
        for action in ("active", "test", "delete"):
            url = tenant_a.url(f"teams/alerts/{channel.pk}/{action}/")
            if status == 403:
                assert client.post(url, {"active": "off"}).status_code == 403, (role, action)
    assert AlertChannel.objects.get().is_active
    # Team pages link to the alerts for managers only.
    team_page = tenant_a.url(f"teams/{world.care.pk}/")
    assert b"teams/alerts/?team=" in tenant_a.client.get(team_page).content
    owner = tenant_a.client_for(tenant_a.member(Role.OWNER))
    assert b"teams/alerts/" not in owner.get(team_page).content
    assert b"teams/alerts/" not in owner.get(tenant_a.url("teams/")).content


def test_list_masks_the_url_and_shows_the_outcome(
    tenant_a: Tenant,
    world: World,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(4):
        channel = alert_channel_factory(
            name=f"Channel {index}",
            url=f"https://hooks.slack.com/services/T000/B000/SECRET{index}xyz",
            team=world.care if index % 2 else None,
        )
        AlertDelivery.objects.create(
            channel=channel,
            trigger="sla_breach",
            dedupe_key="sent",
            status="succeeded",
            sent_at=START,
        )
        AlertDelivery.objects.create(
            channel=channel,
            trigger="sla_breach",
            dedupe_key="failed",
            status="failed",
            last_error=f"HTTP 404: channel_not_found {index}",
        )
    # Six for the session, membership and page frame; one for the channels, one for teams;
    # on PostgreSQL 8 more for the savepoints and row-level security settings.
    with django_assert_max_num_queries(16 if is_postgres() else 8):
        page = tenant_a.client.get(_list_url(tenant_a))
    body = page.content.decode()
    assert page.status_code == 200
    assert "SECRET" not in body
    assert "hooks.slack.com/…0xyz" in body
    assert "hooks.slack.com/…3xyz" in body
    assert "HTTP 404: channel_not_found 2" in body
    assert "every team" in body
    assert "Customer care" in body
    # One team's channels.
    page = tenant_a.client.get(_list_url(tenant_a), {"team": world.care.pk})
    assert "Channel 1" in page.content.decode()
    assert "Channel 0" not in page.content.decode()


def test_create_edit_disable_delete(tenant_a: Tenant, world: World, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    client = tenant_a.client
    url = "https://hooks.slack.com/services/T000/B000/SECRETwxyz"
    answer = client.post(
        tenant_a.url("teams/alerts/new/"),
        {
            "name": "Care alerts",
            "kind": "slack",
            "url": url,
            "team": world.care.pk,
            "triggers": ["sla_breach"],
            "is_active": "on",
        },
    )
    channel = AlertChannel.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == tenant_a.url(f"teams/alerts/?team={world.care.pk}")
    assert (channel.name, channel.kind, channel.url, channel.team_id, channel.triggers) == (
        "Care alerts",
        "slack",
        url,
        world.care.pk,
        ["sla_breach"],
    )
    assert channel.created_by == tenant_a.admin
    edit = tenant_a.url(f"teams/alerts/{channel.pk}/")
    page = client.get(edit).content.decode()
    assert "SECRET" not in page
    assert "hooks.slack.com/…wxyz" in page

    # Empty URL keeps the saved one; everything else changes.
    answer = client.post(
        edit,
        {"name": "All", "kind": "slack", "url": "", "team": "", "triggers": ["high_priority_case"]},
    )
    assert answer.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.team_id, channel.is_active) == (
        "All",
        url,
        None,
        False,
    )
    assert client.post(edit + "active/", {"active": "on"}).status_code == 302
    channel.refresh_from_db()
    assert channel.is_active
    assert client.post(edit + "active/", {"active": "off"}).status_code == 302
    channel.refresh_from_db()
    assert not channel.is_active

    actions = list(
        AuditLog.objects.filter(action__startswith="alert_channel")
        .order_by("id")
        .values_list("action", "changes")
    )
    assert [a for a, _c in actions] == ["alert_channel.create"] + ["alert_channel.update"] * 3
    assert "SECRET" not in str(actions)

    assert client.post(edit + "delete/").status_code == 302
    assert not AlertChannel.objects.exists()
    assert client.get(edit).status_code == 404


def test_invalid_input_shows_errors_and_writes_nothing(
    tenant_a: Tenant, world: World, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    answer = tenant_a.client.post(
        tenant_a.url("teams/alerts/new/"),
        {
            "name": "Care",
            "kind": "teams",
            "url": "https://hooks.slack.com/services/T000/B000/XXXX",
            "triggers": ["sla_breach"],
        },
    )
    assert answer.status_code == 200
    assert "A Microsoft Teams webhook URL is" in answer.content.decode()
    answer = tenant_a.client.post(
        tenant_a.url("teams/alerts/new/"),
        {"name": "", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
    )
    assert answer.status_code == 200
    assert set(answer.context["form"].errors) == {"name", "triggers"}
    assert not AlertChannel.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="alert_channel").exists()
    # The service says the same to any caller.
    with pytest.raises(ValidationError) as caught:
        alert_channel_create(
            actor=Actor.of_user(tenant_a.admin),
            name="x",
            kind="slack",
            url="https://hooks.slack.com/services/T/B/X",
            triggers=["nonsense"],
            team_id=999_999,
        )
    assert set(caught.value.message_dict) == {"team", "triggers"}


def test_test_message(tenant_a: Tenant, world: World, receiver: FakeProvider) -> None:
    channel = alert_channel_factory(name="Care", kind="teams", url=receiver.url + "/hook")
    answer = tenant_a.client.post(tenant_a.url(f"teams/alerts/{channel.pk}/test/"), follow=True)
    assert "Test message sent to “Care”." in answer.content.decode()
    [sent] = receiver.received
    card = sent.json["attachments"][0]["content"]
    assert card["body"][0]["text"] == "Test message from Care"
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open alert settings",
            "url": f"{SITE}/o/alpha/teams/alerts/",
        }
    ]
    # Nothing is stored for a test, but the audit log says who tried.
    assert not AlertDelivery.objects.exists()
    receiver.queue(Reply(403, b"action_prohibited"))
    answer = tenant_a.client.post(tenant_a.url(f"teams/alerts/{channel.pk}/test/"), follow=True)
    assert "HTTP 403: action_prohibited" in answer.content.decode()
    assert AuditLog.objects.filter(action="alert_channel.test").count() == 2


def test_another_organizations_channel_is_a_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        channel = alert_channel_factory()
    for path in ("", "active/", "test/", "delete/"):
        url = tenant_a.url(f"teams/alerts/{channel.pk}/{path}")
        assert tenant_a.client.post(url, {"active": "off"}).status_code == 404
    with tenant_context(tenant_b.organization):
        assert AlertChannel.objects.get().is_active


def test_client_without_membership_is_a_404(tenant_a: Tenant) -> None:
    client = Client()
    user: Any = UserFactory()
    client.force_login(user)
    assert client.get(_list_url(tenant_a)).status_code == 404


def test_customer_text_is_cut_and_scrubbed() -> None:
    contact = ContactFactory.build(email="Jane@Example.org", phone="0171 555")
    text = "Mail JANE@example.org, phone 0171 555, order 12. " + "x" * 400
    cut = customer_text(text, contact=contact)
    assert cut.startswith("Mail […], phone […], order 12. xxx")
    assert len(cut) == 300
    assert cut.endswith("x…")
    assert slack_escape("<!here> & <http://evil|click>") == (
        "&lt;!here&gt; &amp; &lt;http://evil|click&gt;"
    )
