"""GDPR access requests (Art. 15) as processing of personal data: each export is audited."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact
from contacts.selectors_gdpr import contact_data_export
from tenants.services import Actor, audit_log_record

EXPORT_ACTION = "contact.export"


def contact_export(*, actor: Actor, contact: Contact, via: str) -> dict[str, Any]:
    """Everything stored about the contact; the audit trail records who took it, and how
    (``via``: "web" or "api"), never the data itself."""
    document = contact_data_export(contact=contact)
    audit_log_record(
        actor=actor,
        action=EXPORT_ACTION,
        obj=contact,
        changes={
            "via": [None, via],
            "responses": [None, len(document.get("responses", []))],
            "cases": [None, len(document.get("cases", []))],
        },
    )
    return document
