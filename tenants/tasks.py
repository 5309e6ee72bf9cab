"""Celery plumbing for tenant work, and the tenants app's own periodic tasks.

``TenantTask`` is the base of every task that touches one organization's data: the
task receives ``organization_id`` as a keyword argument and runs inside that
organization's context (and transaction).
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.core.management import call_command

from tenants.context import tenant_context


class TenantTask(Task):
    """Runs the task body inside ``tenant_context(organization_id)``.

    Usage: ``@shared_task(base=TenantTask, name="app.thing_do_task")`` and call it with
    ``thing_do_task.delay(organization_id=org.id, thing_id=thing.id)``.
    """

    abstract = True
    acks_late = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        organization_id = kwargs.get("organization_id")
        if not isinstance(organization_id, int):
            raise TypeError(f"{self.name} needs an integer organization_id keyword argument")
        with tenant_context(organization_id):
            return super().__call__(*args, **kwargs)


@shared_task(name="tenants.session_clear_expired_task", ignore_result=True)
def session_clear_expired_task() -> None:
    """Delete expired sign-in sessions (Django keeps them until told)."""
    call_command("clearsessions")


@shared_task(name="tenants.idempotency_keys_expire_task", ignore_result=True)
def idempotency_keys_expire_task() -> None:
    """Forget stored API answers after 24 hours."""
    from tenants.api import idempotency_keys_expire

    idempotency_keys_expire()
