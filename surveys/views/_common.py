"""Helpers shared by the survey pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.permissions import Capability, membership_has


def can(request: HttpRequest, capability: Capability) -> bool:
    return membership_has(getattr(request, "membership", None), capability)


def form_errors_to(form: Any, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the field exists."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)
