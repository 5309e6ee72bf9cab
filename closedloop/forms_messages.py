"""Forms of the customer messages: the reply composer on the case page and the
customer's follow-up survey."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from closedloop.models import MessageChannel, MessageTemplate
from closedloop.services.follow_ups import COMMENT_MAX

LANGUAGE_CHOICES = list(settings.LANGUAGES)


class CaseMessageForm(forms.Form):
    """Compose a message; ``channels`` are the ones the customer can be reached on."""

    channel = forms.ChoiceField(label=_("Send by"), widget=forms.RadioSelect)
    template = forms.TypedChoiceField(
        label=_("Template"), required=False, coerce=int, empty_value=None
    )
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    subject = forms.CharField(
        label=_("Subject"),
        required=False,
        max_length=300,
        help_text=_("Email only."),
    )
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": _("Write a message.")},
    )

    def __init__(
        self,
        *args: Any,
        channels: list[str],
        templates: list[MessageTemplate],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(MessageChannel.choices)
        self.fields["channel"].choices = [(c, labels[c]) for c in channels]  # type: ignore[attr-defined]
        self.fields["template"].choices = template_choices(templates)  # type: ignore[attr-defined]
        self.templates = {t.pk: t for t in templates}

    def chosen_template(self) -> MessageTemplate | None:
        template_id = self.cleaned_data.get("template")
        return self.templates.get(template_id) if template_id else None


def template_choices(templates: list[MessageTemplate]) -> list[Any]:
    """A "none" entry, then the templates grouped by channel."""
    groups: dict[str, list[tuple[int, str]]] = {}
    labels = dict(MessageChannel.choices)
    for template in templates:
        groups.setdefault(str(labels[template.channel]), []).append((template.pk, template.name))
    return [("", _("No template")), *groups.items()]


class TemplatePickForm(forms.Form):
    """The GET form that fills the composer with a template."""

    template = forms.TypedChoiceField(label=_("Template"), coerce=int, empty_value=None)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)

    def __init__(self, *args: Any, templates: list[MessageTemplate], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "pick-%s")  # beside the composer's own fields
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = template_choices(templates)  # type: ignore[attr-defined]
        self.templates = {t.pk: t for t in templates}

    def chosen_template(self) -> MessageTemplate | None:
        template_id = self.cleaned_data.get("template")
        return self.templates.get(template_id) if template_id else None


class FollowUpForm(forms.Form):
    """The customer's follow-up answers (labels are shown by the page's template)."""

    resolved = forms.ChoiceField(
        choices=[("yes", _("Yes")), ("no", _("No"))],
        required=False,
        widget=forms.RadioSelect,
    )
    nps = forms.TypedChoiceField(
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        error_messages={
            "required": _("Please choose a number from 0 to 10."),
            "invalid_choice": _("Please choose a number from 0 to 10."),
        },
    )
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea,
        strip=True,
    )

    def concern_resolved(self) -> bool | None:
        value = self.cleaned_data.get("resolved")
        return {"yes": True, "no": False}.get(value or "")
