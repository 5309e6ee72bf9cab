"""A new organization gets the default theme taxonomy (``metrics.defaults``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from tenants.context import tenant_context
from tenants.models import Organization


def _organization_created(
    sender: Any, instance: Organization, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not created or raw:
        return
    from metrics.defaults import theme_defaults_create

    with tenant_context(instance):
        theme_defaults_create(language=instance.default_language)


def connect() -> None:
    post_save.connect(
        _organization_created, sender=Organization, dispatch_uid="metrics_organization_themes"
    )
