"""Dashboard URLs (exports)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
