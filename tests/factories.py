"""factory_boy factories. Tenant rows take their organization from the current
``tenant_context``; create them inside ``tenant_context(org)``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from closedloop.models import (
    BusinessHours,
    Case,
    CaseEscalation,
    CaseEvent,
    CaseFollowUp,
    CaseMessage,
    CaseResponse,
    CaseRootCause,
    EscalationStep,
    MessageTemplate,
    Notification,
    RootCause,
    RoutingRule,
    SlaPolicy,
)
from contacts.models import ConsentEvent, Contact, ContactImport
from contacts.services import contact_import_upload
from integrations.models import (
    AlertChannel,
    AlertDelivery,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from metrics.models import (
    DailyRollup,
    DigestDelivery,
    DigestSubscription,
    ExportJob,
    ResponseTheme,
    SegmentAttribute,
    Theme,
)
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
from tenants.models import (
    ApiKey,
    AuditLog,
    IdempotencyKey,
    Membership,
    Organization,
    Role,
    Team,
    TeamMember,
)
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


def sent_invitation(version: SurveyVersion, contact: Any = None) -> Any:
    """An invitation of ``version`` as the worker leaves it after sending: its link works."""
    fields: dict[str, Any] = {"contact": contact} if contact is not None else {}
    return InvitationFactory(
        survey_version=version,
        survey=version.survey,
        status="sent",
        sent_at=timezone.now(),
        **fields,
    )


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


def case_factory(**kwargs: Any) -> Case:
    """A case opened the way production opens one: a detractor response (of a contact)
    routed by the organization's rules. Keyword arguments set fields of the case
    afterwards (``owner``, ``team``, ``status``, ``created_at`` ...); ``answers``,
    ``version`` and ``contact`` go to the response."""
    from closedloop.services.routing import response_route

    response_kwargs = {
        key: kwargs.pop(key)
        for key in ("answers", "version", "contact", "channel")
        if key in kwargs
    }
    response_kwargs.setdefault("answers", {"recommend": 2, "recommend-reason": "Parcel was late"})
    if "contact" not in response_kwargs:
        response_kwargs["contact"] = ContactFactory()
    response = response_factory(**response_kwargs)
    case = response_route(response=response)
    assert case is not None, "the organization's rules opened no case for a detractor"
    if kwargs:
        for name, value in kwargs.items():
            setattr(case, name, value)
        case.save()
    return case


def _case_child(model: Any, **fields: Any) -> Any:
    case = fields.pop("case", None) or case_factory()
    return model.objects.create(case=case, **fields)


def sla_policy_factory(**kwargs: Any) -> SlaPolicy:
    kwargs.setdefault("name", f"Policy {SlaPolicy.objects.count() + 1}")
    kwargs.setdefault("first_response_minutes", 24 * 60)
    kwargs.setdefault("resolution_minutes", 48 * 60)
    return SlaPolicy.objects.create(**kwargs)


def escalation_step_factory(**kwargs: Any) -> EscalationStep:
    policy = kwargs.pop("policy", None) or sla_policy_factory()
    kwargs.setdefault("target", "resolution")
    kwargs.setdefault("at_percent", 75)
    kwargs.setdefault("action", "remind_owner")
    return EscalationStep.objects.create(policy=policy, **kwargs)


def routing_rule_factory(**kwargs: Any) -> RoutingRule:
    kwargs.setdefault("position", RoutingRule.objects.count() + 1)
    kwargs.setdefault("name", f"Rule {kwargs['position']}")
    kwargs.setdefault("conditions", [{"field": "nps_group", "op": "in", "value": ["detractor"]}])
    return RoutingRule.objects.create(**kwargs)


def business_hours_factory(**kwargs: Any) -> BusinessHours:
    import datetime as dt

    BusinessHours.objects.all().delete()
    kwargs.setdefault("timezone", "Europe/Berlin")
    kwargs.setdefault("weekdays", [1, 2, 3, 4, 5])
    kwargs.setdefault("opens_at", dt.time(9))
    kwargs.setdefault("closes_at", dt.time(17))
    return BusinessHours.objects.create(**kwargs)


def root_cause_factory(**kwargs: Any) -> RootCause:
    kwargs.setdefault("name", f"Cause {RootCause.objects.count() + 1}")
    return RootCause.objects.create(**kwargs)


def message_template_factory(**kwargs: Any) -> MessageTemplate:
    kwargs.setdefault("name", f"Template {MessageTemplate.objects.count() + 1}")
    kwargs.setdefault("channel", "email")
    kwargs.setdefault("subject", {"en": "About your feedback"})
    kwargs.setdefault("body", {"en": "Dear {first_name}, thank you."})
    return MessageTemplate.objects.create(**kwargs)


def case_root_cause_factory(**kwargs: Any) -> CaseRootCause:
    root_cause = kwargs.pop("root_cause", None) or root_cause_factory()
    return _case_child(CaseRootCause, root_cause=root_cause, **kwargs)


def case_response_factory(**kwargs: Any) -> CaseResponse:
    case = kwargs.pop("case", None) or case_factory()
    response = kwargs.pop("response", None) or response_factory(
        version=case.response.survey_version
    )
    return CaseResponse.objects.create(case=case, response=response, **kwargs)


def case_event_factory(**kwargs: Any) -> CaseEvent:
    kwargs.setdefault("kind", "note")
    kwargs.setdefault("actor_label", "test")
    kwargs.setdefault("text", "Called the customer")
    return _case_child(CaseEvent, **kwargs)


def case_escalation_factory(**kwargs: Any) -> CaseEscalation:
    kwargs.setdefault("key", f"test:{CaseEscalation.objects.count() + 1}")
    return _case_child(CaseEscalation, **kwargs)


def notification_factory(**kwargs: Any) -> Notification:
    user = kwargs.pop("user", None) or MembershipFactory().user
    kwargs.setdefault("kind", "test")
    kwargs.setdefault("title", "Something happened")
    kwargs.setdefault("email_pending", False)
    return Notification.objects.create(user=user, **kwargs)


def case_message_factory(**kwargs: Any) -> CaseMessage:
    kwargs.setdefault("direction", "out")
    kwargs.setdefault("channel", "email")
    kwargs.setdefault("to_address", "customer@example.com")
    kwargs.setdefault("subject", "About your feedback")
    kwargs.setdefault("body", "Dear customer, ...")
    kwargs.setdefault("status", "sent")
    return _case_child(CaseMessage, **kwargs)


def case_follow_up_factory(**kwargs: Any) -> CaseFollowUp:
    kwargs.setdefault("language", "en")
    return _case_child(CaseFollowUp, **kwargs)


def daily_rollup_factory(**kwargs: Any) -> DailyRollup:
    version = published_survey()
    survey = version.survey
    kwargs.setdefault("day", timezone.localdate())
    kwargs.setdefault("channel", "email")
    kwargs.setdefault("language", "en")
    kwargs.setdefault("responses", 1)
    kwargs.setdefault("nps_9", 1)
    return DailyRollup.objects.create(
        journey_id=survey.touchpoint.journey_id,
        touchpoint_id=survey.touchpoint_id,
        survey=survey,
        **kwargs,
    )


def segment_attribute_factory(**kwargs: Any) -> SegmentAttribute:
    kwargs.setdefault("key", f"segment{SegmentAttribute.objects.count() + 1}")
    return SegmentAttribute.objects.create(**kwargs)


def theme_factory(**kwargs: Any) -> Theme:
    kwargs.setdefault("name", f"Theme {Theme.objects.count() + 1}")
    kwargs.setdefault("keywords", ["deliver", "liefer"])
    return Theme.objects.create(**kwargs)


def response_theme_factory(**kwargs: Any) -> ResponseTheme:
    response = kwargs.pop("response", None) or response_factory()
    theme = kwargs.pop("theme", None) or theme_factory()
    return ResponseTheme.objects.create(
        response=response, theme=theme, responded_at=response.responded_at, **kwargs
    )


def export_job_factory(**kwargs: Any) -> ExportJob:
    kwargs.setdefault("requested_by", MembershipFactory(role="cx_manager").user)
    kwargs.setdefault("kind", "responses")
    kwargs.setdefault("format", "csv")
    kwargs.setdefault("language", "en")
    return ExportJob.objects.create(**kwargs)


def digest_delivery_factory(**kwargs: Any) -> DigestDelivery:
    kwargs.setdefault("user", MembershipFactory(role="cx_manager").user)
    kwargs.setdefault("week", date(2026, 11, 16))
    return DigestDelivery.objects.create(**kwargs)


def digest_subscription_factory(**kwargs: Any) -> DigestSubscription:
    kwargs.setdefault("user", MembershipFactory(role="cx_manager").user)
    return DigestSubscription.objects.create(**kwargs)


def idempotency_key_factory(**kwargs: Any) -> IdempotencyKey:
    kwargs.setdefault("api_key", api_key_factory())
    kwargs.setdefault("key", str(uuid.uuid4()))
    kwargs.setdefault("method", "POST")
    kwargs.setdefault("path", "/api/v1/contacts/")
    kwargs.setdefault("fingerprint", "0" * 64)
    kwargs.setdefault("status_code", 201)
    kwargs.setdefault("response_body", {"id": 1})
    return IdempotencyKey.objects.create(**kwargs)


def webhook_endpoint_factory(**kwargs: Any) -> WebhookEndpoint:
    kwargs.setdefault("url", "https://crm.example.com/hooks/feedback")
    kwargs.setdefault("secret", "whsec_" + uuid.uuid4().hex)
    kwargs.setdefault("events", ["response.completed", "case.created"])
    return WebhookEndpoint.objects.create(**kwargs)


def webhook_delivery_factory(**kwargs: Any) -> WebhookDelivery:
    if "endpoint" not in kwargs:
        kwargs["endpoint"] = webhook_endpoint_factory()
    kwargs.setdefault("topic", "case.created")
    kwargs.setdefault("payload", {"type": "case.created", "data": {}})
    return WebhookDelivery.objects.create(**kwargs)


def webhook_attempt_factory(**kwargs: Any) -> WebhookAttempt:
    if "delivery" not in kwargs:
        kwargs["delivery"] = webhook_delivery_factory()
    kwargs.setdefault("status_code", 500)
    kwargs.setdefault("latency_ms", 12)
    return WebhookAttempt.objects.create(**kwargs)


def alert_channel_factory(**kwargs: Any) -> AlertChannel:
    kwargs.setdefault("name", "CX alerts")
    kwargs.setdefault("kind", "slack")
    kwargs.setdefault("url", "https://hooks.slack.com/services/T000/B000/XXXX")
    kwargs.setdefault("triggers", ["high_priority_case", "sla_breach"])
    return AlertChannel.objects.create(**kwargs)


def alert_delivery_factory(**kwargs: Any) -> AlertDelivery:
    kwargs.setdefault("channel", alert_channel_factory())
    kwargs.setdefault("trigger", "high_priority_case")
    kwargs.setdefault("dedupe_key", f"high_priority_case:{uuid.uuid4().hex}")
    return AlertDelivery.objects.create(**kwargs)


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
    BusinessHours: business_hours_factory,
    SlaPolicy: sla_policy_factory,
    EscalationStep: escalation_step_factory,
    RoutingRule: routing_rule_factory,
    RootCause: root_cause_factory,
    MessageTemplate: message_template_factory,
    Case: case_factory,
    CaseRootCause: case_root_cause_factory,
    CaseResponse: case_response_factory,
    CaseEvent: case_event_factory,
    CaseEscalation: case_escalation_factory,
    Notification: notification_factory,
    CaseMessage: case_message_factory,
    CaseFollowUp: case_follow_up_factory,
    DailyRollup: daily_rollup_factory,
    SegmentAttribute: segment_attribute_factory,
    Theme: theme_factory,
    ResponseTheme: response_theme_factory,
    ExportJob: export_job_factory,
    DigestDelivery: digest_delivery_factory,
    DigestSubscription: digest_subscription_factory,
    IdempotencyKey: idempotency_key_factory,
    WebhookEndpoint: webhook_endpoint_factory,
    WebhookDelivery: webhook_delivery_factory,
    WebhookAttempt: webhook_attempt_factory,
    AlertChannel: alert_channel_factory,
    AlertDelivery: alert_delivery_factory,
}
