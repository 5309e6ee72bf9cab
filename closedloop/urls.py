"""Closed-loop pages (routes start with o/<org_slug>/): the inbox and cases, settings
(routing, SLAs, business hours, root causes, reply templates) and the leaderboard.
Each area keeps its routes in its own module; the customer's follow-up page is in
``urls_public``."""

from closedloop import urls_cases, urls_messages, urls_settings

app_name = "closedloop"

urlpatterns = [
    *urls_cases.urlpatterns,
    *urls_messages.urlpatterns,
    *urls_settings.urlpatterns,
]
