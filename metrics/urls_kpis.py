"""Dashboard URLs (kpis)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
