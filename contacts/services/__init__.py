"""Writes for contacts: single contacts, the consent ledger, and CSV imports."""

from contacts.services.consent import consent_record
from contacts.services.contact import contact_create, contact_mark_surveyed, contact_update
from contacts.services.imports import (
    ImportConsent,
    ImportResult,
    RowError,
    contact_import_discard,
    contact_import_file,
    contact_import_run,
    contact_import_upload,
)

__all__ = [
    "ImportConsent",
    "ImportResult",
    "RowError",
    "consent_record",
    "contact_create",
    "contact_import_discard",
    "contact_import_file",
    "contact_import_run",
    "contact_import_upload",
    "contact_mark_surveyed",
    "contact_update",
]
