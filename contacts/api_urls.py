"""Routes of the contacts API under `/api/v1/` (included by `config.api`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from contacts import api

urlpatterns: list[URLPattern] = [
    path("contacts/", api.ContactListView.as_view(), name="contact-list"),
    path("contacts/bulk/", api.ContactBulkView.as_view(), name="contact-bulk"),
    path("contacts/<int:contact_id>/", api.ContactDetailView.as_view(), name="contact-detail"),
    path(
        "contacts/<int:contact_id>/export/",
        api.ContactExportView.as_view(),
        name="contact-export",
    ),
    path(
        "contacts/<int:contact_id>/erase/",
        api.ContactEraseView.as_view(),
        name="contact-erase",
    ),
]
