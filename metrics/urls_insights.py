"""Dashboard URLs (insights): verbatims, themes and the theme taxonomy editor.

Paths are relative to ``o/<slug:org_slug>/dashboard/`` (see ``metrics/urls.py``).
"""

from django.urls import URLPattern, path

from metrics.views import insights as views

THEME = "themes/settings/<int:theme_id>/"

urlpatterns: list[URLPattern] = [
    path("verbatims/", views.verbatims, name="verbatims"),
    path("themes/", views.themes, name="themes"),
    path("themes/settings/", views.theme_list, name="theme-list"),
    path("themes/settings/new/", views.theme_create_view, name="theme-create"),
    path("themes/settings/retag/", views.theme_retag, name="theme-retag"),
    path(THEME, views.theme_edit, name="theme-edit"),
    path(THEME + "archive/", views.theme_archive_view, name="theme-archive"),
    path(THEME + "delete/", views.theme_delete_view, name="theme-delete"),
]
