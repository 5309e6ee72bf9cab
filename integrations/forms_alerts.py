"""The form of a Slack / Microsoft Teams alert channel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.models import AlertKind, AlertTrigger


class AlertChannelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(
        label=_("Service"), choices=AlertKind.choices, widget=forms.RadioSelect
    )
    # A CharField: the service checks the URL and says what the service's URLs look like.
    url = forms.CharField(
        label=_("Incoming webhook URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Slack: https://hooks.slack.com/services/…; Microsoft Teams: the URL of the "
            "channel's Workflows webhook (or of an incoming webhook connector)."
        ),
    )
    team = forms.TypedChoiceField(
        label=_("Team"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Alerts about this team's cases only. Empty: about every case."),
    )
    triggers = forms.MultipleChoiceField(
        label=_("Alert on"),
        choices=AlertTrigger.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        team_choices: list[tuple[str, str]],
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        team: Any = self.fields["team"]
        team.choices = [("", _("Every team (all cases)")), *team_choices]
        if editing:
            url = self.fields["url"]
            url.required = False
            url.help_text = _("Leave empty to keep the saved URL. %(help)s") % {
                "help": url.help_text
            }
