"""Demo journeys, touchpoints and published bilingual surveys (idempotent).

``seed_surveys`` is called by ``manage.py seed_demo``; running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from surveys.models import Journey, Survey, SurveyStatus, Touchpoint, TouchpointProcess
from surveys.services import (
    journey_create,
    survey_create_from_template,
    survey_publish,
    touchpoint_add,
)
from tenants.context import tenant_context
from tenants.models import Organization, Team
from tenants.services import SYSTEM


@dataclass(frozen=True)
class DemoTouchpoint:
    name: str
    description: str
    process: str
    process_detail: str
    team: str | None
    weight: str = "1.00"
    survey: tuple[str, str] | None = None  # (template key, survey name)


DEMO_JOURNEYS: list[tuple[str, str, list[DemoTouchpoint]]] = [
    (
        "Online purchase",
        "From the first contact to the renewal of a customer who buys in the online shop.",
        [
            DemoTouchpoint(
                "Awareness",
                "Ads, search and recommendations bring the customer to the shop.",
                TouchpointProcess.OTHER,
                "Marketing",
                None,
                "0.50",
            ),
            DemoTouchpoint(
                "Purchase in the online shop",
                "The customer orders and pays in the online shop.",
                TouchpointProcess.ONLINE_SHOP,
                "Web shop",
                "Online shop",
                "1.00",
                ("purchase-csat", "Satisfaction after purchase"),
            ),
            DemoTouchpoint(
                "Delivery by a service partner",
                "A parcel service partner delivers the order.",
                TouchpointProcess.SERVICE_PARTNER,
                "Parcel delivery",
                "Service partner network",
                "1.00",
            ),
            DemoTouchpoint(
                "Support call",
                "The customer calls the call centre with a question or a problem.",
                TouchpointProcess.CALL_CENTRE,
                "Hotline",
                "Call centre",
                "1.50",
                ("support-ces", "Support call effort"),
            ),
            DemoTouchpoint(
                "Renewal",
                "The contract or subscription comes up for renewal.",
                TouchpointProcess.CRM,
                "Contract management",
                "Customer care",
                "2.00",
                ("relationship-nps", "Relationship NPS at renewal"),
            ),
        ],
    ),
    (
        "Service & repair",
        "A customer's device needs a repair: request, pick-up, repair and hand-back.",
        [
            DemoTouchpoint(
                "Repair request",
                "The customer reports the defect to the call centre.",
                TouchpointProcess.CALL_CENTRE,
                "Service hotline",
                "Call centre",
                "1.00",
                ("support-ces", "Repair request effort"),
            ),
            DemoTouchpoint(
                "Pick-up by a service partner",
                "A service partner collects the device at the customer's address.",
                TouchpointProcess.SERVICE_PARTNER,
                "Pick-up service",
                "Service partner network",
            ),
            DemoTouchpoint(
                "Repair in the workshop",
                "The partner workshop repairs the device.",
                TouchpointProcess.SERVICE_PARTNER,
                "Partner workshop",
                "Service partner network",
            ),
            DemoTouchpoint(
                "Repair completed",
                "Customer care hands the repaired device back and closes the request.",
                TouchpointProcess.CUSTOMER_CARE,
                "",
                "Customer care",
                "1.50",
                ("relationship-nps", "NPS after repair"),
            ),
        ],
    ),
]


def seed_surveys(organization: Organization) -> None:
    """Create the demo journeys and surveys in ``organization`` unless they exist."""
    with tenant_context(organization):
        teams = dict(Team.objects.values_list("name", "id"))
        for name, description, touchpoints in DEMO_JOURNEYS:
            journey = Journey.objects.filter(name=name).first() or journey_create(
                actor=SYSTEM, name=name, description=description
            )
            for spec in touchpoints:
                touchpoint = Touchpoint.objects.filter(journey=journey, name=spec.name).first()
                if touchpoint is None:
                    touchpoint = touchpoint_add(
                        actor=SYSTEM,
                        journey=journey,
                        name=spec.name,
                        description=spec.description,
                        process=spec.process,
                        process_detail=spec.process_detail,
                        team_id=teams.get(spec.team) if spec.team else None,
                        weight=Decimal(spec.weight),
                    )
                if spec.survey is not None:
                    _seed_survey(touchpoint, *spec.survey)


def _seed_survey(touchpoint: Touchpoint, template_key: str, name: str) -> None:
    survey = Survey.objects.filter(touchpoint=touchpoint, name=name).first()
    if survey is None:
        survey = survey_create_from_template(
            actor=SYSTEM,
            touchpoint=touchpoint,
            template_key=template_key,
            name=name,
            languages=["de", "en"],
            default_language="de",
        )
    if survey.status == SurveyStatus.DRAFT:
        survey_publish(actor=SYSTEM, survey=survey)
