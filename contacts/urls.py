"""Contact pages under /o/<org_slug>/contacts/; the tenant middleware has checked the
membership and entered the organization's context before any of these views run."""

from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("o/<slug:org_slug>/contacts/", views.contact_list_view, name="contact-list"),
    path("o/<slug:org_slug>/contacts/new/", views.contact_create_view, name="contact-create"),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/",
        views.contact_detail_view,
        name="contact-detail",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/edit/",
        views.contact_update_view,
        name="contact-update",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/consent/",
        views.consent_create_view,
        name="consent-create",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/consent.csv",
        views.consent_export_csv,
        name="consent-export-csv",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/consent.json",
        views.consent_export_json,
        name="consent-export-json",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/export.json",
        views.contact_export_json,
        name="contact-export-json",
    ),
    path(
        "o/<slug:org_slug>/contacts/<int:contact_id>/erase/",
        views.contact_erase_view,
        name="contact-erase",
    ),
    path("o/<slug:org_slug>/contacts/imports/", views.import_list_view, name="import-list"),
    path(
        "o/<slug:org_slug>/contacts/imports/new/",
        views.import_create_view,
        name="import-create",
    ),
    path(
        "o/<slug:org_slug>/contacts/imports/<int:import_id>/",
        views.import_detail_view,
        name="import-detail",
    ),
    path(
        "o/<slug:org_slug>/contacts/imports/<int:import_id>/errors.csv",
        views.import_errors_csv,
        name="import-errors",
    ),
]
