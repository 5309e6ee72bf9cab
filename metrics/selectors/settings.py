# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Reads of the dashboard settings page: segment attributes and CRM attribute keys."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import QuerySet

from contacts.models import Contact
from metrics.models import DigestSubscription, SegmentAttribute

# The CRM keys offered are counted over a sample of contacts: CRM systems send the same
# keys for every contact, so a sample finds them without reading a million rows.
KEY_SAMPLE = 10_000
KEY_CHOICES = 50


@dataclass(frozen=True, slots=True)
class CrmKey:
    key: str
    contacts: int  # among the sampled contacts


def segment_attribute_list() -> QuerySet[SegmentAttribute]:
    return SegmentAttribute.objects.order_by("position", "key")


def crm_attribute_keys(*, limit: int = KEY_CHOICES, sample: int = KEY_SAMPLE) -> list[CrmKey]:
    """The most common keys of the contacts' CRM attributes (in a sample of up to
    ``sample`` contacts), most frequent first."""
    counts: Counter[str] = Counter()
    for attributes in (
        Contact.objects.order_by().values_list("attributes", flat=True)[:sample].iterator()
    ):
        if isinstance(attributes, dict):
            counts.update(str(key) for key in attributes)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [CrmKey(key=key, contacts=n) for key, n in ranked[:limit]]


def digest_subscribed(*, user_id: int) -> bool:
    """Whether the member gets the weekly digest (managers do unless they opted out)."""
    choice = (
        DigestSubscription.objects.filter(user_id=user_id)
        .values_list("subscribed", flat=True)
        .first()
    )
    return True if choice is None else bool(choice)
