"""Routes of this area (included by closedloop.urls); they start with ORG.

Messages to the customer from the case page (docs/closedloop/messages.md)."""

from django.urls import URLPattern, path

from closedloop.views import messages

ORG = "o/<slug:org_slug>/"
CASE = ORG + "cases/<int:number>/"

urlpatterns: list[URLPattern] = [
    path(CASE + "messages/", messages.case_message_send_view, name="case-message-send"),
    path(CASE + "messages/compose/", messages.case_message_compose, name="case-message-compose"),
]
