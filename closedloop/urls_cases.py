"""Routes of this area (included by closedloop.urls); they start with ORG.

The inbox, one case and its actions (each a POST of its own), notifications and the
leaderboard (docs/closedloop/inbox.md)."""

from django.urls import URLPattern, path

from closedloop.views import cases, inbox, leaderboard, notifications

ORG = "o/<slug:org_slug>/"
CASE = ORG + "cases/<int:number>/"

urlpatterns: list[URLPattern] = [
    path(ORG + "cases/", inbox.inbox, name="inbox"),
    path(ORG + "cases/bulk-assign/", inbox.inbox_bulk_assign, name="case-bulk-assign"),
    path(ORG + "cases/notifications/", notifications.notification_list, name="notifications"),
    path(
        ORG + "cases/notifications/read/",
        notifications.notification_read_all,
        name="notification-read-all",
    ),
    path(ORG + "cases/leaderboard/", leaderboard.leaderboard_view, name="leaderboard"),
    path(CASE, cases.case_detail, name="case-detail"),
    path(CASE + "status/", cases.case_status, name="case-status"),
    path(CASE + "note/", cases.case_note, name="case-note"),
    path(CASE + "contact-attempt/", cases.case_contact_attempt, name="case-contact-attempt"),
    path(CASE + "root-causes/", cases.case_root_causes, name="case-root-causes"),
    path(CASE + "priority/", cases.case_priority, name="case-priority"),
    path(CASE + "assign/", cases.case_assign_view, name="case-assign"),
    path(CASE + "take/", cases.case_take, name="case-take"),
]
