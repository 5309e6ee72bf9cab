"""``{% brand_style organization %}``: the brand colour CSS variables of a customer page
(``--brand``, ``--brand-text`` for text on it, ``--brand-ink`` for text on white)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from responses.branding import brand_palette

register = template.Library()


@register.simple_tag
def brand_style(organization: Any = None) -> SafeString:
    colour = getattr(organization, "brand_colour", None)
    # Safe: brand_palette only ever returns validated #rrggbb values.
    return mark_safe(brand_palette(colour).css())  # noqa: S308
