"""Root URLs. Organization pages live under /o/<org_slug>/, the API under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
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
