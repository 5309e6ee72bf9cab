"""Public closed-loop routes: the customer's follow-up survey of a resolved case."""

from django.urls import URLPattern

app_name = "closedloop_public"

urlpatterns: list[URLPattern] = []
