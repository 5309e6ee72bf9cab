# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Segment attributes of the dashboard, and the rollup rebuilds that follow them.

A segment attribute is a CRM attribute key (``tier``, ``region``) the dashboard breaks
scores down by. The daily rollup holds one row set per attribute, so adding or removing
one schedules a rebuild of the organization's rollup (a Celery task after commit); so
does a change of the organization's time zone, which moves every local day
(``metrics.signals_timezone``). Every change is written to the audit log.
"""

from __future__ import annotations

import logging
import re
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import JSONField, Max
from django.utils.translation import gettext as _

from metrics.models import SegmentAttribute
from tenants.context import require_organization_id
from tenants.services import Actor, audit_log_record

logger = logging.getLogger(__name__)

KEY_MAX = 100
LABEL_MAX = 100
# Letters, digits, "_", "-" and "."; starting with a letter. A segment key becomes part
# of a JSON lookup (``contact_attributes__<key>``): no "__", and no name of a lookup.
KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


def segment_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a segment attribute (None when it can)."""
    if not key:
        return _("Choose or enter a CRM attribute.")
    if len(key) > KEY_MAX:
        return _("Use at most %(max)s characters.") % {"max": KEY_MAX}
    if not KEY_PATTERN.fullmatch(key) or "__" in key:
        return _(
            "Use letters, digits, “_”, “-” and “.”, starting with a letter "
            "(and no double underscore)."
        )
    if key in JSONField().get_lookups():
        return _("“%(key)s” is a reserved word; use another attribute.") % {"key": key}
    return None


def rollups_rebuild_schedule(*, organization_id: int) -> None:
    """Rebuild the organization's rollup in a worker once the current transaction
    commits (immediately outside one)."""
    transaction.on_commit(partial(_enqueue_rebuild, organization_id))


def _enqueue_rebuild(organization_id: int) -> None:
    from metrics.tasks_digest import rollups_rebuild_task

    try:
        rollups_rebuild_task.apply_async(
            kwargs={"organization_id": organization_id}, retry_policy={"max_retries": 0}
        )
    except Exception:  # noqa: BLE001 - the page must not fail; the command repairs it
        logger.warning(
            "rollup rebuild of organization %s not queued: broker unavailable; run "
            "manage.py rollups_rebuild",
            organization_id,
        )


def segment_attribute_add(*, actor: Actor, key: str, label: str = "") -> SegmentAttribute:
    """Break the dashboard down by one more CRM attribute (last in the order)."""
    key, label = key.strip(), label.strip()
    problem = segment_key_problem(key)
    if problem:
        raise ValidationError({"key": problem})
    if len(label) > LABEL_MAX:
        raise ValidationError({"label": _("Use at most %(max)s characters.") % {"max": LABEL_MAX}})
    taken = _("The dashboard already breaks down by “%(key)s”.") % {"key": key}
    if SegmentAttribute.objects.filter(key=key).exists():
        raise ValidationError({"key": taken})
    with transaction.atomic():
        last = SegmentAttribute.objects.aggregate(last=Max("position"))["last"]
        try:
            with transaction.atomic():
                attribute = SegmentAttribute.objects.create(
                    key=key, label=label, position=0 if last is None else last + 1
                )
        except IntegrityError as exc:  # added by someone else meanwhile
            raise ValidationError({"key": taken}) from exc
        audit_log_record(
            actor=actor,
            action="segment_attribute.create",
            obj=attribute,
            changes={"key": [None, key], **({"label": [None, label]} if label else {})},
        )
        rollups_rebuild_schedule(organization_id=require_organization_id())
    return attribute


def segment_attribute_relabel(
    *, actor: Actor, attribute: SegmentAttribute, label: str
) -> SegmentAttribute:
    """Change the name the dashboard shows for an attribute (the rollup stays)."""
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise ValidationError({"label": _("Use at most %(max)s characters.") % {"max": LABEL_MAX}})
    if label == attribute.label:
        return attribute
    with transaction.atomic():
        before = attribute.label
        attribute.label = label
        attribute.save(update_fields=["label"])
        audit_log_record(
            actor=actor,
            action="segment_attribute.update",
            obj=attribute,
            changes={"label": [before, label]},
        )
    return attribute


def segment_attribute_move(
    *, actor: Actor, attribute: SegmentAttribute, direction: str
) -> SegmentAttribute:
    """Move an attribute one place ``up`` or ``down`` in the filter and breakdown lists."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move up or down.")})
    with transaction.atomic():
        ordered = list(SegmentAttribute.objects.select_for_update().order_by("position", "key"))
        index = next(i for i, a in enumerate(ordered) if a.pk == attribute.pk)
        target = index - 1 if direction == "up" else index + 1
        moved = ordered[index]
        if not 0 <= target < len(ordered):
            return moved  # already first or last
        before = moved.position
        ordered[index], ordered[target] = ordered[target], ordered[index]
        changed = []
        for position, item in enumerate(ordered):
            if item.position != position:
                item.position = position
                changed.append(item)
        SegmentAttribute.objects.bulk_update(changed, ["position"])
        audit_log_record(
            actor=actor,
            action="segment_attribute.move",
            obj=moved,
            changes={"position": [before, moved.position]},
        )
    return moved


def segment_attribute_remove(*, actor: Actor, attribute: SegmentAttribute) -> None:
    """Stop breaking down by an attribute; the rebuild drops its rollup rows."""
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action="segment_attribute.delete",
            obj=attribute,
            changes={"key": [attribute.key, None]},
        )
        attribute.delete()
        rollups_rebuild_schedule(organization_id=require_organization_id())
