"""Response capture: public survey pages, open links, the widget (no login; a token or
public id names the organization) and the organization's response pages."""

from django.urls import path

from responses.views import feed, imports, public, share, widget

app_name = "responses"

ORG = "o/<slug:org_slug>/"

urlpatterns = [
    # Survey pages (public; the link names the organization; docs/responses/pages.md)
    path("s/<str:token>/", public.invitation_page, name="invitation"),
    path("s/<str:token>/thanks/", public.invitation_thanks, name="invitation-thanks"),
    path("l/<str:public_id>/", public.open_link_page, name="open-link"),
    path("r/<str:token>/", public.response_page, name="response"),
    path("r/<str:token>/thanks/", public.response_thanks, name="response-thanks"),
    # Website widget (public; docs/responses/widget.md)
    path("w/v1/widget.js", widget.widget_script, name="widget-script"),
    path("w/<str:public_id>/config", widget.widget_config_view, name="widget-config"),
    path("w/<str:public_id>/responses", widget.widget_submit_view, name="widget-submit"),
    # Organization pages
    path(ORG + "surveys/<int:survey_id>/share/", share.survey_share, name="survey-share"),
    path(ORG + "surveys/<int:survey_id>/qr.png", share.survey_qr_png, name="survey-qr-png"),
    path(ORG + "surveys/<int:survey_id>/qr.svg", share.survey_qr_svg, name="survey-qr-svg"),
    path(ORG + "responses/", feed.response_feed, name="feed"),
    path(ORG + "responses/feed/new/", feed.response_feed_new, name="feed-new"),
    path(ORG + "responses/<int:response_id>/", feed.response_detail, name="response-detail"),
    # CSV import of historical responses (docs/responses/import.md)
    path(ORG + "responses/import/", imports.import_upload, name="import"),
    path(ORG + "responses/import/<str:report_id>/", imports.import_report, name="import-report"),
    path(
        ORG + "responses/import/<str:report_id>/errors.csv",
        imports.import_errors_csv,
        name="import-errors",
    ),
]
