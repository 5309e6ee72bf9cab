"""The theme taxonomy a new organization starts with (German and English keywords).

Keywords are word starts ("liefer" finds "Lieferung" and "Lieferzeit", "deliver" finds
"Delivery" and "delivered"); a keyword in double quotes matches the whole word only
(``"app"``, so "appreciate" is not a website comment). Every theme lists the German and
the English words, so a comment is tagged whatever language the customer wrote in.

``theme_defaults_create_for`` takes the model classes to use, so the data migration
(``metrics/migrations/0002_default_themes.py``) gives existing organizations the same
defaults with its historical models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from metrics.services.themes import RETAG_BATCH, matcher_for
from tenants.context import require_organization_id

ModelGetter = Callable[[str, str], Any]


@dataclass(frozen=True, slots=True)
class DefaultTheme:
    names: dict[str, str]  # language -> name
    descriptions: dict[str, str]
    keywords: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions["en"]


DEFAULT_THEMES: tuple[DefaultTheme, ...] = (
    DefaultTheme(
        names={"en": "Delivery", "de": "Lieferung"},
        descriptions={
            "en": "Shipping, parcels, delivery times.",
            "de": "Versand, Pakete, Lieferzeiten.",
        },
        keywords=(
            "deliver",
            "parcel",
            "package",
            "shipping",
            "shipment",
            "courier",
            "liefer",
            "paket",
            "versand",
            "zustell",
        ),
    ),
    DefaultTheme(
        names={"en": "Price", "de": "Preis"},
        descriptions={
            "en": "Prices, costs, value for money.",
            "de": "Preise, Kosten, Preis-Leistung.",
        },
        keywords=(
            "pric",
            "expensive",
            "cheap",
            "cost",
            "preis",
            "teuer",
            "teur",
            "günstig",
            "billig",
            "kosten",
        ),
    ),
    DefaultTheme(
        names={"en": "Staff friendliness", "de": "Freundlichkeit des Personals"},
        descriptions={
            "en": "How friendly and helpful the staff were.",
            "de": "Wie freundlich und hilfsbereit die Mitarbeitenden waren.",
        },
        keywords=(
            "friendly",
            "unfriendly",
            "rude",
            "polite",
            "impolite",
            "helpful",
            "unhelpful",
            "freundlich",
            "unfreundlich",
            "hilfsbereit",
            "höflich",
            "unhöflich",
        ),
    ),
    DefaultTheme(
        names={"en": "Waiting time", "de": "Wartezeit"},
        descriptions={
            "en": "Waiting, queues, time on hold, slow service.",
            "de": "Warten, Warteschleife, langsame Bearbeitung.",
        },
        keywords=(
            "wait",
            "on hold",
            "slow",
            "queue",
            "warte",
            "langsam",
            "schleife",
        ),
    ),
    DefaultTheme(
        names={"en": "Product quality", "de": "Produktqualität"},
        descriptions={
            "en": "Damaged, broken or defective products.",
            "de": "Beschädigte, kaputte oder defekte Produkte.",
        },
        keywords=(
            "damage",
            "broken",
            "quality",
            "defect",
            "faulty",
            "beschädigt",
            "kaputt",
            "qualität",
            "defekt",
            "mangel",
        ),
    ),
    DefaultTheme(
        names={"en": "Website & ordering", "de": "Website & Bestellung"},
        descriptions={
            "en": "The online shop, the app, ordering and checkout.",
            "de": "Onlineshop, App, Bestellung und Bezahlung.",
        },
        keywords=(
            "website",
            '"app"',
            "checkout",
            "order",
            "online shop",
            "webseite",
            "bestell",
            "shop",
            "onlineshop",
        ),
    ),
    DefaultTheme(
        names={"en": "Communication", "de": "Kommunikation"},
        descriptions={
            "en": "Answers, emails, call-backs, being kept informed.",
            "de": "Antworten, E-Mails, Rückrufe, auf dem Laufenden gehalten werden.",
        },
        keywords=(
            "email",
            "e-mail",
            "answer",
            "call back",
            "callback",
            "respond",
            "antwort",
            "geantwortet",
            "beantwort",
            "rückruf",
            "melde",
            "gemeldet",
        ),
    ),
    DefaultTheme(
        names={"en": "Repair", "de": "Reparatur"},
        descriptions={
            "en": "Repairs, workshops and service partners.",
            "de": "Reparaturen, Werkstätten und Servicepartner.",
        },
        keywords=(
            "repair",
            "workshop",
            "garage",
            "reparatur",
            "repariert",
            "werkstatt",
        ),
    ),
)


def theme_defaults_create(*, language: str = "en") -> bool:
    """Create the default themes in the current organization unless it has themes
    already; True when it created them."""
    return theme_defaults_create_for(
        apps.get_model, organization_id=require_organization_id(), language=language
    )


def theme_defaults_create_for(
    get_model: ModelGetter, *, organization_id: int, language: str
) -> bool:
    """The default themes of one organization, with the given model classes (the current
    ones, or a migration's historical ones: every row names its organization). Comments
    the organization already has are tagged with them. Idempotent: an organization with
    any theme (even an archived one) is left alone."""
    theme_model = get_model("metrics", "Theme")
    if theme_model.objects.filter(organization_id=organization_id).exists():
        return False
    now = timezone.now()
    with transaction.atomic():
        themes = theme_model.objects.bulk_create(
            [
                theme_model(
                    organization_id=organization_id,
                    name=default.name(language),
                    description=default.description(language),
                    keywords=list(default.keywords),
                    archived=False,
                    created_at=now,
                    updated_at=now,
                )
                for default in DEFAULT_THEMES
            ]
        )
        if any(theme.pk is None for theme in themes):  # backends without RETURNING
            themes = list(theme_model.objects.filter(organization_id=organization_id))
        _tag_existing(get_model, organization_id, themes)
    return True


def _tag_existing(get_model: ModelGetter, organization_id: int, themes: list[Any]) -> None:
    response_model = get_model("responses", "Response")
    tag_model = get_model("metrics", "ResponseTheme")
    matcher = matcher_for((theme.pk, theme.keywords) for theme in themes)
    comments = (
        response_model.objects.filter(organization_id=organization_id)
        .exclude(comment="")
        .order_by()
        .values_list("pk", "comment", "responded_at")
        .iterator(chunk_size=RETAG_BATCH)
    )
    batch: list[Any] = []
    for pk, comment, responded_at in comments:
        batch.extend(
            tag_model(
                organization_id=organization_id,
                response_id=pk,
                theme_id=theme_id,
                responded_at=responded_at,
            )
            for theme_id in sorted(matcher.themes_in(comment))
        )
        if len(batch) >= RETAG_BATCH:
            tag_model.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    tag_model.objects.bulk_create(batch, ignore_conflicts=True)
