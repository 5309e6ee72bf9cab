# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Helpers shared by the survey services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _


def clean_text_field(
    errors: dict[str, list[str]],
    model: type[models.Model],
    field: str,
    value: Any,
    *,
    required: bool = True,
) -> str:
    """Strip ``value``; record an error when it is required and empty, or too long."""
    text = value.strip() if isinstance(value, str) else ""
    max_length = getattr(model._meta.get_field(field), "max_length", None)
    if required and not text:
        errors.setdefault(field, []).append(_("This field is required."))
    elif max_length and len(text) > max_length:
        errors.setdefault(field, []).append(
            _("Use at most %(max)s characters.") % {"max": max_length}
        )
    return text


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)
