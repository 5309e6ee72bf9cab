"""The demo organization's dashboard set-up (idempotent; called by ``manage.py seed_demo``
after the responses and cases).

Adds the segment attributes ``segment`` (customer segment) and ``region`` (through the
service, which also schedules a rebuild for the worker), makes sure the default themes
exist, and then rebuilds the daily rollup and re-tags every comment right away, so the
dashboard shows the whole year at once (the bulk-inserted history has no outbox events).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from metrics.defaults import theme_defaults_create
from metrics.models import SegmentAttribute
from metrics.services.rollups import rollups_rebuild
from metrics.services.segments import segment_attribute_add
from metrics.services.themes import themes_retag
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import Actor

# (CRM attribute, label) in the order the dashboard offers them.
DEMO_SEGMENTS = (("segment", "Customer segment"), ("region", "Region"))
DEMO_ACTOR = Actor(label="demo data")


@dataclass(frozen=True, slots=True)
class DemoMetrics:
    dashboard_url: str
    responses: int
    rollup_rows: int
    taggings: int


def seed_metrics(organization: Organization) -> DemoMetrics:
    """Segment attributes, default themes, a rebuilt rollup and fresh theme tags."""
    with tenant_context(organization):
        present = set(SegmentAttribute.objects.values_list("key", flat=True))
        for key, label in DEMO_SEGMENTS:
            if key not in present:
                segment_attribute_add(actor=DEMO_ACTOR, key=key, label=label)
        theme_defaults_create(language=organization.default_language)
        rebuilt = rollups_rebuild()
        taggings = themes_retag()
    return DemoMetrics(
        dashboard_url=_dashboard_url(organization),
        responses=rebuilt.responses,
        rollup_rows=rebuilt.rows,
        taggings=taggings,
    )


def _dashboard_url(organization: Organization) -> str:
    try:
        path = reverse("metrics:overview", kwargs={"org_slug": organization.slug})
    except NoReverseMatch:
        path = f"/o/{organization.slug}/dashboard/"
    return settings.SITE_URL.rstrip("/") + path
