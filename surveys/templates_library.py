"""Survey templates to start from, with complete English and German texts.

Each template is data: a name, a description and a question schema in the format of
docs/surveys.md. ``survey_create_from_template`` copies the schema into a new draft.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


@dataclass(frozen=True, slots=True)
class SurveyTemplate:
    key: str
    name: StrOrPromise
    description: StrOrPromise
    languages: tuple[str, ...]
    schema: dict[str, Any]

    def copy_schema(self) -> dict[str, Any]:
        return copy.deepcopy(self.schema)


RELATIONSHIP_NPS = SurveyTemplate(
    key="relationship-nps",
    name=_("Relationship NPS"),
    description=_(
        "How likely customers are to recommend you, a follow-up that asks detractors, "
        "passives and promoters different things, and an optional value-for-money rating."
    ),
    languages=("en", "de"),
    schema={
        "questions": [
            {
                "id": "recommend",
                "type": "nps",
                "required": True,
                "text": {
                    "en": "How likely are you to recommend us to a friend or colleague?",
                    "de": "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder "
                    "Kollegen weiterempfehlen?",
                },
                "scale_labels": {
                    "low": {"en": "Not at all likely", "de": "Überhaupt nicht wahrscheinlich"},
                    "high": {"en": "Extremely likely", "de": "Äußerst wahrscheinlich"},
                },
            },
            {
                "id": "recommend-reason",
                "type": "text",
                "required": False,
                "max_length": 2000,
                "follow_up_for": "recommend",
                "text": {
                    "en": "What is the main reason for your score?",
                    "de": "Was ist der wichtigste Grund für Ihre Bewertung?",
                },
                "texts_by_group": {
                    "detractor": {
                        "en": "What should we improve?",
                        "de": "Was sollten wir verbessern?",
                    },
                    "passive": {
                        "en": "What would it take for you to rate us higher?",
                        "de": "Was müssten wir tun, damit Sie uns besser bewerten?",
                    },
                    "promoter": {
                        "en": "What did you like most?",
                        "de": "Was hat Ihnen am besten gefallen?",
                    },
                },
            },
            {
                "id": "value-for-money",
                "type": "csat",
                "required": False,
                "text": {
                    "en": "How satisfied are you with the value for money?",
                    "de": "Wie zufrieden sind Sie mit dem Preis-Leistungs-Verhältnis?",
                },
                "scale_labels": {
                    "low": {"en": "Very dissatisfied", "de": "Sehr unzufrieden"},
                    "high": {"en": "Very satisfied", "de": "Sehr zufrieden"},
                },
            },
        ]
    },
)

PURCHASE_CSAT = SurveyTemplate(
    key="purchase-csat",
    name=_("Satisfaction after a purchase (CSAT)"),
    description=_(
        "A satisfaction rating right after an order, what the rating was mainly about, "
        "and room for comments."
    ),
    languages=("en", "de"),
    schema={
        "questions": [
            {
                "id": "purchase-satisfaction",
                "type": "csat",
                "required": True,
                "text": {
                    "en": "How satisfied are you with your purchase?",
                    "de": "Wie zufrieden sind Sie mit Ihrem Einkauf?",
                },
                "scale_labels": {
                    "low": {"en": "Very dissatisfied", "de": "Sehr unzufrieden"},
                    "high": {"en": "Very satisfied", "de": "Sehr zufrieden"},
                },
            },
            {
                "id": "purchase-topic",
                "type": "single_choice",
                "required": False,
                "text": {
                    "en": "What was your rating mainly about?",
                    "de": "Worauf bezieht sich Ihre Bewertung vor allem?",
                },
                "options": [
                    {"id": "product", "label": {"en": "The product", "de": "Das Produkt"}},
                    {"id": "price", "label": {"en": "The price", "de": "Der Preis"}},
                    {
                        "id": "ordering",
                        "label": {
                            "en": "Ordering on the website",
                            "de": "Die Bestellung auf der Website",
                        },
                    },
                    {
                        "id": "delivery",
                        "label": {"en": "Delivery", "de": "Die Lieferung"},
                    },
                    {
                        "id": "service",
                        "label": {"en": "Customer service", "de": "Der Kundenservice"},
                    },
                ],
            },
            {
                "id": "purchase-comment",
                "type": "text",
                "required": False,
                "max_length": 2000,
                "text": {
                    "en": "Is there anything else you would like to tell us?",
                    "de": "Möchten Sie uns noch etwas mitteilen?",
                },
            },
        ]
    },
)

SUPPORT_CES = SurveyTemplate(
    key="support-ces",
    name=_("Effort after a support call (CES)"),
    description=_("How easy it was to get an issue resolved, and what would have made it easier."),
    languages=("en", "de"),
    schema={
        "questions": [
            {
                "id": "support-effort",
                "type": "ces",
                "required": True,
                "text": {
                    "en": "How easy was it to get your issue resolved today?",
                    "de": "Wie einfach war es, Ihr Anliegen heute zu klären?",
                },
                "scale_labels": {
                    "low": {"en": "Very difficult", "de": "Sehr schwierig"},
                    "high": {"en": "Very easy", "de": "Sehr einfach"},
                },
            },
            {
                "id": "support-easier",
                "type": "text",
                "required": False,
                "max_length": 2000,
                "text": {
                    "en": "What could we have done to make it easier for you?",
                    "de": "Was hätten wir tun können, um es Ihnen leichter zu machen?",
                },
            },
        ]
    },
)

SURVEY_TEMPLATES: dict[str, SurveyTemplate] = {
    template.key: template for template in (RELATIONSHIP_NPS, PURCHASE_CSAT, SUPPORT_CES)
}


def template_choices() -> list[tuple[str, StrOrPromise]]:
    return [(template.key, template.name) for template in SURVEY_TEMPLATES.values()]
