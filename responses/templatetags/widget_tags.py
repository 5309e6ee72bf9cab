"""``{% widget_script_url %}``: the absolute address of the website widget's script, for
the embed code a shop copies (``SITE_URL``, not the address the page was opened on)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag
def widget_script_url() -> str:
    return settings.SITE_URL + reverse("responses:widget-script")
