"""Public closed-loop routes: the customer's follow-up survey of a resolved case (no
login; the link's token names the organization; docs/closedloop/messages.md)."""

from django.urls import URLPattern, path

from closedloop.views import public

app_name = "closedloop_public"

urlpatterns: list[URLPattern] = [
    path("f/<str:token>/", public.follow_up_page, name="follow-up"),
    path("f/<str:token>/thanks/", public.follow_up_thanks, name="follow-up-thanks"),
]
