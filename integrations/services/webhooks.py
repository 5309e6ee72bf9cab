"""Signed outbound webhooks (docs/integrations/webhooks.md).

Endpoints: an organization's URLs, each subscribed to some topics, managed here
(validated, SSRF-checked, audited). Deliveries are written by the outbox handler
(``integrations.services.webhook_events``), by a test ping and by a redelivery.

``webhook_delivery_send`` claims a pending, due row (pending -> sending, conditionally,
so two workers never send the same row), checks the URL again (DNS may have changed),
POSTs the signed body with no transaction open, and records a ``WebhookAttempt``:

* 2xx: ``succeeded`` (never sent again; the endpoint's failure streak resets);
* anything else: back to ``pending`` at ``next_attempt_at`` (1 min, 2, 4, ... capped at
  1 h per step, plus up to 10 % jitter) until 24 h after the delivery was created, then
  ``failed``. Each delivery that fails for good adds one to the endpoint's
  ``failure_streak``; at ``DISABLE_AFTER`` the endpoint is switched off, its waiting
  deliveries fail, and the organization's admins are notified by email.

``webhook_deliveries_due`` is the beat sweep: it puts rows stuck in ``sending`` for
5 minutes (a killed worker) back to pending and hands due rows to workers.

Signature: ``Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``;
for 24 h after a rotation a second ``v1=`` value signed with the old secret follows.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookTopic,
)
from integrations.services.webhook_events import (
    PING,
    webhook_deliveries_schedule,
    webhook_envelope,
)
from tenants.context import cross_tenant, tenant_context
from tenants.models import Membership, Organization, Role
from tenants.services import SYSTEM, Actor, audit_log_record

logger = logging.getLogger(__name__)

TIMEOUT = (5, 10)  # connect, read (seconds)
USER_AGENT = "FeedbackPlatform-Webhooks/1"
RETRY_FOR = timedelta(hours=24)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
STUCK_AFTER = timedelta(minutes=5)
# The sweep leaves fresh rows to the task their commit scheduled.
SWEEP_GRACE = timedelta(seconds=5)
# Deliveries failed for good in a row (each after 24 h of retries) that switch an
# endpoint off.
DISABLE_AFTER = 5
# How long the old secret still signs after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
EXCERPT_MAX = 1024
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


# --- URLs (SSRF) ----------------------------------------------------------------------


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))


def _resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class UnsafeUrl(Exception):
    """The URL may not be called (scheme, or an address inside a private network)."""


def webhook_url_check(url: str) -> None:
    """Raise ``UnsafeUrl`` unless the URL may be called now: https, and every address
    its host resolves to is public, unless ``WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` is on."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(_("Enter a valid http or https URL."))
    if private_networks_allowed():
        return
    if parts.scheme != "https":
        raise UnsafeUrl(_("The URL must use https."))
    try:
        port = parts.port or 443
        try:
            addresses = [str(ipaddress.ip_address(parts.hostname))]  # a literal address
        except ValueError:
            addresses = _resolve(parts.hostname, port)
    except (OSError, ValueError, UnicodeError):
        raise UnsafeUrl(_("The host name does not resolve.")) from None
    if not addresses or not all(_is_public(address) for address in addresses):
        raise UnsafeUrl(
            _("The URL points into a private network (loopback, private or link-local).")
        )


def webhook_url_validate(url: str) -> str:
    """The URL, stripped; a ``ValidationError`` on ``url`` when it is malformed or unsafe."""
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": [_("Enter the URL of your receiver.")]})
    if len(url) > 500:
        raise ValidationError({"url": [_("The URL is too long (500 characters at most).")]})
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationError({"url": [_("Enter a valid URL.")]}) from None
    if parts.username or parts.password:
        raise ValidationError({"url": [_("Put no user name or password in the URL.")]})
    try:
        webhook_url_check(url)
    except UnsafeUrl as exc:
        raise ValidationError({"url": [str(exc)]}) from None
    return url


# --- Endpoints --------------------------------------------------------------------------


def webhook_secret_new() -> str:
    return SECRET_PREFIX + secrets.token_hex(16)


def _clean(*, url: str, description: str, events: list[str]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    try:
        url = webhook_url_validate(url)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    description = (description or "").strip()
    if len(description) > 200:
        errors["description"] = [_("The description is too long (200 characters at most).")]
    wanted = set(events or [])
    chosen = [topic for topic in WebhookTopic.values if topic in wanted]
    if not chosen:
        errors["events"] = [_("Choose at least one event.")]
    elif len(chosen) != len(wanted):
        unknown = sorted(wanted - set(chosen))
        errors["events"] = [_("Unknown events: %(events)s.") % {"events": ", ".join(unknown)}]
    if errors:
        raise ValidationError(errors)
    return {"url": url, "description": description, "events": chosen}


def webhook_endpoint_create(
    *, actor: Actor, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register a receiver; its secret is on the returned object (show it once)."""
    fields = _clean(url=url, description=description, events=events)
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            **fields,
            secret=webhook_secret_new(),
            created_by=actor.user if actor.user is not None and actor.user.pk else None,
            created_at=now,
            updated_at=now,
        )
        audit_log_record(
            actor=actor,
            action="webhook.create",
            obj=endpoint,
            changes={"url": [None, endpoint.url], "events": [None, endpoint.events]},
        )
    return endpoint


def webhook_endpoint_update(
    *,
    actor: Actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None keeps a field); ``is_active`` enables or disables."""
    fields = _clean(
        url=endpoint.url if url is None else url,
        description=endpoint.description if description is None else description,
        events=endpoint.events if events is None else events,
    )
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes: dict[str, Any] = {}
        for field, value in fields.items():
            before = getattr(locked, field)
            if before != value:
                changes[field] = [before, value]
                setattr(locked, field, value)
        if changes:
            locked.updated_at = timezone.now()
            locked.save()
            audit_log_record(actor=actor, action="webhook.update", obj=locked, changes=changes)
    if is_active is not None and is_active != locked.is_active:
        if is_active:
            return webhook_endpoint_enable(actor=actor, endpoint=locked)
        return webhook_endpoint_disable(actor=actor, endpoint=locked, reason=_("Disabled by hand."))
    return locked


def webhook_endpoint_enable(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Switch an endpoint on again (with a fresh failure streak)."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not locked.is_active:
            audit_log_record(
                actor=actor,
                action="webhook.enable",
                obj=locked,
                changes={"is_active": [False, True]},
            )
            locked.is_active = True
            locked.disabled_at = None
            locked.disabled_reason = ""
            locked.failure_streak = 0
            locked.updated_at = timezone.now()
            locked.save()
    return locked


def webhook_endpoint_disable(
    *, actor: Actor, endpoint: WebhookEndpoint, reason: str, notify_admins: bool = False
) -> WebhookEndpoint:
    """Switch an endpoint off: it gets nothing new, and its waiting deliveries fail.
    ``notify_admins``: tell the organization's admins (by email), as an automatic
    switch-off does."""
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not locked.is_active:
            return locked
        locked.is_active = False
        locked.disabled_at = now
        locked.disabled_reason = reason[:300]
        locked.updated_at = now
        locked.save()
        WebhookDelivery.objects.filter(endpoint=locked, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, last_error="endpoint disabled"
        )
        audit_log_record(
            actor=actor,
            action="webhook.disable",
            obj=locked,
            changes={"is_active": [True, False], "reason": [None, locked.disabled_reason]},
        )
        if notify_admins:
            _notify_admins(locked)
    return locked


def _notify_admins(endpoint: WebhookEndpoint) -> None:
    from closedloop.services.notifications import notify

    organization = Organization.objects.get(pk=endpoint.organization_id)
    admins = list(Membership.objects.filter(role=Role.ADMIN).values_list("user_id", flat=True))
    link = settings.SITE_URL.rstrip("/") + reverse(
        "integrations:webhook-detail",
        kwargs={"org_slug": organization.slug, "webhook_id": endpoint.pk},
    )
    with translation.override(organization.default_language):
        title = _("Webhook switched off: %(url)s") % {"url": endpoint.url}
        body = _(
            "The webhook endpoint %(url)s failed %(count)s deliveries in a row (each after "
            "24 hours of retries) and was switched off: %(reason)s\n\nFix the receiver, "
            "then enable the endpoint again and redeliver what it missed: %(link)s"
        ) % {
            "url": endpoint.url,
            "count": endpoint.failure_streak,
            "reason": endpoint.disabled_reason,
            "link": link,
        }
    notify(user_ids=admins, kind="webhook_disabled", title=title, body=body)


def webhook_endpoint_rotate_secret(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret (returned on the object: show it once); the old one still signs,
    as a second signature, for ``ROTATION_OVERLAP``."""
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + ROTATION_OVERLAP
        locked.secret = webhook_secret_new()
        locked.updated_at = now
        locked.save()
        audit_log_record(
            actor=actor,
            action="webhook.rotate_secret",
            obj=locked,
            changes={"previous_secret_expires_at": [None, (now + ROTATION_OVERLAP).isoformat()]},
        )
    return locked


def webhook_endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint with its delivery log."""
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action="webhook.delete",
            obj=endpoint,
            changes={"url": [endpoint.url, None]},
        )
        endpoint.delete()


def _require_active(endpoint: WebhookEndpoint) -> None:
    if not endpoint.is_active:
        raise ValidationError({"endpoint": [_("The endpoint is switched off. Enable it first.")]})


def webhook_ping(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``ping`` event to the endpoint (a delivery like any other, retried)."""
    _require_active(endpoint)
    organization = Organization.objects.get(pk=endpoint.organization_id)
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery(endpoint=endpoint, topic=PING, created_at=now)
        delivery.payload = webhook_envelope(
            event_id=delivery.event_id,
            topic=PING,
            created_at=now,
            organization=organization.slug,
            data={"endpoint_id": endpoint.pk, "message": "Hello from the feedback platform."},
        )
        delivery.save()
        audit_log_record(
            actor=actor,
            action="webhook.ping",
            obj=endpoint,
            changes={"delivery": [None, delivery.pk]},
        )
        webhook_deliveries_schedule(
            organization_id=endpoint.organization_id, delivery_ids=[delivery.pk]
        )
    return delivery


def webhook_redeliver(*, actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again: a new row with the same event id and payload
    (``redelivery_of`` set), so the receiver deduplicates on ``Webhook-Id``."""
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    _require_active(endpoint)
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            endpoint=endpoint,
            outbox_event_id=delivery.outbox_event_id,
            redelivery_of=delivery,
            event_id=delivery.event_id,
            topic=delivery.topic,
            payload=delivery.payload,
        )
        audit_log_record(
            actor=actor,
            action="webhook.redeliver",
            obj=endpoint,
            changes={"delivery": [delivery.pk, copy.pk]},
        )
        webhook_deliveries_schedule(
            organization_id=endpoint.organization_id, delivery_ids=[copy.pk]
        )
    return copy


# --- Sending ----------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with the endpoint's secret."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_headers(
    *, endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    signatures = [f"v1={webhook_signature(endpoint.secret, timestamp, body)}"]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        signatures.append(f"v1={webhook_signature(endpoint.previous_secret, timestamp, body)}")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": str(delivery.event_id),
        "Webhook-Timestamp": timestamp,
        "Webhook-Signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str = ""
    excerpt: str = ""


def _post(*, url: str, headers: dict[str, str], body: bytes) -> SendResult:
    started = time.monotonic()
    try:
        webhook_url_check(url)
    except UnsafeUrl as exc:
        return SendResult(ok=False, error=f"refused: {exc}"[:500])
    try:
        answer = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        latency = int((time.monotonic() - started) * 1000)
        return SendResult(ok=False, latency_ms=latency, error=f"{type(exc).__name__}: {exc}"[:500])
    latency = int((time.monotonic() - started) * 1000)
    code = answer.status_code
    excerpt = answer.content[:EXCERPT_MAX].decode("utf-8", errors="replace")[:EXCERPT_MAX]
    if 200 <= code < 300:
        return SendResult(ok=True, status_code=code, latency_ms=latency, excerpt=excerpt)
    error = f"HTTP {code}"
    if 300 <= code < 400:
        error += " (redirects are not followed)"
    return SendResult(ok=False, status_code=code, latency_ms=latency, error=error, excerpt=excerpt)


def webhook_backoff(attempts: int) -> timedelta:
    """1 min, 2, 4, 8, ... capped at 1 h, plus up to 10 % jitter."""
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() / 10))  # noqa: S311


def webhook_delivery_send(*, organization_id: int, delivery_id: int) -> str:
    """Send one pending, due delivery: ``succeeded``, ``retry``, ``failed`` or
    ``skipped`` (not pending, not due, or claimed by another worker). Call it outside
    any transaction (the Celery task does)."""
    now = timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        if not claimed:
            return "skipped"
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            delivery.status = DeliveryStatus.FAILED
            delivery.claimed_at = None
            delivery.last_error = "endpoint disabled"
            delivery.save(update_fields=["status", "claimed_at", "last_error"])
            return "failed"
    body = webhook_body(delivery.payload)
    headers = webhook_headers(endpoint=endpoint, delivery=delivery, body=body, now=timezone.now())
    result = _post(url=endpoint.url, headers=headers, body=body)
    return _record(organization_id, delivery_id, claimed_at=now, result=result)


def _record(
    organization_id: int, delivery_id: int, *, claimed_at: datetime, result: SendResult
) -> str:
    disable: WebhookEndpoint | None = None
    with tenant_context(organization_id), transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        now = timezone.now()
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=claimed_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:500],
            response_excerpt=result.excerpt[:EXCERPT_MAX],
        )
        delivery.last_status_code = result.status_code
        delivery.last_latency_ms = result.latency_ms
        delivery.last_error = result.error[:500]
        fields = ["last_status_code", "last_latency_ms", "last_error"]
        if result.ok:
            # The receiver took it: that is the fact, even if the sweep had requeued the
            # row meanwhile (a succeeded row is never sent again).
            if delivery.status != DeliveryStatus.SUCCEEDED:
                delivery.status = DeliveryStatus.SUCCEEDED
                delivery.claimed_at = None
                delivery.delivered_at = now
                fields += ["status", "claimed_at", "delivered_at"]
            delivery.save(update_fields=fields)
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
                failure_streak=0, last_success_at=now
            )
            return "succeeded"
        if delivery.status != DeliveryStatus.SENDING or delivery.claimed_at != claimed_at:
            delivery.save(update_fields=fields)
            return "skipped"  # requeued by the sweep and claimed again elsewhere
        later = now + webhook_backoff(delivery.attempts)
        delivery.claimed_at = None
        fields.append("claimed_at")
        if later > delivery.created_at + RETRY_FOR:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = f"gave up after {delivery.attempts} attempts: {result.error}"[
                :500
            ]
            fields.append("status")
            delivery.save(update_fields=fields)
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
                failure_streak=F("failure_streak") + 1, last_failure_at=now
            )
            endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
            if endpoint.is_active and endpoint.failure_streak >= DISABLE_AFTER:
                disable = endpoint
            outcome = "failed"
            logger.warning("webhook delivery %s failed: %s", delivery_id, delivery.last_error)
        else:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = later
            fields += ["status", "next_attempt_at"]
            delivery.save(update_fields=fields)
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(last_failure_at=now)
            outcome = "retry"
        if disable is not None:
            webhook_endpoint_disable(
                actor=SYSTEM,
                endpoint=disable,
                reason=_("%(count)s deliveries in a row failed for 24 hours (last: %(error)s).")
                % {"count": disable.failure_streak, "error": result.error or "-"},
                notify_admins=True,
            )
    return outcome


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat sweep over all organizations: put rows stuck in ``sending`` (a worker died
    during the call) back to pending, and hand due rows to workers. How many were
    handed over."""
    now = now or timezone.now()
    reason = "webhook sweep: due and stuck deliveries of every organization"
    with cross_tenant(reason=reason):
        stuck = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.SENDING, claimed_at__lte=now - STUCK_AFTER
            ).values_list("organization_id", "pk")[:limit]
        )
    for organization_id, delivery_id in stuck:
        with tenant_context(organization_id):
            WebhookDelivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.SENDING, claimed_at__lte=now - STUCK_AFTER
            ).update(status=DeliveryStatus.PENDING, claimed_at=None, next_attempt_at=now)
    with cross_tenant(reason=reason):
        due = list(
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(attempts__gt=0) | Q(created_at__lte=now - SWEEP_GRACE))
            .order_by("next_attempt_at")
            .values_list("organization_id", "pk")[:limit]
        )
    from integrations.services.webhook_events import _enqueue

    by_org: dict[int, list[int]] = {}
    for organization_id, delivery_id in due:
        by_org.setdefault(organization_id, []).append(delivery_id)
    for organization_id, ids in by_org.items():
        _enqueue(organization_id, ids)
    return len(due)
