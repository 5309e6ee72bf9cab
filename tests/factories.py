"""factory_boy factories. Tenant rows take their organization from the current
``tenant_context``; create them inside ``tenant_context(org)``."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.models import ConsentEvent, Contact, ContactImport
from contacts.services import contact_import_upload
from responses.models import OutboxEvent, Response
from surveys.models import (
    DistributionRule,
    DistributionSettings,
    Invitation,
    InvitationEvent,
    Journey,
    RecurringSchedule,
    SuppressedSend,
    Survey,
    SurveyVersion,
    Touchpoint,
)
from surveys.services import survey_create_from_template
from surveys.services.distribution import new_token
from tenants.models import ApiKey, AuditLog, Membership, Organization, Role, Team, TeamMember
from tenants.permissions import API_SCOPES
from tenants.services import SYSTEM, api_key_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("correct-horse-9")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    actor_label = "system"
    action = "test.event"
    object_type = "tenants.team"
    object_id = "1"


class JourneyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Journey

    name = factory.Sequence(lambda n: f"Journey {n}")


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    journey = factory.SubFactory(JourneyFactory)
    name = factory.Sequence(lambda n: f"Touchpoint {n}")
    position = factory.LazyAttribute(
        lambda o: Touchpoint.objects.filter(journey=o.journey).count() + 1
    )


class SurveyFactory(factory.django.DjangoModelFactory):
    """A bare survey row; ``survey_with_draft`` makes one the way the builder does."""

    class Meta:
        model = Survey

    touchpoint = factory.SubFactory(TouchpointFactory)
    name = factory.Sequence(lambda n: f"Survey {n}")


class SurveyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyVersion

    survey = factory.SubFactory(SurveyFactory)
    number = 1
    languages = factory.LazyFunction(lambda: ["en", "de"])
    default_language = "en"
    schema = factory.LazyFunction(
        lambda: {
            "questions": [
                {
                    "id": "recommend",
                    "type": "nps",
                    "required": True,
                    "text": {"en": "How likely are you to recommend us?"},
                }
            ]
        }
    )


def survey_with_draft(template_key: str = "relationship-nps", **kwargs: Any) -> Survey:
    """A survey created through the service: a touchpoint, and a draft from a template."""
    options: dict[str, Any] = {
        "name": "Relationship NPS",
        "languages": ["en", "de"],
        "default_language": "en",
        **kwargs,
    }
    touchpoint: Any = options.pop("touchpoint", None) or TouchpointFactory()
    return survey_create_from_template(
        actor=SYSTEM, touchpoint=touchpoint, template_key=template_key, **options
    )


def api_key_factory(**kwargs: Any) -> ApiKey:
    return api_key_with_secret(**kwargs)[0]


def api_key_with_secret(scopes: list[str] | None = None, name: str = "CRM") -> tuple[ApiKey, str]:
    return api_key_create(actor=SYSTEM, name=name, scopes=scopes or list(API_SCOPES))


# --- Distribution (invitations, rules, the contact budget) ---------------------------


def _distribution_contact() -> Contact:
    """A contact with an email address and a phone number (created directly)."""
    from uuid import uuid4

    key = uuid4().hex[:10]
    return Contact.objects.create(
        crm_id=f"inv-{key}", email=f"{key}@example.com", phone="+491701234567"
    )


def distribution_settings_factory(**kwargs: Any) -> DistributionSettings:
    settings, _created = DistributionSettings.objects.update_or_create(defaults=kwargs)
    return settings


class DistributionRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DistributionRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    event_type = "order_completed"
    survey = factory.SubFactory(SurveyFactory)


class RecurringScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecurringSchedule

    name = factory.Sequence(lambda n: f"Relationship {n}")
    survey = factory.SubFactory(SurveyFactory)


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    contact = factory.LazyFunction(_distribution_contact)
    survey_version = factory.SubFactory(SurveyVersionFactory)
    survey = factory.LazyAttribute(lambda o: o.survey_version.survey)
    channel = "email"
    token = factory.LazyFunction(new_token)
    trigger = "manual"
    send_at = factory.LazyFunction(timezone.now)


class InvitationEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvitationEvent

    invitation = factory.SubFactory(InvitationFactory)
    to_status = "scheduled"


class SuppressedSendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuppressedSend

    contact = factory.LazyFunction(_distribution_contact)
    survey = factory.SubFactory(SurveyFactory)
    reason = "frequency"
    trigger = "manual"


# --- Contacts -----------------------------------------------------------------------


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    crm_id = factory.Sequence(lambda n: f"C-{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentEvent

    contact = factory.SubFactory(ContactFactory)
    channel = "email"
    action = "grant"
    source = "staff"
    wording = "May we invite you to short surveys by email?"
    actor_label = "test"


def contact_import_factory(**kwargs: Any) -> ContactImport:
    """A pending upload, made the way the import page makes it."""
    data = kwargs.pop("data", b"Kundennummer;E-Mail\nK-1;k1@example.com\n")
    return contact_import_upload(actor=SYSTEM, file_name="contacts.csv", data=data, **kwargs)


# --- Responses -----------------------------------------------------------------------


def published_survey(template_key: str = "relationship-nps", **kwargs: Any) -> SurveyVersion:
    """A survey made from a template and published; its first version (with survey,
    touchpoint and journey loaded)."""
    from surveys.services.lifecycle import survey_publish

    fields = {
        key: kwargs.pop(key)
        for key in (
            "open_link_enabled",
            "widget_enabled",
            "allowed_origins",
            "answer_change_window",
        )
        if key in kwargs
    }
    survey = survey_with_draft(template_key, **kwargs)
    if fields:
        Survey.objects.filter(pk=survey.pk).update(**fields)
        survey.refresh_from_db()
    version = survey_publish(actor=SYSTEM, survey=survey)
    return SurveyVersion.objects.select_related("survey__touchpoint__journey").get(pk=version.pk)


def response_factory(**kwargs: Any) -> Response:
    """A complete response through the submit service (the way every channel stores one)."""
    from responses.services import response_submit

    version = kwargs.pop("version", None) or published_survey()
    result = response_submit(
        version=version,
        channel=kwargs.pop("channel", "link"),
        language=kwargs.pop("language", "en"),
        answers=kwargs.pop("answers", {"recommend": 9, "recommend-reason": "Quick delivery"}),
        **kwargs,
    )
    assert result.response is not None, result.errors
    return result.response


def outbox_event_factory(**kwargs: Any) -> OutboxEvent:
    response = kwargs.pop("response", None) or response_factory()
    return OutboxEvent.objects.create(response=response, topic="response.created", **kwargs)


# Every concrete tenant model needs an entry: the isolation census fails on a model that
# has none, so a new model cannot skip the isolation tests.
TENANT_FACTORIES: dict[type, Any] = {
    Membership: MembershipFactory,
    Team: TeamFactory,
    TeamMember: TeamMemberFactory,
    ApiKey: api_key_factory,
    AuditLog: AuditLogFactory,
    Journey: JourneyFactory,
    Touchpoint: TouchpointFactory,
    Survey: SurveyFactory,
    SurveyVersion: SurveyVersionFactory,
    DistributionSettings: distribution_settings_factory,
    DistributionRule: DistributionRuleFactory,
    RecurringSchedule: RecurringScheduleFactory,
    Invitation: InvitationFactory,
    InvitationEvent: InvitationEventFactory,
    SuppressedSend: SuppressedSendFactory,
    Contact: ContactFactory,
    ConsentEvent: ConsentEventFactory,
    ContactImport: contact_import_factory,
    Response: response_factory,
    OutboxEvent: outbox_event_factory,
}
