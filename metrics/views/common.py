"""What every dashboard page shares: the filters from the URL and the filter bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from metrics.forms import GRAIN_LABELS, PERIOD_LABELS, DashboardFilterForm
from metrics.models import Theme
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.labels import FilterChoices, filter_choices


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The parsed request of a dashboard page."""

    filters: DashboardFilters
    form: DashboardFilterForm
    choices: FilterChoices
    timezone_name: str

    def context(self, **extra: Any) -> dict[str, Any]:
        """Template context of the filter bar (``metrics/_filters.html``) plus ``extra``."""
        filters = self.filters
        return {
            "filters": filters,
            "filter_form": self.form,
            "filter_choices": self.choices,
            "filter_query": filters.querystring(),
            "filters_ignored": self.form.ignored,
            "period_labels": PERIOD_LABELS,
            "grain_labels": GRAIN_LABELS,
            "period_links": [
                {
                    "key": key,
                    "label": label,
                    "query": filters.querystring(period=key),
                    "current": key == filters.period,
                }
                for key, label in PERIOD_LABELS.items()
                if key != "custom"
            ],
            **extra,
        }


def dashboard_request(request: HttpRequest, *, with_themes: bool = False) -> Dashboard:
    """Parse the dashboard filters of a request (inside the organization's context)."""
    organization = request.organization  # type: ignore[attr-defined]
    choices = filter_choices()
    themes = (
        list(Theme.objects.filter(archived=False).values_list("pk", "name")) if with_themes else []
    )
    form = DashboardFilterForm(
        request.GET, choices=choices, timezone_name=organization.timezone, themes=themes
    )
    filters = form.filters()
    # The bar shows the dates a preset period stands for.
    shown = request.GET.copy()
    shown["start"], shown["end"] = filters.start.isoformat(), filters.end.isoformat()
    display = DashboardFilterForm(
        shown, choices=choices, timezone_name=organization.timezone, themes=themes
    )
    display.ignored = form.ignored
    return Dashboard(
        filters=filters, form=display, choices=choices, timezone_name=organization.timezone
    )
