"""Forms of the organization's response pages: the CSV import of historical responses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from responses.services.ingest import MAX_FILE_BYTES, WEB_MAX_ROWS


class ResponseImportForm(forms.Form):
    """A survey (an active one with a published version) and the CSV file."""

    survey = forms.TypedChoiceField(label=gettext_lazy("Survey"), coerce=int)
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, surveys: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["survey"]
        assert isinstance(field, forms.TypedChoiceField)  # noqa: S101 - declared above
        field.choices = [("", _("Choose a survey")), *surveys]
        self.fields["file"].help_text = _(
            "Comma or semicolon separated, with a header row; UTF-8 or Windows "
            "(Latin-1) encoded. At most %(rows)s rows and %(mb)s MB here; larger files "
            "with the command manage.py import_responses."
        ) % {"rows": WEB_MAX_ROWS, "mb": MAX_FILE_BYTES // 2**20}

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(
                _("The file is larger than %(mb)s MB. Split it into smaller files.")
                % {"mb": MAX_FILE_BYTES // 2**20}
            )
        return upload
