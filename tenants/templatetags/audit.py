"""Presentation of audit log changes: ``[old, new]`` pairs."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def audit_value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


@register.filter
def audit_pair(change: Any) -> tuple[Any, Any]:
    """Old and new value of one change; older entries may hold a bare value."""
    if isinstance(change, list) and len(change) == 2:
        return change[0], change[1]
    return None, change
