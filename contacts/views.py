"""Contact pages: list and search, detail with consent ledger and history, edit, staff
consent records, proof exports, and CSV imports (upload, column mapping, result)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contacts.forms import (
    ConsentForm,
    ContactEraseForm,
    ContactFilterForm,
    ContactForm,
    ImportMappingForm,
    ImportUploadForm,
)
from contacts.models import Channel, ConsentSource, Contact, ContactImport
from contacts.selectors import (
    attribute_keys,
    consent_ledger,
    contact_consent_proof,
    contact_get,
    contact_history,
    contact_import_list,
    contact_import_preview,
    contact_list,
)
from contacts.services import (
    ImportConsent,
    consent_record,
    contact_create,
    contact_import_discard,
    contact_import_run,
    contact_import_upload,
    contact_update,
)
from contacts.services.erasure import contact_erase
from contacts.services.gdpr import contact_export
from surveys.selectors import contact_distribution_history
from tenants.models import Organization
from tenants.permissions import Capability, capability_required, membership_has
from tenants.services import Actor

CONTACTS_PER_PAGE = 50
HISTORY_ENTRIES = 50
ERRORS_SHOWN = 200


def _org(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined]


def _can_manage(request: HttpRequest) -> bool:
    return membership_has(request.membership, Capability.CONTACTS_MANAGE)  # type: ignore[attr-defined]


def _form_errors_to(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _contact(contact_id: int) -> Contact:
    try:
        return contact_get(contact_id=contact_id)
    except Contact.DoesNotExist:
        raise Http404 from None


# --- Contacts -----------------------------------------------------------------------


@capability_required(Capability.CONTACTS_VIEW)
@require_GET
def contact_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ContactFilterForm(request.GET or None)
    contacts = Contact.objects.none()
    if not form.is_bound or form.is_valid():
        data = form.cleaned_data if form.is_bound else {}
        contacts = contact_list(
            search=data.get("q", ""),
            attribute=data.get("attribute"),
            consent=form.consent() if form.is_bound else {},
        )
    page = Paginator(contacts, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    attribute = form.cleaned_data.get("attribute") if form.is_bound and form.is_valid() else None
    return render(
        request,
        "contacts/contact_list.html",
        {
            "form": form,
            "page": page,
            "filtered": form.is_bound and any(v for k, v in request.GET.items() if k != "page"),
            "attribute_key": attribute.key if attribute else "",
            "attribute_keys": attribute_keys(),
            "can_manage": _can_manage(request),
        },
    )


@capability_required(Capability.CONTACTS_VIEW)
@require_GET
def contact_detail_view(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    contact = _contact(contact_id)
    can_manage = _can_manage(request)
    history = list(contact_history(contact)[: HISTORY_ENTRIES + 1])
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "consent": [
                (label, getattr(contact, f"consent_{channel}"))
                for channel, label in Channel.choices
            ],
            "ledger": consent_ledger(contact),
            "history": history[:HISTORY_ENTRIES],
            "history_truncated": len(history) > HISTORY_ENTRIES,
            # Invitations and suppressed sends ("why was this customer not surveyed?").
            "distribution": contact_distribution_history(contact),
            "can_manage": can_manage,
            "consent_form": ConsentForm(timezone_name=_org(request).timezone)
            if can_manage
            else None,
        },
    )


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contact_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = contact_create(actor=Actor.of_user(request.user), **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Contact “%(name)s” created.") % {"name": contact})
            return redirect("contacts:contact-detail", org_slug=org_slug, contact_id=contact.pk)
    return render(request, "contacts/contact_form.html", {"form": form, "contact": None})


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contact_update_view(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    form = ContactForm(request.POST or None, initial=ContactForm.initial_for(contact))
    if request.method == "POST" and form.is_valid():
        try:
            contact_update(actor=Actor.of_user(request.user), contact=contact, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("contacts:contact-detail", org_slug=org_slug, contact_id=contact.pk)
    return render(request, "contacts/contact_form.html", {"form": form, "contact": contact})


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def consent_create_view(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    form = ConsentForm(request.POST or None, timezone_name=_org(request).timezone)
    if request.method == "POST" and form.is_valid():
        try:
            consent_record(
                contact=contact,
                channel=form.cleaned_data["channel"],
                action=form.cleaned_data["action"],
                source=ConsentSource.STAFF,
                wording=form.cleaned_data["wording"],
                actor=Actor.of_user(request.user),
                occurred_at=form.cleaned_data["occurred_at"],
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("Consent recorded."))
            return redirect("contacts:contact-detail", org_slug=org_slug, contact_id=contact.pk)
    return render(request, "contacts/consent_form.html", {"form": form, "contact": contact})


# --- Consent proof ------------------------------------------------------------------

# A cell starting like a formula is run by spreadsheet programs (CSV injection);
# phone numbers and signed numbers are data and stay as they are.
_FORMULA = re.compile(r"^[=@\t\r]|^[+-](?![0-9 ()./-]*$)")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return "" if value is None else value


def _proof_file_name(contact: Contact, extension: str) -> str:
    crm_id = slugify(contact.crm_id) or str(contact.pk)
    return f"consent-{crm_id}-{timezone.now():%Y%m%d}.{extension}"


@capability_required(Capability.CONTACTS_VIEW)
@require_GET
def consent_export_csv(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    """The consent ledger as CSV: one row per event, then the current state per channel;
    every row carries the contact's identity."""
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    proof = contact_consent_proof(contact)
    identity = proof["contact"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["record", "crm_id", "first_name", "last_name", "email", "phone", "channel"]
    header += ["action", "state", "source", "wording", "actor", "occurred_at", "recorded_at"]
    writer.writerow([*header, "event_id"])
    who = [identity[name] for name in ("crm_id", "first_name", "last_name", "email", "phone")]
    for event in proof["events"]:
        writer.writerow(
            csv_safe(value)
            for value in [
                "event",
                *who,
                event["channel"],
                event["action"],
                event["state_after"],
                event["source"],
                event["wording"],
                event["actor"],
                event["occurred_at"],
                event["recorded_at"],
                event["id"],
            ]
        )
    for channel, current in proof["current_state"].items():
        writer.writerow(
            csv_safe(value)
            for value in [
                "current_state",
                *who,
                channel,
                "",
                current["state"],
                "",
                "",
                "",
                current["since"],
                "",
                current["event_id"],
            ]
        )
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_proof_file_name(contact, "csv")}"'
    response["Cache-Control"] = "no-store"
    return response


@capability_required(Capability.CONTACTS_VIEW)
@require_GET
def consent_export_json(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    proof = {
        "organization": {"slug": _org(request).slug, "name": _org(request).name},
        **contact_consent_proof(contact),
    }
    response = HttpResponse(
        json.dumps(proof, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{_proof_file_name(contact, "json")}"'
    response["Cache-Control"] = "no-store"
    return response


# --- GDPR: export and erasure -------------------------------------------------------


@capability_required(Capability.CONTACTS_MANAGE)
@require_GET
def contact_export_json(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    """Everything stored about the contact (GDPR access request), as a JSON download."""
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    document = {
        "organization": {"slug": _org(request).slug, "name": _org(request).name},
        **contact_export(actor=Actor.of_user(request.user), contact=contact, via="web"),
    }
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json"
    )
    name = f"contact-{slugify(contact.crm_id) or contact.pk}-{timezone.now():%Y%m%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contact_erase_view(request: HttpRequest, org_slug: str, contact_id: int) -> HttpResponse:
    """Confirm and run the erasure (GDPR): typing the CRM id guards against a slip."""
    contact = _contact(contact_id)
    form = ContactEraseForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        result = contact_erase(actor=Actor.of_user(request.user), contact=contact)
        messages.success(
            request,
            _(
                "The contact's personal data was erased: %(responses)d responses and "
                "%(cases)d cases anonymised."
            )
            % {"responses": result.responses_anonymised, "cases": result.cases_touched},
        )
        return redirect("contacts:contact-detail", org_slug=org_slug, contact_id=contact.pk)
    return render(request, "contacts/contact_erase.html", {"contact": contact, "form": form})


# --- Imports ------------------------------------------------------------------------


@capability_required(Capability.CONTACTS_MANAGE)
@require_GET
def import_list_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    page = Paginator(contact_import_list(), 25).get_page(request.GET.get("page"))
    return render(request, "contacts/import_list.html", {"page": page})


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_create_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            contact_import = contact_import_upload(
                actor=Actor.of_user(request.user), file_name=upload.name, data=upload.read()
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            return redirect(
                "contacts:import-detail", org_slug=org_slug, import_id=contact_import.pk
            )
    return render(request, "contacts/import_upload.html", {"form": form})


@capability_required(Capability.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def import_detail_view(request: HttpRequest, org_slug: str, import_id: int) -> HttpResponse:
    """A pending upload shows its column mapping; a completed import its result."""
    contact_import = get_object_or_404(ContactImport.objects, pk=import_id)
    actor = Actor.of_user(request.user)
    if not contact_import.is_pending:
        if request.method == "POST":
            return HttpResponseNotAllowed(["GET"])
        return render(
            request,
            "contacts/import_result.html",
            {
                "import": contact_import,
                "errors": contact_import.errors[:ERRORS_SHOWN],
                "errors_truncated": len(contact_import.errors) > ERRORS_SHOWN,
            },
        )
    if request.method == "POST" and request.POST.get("action") == "discard":
        contact_import_discard(actor=actor, contact_import=contact_import)
        messages.success(request, _("The upload was discarded."))
        return redirect("contacts:import-list", org_slug=org_slug)
    form = ImportMappingForm(
        request.POST or None, columns=contact_import.columns, mapping=contact_import.mapping
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact_import_run(
                actor=actor,
                contact_import=contact_import,
                mapping=form.cleaned_data["mapping"],
                consent=ImportConsent(
                    channels=form.cleaned_data["channels"],
                    wording=form.cleaned_data["consent_wording"],
                ),
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            return redirect("contacts:import-detail", org_slug=org_slug, import_id=import_id)
    samples = contact_import_preview(contact_import)
    return render(
        request,
        "contacts/import_mapping.html",
        {
            "import": contact_import,
            "form": form,
            "rows": [
                (column, samples.get(column, []), target, key)
                for column, target, key in form.rows()
            ],
        },
    )


@capability_required(Capability.CONTACTS_MANAGE)
@require_GET
def import_errors_csv(request: HttpRequest, org_slug: str, import_id: int) -> HttpResponse:
    """The error report of an import: row (as in the file), column, message."""
    contact_import = get_object_or_404(
        ContactImport.objects.only("file_name", "errors"), pk=import_id
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "column", "message"])
    for error in contact_import.errors:
        writer.writerow([error["row"], csv_safe(error["column"]), csv_safe(error["message"])])
    name = slugify(contact_import.file_name.rsplit(".", 1)[0]) or "import"
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-errors.csv"'
    response["Cache-Control"] = "no-store"
    return response
