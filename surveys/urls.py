"""Journey, touchpoint and survey pages under /o/<org_slug>/; the tenant middleware has
checked the membership and entered the organization's context before these views run."""

from django.urls import path

from surveys.views import builder, distribution, journeys, preview, public

app_name = "surveys"

ORG = "o/<slug:org_slug>/"
SURVEY = ORG + "surveys/<int:survey_id>/"
QUESTION = SURVEY + "questions/<slug:question_id>/"
DIST = ORG + "distribution/"

urlpatterns = [
    # Journeys and touchpoints
    path(ORG + "journeys/", journeys.journey_list_view, name="journey-list"),
    path(ORG + "journeys/<int:journey_id>/", journeys.journey_detail, name="journey-detail"),
    path(
        ORG + "journeys/<int:journey_id>/delete/",
        journeys.journey_delete_view,
        name="journey-delete",
    ),
    path(
        ORG + "journeys/<int:journey_id>/touchpoints/",
        journeys.touchpoint_add_view,
        name="touchpoint-add",
    ),
    path(
        ORG + "touchpoints/<int:touchpoint_id>/",
        journeys.touchpoint_detail,
        name="touchpoint-detail",
    ),
    path(
        ORG + "touchpoints/<int:touchpoint_id>/move/",
        journeys.touchpoint_move_view,
        name="touchpoint-move",
    ),
    path(
        ORG + "touchpoints/<int:touchpoint_id>/delete/",
        journeys.touchpoint_delete_view,
        name="touchpoint-delete",
    ),
    # Surveys and the builder
    path(ORG + "surveys/", builder.survey_list_view, name="survey-list"),
    path(ORG + "surveys/new/", builder.survey_create_view, name="survey-create"),
    path(SURVEY, builder.survey_detail, name="survey-detail"),
    path(SURVEY + "settings/", builder.survey_settings_view, name="survey-settings"),
    path(SURVEY + "languages/", builder.survey_languages_view, name="survey-languages"),
    path(SURVEY + "questions/", builder.question_add_view, name="question-add"),
    path(QUESTION, builder.question_update_view, name="question-update"),
    path(QUESTION + "move/", builder.question_move_view, name="question-move"),
    path(QUESTION + "remove/", builder.question_remove_view, name="question-remove"),
    path(SURVEY + "publish/", builder.survey_publish_view, name="survey-publish"),
    path(SURVEY + "edit/", builder.survey_edit_view, name="survey-edit"),
    path(SURVEY + "discard/", builder.survey_discard_view, name="survey-discard"),
    path(SURVEY + "archive/", builder.survey_archive_view, name="survey-archive"),
    path(SURVEY + "restore/", builder.survey_restore_view, name="survey-restore"),
    path(SURVEY + "delete/", builder.survey_delete_view, name="survey-delete"),
    # Preview and versions
    path(SURVEY + "preview/", preview.survey_preview, name="survey-preview"),
    path(SURVEY + "preview/frame/", preview.survey_preview_frame, name="survey-preview-frame"),
    path(
        ORG + "surveys/versions/<int:version_id>/",
        preview.survey_version_detail,
        name="version-detail",
    ),
    # Distribution: settings, rules, manual sends, invitations, suppressed sends
    path(DIST, distribution.distribution_overview, name="distribution-overview"),
    path(DIST + "settings/", distribution.distribution_settings_view, name="distribution-settings"),
    path(DIST + "rules/new/", distribution.rule_create_view, name="rule-create"),
    path(DIST + "rules/<int:rule_id>/", distribution.rule_update_view, name="rule-update"),
    path(DIST + "rules/<int:rule_id>/delete/", distribution.rule_delete_view, name="rule-delete"),
    path(DIST + "rules/<int:rule_id>/test/", distribution.rule_test_view, name="rule-test"),
    path(DIST + "send/", distribution.manual_send_view, name="manual-send"),
    path(DIST + "invitations/", distribution.invitation_list_view, name="invitation-list"),
    path(
        DIST + "invitations/<int:invitation_id>/",
        distribution.invitation_detail,
        name="invitation-detail",
    ),
    path(DIST + "suppressed/", distribution.suppressed_list_view, name="suppressed-list"),
    path(DIST + "recurring/", distribution.recurring_list_view, name="recurring-list"),
    path(DIST + "recurring/new/", distribution.recurring_create_view, name="recurring-create"),
    path(
        DIST + "recurring/<int:recurring_id>/",
        distribution.recurring_update_view,
        name="recurring-update",
    ),
    path(
        DIST + "recurring/<int:recurring_id>/delete/",
        distribution.recurring_delete_view,
        name="recurring-delete",
    ),
    # Public unsubscribe link (no login; the token names the organization). The survey
    # link /s/<token>/ is responses:invitation.
    path("u/<str:token>/", public.invitation_unsubscribe_view, name="invitation-unsubscribe"),
]
