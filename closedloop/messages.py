"""Reply templates: placeholders and rendering.

A template's ``subject`` and ``body`` map a language code to its text. Placeholders in
braces are filled from the case: {first_name}, {last_name}, {owner_name},
{organization}, {touchpoint}, {case_number}. ``template_errors`` reports unknown
placeholders and unbalanced braces when a template is saved; rendering leaves an
unknown placeholder as written rather than failing a message to a customer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

PLACEHOLDERS = (
    "first_name",
    "last_name",
    "owner_name",
    "organization",
    "touchpoint",
    "case_number",
)

_FIELD = re.compile(r"\{([^{}]*)\}")


def template_errors(text: str) -> list[str]:
    """Problems of one template text (empty when it renders)."""
    try:
        fields = [
            name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None
        ]
    except ValueError:
        return [_("Braces must come in pairs, like {first_name}.")]
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        return [
            _("Unknown placeholder %(names)s; use %(known)s.")
            % {
                "names": ", ".join("{" + name + "}" for name in unknown),
                "known": ", ".join("{" + name + "}" for name in PLACEHOLDERS),
            }
        ]
    return []


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill the placeholders; unknown ones stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PLACEHOLDERS:
            return str(values.get(name, "") or "")
        return match.group(0)

    return _FIELD.sub(replace, text)


def pick_language(texts: Mapping[str, str], language: str, fallback: str) -> tuple[str, str]:
    """(language, text): the wanted language, else the fallback, else any."""
    for code in (language, fallback, "en"):
        if texts.get(code):
            return code, texts[code]
    for code, text in texts.items():
        if text:
            return code, text
    return language, ""
