"""Root URLs. Organization pages live under /o/<org_slug>/, the API under /api/v1/."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from config import health
from tenants import views_auth

# The admin signs in through the same form, lockout and two-factor as everyone else.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/sso/", views_auth.sso_find, name="sso-find"),
    path("accounts/sso/<slug:org_slug>/", views_auth.sso_start, name="sso-start"),
    # Addresses are managed by administrators (and SSO), not changed by their owners.
    path("accounts/email/", views_auth.not_offered, name="account-email-disabled"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    path("", include("responses.urls")),
    path("", include("closedloop.urls_public")),
    path("", include("closedloop.urls")),
    path("", include("metrics.urls")),
    path("", include("surveys.urls")),
    path("", include("integrations.urls")),
    path("", include("contacts.urls")),
    path("", include("tenants.urls")),
]

# The API's 404 is a problem (application/problem+json); pages keep templates/404.html.
handler404 = "config.api.not_found"
