# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""The weekly digest: one email per manager and week, about the week before.

Every hour the beat runs :func:`digest_send_due`: for each organization whose local time
is in the sending window (Monday 07:00 plus two days, ``metrics.selectors.digest``) and
that still owes a manager the digest, it hands the organization to a worker
(:func:`digest_send_organization`). The worker computes the numbers once and sends each
recipient one email in the organization's language.

At most once: before an email goes out, its ``DigestDelivery`` row (unique per
organization, user and week) is inserted and committed; ``sent_at`` is set after the
provider accepted it. Two workers racing for a recipient: the unique constraint lets one
win. A crash or a provider error between the claim and the send leaves the row without
``sent_at`` and the email is not sent again: a missed digest costs less than a
duplicate, and next week's digest goes out as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from integrations.channels import ChannelError, EmailMessage, email_channel
from metrics.models import DigestDelivery, DigestSubscription
from metrics.selectors.digest import (
    MOVER_MIN_N,
    Recipient,
    WeeklyDigest,
    digest_recipients,
    digest_week_due,
    weekly_digest,
)
from tenants.context import cross_tenant, tenant_context
from tenants.models import Organization

logger = logging.getLogger(__name__)


def digest_subscription_set(*, user_id: int, subscribed: bool) -> DigestSubscription:
    """A manager's own choice: get the weekly digest or not."""
    subscription, _created = DigestSubscription.objects.update_or_create(
        user_id=user_id, defaults={"subscribed": subscribed, "updated_at": timezone.now()}
    )
    return subscription


# --- Sending --------------------------------------------------------------------------


def digest_send_due(*, now: datetime | None = None) -> int:
    """Queue the digest of every organization that owes one now; the number queued."""
    now = now or timezone.now()
    with cross_tenant(reason="weekly digest: find the organizations whose week is due"):
        organizations = list(
            Organization.objects.filter(is_active=True).order_by("pk").values_list("pk", "timezone")
        )
    queued = 0
    for organization_id, timezone_name in organizations:
        week = digest_week_due(now=now, timezone_name=timezone_name)
        if week is None:
            continue
        with tenant_context(organization_id):
            if not digest_recipients(week=week):
                continue
        if _enqueue(organization_id, week):
            queued += 1
    return queued


def _enqueue(organization_id: int, week: date) -> bool:
    from metrics.tasks_digest import digest_send_task

    try:
        digest_send_task.apply_async(
            kwargs={"organization_id": organization_id, "week": week.isoformat()},
            retry_policy={"max_retries": 0},
        )
    except Exception:  # noqa: BLE001 - the next hourly run queues it again (nothing claimed)
        logger.warning("digest of organization %s not queued: broker unavailable", organization_id)
        return False
    return True


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    language: str
    subject: str
    text: str
    html: str


def digest_language(organization: Organization) -> str:
    """Members have no language of their own: the organization's, else English."""
    codes = {code for code, _name in settings.LANGUAGES}
    return organization.default_language if organization.default_language in codes else "en"


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _change(comparison: Any) -> dict[str, Any]:
    return {
        "difference": comparison.difference,
        "significant": comparison.significant,
        "p_value": comparison.p_value,
    }


def digest_headlines(digest: WeeklyDigest) -> list[dict[str, Any]]:
    """NPS, CES and CSAT of the week (those answered in either week), with n and the
    change against the week before."""
    c = digest.comparison
    now, before = c.current, c.previous
    rows = [
        {
            "key": "nps",
            "label": "NPS",
            "value": now.nps.score,
            "previous": before.nps.score,
            "n": now.nps.n,
            "previous_n": before.nps.n,
            "unit": "",
            "digits": 0,
            "change_digits": 1,
            "change": _change(c.nps),
        },
        {
            "key": "ces",
            "label": "CES",
            "value": now.ces.mean.mean,
            "previous": before.ces.mean.mean,
            "n": now.ces.n,
            "previous_n": before.ces.n,
            "unit": "",
            "digits": 2,
            "change_digits": 2,
            "change": _change(c.ces_mean),
        },
        {
            "key": "csat",
            "label": "CSAT",
            "value": now.csat.top_two_box.pct,
            "previous": before.csat.top_two_box.pct,
            "n": now.csat.n,
            "previous_n": before.csat.n,
            "unit": "%",
            "digits": 0,
            "change_digits": 1,
            "change": _change(c.csat_top_two_box),
        },
    ]
    return [row for row in rows if row["n"] or row["previous_n"]]


def digest_render(*, organization: Organization, digest: WeeklyDigest) -> RenderedDigest:
    """The email of one organization's digest in its language (the same for each
    recipient: the numbers are the organization's, the links need a sign-in)."""
    language = digest_language(organization)
    query = digest.filters.querystring()
    slug = {"org_slug": organization.slug}
    context = {
        "organization": organization,
        "digest": digest,
        "headlines": digest_headlines(digest),
        "closed_loop": digest.closed_loop,
        "dashboard_url": _absolute(reverse("metrics:overview", kwargs=slug) + "?" + query),
        "kpis_url": _absolute(reverse("metrics:kpis", kwargs=slug) + "?" + query),
        "settings_url": _absolute(reverse("metrics:settings", kwargs=slug) + "#digest"),
        "language": language,
        "min_n": MOVER_MIN_N,
    }
    with translation.override(language):
        subject = render_to_string("metrics/email/digest_subject.txt", context)
        text = render_to_string("metrics/email/digest.txt", context)
        html = render_to_string("metrics/email/digest.html", context)
    return RenderedDigest(
        language=language, subject=" ".join(subject.split()), text=text, html=html
    )


def _claim(*, user_id: int, week: date) -> DigestDelivery | None:
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(user_id=user_id, week=week)
    except IntegrityError:
        return None  # another worker claimed this recipient's week


def digest_deliver(
    *, organization_id: int, recipient: Recipient, week: date, email: RenderedDigest
) -> bool:
    """Claim and send one recipient's digest; True when the provider accepted it."""
    with tenant_context(organization_id):
        delivery = _claim(user_id=recipient.user_id, week=week)
    # Committed before the send (on PostgreSQL the context is the transaction).
    if delivery is None:
        return False
    message = EmailMessage(
        to=recipient.email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        headers={"Content-Language": email.language},
        metadata={"digest_delivery_id": str(delivery.pk)},
        tags=("metrics-digest",),
    )
    try:
        email_channel().send(message)
    except ChannelError as exc:
        logger.warning(
            "digest %s of organization %s not sent (not retried): %s",
            delivery.pk,
            organization_id,
            exc,
        )
        return False
    with tenant_context(organization_id):
        DigestDelivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now())
    return True


def digest_send_organization(
    *, organization_id: int, week: date, now: datetime | None = None
) -> int:
    """Send the digest of ``week`` to the organization's managers who have not had it;
    the number of emails sent."""
    now = now or timezone.now()
    with tenant_context(organization_id):
        organization = Organization.objects.get(pk=organization_id)
        recipients = digest_recipients(week=week)
        if not recipients:
            return 0
        digest = weekly_digest(week=week, timezone_name=organization.timezone, now=now)
    email = digest_render(organization=organization, digest=digest)
    return sum(
        digest_deliver(organization_id=organization_id, recipient=r, week=week, email=email)
        for r in recipients
    )
