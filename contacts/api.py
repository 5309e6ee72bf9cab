"""Contacts over the API: list and read (``contacts:read``), create, change and bulk
upsert (``contacts:write``), GDPR export (``contacts:read``) and erasure
(``contacts:erase``). docs/api/contacts.md describes every endpoint.

Writes go through the contacts services (``contact_create``, ``contact_update``,
``contact_bulk_upsert``, ``contact_erase``), so the API normalises exactly like the
forms and the CSV import (email lower-cased, phone in E.164, language and time zone
checked, CRM attributes plain values).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import Channel, ConsentAction, ConsentState, Contact
from contacts.selectors import consent_field, organization_phone_region, with_consent_states
from contacts.services.contact import contact_create, contact_update
from contacts.services.erasure import contact_erase
from contacts.services.gdpr import contact_export
from contacts.services.upsert import MAX_ITEMS, ContactBulkInvalid, contact_bulk_upsert
from contacts.validation import normalize_email, normalize_phone
from tenants.api import ApiCursorPagination, AwareDateTimeField, TenantAPIView
from tenants.services import Actor

ATTRIBUTE_VALUE_SCHEMA = {
    "oneOf": [
        {"type": "string", "maxLength": 1000},
        {"type": "number"},
        {"type": "boolean"},
    ],
    "nullable": True,
}
ATTRIBUTES_SCHEMA = {
    "type": "object",
    "additionalProperties": ATTRIBUTE_VALUE_SCHEMA,
    "description": "CRM attributes: keys of lower-case letters, digits and underscores "
    "(starting with a letter, at most 50), plain values.",
    "example": {"segment": "enterprise", "revenue": 125000},
}


@extend_schema_field(ATTRIBUTES_SCHEMA)
class AttributesField(serializers.DictField):
    child = serializers.JSONField(allow_null=True)


# --- Reading ---------------------------------------------------------------------------


class ConsentStatesSerializer(serializers.Serializer[Any]):
    email = serializers.ChoiceField(choices=ConsentState.choices)
    sms = serializers.ChoiceField(choices=ConsentState.choices)


class ContactSerializer(serializers.ModelSerializer[Contact]):
    email = serializers.CharField(read_only=True, help_text="Lower-cased; empty: none known.")
    language = serializers.CharField(
        read_only=True, help_text="A language code (de, en); empty: the organization's."
    )
    attributes = AttributesField(read_only=True)
    consent = serializers.SerializerMethodField(
        help_text="The current state per channel, derived from the consent ledger."
    )
    last_surveyed_at = AwareDateTimeField(read_only=True, allow_null=True)
    erased_at = AwareDateTimeField(
        read_only=True, allow_null=True, help_text="Set when the contact was erased (GDPR)."
    )
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "crm_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "language",
            "timezone",
            "attributes",
            "consent",
            "last_surveyed_at",
            "erased_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ConsentStatesSerializer)
    def get_consent(self, contact: Contact) -> dict[str, str]:
        return {
            channel: getattr(contact, consent_field(channel), ConsentState.UNKNOWN.value)
            for channel in Channel.values
        }


class ContactQuerySerializer(serializers.Serializer[Any]):
    crm_id = serializers.CharField(required=False, max_length=100, help_text="Exact CRM id.")
    email = serializers.CharField(
        required=False, max_length=254, help_text="Exact address (any letter case)."
    )
    phone = serializers.CharField(
        required=False,
        max_length=40,
        help_text="A number in any format; national numbers are read in the organization's "
        "region and compared in E.164.",
    )
    updated_since = AwareDateTimeField(
        required=False,
        help_text="Changed at or after this time. Orders the list by the time of the last "
        "change, then id (oldest first): the incremental sync.",
    )
    opted_out = serializers.BooleanField(
        allow_null=True,
        default=None,
        help_text="true: contacts who withdrew consent for email or SMS; false: the others.",
    )
    erased = serializers.BooleanField(
        allow_null=True, default=None, help_text="true: erased contacts only; false: the others."
    )

    def validate_email(self, value: str) -> str:
        try:
            return normalize_email(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone(value, organization_phone_region())
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def filter(self, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        data = self.validated_data
        for name in ("crm_id", "email", "phone"):
            if name in data:
                queryset = queryset.filter(**{name: data[name]})
        if data.get("updated_since") is not None:
            queryset = queryset.filter(updated_at__gte=data["updated_since"])
        withdrawn = Q()
        for channel in Channel.values:
            withdrawn |= Q(**{consent_field(channel): ConsentState.WITHDRAWN.value})
        if data.get("opted_out") is True:
            queryset = queryset.filter(withdrawn)
        elif data.get("opted_out") is False:
            queryset = queryset.exclude(withdrawn)
        if data.get("erased") is not None:
            queryset = queryset.filter(erased_at__isnull=not data["erased"])
        return queryset


class ContactPagination(ApiCursorPagination):
    """Newest first by id; with ``updated_since``, by the time of the last change and
    then id, oldest first (the position of an incremental sync)."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        if "updated_since" in request.query_params:
            return ("updated_at", "id")
        return ("-id",)


# --- Writing ---------------------------------------------------------------------------


class _StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not know (a typo must not be ignored silently)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(initial) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


def _text(help_text: str, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text=help_text, **kwargs
    )


class ContactWriteSerializer(_StrictSerializer):
    crm_id = serializers.CharField(
        max_length=100, help_text="The contact's id in the CRM, unique in the organization."
    )
    first_name = _text("", max_length=150)
    last_name = _text("", max_length=150)
    email = _text("Stored lower-cased.", max_length=254)
    phone = _text(
        "Any format; national numbers are read in the organization's region. Stored in "
        "E.164 (+493012345678).",
        max_length=40,
    )
    language = _text("de or en (also de-CH, German, Deutsch...). Empty: the organization's.")
    timezone = _text("An IANA time zone (Europe/Berlin). Empty: the organization's.")
    attributes = AttributesField(
        required=False,
        help_text="Create: the attributes. Change: merged into the contact's (a key with "
        "null is removed, keys not given are kept).",
    )


class ContactPatchSerializer(ContactWriteSerializer):
    crm_id = serializers.CharField(
        required=False, max_length=100, help_text="A new CRM id, unique in the organization."
    )


class ConsentInSerializer(serializers.Serializer[Any]):
    email = serializers.ChoiceField(choices=ConsentAction.choices, required=False)
    sms = serializers.ChoiceField(choices=ConsentAction.choices, required=False)
    wording = serializers.CharField(
        required=False,
        max_length=5000,
        help_text="The text the customer agreed to; required with a grant.",
    )


class ContactBulkItemSerializer(ContactWriteSerializer):
    consent = ConsentInSerializer(
        required=False,
        help_text="Record a consent decision (source api) when it changes the current state.",
    )


class ContactBulkRequestSerializer(serializers.Serializer[Any]):
    items = serializers.ListField(
        child=ContactBulkItemSerializer(), min_length=1, max_length=MAX_ITEMS
    )


class ContactBulkItemResultSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(min_value=0)
    id = serializers.IntegerField()
    crm_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class ContactBulkResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField(min_value=0)
    updated = serializers.IntegerField(min_value=0)
    unchanged = serializers.IntegerField(min_value=0)
    consent_recorded = serializers.IntegerField(min_value=0)
    results = ContactBulkItemResultSerializer(many=True)


class BulkItemErrorSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(min_value=0)
    crm_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field -> messages.",
    )


class BulkProblemSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    errors = serializers.JSONField(  # type: ignore[assignment]
        help_text="Per invalid item: its index, crm_id and messages by field "
        "(`[{index, crm_id, errors}]`); or field -> messages for a malformed body."
    )


class ErasureSerializer(serializers.Serializer[Any]):
    contact = serializers.IntegerField()
    erased_at = AwareDateTimeField()
    responses_anonymised = serializers.IntegerField(min_value=0)
    cases_touched = serializers.IntegerField(min_value=0)
    case_messages_anonymised = serializers.IntegerField(min_value=0)
    invitations = serializers.IntegerField(
        min_value=0, help_text="Invitations of the contact (kept, provider texts removed)."
    )
    consent_events_recorded = serializers.IntegerField(min_value=0)


# --- The export document (schema and rendering) -----------------------------------------


class _Ref(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ExportProfileSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    crm_id = serializers.CharField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    timezone = serializers.CharField(allow_blank=True)
    attributes = AttributesField()
    last_surveyed_at = serializers.CharField(allow_null=True)
    erased_at = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)


class ExportConsentStateSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=ConsentState.choices)
    since = serializers.CharField(allow_null=True)
    event_id = serializers.IntegerField(allow_null=True)


class ExportConsentEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    action = serializers.CharField()
    state_after = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    wording = serializers.CharField(allow_blank=True)
    actor = serializers.CharField()
    occurred_at = serializers.CharField()
    recorded_at = serializers.CharField()


class ExportConsentSerializer(serializers.Serializer[Any]):
    current_state = serializers.DictField(child=ExportConsentStateSerializer())
    events = ExportConsentEventSerializer(many=True)


class ExportInvitationHistorySerializer(serializers.Serializer[Any]):
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField()
    at = serializers.CharField()


class ExportInvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    survey = _Ref()
    channel = serializers.CharField()
    status = serializers.CharField()
    trigger = serializers.CharField()
    event_type = serializers.CharField(allow_blank=True)
    send_at = serializers.CharField(allow_null=True)
    sent_at = serializers.CharField(allow_null=True)
    opened_at = serializers.CharField(allow_null=True)
    reminder_sent_at = serializers.CharField(allow_null=True)
    expires_at = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    history = ExportInvitationHistorySerializer(many=True)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer"},
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
        ],
        "nullable": True,
    }
)
class _AnswerValueField(serializers.JSONField):
    pass


class ExportAnswerSerializer(serializers.Serializer[Any]):
    question_id = serializers.CharField()
    question = serializers.CharField(allow_blank=True)
    type = serializers.CharField(allow_blank=True)
    value = _AnswerValueField()


class ExportResponseSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    survey = _Ref()
    touchpoint = _Ref()
    invitation = serializers.IntegerField(allow_null=True)
    channel = serializers.CharField()
    language = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    answers = ExportAnswerSerializer(many=True)
    nps = serializers.IntegerField(allow_null=True)
    ces = serializers.IntegerField(allow_null=True)
    csat = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)
    contact_attributes = AttributesField()
    responded_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)


class ExportTimelineSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    at = serializers.CharField()
    text = serializers.CharField(
        allow_null=True,
        allow_blank=True,
        help_text="Only for entries the customer saw or wrote (messages, follow-up).",
    )


class ExportMessageSerializer(serializers.Serializer[Any]):
    direction = serializers.CharField()
    channel = serializers.CharField()
    to = serializers.CharField(allow_blank=True)
    # ``from`` is a Python keyword: declared below.
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    created_at = serializers.CharField(allow_null=True)
    sent_at = serializers.CharField(allow_null=True)


ExportMessageSerializer._declared_fields["from"] = serializers.CharField(allow_blank=True)


class ExportFollowUpSerializer(serializers.Serializer[Any]):
    sent_at = serializers.CharField(allow_null=True)
    answered_at = serializers.CharField(allow_null=True)
    concern_resolved = serializers.BooleanField(allow_null=True)
    nps = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)


class ExportCaseSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    created_at = serializers.CharField(allow_null=True)
    resolved_at = serializers.CharField(allow_null=True)
    closed_at = serializers.CharField(allow_null=True)
    recovered = serializers.BooleanField(allow_null=True)
    timeline = ExportTimelineSerializer(many=True)
    messages = ExportMessageSerializer(many=True)
    follow_up = ExportFollowUpSerializer(allow_null=True)


class ContactExportSerializer(serializers.Serializer[Any]):
    exported_at = serializers.CharField()
    contact = ExportProfileSerializer()
    consent = ExportConsentSerializer()
    invitations = ExportInvitationSerializer(many=True)
    responses = ExportResponseSerializer(many=True)
    cases = ExportCaseSerializer(many=True)


# --- Examples --------------------------------------------------------------------------

CONTACT_EXAMPLE = {
    "id": 301,
    "crm_id": "C-10042",
    "first_name": "Erika",
    "last_name": "Mustermann",
    "email": "erika@example.com",
    "phone": "+4915112345678",
    "language": "de",
    "timezone": "",
    "attributes": {"segment": "enterprise", "revenue": 125000},
    "consent": {"email": "granted", "sms": "unknown"},
    "last_surveyed_at": "2026-11-20T09:00:00Z",
    "erased_at": None,
    "created_at": "2026-01-05T09:30:00Z",
    "updated_at": "2026-11-23T14:05:00Z",
}
ERASURE_EXAMPLE = {
    "contact": 301,
    "erased_at": "2026-11-24T08:00:00Z",
    "responses_anonymised": 3,
    "cases_touched": 1,
    "case_messages_anonymised": 2,
    "invitations": 4,
    "consent_events_recorded": 2,
}


# --- Views -----------------------------------------------------------------------------


def _detail_path(contact: Contact) -> str:
    return reverse("api:contact-detail", kwargs={"contact_id": contact.pk})


def _contacts() -> QuerySet[Contact]:
    return with_consent_states(Contact.objects.all())


def _service_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(serializers.as_serializer_error(exc))


class ContactErased(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The contact was erased; it cannot be changed."


class BulkInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Some items are invalid; nothing was written."

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__()
        self.errors = errors


class ContactListView(mixins.ListModelMixin, TenantAPIView):
    model = Contact
    serializer_class = ContactSerializer
    pagination_class = ContactPagination
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "contacts:read",
        "POST": "contacts:write",
    }

    def get_queryset(self) -> QuerySet[Contact]:
        params = ContactQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.filter(_contacts())

    @extend_schema(
        tags=["contacts"],
        summary="Contacts (filters; `updated_since` for the incremental sync)",
        parameters=[ContactQuerySerializer],
        examples=[
            OpenApiExample(
                "One contact",
                value={"next": None, "previous": None, "results": [CONTACT_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        tags=["contacts"],
        summary="Create a contact",
        description="201 with the contact and its `Location`. A CRM id that is taken "
        "answers 400 naming `crm_id` (use `PATCH` or the bulk upsert to change a contact).",
        request=ContactWriteSerializer,
        responses={201: ContactSerializer},
        examples=[
            OpenApiExample(
                "From the CRM",
                value={
                    "crm_id": "C-10042",
                    "first_name": "Erika",
                    "last_name": "Mustermann",
                    "email": "Erika@Example.com",
                    "phone": "0151 12345678",
                    "language": "de",
                    "attributes": {"segment": "enterprise", "revenue": 125000},
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        body = ContactWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        attributes = data.pop("attributes", {}) or {}
        data["attributes"] = {k: v for k, v in attributes.items() if v is not None}
        try:
            contact = contact_create(actor=Actor.of_api_key(self.api_key), **data)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        stored = _contacts().get(pk=contact.pk)
        return Response(
            ContactSerializer(stored).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": _detail_path(stored)},
        )


class ContactDetailView(TenantAPIView):
    model = Contact
    serializer_class = ContactSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {
        "GET": "contacts:read",
        "PATCH": "contacts:write",
    }
    lookup_url_kwarg = "contact_id"

    def get_queryset(self) -> QuerySet[Contact]:
        return _contacts()

    @extend_schema(
        tags=["contacts"],
        summary="One contact with its consent states",
        examples=[OpenApiExample("A contact", value=CONTACT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, contact_id: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        tags=["contacts"],
        summary="Change some of a contact's fields",
        description='Only the fields given change (`""` clears one). `attributes` are '
        "merged into the contact's (JSON merge patch): keys given are set, a key with "
        "`null` is removed, other keys stay. An erased contact answers 409.",
        request=ContactPatchSerializer,
        responses={
            200: ContactSerializer,
            (409, "application/problem+json"): OpenApiResponse(
                description="The contact was erased."
            ),
        },
        examples=[
            OpenApiExample(
                "New address and segment",
                value={"email": "erika.m@example.com", "attributes": {"segment": "smb"}},
                request_only=True,
            ),
            OpenApiExample("Changed", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, contact_id: int) -> Response:
        contact = self.get_object()
        body = ContactPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if contact.erased_at is not None:
            raise ContactErased()
        data = dict(body.validated_data)
        if "attributes" in data:
            merged = dict(contact.attributes or {})
            for key, value in (data["attributes"] or {}).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            data["attributes"] = merged
        try:
            contact_update(actor=Actor.of_api_key(self.api_key), contact=contact, **data)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(ContactSerializer(_contacts().get(pk=contact.pk)).data)


class ContactBulkView(TenantAPIView):
    model = Contact
    serializer_class = ContactBulkResultSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"POST": "contacts:write"}

    @extend_schema(
        tags=["contacts"],
        summary="Create or update up to 10,000 contacts by CRM id (all or nothing)",
        description="Every item is checked first; if any is invalid the answer is 400 "
        "with `errors`, one entry per invalid item (`index`, `crm_id`, messages by "
        "field), and nothing is written. Otherwise all items are written in one "
        "transaction: fields given are set, fields left out keep their value, "
        "`attributes` are merged (null removes a key). A CRM id may appear once per "
        "request. `consent` records a grant or withdrawal (source `api`) when it "
        "changes the current state.",
        request=ContactBulkRequestSerializer,
        responses={
            200: ContactBulkResultSerializer,
            (400, "application/problem+json"): OpenApiResponse(
                BulkProblemSerializer, description="Invalid items; nothing was written."
            ),
        },
        examples=[
            OpenApiExample(
                "Two contacts",
                value={
                    "items": [
                        {
                            "crm_id": "C-10042",
                            "email": "erika@example.com",
                            "attributes": {"segment": "enterprise"},
                        },
                        {
                            "crm_id": "C-10043",
                            "first_name": "Max",
                            "phone": "+4915112345679",
                            "consent": {
                                "sms": "grant",
                                "wording": "Ja, ich möchte per SMS befragt werden.",
                            },
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Written",
                value={
                    "created": 1,
                    "updated": 1,
                    "unchanged": 0,
                    "consent_recorded": 1,
                    "results": [
                        {"index": 0, "id": 301, "crm_id": "C-10042", "status": "updated"},
                        {"index": 1, "id": 302, "crm_id": "C-10043", "status": "created"},
                    ],
                },
                response_only=True,
                status_codes=["200"],
            ),
            OpenApiExample(
                "An invalid item",
                value={
                    "type": "about:blank",
                    "title": "Invalid request",
                    "status": 400,
                    "detail": "Some items are invalid; nothing was written.",
                    "errors": [
                        {
                            "index": 1,
                            "crm_id": "C-10043",
                            "errors": {"email": ["“max@” is not a valid email address."]},
                        }
                    ],
                    "instance": "/api/v1/contacts/bulk/",
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise exceptions.ValidationError({"items": ["Give a non-empty list of contacts."]})
        if isinstance(data, dict) and set(data) - {"items"}:
            raise exceptions.ValidationError(
                {name: ["Unknown field."] for name in sorted(set(data) - {"items"})}
            )
        if len(items) > MAX_ITEMS:
            raise exceptions.ValidationError(
                {"items": [f"At most {MAX_ITEMS} items per request; this one has {len(items)}."]}
            )
        try:
            result = contact_bulk_upsert(actor=Actor.of_api_key(self.api_key), items=items)
        except ContactBulkInvalid as exc:
            raise BulkInvalid(exc.errors) from None
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(
            {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "consent_recorded": result.consent_recorded,
                "results": [
                    {"index": r.index, "id": r.id, "crm_id": r.crm_id, "status": r.status}
                    for r in result.results
                ],
            }
        )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, BulkInvalid) and isinstance(response.data, dict):
            response.data["errors"] = exc.errors
        return response


@extend_schema(
    tags=["contacts"],
    summary="Everything stored about a contact (GDPR access and portability)",
    description="Profile and CRM attributes, the consent ledger, invitations with their "
    "status history, responses with answers, scores and comments, and the cases that "
    "concern the contact with the timeline entries and messages the customer saw or "
    "wrote. Times in UTC.",
    responses={200: ContactExportSerializer},
)
class ContactExportView(TenantAPIView):
    model = Contact
    serializer_class = ContactExportSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"GET": "contacts:read"}
    lookup_url_kwarg = "contact_id"

    def get(self, request: Request, contact_id: int) -> Response:
        document = contact_export(
            actor=Actor.of_api_key(self.api_key), contact=self.get_object(), via="api"
        )
        return Response(
            document,
            headers={"Content-Disposition": f'inline; filename="contact-{contact_id}.json"'},
        )


@extend_schema(
    tags=["contacts"],
    summary="Erase a contact's personal data (GDPR)",
    description="Anonymises the contact (CRM id becomes `erased-<id>`) and the personal "
    "data in their responses, cases, messages and invitations; scores stay, so "
    "dashboards keep their numbers. The contact is never surveyed again. Erasing again "
    "answers 200 with the first erasure's summary. Needs the scope `contacts:erase`.",
    request=None,
    responses={200: ErasureSerializer},
    examples=[OpenApiExample("Erased", value=ERASURE_EXAMPLE, response_only=True)],
)
class ContactEraseView(TenantAPIView):
    model = Contact
    serializer_class = ErasureSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"POST": "contacts:erase"}
    lookup_url_kwarg = "contact_id"

    def post(self, request: Request, contact_id: int) -> Response:
        result = contact_erase(actor=Actor.of_api_key(self.api_key), contact=self.get_object())
        return Response(ErasureSerializer(result.as_dict()).data)


__all__ = [
    "ContactBulkView",
    "ContactDetailView",
    "ContactEraseView",
    "ContactExportView",
    "ContactListView",
]
