"""Presentation helpers for contact pages."""

from __future__ import annotations

from typing import Any

from django import template

from contacts.models import ConsentAction, ConsentSource, ConsentState

register = template.Library()


@register.filter
def consent_label(state: str) -> str:
    """The translated name of a derived consent state (``granted``, ...)."""
    return str(ConsentState(state).label) if state in ConsentState.values else state


@register.filter
def consent_action_label(action: str) -> str:
    return str(ConsentAction(action).label) if action in ConsentAction.values else action


@register.filter
def consent_source_label(source: str) -> str:
    return str(ConsentSource(source).label) if source in ConsentSource.values else source


@register.filter
def attribute(attributes: Any, key: str) -> Any:
    """``contact.attributes|attribute:"segment"``; empty when the key is not set."""
    if isinstance(attributes, dict):
        value = attributes.get(key)
        return "" if value is None else value
    return ""
