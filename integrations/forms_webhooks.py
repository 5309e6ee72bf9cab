"""The form of an outbound webhook endpoint."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.models import WebhookTopic


class WebhookEndpointForm(forms.Form):
    # A CharField: the service checks the URL (scheme, private networks) and says why.
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Your receiver, e.g. https://crm.example.com/hooks/feedback."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookTopic.choices,
        widget=forms.CheckboxSelectMultiple,
    )
