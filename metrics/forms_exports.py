"""The export form: which data, which file format, which language (the filters come
from the dashboard's filter bar, in the URL)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from metrics.models import ExportFormat, ExportKind


def export_language(code: str | None) -> str:
    """``code`` when it is an offered language, else the project's default language."""
    languages = [language for language, _name in settings.LANGUAGES]
    if code in languages:
        return str(code)
    base = (code or "").split("-")[0]
    return base if base in languages else settings.LANGUAGE_CODE


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Data"), choices=ExportKind.choices)
    format = forms.ChoiceField(label=_("File format"), choices=ExportFormat.choices)
    language = forms.ChoiceField(
        label=_("Language of headers and labels"),
        choices=settings.LANGUAGES,
        help_text=_(
            "Questions and options without a text in this language use the survey's "
            "default language."
        ),
    )

    def __init__(self, *args: Any, language: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "kind": ExportKind.RESPONSES,
                "format": ExportFormat.XLSX,
                "language": export_language(language),
            },
        )
        # The filter bar on the same page has a "language" field of its own.
        kwargs.setdefault("auto_id", "id_export_%s")
        super().__init__(*args, **kwargs)
