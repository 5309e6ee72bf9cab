"""The Celery application: queues per concern, JSON only, beat schedule in one place."""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("feedbackloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_default_queue="default",
    # Queues per concern; every task not listed runs on "default".
    task_routes={
        "surveys.invitation_send_task": {"queue": "messages"},
        "surveys.invitation_remind_task": {"queue": "messages"},
        "closedloop.case_message_send_task": {"queue": "messages"},
        "closedloop.case_message_due_task": {"queue": "messages"},
        "closedloop.notification_email_send_task": {"queue": "messages"},
        "closedloop.escalation_sweep_task": {"queue": "sla"},
        "integrations.alert_delivery_send_task": {"queue": "webhooks"},
        "integrations.alert_deliveries_due_task": {"queue": "webhooks"},
        "integrations.webhook_deliver_task": {"queue": "webhooks"},
        "integrations.webhook_deliveries_due_task": {"queue": "webhooks"},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=False,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=60,
    task_time_limit=90,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    enable_utc=True,
    # The beat schedule lives here and only here; periodic tasks expire at ~1.5x their
    # interval so a backlog never replays stale sweeps.
    beat_schedule={
        "tenants-session-clear-expired": {
            "task": "tenants.session_clear_expired_task",
            "schedule": 24 * 60 * 60,
            "options": {"expires": 36 * 60 * 60},
        },
        # GDPR retention: anonymise data older than each organization's period.
        "contacts-retention-run": {
            "task": "contacts.retention_run_task",
            "schedule": 24 * 60 * 60,
            "options": {"expires": 12 * 60 * 60},
        },
        # API answers kept for Idempotency-Key retries: 24 hours.
        "tenants-idempotency-keys-expire": {
            "task": "tenants.idempotency_keys_expire_task",
            "schedule": 60 * 60,
            "options": {"expires": 90 * 60},
        },
        # Due invitations, reminders and expiries: time lives in the database.
        "surveys-invitation-dispatch-due": {
            "task": "surveys.invitation_dispatch_due_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Outbox events a missing broker or a failed handler left behind.
        "responses-outbox-dispatch-due": {
            "task": "responses.outbox_dispatch_due_task",
            "schedule": 30,
            "options": {"expires": 45},
        },
        # SLA clocks: reminders, breaches and escalations of cases.
        "closedloop-escalation-sweep": {
            "task": "closedloop.escalation_sweep_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Notification emails a missing broker left behind.
        "closedloop-notification-email-due": {
            "task": "closedloop.notification_email_due_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Case messages to customers: retries that are due, what a missing broker left
        # behind, and sends a stopped worker left unfinished (failed, never resent).
        "closedloop-case-message-due": {
            "task": "closedloop.case_message_due_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Slack/Teams alerts: retries that are due, what a missing broker left behind,
        # and sends stuck in "sending" (a worker stopped during the call).
        "integrations-alert-deliveries-due": {
            "task": "integrations.alert_deliveries_due_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Outbound webhooks: retries that are due, what a missing broker left behind,
        # and sends stuck in "sending" (a worker stopped during the call).
        "integrations-webhook-deliveries-due": {
            "task": "integrations.webhook_deliveries_due_task",
            "schedule": 60,
            "options": {"expires": 90},
        },
        # Dashboard exports: jobs a missing broker or a dead worker left behind, and
        # downloads past their 7 days.
        "metrics-export-jobs-requeue": {
            "task": "metrics.export_jobs_requeue_task",
            "schedule": 15 * 60,
            "options": {"expires": 22 * 60},
        },
        "metrics-export-files-expire": {
            "task": "metrics.export_files_expire_task",
            "schedule": 24 * 60 * 60,
            "options": {"expires": 36 * 60 * 60},
        },
        # Recurring relationship surveys: plan the next day's invitations.
        "surveys-recurring-dispatch": {
            "task": "surveys.recurring_dispatch_task",
            "schedule": 60 * 60,
            "options": {"expires": 90 * 60},
        },
        # The weekly dashboard digest: each organization from Monday 07:00 local time.
        "metrics-digest-send-due": {
            "task": "metrics.digest_send_due_task",
            "schedule": 60 * 60,
            "options": {"expires": 90 * 60},
        },
    },
)
if getattr(settings, "REDIS_URL", ""):
    # Web requests publish (a survey submit schedules its outbox event): kombu's Redis
    # transport waits forever by default on a broker that accepts connections but does
    # not answer. Bounded waits let the publish fail fast; the outbox sweep delivers the
    # event later. 2 s stays above the workers' 1 s BRPOP timeout. Settings may override.
    app.conf.broker_transport_options = {
        "socket_connect_timeout": 2,
        "socket_timeout": 2,
        **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    }
else:
    # A single embedded node needs no broadcast commands (inspect, ping); skip the pidbox.
    app.conf.worker_enable_remote_control = False
app.autodiscover_tasks()
