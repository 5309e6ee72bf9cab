"""The theme editor's form: keywords are typed one per line or separated by commas.

The form only parses; the limits (number and length of keywords, a unique name) are
checked by ``metrics.services.theme_settings``, whose errors the view puts on the form.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from metrics.models import Theme
from metrics.services.theme_settings import DESCRIPTION_MAX, KEYWORD_MAX, KEYWORDS_MAX, NAME_MAX

_SEPARATORS = re.compile(r"[\n,;]")


def keywords_parse(text: str) -> list[str]:
    """The keywords of the text field: one per line or separated by commas (or
    semicolons); blanks dropped."""
    return [part.strip() for part in _SEPARATORS.split(text or "") if part.strip()]


class ThemeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX)
    keywords = forms.CharField(
        label=_("Keywords"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.TextInput(),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["keywords"].help_text = gettext(
            "One per line or separated by commas, up to %(count)s keywords of at most "
            "%(length)s characters each. A keyword finds the words that start with it, in "
            "any case: “liefer” finds “Lieferung”, “deliver” finds “Delivery” but not "
            "“undelivered”. Several words find the phrase. A keyword in double quotes "
            'finds the whole word only: "app" does not find “apply”. List the German and '
            "the English words."
        ) % {"count": KEYWORDS_MAX, "length": KEYWORD_MAX}

    @classmethod
    def initial_from(cls, theme: Theme) -> dict[str, Any]:
        return {
            "name": theme.name,
            "keywords": "\n".join(theme.keywords or []),
            "description": theme.description,
        }

    def clean_keywords(self) -> list[str]:
        return keywords_parse(self.cleaned_data.get("keywords") or "")

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "keywords": data["keywords"],
            "description": data.get("description") or "",
        }


class ArchiveForm(forms.Form):
    archived = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1"
    )
