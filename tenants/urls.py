"""Organization pages live under /o/<org_slug>/; the tenant middleware has checked the
membership and entered the organization's context before any of these views run."""

from django.urls import include, path

from tenants import views, views_auth

app_name = "tenants"

organization_patterns = [
    path("", views.organization_home, name="organization-home"),
    path("settings/", views.organization_settings, name="organization-settings"),
    path("settings/sign-in/", views_auth.sign_in_policy, name="sign-in-policy"),
    path("settings/members/", views.member_list, name="member-list"),
    path("settings/members/<int:membership_id>/", views.member_detail, name="member-detail"),
    path("settings/api-keys/", views.api_key_list_view, name="api-key-list"),
    path(
        "settings/api-keys/<int:api_key_id>/revoke/",
        views.api_key_revoke_view,
        name="api-key-revoke",
    ),
    path("settings/audit-log/", views.audit_log_list_view, name="audit-log-list"),
    path("teams/", views.team_list_view, name="team-list"),
    path("teams/<int:team_id>/", views.team_detail, name="team-detail"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("o/<slug:org_slug>/", include(organization_patterns)),
    path("branding/<slug:org_slug>/logo", views.organization_logo, name="organization-logo"),
]
