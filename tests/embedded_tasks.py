"""A task used only by tests/test_embedded.py to prove the worker path end to end."""

from __future__ import annotations

from celery import shared_task

from tenants.models import Team
from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="tests.team_rename_task")
def team_rename_task(*, organization_id: int, old: str, new: str) -> int:
    # Runs inside tenant_context(organization_id): the manager is scoped already.
    return Team.objects.filter(name=old).update(name=new)
