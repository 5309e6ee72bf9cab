"""In-app notifications, also sent by email.

``notify`` writes ``Notification`` rows in the caller's transaction and, after commit,
hands their emails to a worker. Emails are sent at most once: a worker claims a
notification (``email_pending`` true -> false) before it calls the provider; the beat
sweep ``notification_email_due`` picks up what a missing broker left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from closedloop.models import Case, Notification
from integrations.channels import ChannelError, EmailMessage, email_channel
from tenants.context import cross_tenant, tenant_context
from tenants.models import Membership, Organization, Role

logger = logging.getLogger(__name__)

EMAIL_SWEEP_GRACE = timedelta(seconds=30)
# Notification emails per task (a sweep's batch notifies hundreds at once).
EMAIL_TASK_SIZE = 100


def managers_of_organization() -> list[int]:
    """User ids of the current organization's administrators and CX managers."""
    return list(
        Membership.objects.filter(role__in=[Role.ADMIN, Role.CX_MANAGER]).values_list(
            "user_id", flat=True
        )
    )


def members_only(user_ids: Iterable[int | None]) -> list[int]:
    """The ids that belong to members of the current organization (order kept)."""
    wanted = [uid for uid in dict.fromkeys(user_ids) if uid is not None]
    members = set(Membership.objects.filter(user_id__in=wanted).values_list("user_id", flat=True))
    return [uid for uid in wanted if uid in members]


def notify(
    *,
    user_ids: Iterable[int | None],
    kind: str,
    title: str,
    body: str = "",
    case: Case | None = None,
) -> list[Notification]:
    """Notify members (non-members and duplicates are skipped)."""
    return notify_many(
        drafts=[NotificationDraft(list(user_ids), kind, title, body=body, case=case)]
    )


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    user_ids: list[int | None]
    kind: str
    title: str
    body: str = ""
    case: Case | None = None


def notify_many(*, drafts: Iterable[NotificationDraft]) -> list[Notification]:
    """Several notifications at once (the SLA sweep's batch): one membership look-up,
    one insert, and their emails handed to workers after commit in chunks."""
    drafts = list(drafts)
    members = set(
        members_only(uid for draft in drafts for uid in draft.user_ids if uid is not None)
    )
    rows = Notification.objects.bulk_create(
        [
            Notification(
                user_id=uid,
                kind=draft.kind,
                title=draft.title[:300],
                body=draft.body,
                case=draft.case,
            )
            for draft in drafts
            for uid in dict.fromkeys(draft.user_ids)
            if uid in members
        ]
    )
    if not rows:
        return []
    organization_id = rows[0].organization_id
    ids = [row.pk for row in rows if row.pk is not None]
    for start in range(0, len(ids), EMAIL_TASK_SIZE):
        chunk = ids[start : start + EMAIL_TASK_SIZE]
        transaction.on_commit(partial(_schedule_emails, organization_id, chunk))
    return rows


def _schedule_emails(organization_id: int, ids: list[int]) -> None:
    from closedloop.tasks import notification_email_send_task

    try:
        notification_email_send_task.apply_async(
            kwargs={"organization_id": organization_id, "notification_ids": ids},
            retry_policy={"max_retries": 0},
        )
    except Exception:  # noqa: BLE001 - the beat sweep sends them once the broker is back
        logger.warning("notification emails %s left for the sweep: broker unavailable", ids)


def _claim(notification_id: int) -> Notification | None:
    claimed = Notification.objects.filter(pk=notification_id, email_pending=True).update(
        email_pending=False
    )
    if not claimed:
        return None
    return Notification.objects.select_related("case", "user").get(pk=notification_id)


def notification_email_send(*, organization_id: int, notification_id: int) -> bool:
    """Email one notification (at most once); True when an email went out."""
    with tenant_context(organization_id):
        notification = _claim(notification_id)
        if notification is None:
            return False
        user = notification.user
        if not user.email or not user.is_active:
            return False
        organization = Organization.objects.get(pk=organization_id)
        link = ""
        if notification.case is not None:
            link = settings.SITE_URL.rstrip("/") + reverse(
                "closedloop:case-detail",
                kwargs={"org_slug": organization.slug, "number": notification.case.number},
            )
        with translation.override(organization.default_language):
            text = render_to_string(
                "closedloop/email/notification.txt",
                {"notification": notification, "organization": organization, "link": link},
            )
        message = EmailMessage(
            to=user.email,
            subject=f"[{organization.name}] {notification.title}",
            text=text,
            metadata={"notification_id": str(notification.pk)},
            tags=("closedloop-notification",),
        )
        try:
            email_channel().send(message)
        except ChannelError as exc:
            Notification.objects.filter(pk=notification.pk).update(email_error=str(exc)[:300])
            logger.warning("notification %s not emailed: %s", notification.pk, exc)
            return False
        Notification.objects.filter(pk=notification.pk).update(email_sent_at=timezone.now())
    return True


def notification_email_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Email pending notifications the task after commit did not take (beat sweep)."""
    now = now or timezone.now()
    with cross_tenant(reason="notification sweep: pending emails of every organization"):
        due = list(
            Notification.objects.filter(email_pending=True, created_at__lte=now - EMAIL_SWEEP_GRACE)
            .order_by("created_at")
            .values_list("organization_id", "pk")[:limit]
        )
    return sum(
        notification_email_send(organization_id=org_id, notification_id=pk) for org_id, pk in due
    )


def notification_mark_read(
    *, user_id: int, notification_ids: list[int] | None = None, case_id: int | None = None
) -> int:
    """Mark the user's notifications read (all unread ones without ids; with ``case_id``
    only those about that case: the user opened it)."""
    queryset = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=notification_ids)
    if case_id is not None:
        queryset = queryset.filter(case_id=case_id)
    return queryset.update(read_at=timezone.now())
