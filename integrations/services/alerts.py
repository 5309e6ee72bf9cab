"""Slack and Microsoft Teams alerts about cases (docs/integrations/alerts.md).

Channels: an organization's incoming-webhook URLs, each for one team's cases or for
every case, each listening to some triggers. Managed here (validated, audited).

Deliveries follow the outbox pattern. ``alert_deliveries_for_case_event`` runs in the
outbox handler of a ``case.*`` event (inside the transaction that marks the event
dispatched): a new high-priority case (opened high or urgent, or raised to it) and an
SLA breach (the escalation sweep's ``sla_breached`` timeline entry) write one
``AlertDelivery`` per matching channel. Its ``dedupe_key`` is unique per channel, so an
event handled twice, or a sweep that runs twice, alerts once. The send is scheduled
after commit.

``alert_delivery_send`` claims a pending row (pending -> sending, conditionally), POSTs
the stored message with no transaction open, and records the outcome: ``succeeded``
(never sent again), back to ``pending`` with exponential backoff (429: the receiver's
Retry-After) for up to ``RETRY_FOR``, or ``failed`` (a client error, a redirect, a
switched-off channel, or retries exhausted). ``alert_deliveries_due`` is the beat sweep:
it requeues rows stuck in ``sending`` and hands due rows to workers.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from closedloop.models import Case, CaseEventKind, Priority, SlaTarget
from integrations.alert_messages import alert_facts, alert_message, alert_test_message
from integrations.models import (
    AlertChannel,
    AlertDelivery,
    AlertKind,
    AlertTrigger,
    DeliveryStatus,
)
from tenants.context import cross_tenant, tenant_context
from tenants.models import Organization, Team
from tenants.services import Actor, audit_log_record

logger = logging.getLogger(__name__)

# Sending
TIMEOUT = (5, 10)  # connect, read (seconds)
RETRY_FOR = timedelta(hours=6)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
RETRY_AFTER_MAX = timedelta(hours=1)
STUCK_AFTER = timedelta(minutes=5)
# The sweep leaves fresh rows to the task their commit scheduled.
SWEEP_GRACE = timedelta(seconds=5)
SUCCESS_CODES = {AlertKind.SLACK: {200}, AlertKind.TEAMS: {200, 202}}
USER_AGENT = "feedbackloop-alerts/1"

# Receivers' hosts (checked unless WEBHOOKS_ALLOW_PRIVATE_NETWORKS is on).
SLACK_HOST = "hooks.slack.com"
SLACK_PATH = "/services/"
TEAMS_HOST_SUFFIXES = (".webhook.office.com", ".logic.azure.com", ".api.powerplatform.com")

HIGH = Priority.HIGH


# --- URLs -----------------------------------------------------------------------------


def _any_url_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))


def alert_url_mask(url: str) -> str:
    """The URL as pages show it once saved (it is a credential): host and last 4
    characters."""
    host = urlsplit(url).hostname or ""
    return f"{host}/…{url[-4:]}" if url else ""


def alert_url_validate(*, kind: str, url: str) -> str:
    """The incoming-webhook URL, stripped; a ``ValidationError`` on ``url`` naming what
    a URL of the service looks like."""
    url = url.strip()
    if not url:
        raise ValidationError({"url": [_("Enter the incoming webhook URL.")]})
    if len(url) > 500:
        raise ValidationError({"url": [_("The URL is too long (500 characters at most).")]})
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValidationError({"url": [_("Enter a valid URL.")]}) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError({"url": [_("Enter a valid URL.")]})
    if _any_url_allowed():
        return url
    if kind == AlertKind.SLACK:
        ok = host == SLACK_HOST and parts.path.startswith(SLACK_PATH)
        message = _("A Slack incoming webhook URL starts with https://hooks.slack.com/services/.")
    else:
        ok = host.endswith(TEAMS_HOST_SUFFIXES)
        message = _(
            "A Microsoft Teams webhook URL is https://<name>.webhook.office.com/…, or a "
            "Workflows URL on logic.azure.com or api.powerplatform.com."
        )
    if parts.scheme != "https" or port not in (None, 443) or parts.username or parts.password:
        ok = False
    if not ok:
        raise ValidationError({"url": [message]})
    return url


# --- Channels -------------------------------------------------------------------------


def _clean(
    *, name: str, kind: str, url: str, team_id: int | None, triggers: list[str]
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("Give the channel a name.")]
    elif len(name) > 100:
        errors["name"] = [_("The name is too long (100 characters at most).")]
    if kind not in AlertKind.values:
        errors["kind"] = [_("Choose Slack or Microsoft Teams.")]
    else:
        try:
            url = alert_url_validate(kind=kind, url=url)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        errors["team"] = [_("Choose one of your teams.")]
    chosen = [t for t in AlertTrigger.values if t in set(triggers)]
    if not chosen or len(chosen) != len(set(triggers)):
        errors["triggers"] = [_("Choose what to alert on.")]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "kind": kind, "url": url, "team_id": team_id, "triggers": chosen}


def alert_channel_create(
    *,
    actor: Actor,
    name: str,
    kind: str,
    url: str,
    triggers: list[str],
    team_id: int | None = None,
    is_active: bool = True,
) -> AlertChannel:
    """Add a Slack or Teams channel for a team's cases (every case without a team)."""
    fields = _clean(name=name, kind=kind, url=url, team_id=team_id, triggers=triggers)
    with transaction.atomic():
        channel = AlertChannel.objects.create(
            **fields,
            is_active=is_active,
            created_by=actor.user if actor.user is not None and actor.user.pk else None,
        )
        audit_log_record(
            actor=actor,
            action="alert_channel.create",
            obj=channel,
            changes={
                "kind": [None, channel.kind],
                "url": [None, alert_url_mask(channel.url)],
                "team": [None, channel.team_id],
                "triggers": [None, channel.triggers],
                "is_active": [None, channel.is_active],
            },
        )
    return channel


def alert_channel_update(
    *,
    actor: Actor,
    channel: AlertChannel,
    name: str,
    kind: str,
    triggers: list[str],
    team_id: int | None = None,
    url: str = "",
    is_active: bool | None = None,
) -> AlertChannel:
    """Change a channel; an empty ``url`` keeps the saved one (pages never show it)."""
    fields = _clean(
        name=name, kind=kind, url=url or channel.url, team_id=team_id, triggers=triggers
    )
    if is_active is not None:
        fields["is_active"] = is_active
    with transaction.atomic():
        channel = AlertChannel.objects.select_for_update().get(pk=channel.pk)
        changes: dict[str, Any] = {}
        for field, value in fields.items():
            before = getattr(channel, field)
            if before != value:
                changes[field.removesuffix("_id")] = (
                    [alert_url_mask(before), alert_url_mask(value)]
                    if field == "url"
                    else [before, value]
                )
                setattr(channel, field, value)
        if changes:
            channel.save()
            audit_log_record(
                actor=actor, action="alert_channel.update", obj=channel, changes=changes
            )
    return channel


def alert_channel_set_active(
    *, actor: Actor, channel: AlertChannel, is_active: bool
) -> AlertChannel:
    """Switch a channel on or off; a switched-off channel gets nothing new, and what
    was still waiting for it fails."""
    with transaction.atomic():
        channel = AlertChannel.objects.select_for_update().get(pk=channel.pk)
        if channel.is_active != is_active:
            audit_log_record(
                actor=actor,
                action="alert_channel.update",
                obj=channel,
                changes={"is_active": [channel.is_active, is_active]},
            )
            channel.is_active = is_active
            channel.save(update_fields=["is_active"])
    return channel


def alert_channel_delete(*, actor: Actor, channel: AlertChannel) -> None:
    """Remove a channel and its delivery log."""
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action="alert_channel.delete",
            obj=channel,
            changes={"url": [alert_url_mask(channel.url), None]},
        )
        channel.delete()


@dataclass(frozen=True)
class AlertSendResult:
    ok: bool
    status_code: int | None = None
    error: str = ""
    # Set on 429: when the receiver wants the next try.
    retry_after: timedelta | None = None
    # A client error or redirect: retrying the same request cannot help.
    permanent: bool = False


def alert_channel_test(
    *, actor: Actor, channel: AlertChannel, settings_url: str
) -> AlertSendResult:
    """Send a test message to the channel now (no retries) and say how it went."""
    organization = Organization.objects.get(pk=channel.organization_id)
    with translation.override(organization.default_language):
        message = alert_test_message(channel.kind, channel_name=channel.name, url=settings_url)
    result = _post(kind=channel.kind, url=channel.url, message=message)
    audit_log_record(
        actor=actor,
        action="alert_channel.test",
        obj=channel,
        changes={"result": [None, "ok" if result.ok else result.error]},
    )
    return result


# --- Triggers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wanted:
    trigger: str
    dedupe_key: str
    target: str = ""


def _wanted(payload: dict[str, Any]) -> _Wanted | None:
    """The alert a case event asks for, if any."""
    event = payload.get("event") or {}
    kind = event.get("kind")
    data = event.get("data") or {}
    case_id = payload.get("case_id")
    if case_id is None:
        return None
    if kind == CaseEventKind.OPENED and int(payload.get("priority") or 0) >= HIGH:
        return _Wanted(AlertTrigger.HIGH_PRIORITY_CASE, f"high_priority_case:{case_id}")
    if (
        kind == CaseEventKind.PRIORITY
        and int(data.get("to") or 0) >= HIGH
        and int(data.get("from") or 0) < HIGH
    ):
        return _Wanted(AlertTrigger.HIGH_PRIORITY_CASE, f"high_priority_case:{case_id}")
    if kind == CaseEventKind.SLA_BREACHED and data.get("target") in SlaTarget.values:
        target = str(data["target"])
        return _Wanted(AlertTrigger.SLA_BREACH, f"sla_breach:{case_id}:{target}", target)
    return None


def alert_deliveries_for_case_event(*, payload: dict[str, Any]) -> list[int]:
    """Write the alerts a case event calls for (in the current transaction, the outbox
    handler's) and send them after commit; the ids of the pending deliveries.

    Channels: active, listening to the trigger, and of the case's team or of no team."""
    wanted = _wanted(payload)
    if wanted is None:
        return []
    channels = [
        channel
        for channel in AlertChannel.objects.filter(is_active=True)
        if wanted.trigger in (channel.triggers or [])
    ]
    if not channels:
        return []
    case = (
        Case.objects.select_related(
            "organization", "response", "contact", "touchpoint", "owner", "team"
        )
        .filter(pk=payload["case_id"])
        .first()
    )
    if case is None or not case.is_open:
        return []
    channels = [c for c in channels if c.team_id is None or c.team_id == case.team_id]
    if not channels:
        return []
    with translation.override(case.organization.default_language):
        facts = alert_facts(case=case, trigger=wanted.trigger, target=wanted.target)
        messages = {kind: alert_message(kind, facts) for kind in {c.kind for c in channels}}
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(
                channel=channel,
                case=case,
                trigger=wanted.trigger,
                dedupe_key=wanted.dedupe_key,
                payload=messages[channel.kind],
            )
            for channel in channels
        ],
        ignore_conflicts=True,
    )
    ids = list(
        AlertDelivery.objects.filter(
            channel__in=channels,
            dedupe_key=wanted.dedupe_key,
            status=DeliveryStatus.PENDING,
            attempts=0,
        ).values_list("pk", flat=True)
    )
    alert_deliveries_schedule(organization_id=case.organization_id, delivery_ids=ids)
    return ids


def alert_deliveries_schedule(*, organization_id: int, delivery_ids: list[int]) -> None:
    """After commit, hand the deliveries to workers (the sweep covers a missing broker)."""
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(organization_id, delivery_ids))


def _enqueue(organization_id: int, delivery_ids: list[int]) -> None:
    from integrations.tasks_alerts import alert_delivery_send_task

    for delivery_id in delivery_ids:
        try:
            alert_delivery_send_task.apply_async(
                kwargs={"organization_id": organization_id, "delivery_id": delivery_id},
                retry_policy={"max_retries": 0},
            )
        except Exception:  # noqa: BLE001 - the beat sweep sends it once the broker is back
            logger.warning("alert delivery %s left for the sweep: broker unavailable", delivery_id)


# --- Sending --------------------------------------------------------------------------


def _retry_after(value: str | None) -> timedelta | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when - timezone.now()
    return max(timedelta(0), min(seconds, RETRY_AFTER_MAX))


def _post(*, kind: str, url: str, message: dict[str, Any]) -> AlertSendResult:
    try:
        answer = requests.post(
            url,
            json=message,
            timeout=TIMEOUT,
            allow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
    except requests.RequestException as exc:
        return AlertSendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    code = answer.status_code
    if code in SUCCESS_CODES.get(AlertKind(kind), {200}):
        return AlertSendResult(ok=True, status_code=code)
    excerpt = " ".join(answer.text[:300].split())
    error = f"HTTP {code}: {excerpt}" if excerpt else f"HTTP {code}"
    if code == 429:
        return AlertSendResult(
            ok=False,
            status_code=code,
            error=error[:500],
            retry_after=_retry_after(answer.headers.get("Retry-After")),
        )
    permanent = 300 <= code < 500 and code != 408
    return AlertSendResult(ok=False, status_code=code, error=error[:500], permanent=permanent)


def _backoff(attempts: int) -> timedelta:
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() / 10))  # noqa: S311


def alert_delivery_send(*, organization_id: int, delivery_id: int) -> str:
    """Send one pending, due delivery: ``succeeded``, ``retry``, ``failed`` or
    ``skipped`` (not pending, not due, or claimed by another worker). Call it outside
    any transaction (the Celery task does)."""
    now = timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        claimed = AlertDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        if not claimed:
            return "skipped"
        delivery = AlertDelivery.objects.select_related("channel").get(pk=delivery_id)
        channel = delivery.channel
        if not channel.is_active:
            _finish(delivery, DeliveryStatus.FAILED, error="channel switched off")
            return "failed"
    result = _post(kind=channel.kind, url=channel.url, message=delivery.payload)
    with tenant_context(organization_id), transaction.atomic():
        delivery = AlertDelivery.objects.select_for_update().get(pk=delivery_id)
        if result.ok:
            # The receiver took it: that is the fact, even if the sweep had requeued
            # the row meanwhile (it is never sent again).
            if delivery.status != DeliveryStatus.SUCCEEDED:
                _finish(delivery, DeliveryStatus.SUCCEEDED, status_code=result.status_code)
            return "succeeded"
        if delivery.status != DeliveryStatus.SENDING or delivery.claimed_at != now:
            return "skipped"  # requeued by the sweep and claimed again elsewhere
        later = timezone.now() + (result.retry_after or _backoff(delivery.attempts))
        if result.permanent or later > delivery.created_at + RETRY_FOR:
            error = result.error if result.permanent else f"gave up: {result.error}"
            _finish(delivery, DeliveryStatus.FAILED, error=error, status_code=result.status_code)
            logger.warning("alert delivery %s failed: %s", delivery_id, error)
            return "failed"
        delivery.status = DeliveryStatus.PENDING
        delivery.claimed_at = None
        delivery.next_attempt_at = later
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error[:500]
        delivery.save(
            update_fields=[
                "status",
                "claimed_at",
                "next_attempt_at",
                "last_status_code",
                "last_error",
            ]
        )
        logger.info("alert delivery %s: retry at %s after %s", delivery_id, later, result.error)
        return "retry"


def _finish(
    delivery: AlertDelivery, status: str, *, error: str = "", status_code: int | None = None
) -> None:
    delivery.status = status
    delivery.claimed_at = None
    delivery.last_status_code = status_code
    delivery.last_error = error[:500]
    fields = ["status", "claimed_at", "last_status_code", "last_error"]
    if status == DeliveryStatus.SUCCEEDED:
        delivery.sent_at = timezone.now()
        fields.append("sent_at")
    delivery.save(update_fields=fields)


def alert_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat sweep over all organizations: put rows stuck in ``sending`` (a worker died
    during the call) back to pending, and hand due rows to workers. How many were
    handed over."""
    now = now or timezone.now()
    with cross_tenant(reason="alert sweep: due and stuck alert deliveries of every organization"):
        stuck = list(
            AlertDelivery.objects.filter(
                status=DeliveryStatus.SENDING, claimed_at__lte=now - STUCK_AFTER
            ).values_list("organization_id", "pk")[:limit]
        )
    for organization_id, delivery_id in stuck:
        with tenant_context(organization_id):
            AlertDelivery.objects.filter(
                pk=delivery_id,
                status=DeliveryStatus.SENDING,
                claimed_at__lte=now - STUCK_AFTER,
            ).update(status=DeliveryStatus.PENDING, claimed_at=None, next_attempt_at=now)
    with cross_tenant(reason="alert sweep: due and stuck alert deliveries of every organization"):
        due = list(
            AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(attempts__gt=0) | Q(created_at__lte=now - SWEEP_GRACE))
            .order_by("next_attempt_at")
            .values_list("organization_id", "pk")[:limit]
        )
    by_org: dict[int, list[int]] = {}
    for organization_id, delivery_id in due:
        by_org.setdefault(organization_id, []).append(delivery_id)
    for organization_id, ids in by_org.items():
        _enqueue(organization_id, ids)
    return len(due)
