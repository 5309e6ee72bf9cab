"""An organization's time zone decides its rollup's local days: when it changes, every
day boundary moves, so the rollup is rebuilt (after the change commits)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from metrics.services.segments import rollups_rebuild_schedule
from tenants.models import Organization

_BEFORE = "_metrics_timezone_before"


@receiver(pre_save, sender=Organization, dispatch_uid="metrics_timezone_before")
def remember_timezone(
    sender: Any, instance: Organization, raw: bool = False, **kwargs: Any
) -> None:
    update_fields = kwargs.get("update_fields")
    if (
        raw
        or instance.pk is None
        or (update_fields is not None and "timezone" not in update_fields)
    ):
        return
    stored = Organization.objects.filter(pk=instance.pk).values_list("timezone", flat=True).first()
    setattr(instance, _BEFORE, stored)


@receiver(post_save, sender=Organization, dispatch_uid="metrics_timezone_changed")
def rebuild_on_timezone_change(
    sender: Any, instance: Organization, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    before = instance.__dict__.pop(_BEFORE, None)
    if raw or created or before is None or before == instance.timezone:
        return
    rollups_rebuild_schedule(organization_id=instance.pk)
