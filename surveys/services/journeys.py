# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Writes for journeys and their ordered touchpoints."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from surveys.models import Journey, Survey, Touchpoint, TouchpointProcess
from surveys.services._common import clean_text_field, raise_if
from tenants.models import Team
from tenants.services import Actor, audit_log_record

WEIGHT_MAX = Decimal("9999.99")
# Reordering moves every position out of the way first, so the unique constraint on
# (organization, journey, position) holds after every single row update.
_REORDER_OFFSET = 1_000_000


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def journey_create(*, actor: Actor, name: str, description: str = "") -> Journey:
    errors: dict[str, list[str]] = {}
    name = clean_text_field(errors, Journey, "name", name)
    description = clean_text_field(errors, Journey, "description", description, required=False)
    raise_if(errors)
    with transaction.atomic():
        _ensure_unique_name(name)
        journey = Journey.objects.create(name=name, description=description)
        audit_log_record(
            actor=actor, action="journey.create", obj=journey, changes={"name": [None, name]}
        )
    return journey


def journey_update(*, actor: Actor, journey: Journey, name: str, description: str) -> Journey:
    errors: dict[str, list[str]] = {}
    name = clean_text_field(errors, Journey, "name", name)
    description = clean_text_field(errors, Journey, "description", description, required=False)
    raise_if(errors)
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        _ensure_unique_name(name, exclude=journey.pk)
        changes = {
            field: [getattr(journey, field), value]
            for field, value in (("name", name), ("description", description))
            if getattr(journey, field) != value
        }
        if changes:
            journey.name, journey.description = name, description
            journey.save(update_fields=["name", "description", "updated_at"])
            audit_log_record(actor=actor, action="journey.update", obj=journey, changes=changes)
    return journey


def _ensure_unique_name(name: str, exclude: int | None = None) -> None:
    duplicate = Journey.objects.filter(name__iexact=name)
    if exclude is not None:
        duplicate = duplicate.exclude(pk=exclude)
    if duplicate.exists():
        raise ValidationError({"name": _("A journey with this name already exists.")})


def journey_delete(*, actor: Actor, journey: Journey) -> None:
    """Delete a journey and its touchpoints; refused while a touchpoint has surveys."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        if Survey.objects.filter(touchpoint__journey=journey).exists():
            raise ValidationError(
                _(
                    "This journey has touchpoints with surveys. Surveys keep their answers, "
                    "so the journey cannot be deleted."
                )
            )
        audit_log_record(actor=actor, action="journey.delete", obj=journey)
        journey.delete()


# --- Touchpoints ----------------------------------------------------------------------


def _touchpoint_fields(
    *,
    name: str,
    description: str,
    process: str,
    process_detail: str,
    team_id: int | None,
    weight: Decimal | str | int | float,
) -> dict[str, Any]:
    """Validate the editable fields of a touchpoint; raise with every field error."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {
        "name": clean_text_field(errors, Touchpoint, "name", name),
        "description": clean_text_field(
            errors, Touchpoint, "description", description, required=False
        ),
        "process_detail": clean_text_field(
            errors, Touchpoint, "process_detail", process_detail, required=False
        ),
    }
    if process not in TouchpointProcess.values:
        errors.setdefault("process", []).append(_("Choose one of the listed processes."))
    fields["process"] = process
    try:
        amount = Decimal(str(weight))
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite() or not Decimal("0") < amount <= WEIGHT_MAX:
        errors.setdefault("weight", []).append(
            _("The weight must be a number greater than 0 and at most %(max)s.")
            % {"max": WEIGHT_MAX}
        )
    elif amount != amount.quantize(Decimal("0.01")):
        errors.setdefault("weight", []).append(_("Use at most two decimal places."))
    else:
        amount = amount.quantize(Decimal("0.01"))
    fields["weight"] = amount
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        # The manager only sees this organization's teams: another's is "not found".
        errors.setdefault("team", []).append(_("Choose a team of this organization."))
    fields["team_id"] = team_id
    raise_if(errors)
    return fields


def touchpoint_add(
    *,
    actor: Actor,
    journey: Journey,
    name: str,
    description: str = "",
    process: str = TouchpointProcess.OTHER,
    process_detail: str = "",
    team_id: int | None = None,
    weight: Decimal | str | int | float = Decimal("1.00"),
) -> Touchpoint:
    """Append a touchpoint at the end of the journey."""
    fields = _touchpoint_fields(
        name=name,
        description=description,
        process=process,
        process_detail=process_detail,
        team_id=team_id,
        weight=weight,
    )
    with transaction.atomic():
        # Locking the journey serializes position allocation among concurrent adds.
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        last = Touchpoint.objects.filter(journey=journey).aggregate(last=Max("position"))["last"]
        touchpoint = Touchpoint.objects.create(journey=journey, position=(last or 0) + 1, **fields)
        audit_log_record(
            actor=actor,
            action="touchpoint.create",
            obj=touchpoint,
            changes={
                "journey": [None, journey.name],
                "position": [None, touchpoint.position],
                **{k: [None, _plain(v)] for k, v in fields.items() if v not in ("", None)},
            },
        )
    return touchpoint


def touchpoint_update(
    *,
    actor: Actor,
    touchpoint: Touchpoint,
    name: str,
    description: str,
    process: str,
    process_detail: str,
    team_id: int | None,
    weight: Decimal | str | int | float,
) -> Touchpoint:
    fields = _touchpoint_fields(
        name=name,
        description=description,
        process=process,
        process_detail=process_detail,
        team_id=team_id,
        weight=weight,
    )
    with transaction.atomic():
        touchpoint = Touchpoint.objects.select_for_update().get(pk=touchpoint.pk)
        changes = {
            field: [_plain(getattr(touchpoint, field)), _plain(value)]
            for field, value in fields.items()
            if getattr(touchpoint, field) != value
        }
        if changes:
            for field, value in fields.items():
                setattr(touchpoint, field, value)
            touchpoint.save()
            audit_log_record(
                actor=actor, action="touchpoint.update", obj=touchpoint, changes=changes
            )
    return touchpoint


def touchpoint_reorder(
    *, actor: Actor, journey: Journey, touchpoint_ids: Sequence[int]
) -> list[Touchpoint]:
    """Put the journey's touchpoints in the given order (all of them, each once)."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        current = list(Touchpoint.objects.filter(journey=journey).order_by("position"))
        if sorted(touchpoint_ids) != sorted(t.pk for t in current):
            raise ValidationError(_("The new order must list every touchpoint once."))
        by_id = {t.pk: t for t in current}
        ordered = [by_id[pk] for pk in touchpoint_ids]
        before = [t.name for t in current]
        _renumber(journey, ordered)
        after = [t.name for t in ordered]
        if before != after:
            audit_log_record(
                actor=actor,
                action="journey.reorder",
                obj=journey,
                changes={"touchpoints": [before, after]},
            )
    return ordered


def touchpoint_move(*, actor: Actor, touchpoint: Touchpoint, direction: str) -> Touchpoint:
    """Move a touchpoint one step ``up`` (earlier) or ``down`` (later) in its journey."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move up or down.")})
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=touchpoint.journey_id)
        ordered = list(Touchpoint.objects.filter(journey=journey).order_by("position"))
        index = next(i for i, t in enumerate(ordered) if t.pk == touchpoint.pk)
        target = index - 1 if direction == "up" else index + 1
        if not 0 <= target < len(ordered):
            return ordered[index]  # already first or last: nothing to do
        ordered[index], ordered[target] = ordered[target], ordered[index]
        old_position = ordered[target].position
        _renumber(journey, ordered)
        moved = ordered[target]
        audit_log_record(
            actor=actor,
            action="touchpoint.move",
            obj=moved,
            changes={"position": [old_position, moved.position]},
        )
    return moved


def touchpoint_delete(*, actor: Actor, touchpoint: Touchpoint) -> None:
    """Delete a touchpoint without surveys and close the gap in the journey's order."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=touchpoint.journey_id)
        touchpoint = Touchpoint.objects.get(pk=touchpoint.pk)
        if Survey.objects.filter(touchpoint=touchpoint).exists():
            raise ValidationError(
                _(
                    "This touchpoint has surveys. Surveys keep their answers, so the "
                    "touchpoint cannot be deleted; archive its surveys instead."
                )
            )
        audit_log_record(actor=actor, action="touchpoint.delete", obj=touchpoint)
        touchpoint.delete()
        _renumber(journey, list(Touchpoint.objects.filter(journey=journey).order_by("position")))


def _renumber(journey: Journey, ordered: list[Touchpoint]) -> None:
    """Give ``ordered`` the positions 1..n in two steps that never collide."""
    if [t.position for t in ordered] == list(range(1, len(ordered) + 1)):
        return
    Touchpoint.objects.filter(journey=journey).update(position=F("position") + _REORDER_OFFSET)
    for number, touchpoint in enumerate(ordered, start=1):
        touchpoint.position = number
    Touchpoint.objects.bulk_update(ordered, ["position"])
