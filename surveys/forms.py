"""Forms for journeys, touchpoints, surveys and the question builder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from surveys.models import Journey, Survey, Touchpoint, TouchpointProcess
from surveys.schema import (
    ANSWER_MAX_LENGTH_LIMIT,
    CHOICE_TYPES,
    NPS,
    NPS_GROUP_LABELS,
    NPS_GROUPS,
    OPTION_LABEL_MAX,
    QUESTION_TEXT_MAX,
    QUESTION_TYPES,
    SCALE_LABEL_MAX,
    SCALE_TYPES,
    TEXT,
    SchemaError,
    has_text,
    language_name,
    ordered_languages,
)
from surveys.templates_library import SURVEY_TEMPLATES

NEW_OPTION_ROWS = 2


def _language_choices() -> list[tuple[str, Any]]:
    return list(settings.LANGUAGES)


class JourneyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=Journey._meta.get_field("name").max_length)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class TouchpointForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=Touchpoint._meta.get_field("name").max_length
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    process = forms.ChoiceField(
        label=_("Owning process"),
        choices=TouchpointProcess.choices,
        initial=TouchpointProcess.OTHER,
        help_text=_("The process (and usually the system) the touchpoint belongs to."),
    )
    process_detail = forms.CharField(
        label=_("Process detail"),
        required=False,
        max_length=200,
        help_text=_("E.g. the shop system or partner's name."),
    )
    team = forms.TypedChoiceField(
        label=_("Responsible team"), required=False, coerce=int, empty_value=None
    )
    weight = forms.DecimalField(
        label=_("Weight"),
        min_value=Decimal("0.01"),
        max_value=Decimal("9999.99"),
        max_digits=6,
        decimal_places=2,
        initial=Decimal("1.00"),
        help_text=_("How much feedback here counts when cases are prioritized (default 1)."),
    )

    def __init__(self, *args: Any, team_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("— none —")), *team_choices]  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "process": data["process"],
            "process_detail": data["process_detail"],
            "team_id": data["team"],
            "weight": data["weight"],
        }


class LanguagesMixin(forms.Form):
    languages = forms.MultipleChoiceField(
        label=_("Languages offered"),
        choices=_language_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    default_language = forms.ChoiceField(
        label=_("Default language"),
        choices=_language_choices,
        help_text=_("Every text must exist in it; other languages fall back to it."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        languages, default = data.get("languages"), data.get("default_language")
        if languages and default and default not in languages:
            self.add_error(
                "default_language", _("The default language must be one of the languages offered.")
            )
        return data


class SurveyCreateForm(LanguagesMixin):
    touchpoint = forms.TypedChoiceField(label=_("Touchpoint"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=Survey._meta.get_field("name").max_length)
    template = forms.ChoiceField(
        label=_("Start from"), required=False, widget=forms.RadioSelect, initial=""
    )
    field_order = ["touchpoint", "name", "template", "languages", "default_language"]

    def __init__(
        self,
        *args: Any,
        touchpoint_choices: list[tuple[str, list[tuple[int, str]]]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["touchpoint"].choices = [("", _("— choose —")), *touchpoint_choices]  # type: ignore[attr-defined]
        self.fields["template"].choices = [  # type: ignore[attr-defined]
            ("", _("An empty survey")),
            *((t.key, f"{t.name} — {t.description}") for t in SURVEY_TEMPLATES.values()),
        ]


class SurveySettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=Survey._meta.get_field("name").max_length)
    review_url = forms.URLField(
        label=_("Review link"),
        required=False,
        assume_scheme="https",
        help_text=_("Where promoters are invited to leave a public review (optional)."),
    )


class DraftLanguagesForm(LanguagesMixin):
    pass


class QuestionAddForm(forms.Form):
    type = forms.ChoiceField(
        label=_("Question type"),
        choices=[(key, qt.label) for key, qt in QUESTION_TYPES.items()],
    )


@dataclass
class TextRow:
    """One customer-facing text with a field per language (shown side by side)."""

    label: Any
    fields: list[forms.BoundField]
    remove: forms.BoundField | None = None


class QuestionForm(forms.Form):
    """Edit one question of the draft: every text in every language of the survey."""

    required = forms.BooleanField(label=_("An answer is required"), required=False)

    def __init__(
        self,
        data: Any = None,
        *,
        question: dict[str, Any],
        questions: list[dict[str, Any]],
        languages: list[str],
        default_language: str,
    ) -> None:
        self.question = question
        self.qtype: str = question["type"]
        self.languages = ordered_languages(languages, default_language)
        self.default_language = default_language
        self.option_ids = [
            str(o.get("id")) for o in question.get("options") or [] if isinstance(o, dict)
        ]
        super().__init__(data, auto_id=f"q-{question['id']}-%s", initial=self._initial())
        languages = self.languages
        for lang in languages:
            self._text_field(f"text_{lang}", lang, QUESTION_TEXT_MAX, question.get("text"))
        if self.qtype in SCALE_TYPES:
            labels = question.get("scale_labels") or {}
            for end in ("low", "high"):
                for lang in languages:
                    self._text_field(f"{end}_{lang}", lang, SCALE_LABEL_MAX, labels.get(end), 1)
        if self.qtype == TEXT:
            self.fields["max_length"] = forms.IntegerField(
                label=_("Maximum length of the answer"),
                required=False,
                min_value=1,
                max_value=ANSWER_MAX_LENGTH_LIMIT,
                help_text=_("Characters; leave empty for the standard limit."),
            )
            index = next(i for i, q in enumerate(questions) if q.get("id") == question["id"])
            earlier = [
                (q["id"], _short(q, n, default_language))
                for n, q in enumerate(questions[:index], start=1)
                if q.get("type") == NPS
            ]
            self.fields["follow_up_for"] = forms.ChoiceField(
                label=_("Follow-up to the NPS question"),
                required=False,
                choices=[("", _("— not a follow-up —")), *earlier],
                help_text=_("A follow-up can ask detractors, passives and promoters differently."),
            )
            groups = question.get("texts_by_group") or {}
            for group in NPS_GROUPS:
                for lang in languages:
                    self._text_field(
                        f"group_{group}_{lang}", lang, QUESTION_TEXT_MAX, groups.get(group), 2
                    )
        if self.qtype in CHOICE_TYPES:
            for option in question.get("options") or []:
                for lang in languages:
                    self._text_field(
                        f"option_{option['id']}_{lang}",
                        lang,
                        OPTION_LABEL_MAX,
                        option.get("label"),
                        1,
                    )
                self.fields[f"option_{option['id']}_remove"] = forms.BooleanField(
                    label=_("Remove this option"), required=False
                )
            for row in range(NEW_OPTION_ROWS):
                for lang in languages:
                    self._text_field(f"new_{row}_{lang}", lang, OPTION_LABEL_MAX, None, 1)

    def _initial(self) -> dict[str, Any]:
        question = self.question
        initial: dict[str, Any] = {
            "required": question.get("required", False),
            "max_length": question.get("max_length"),
            "follow_up_for": question.get("follow_up_for", ""),
        }
        for lang in self.languages:
            initial[f"text_{lang}"] = (question.get("text") or {}).get(lang, "")
            for end, texts in (question.get("scale_labels") or {}).items():
                initial[f"{end}_{lang}"] = texts.get(lang, "")
            for group, texts in (question.get("texts_by_group") or {}).items():
                initial[f"group_{group}_{lang}"] = texts.get(lang, "")
            for option in question.get("options") or []:
                initial[f"option_{option['id']}_{lang}"] = (option.get("label") or {}).get(lang, "")
        return initial

    def _text_field(
        self, name: str, lang: str, max_length: int, stored: Any, rows: int = 2
    ) -> None:
        widget: forms.Widget = (
            forms.TextInput() if rows == 1 else forms.Textarea(attrs={"rows": rows})
        )
        widget.attrs["lang"] = lang
        help_text = ""
        if (
            lang != self.default_language
            and has_text(stored, self.default_language)
            and not has_text(stored, lang)
        ):
            help_text = _("Missing: customers see the %(language)s text.") % {
                "language": language_name(self.default_language)
            }
        label = language_name(lang)
        if lang == self.default_language:
            label = _("%(language)s (default)") % {"language": label}
        self.fields[name] = forms.CharField(
            label=label,
            required=False,
            max_length=max_length,
            widget=widget,
            help_text=help_text,
        )

    @property
    def type_label(self) -> Any:
        return QUESTION_TYPES[self.qtype].label

    # --- Structure for the template --------------------------------------------------

    def _row(self, label: Any, prefix: str) -> TextRow:
        return TextRow(label, [self[f"{prefix}{lang}"] for lang in self.languages])

    def text_row(self) -> TextRow:
        return self._row(_("Question text"), "text_")

    def scale_rows(self) -> list[TextRow]:
        if self.qtype not in SCALE_TYPES:
            return []
        scale = QUESTION_TYPES[self.qtype].scale or range(0)
        return [
            self._row(_("Label of the low end (%(value)s)") % {"value": scale[0]}, "low_"),
            self._row(_("Label of the high end (%(value)s)") % {"value": scale[-1]}, "high_"),
        ]

    def group_rows(self) -> list[TextRow]:
        if self.qtype != TEXT:
            return []
        return [
            self._row(
                _("Text for %(group)s") % {"group": NPS_GROUP_LABELS[group]}, f"group_{group}_"
            )
            for group in NPS_GROUPS
        ]

    def option_rows(self) -> list[TextRow]:
        rows = []
        for number, option_id in enumerate(self.option_ids, start=1):
            row = self._row(_("Option %(number)s") % {"number": number}, f"option_{option_id}_")
            row.remove = self[f"option_{option_id}_remove"]
            rows.append(row)
        return rows

    def new_option_rows(self) -> list[TextRow]:
        if self.qtype not in CHOICE_TYPES:
            return []
        return [self._row(_("New option"), f"new_{row}_") for row in range(NEW_OPTION_ROWS)]

    # --- Validation and the service's input ---------------------------------------------

    def _texts(self, prefix: str, stored: Any) -> dict[str, str]:
        """Posted texts, keeping stored texts of languages the survey no longer offers."""
        texts = {
            lang: value
            for lang, value in (stored or {}).items()
            if lang not in self.languages and isinstance(value, str)
        }
        texts.update(
            {lang: self.cleaned_data.get(f"{prefix}{lang}", "") for lang in self.languages}
        )
        return texts

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for option_id in self.option_ids:
            names = [f"option_{option_id}_{lang}" for lang in self.languages]
            if not data.get(f"option_{option_id}_remove") and not any(
                (data.get(name) or "").strip() for name in names
            ):
                self.add_error(names[0], _("Give the option a label or remove it."))
        if self.qtype == TEXT and not data.get("follow_up_for"):
            names = [f"group_{g}_{lang}" for g in NPS_GROUPS for lang in self.languages]
            if any((data.get(name) or "").strip() for name in names):
                self.add_error(
                    "follow_up_for",
                    _("Choose the NPS question this follows up, or clear the texts by group."),
                )
        return data

    def content(self) -> dict[str, Any]:
        """The question's editable fields for ``survey_question_update``."""
        question = self.question
        content: dict[str, Any] = {
            "required": self.cleaned_data["required"],
            "text": self._texts("text_", question.get("text")),
        }
        if self.qtype in SCALE_TYPES:
            stored = question.get("scale_labels") or {}
            content["scale_labels"] = {
                end: self._texts(f"{end}_", stored.get(end)) for end in ("low", "high")
            }
        if self.qtype == TEXT:
            content["max_length"] = self.cleaned_data.get("max_length")
            content["follow_up_for"] = self.cleaned_data.get("follow_up_for") or None
            stored = question.get("texts_by_group") or {}
            content["texts_by_group"] = {
                group: self._texts(f"group_{group}_", stored.get(group)) for group in NPS_GROUPS
            }
        if self.qtype in CHOICE_TYPES:
            options: list[dict[str, Any]] = []
            for option in question.get("options") or []:
                if not self.cleaned_data.get(f"option_{option['id']}_remove"):
                    label = self._texts(f"option_{option['id']}_", option.get("label"))
                    options.append({"id": option["id"], "label": label})
            for row in range(NEW_OPTION_ROWS):
                label = self._texts(f"new_{row}_", None)
                if any(value.strip() for value in label.values()):
                    options.append({"id": None, "label": label})
            content["options"] = options
        return content

    _PATH = re.compile(
        r"^questions\[\d+\]\.(?:(?P<text>text)|scale_labels\.(?P<end>low|high)"
        r"|texts_by_group\.(?P<group>\w+))\.(?P<lang>[\w-]+)$"
    )

    def add_schema_errors(self, errors: list[SchemaError]) -> None:
        """Show the service's schema problems beside the fields they concern."""
        for error in errors:
            name = None
            match = self._PATH.match(error.path)
            if match:
                lang = match["lang"]
                if match["text"]:
                    name = f"text_{lang}"
                elif match["end"]:
                    name = f"{match['end']}_{lang}"
                else:
                    name = f"group_{match['group']}_{lang}"
            else:
                tail = error.path.rsplit(".", 1)[-1]
                if tail in ("max_length", "follow_up_for"):
                    name = tail
                elif tail == "texts_by_group":
                    name = "follow_up_for"
            self.add_error(name if name in self.fields else None, error.message)


def _short(question: dict[str, Any], number: int, language: str) -> str:
    text = (question.get("text") or {}).get(language) or ""
    text = text if len(text) <= 60 else text[:59] + "…"
    return f"{number}. {text}" if text else str(_("Question %(number)s") % {"number": number})
