"""Routes of this area (included by closedloop.urls); they start with ORG."""

from django.urls import URLPattern

ORG = "o/<slug:org_slug>/"

urlpatterns: list[URLPattern] = []
