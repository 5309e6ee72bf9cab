"""Writes for journeys, touchpoints, surveys, versions and questions.

One module per topic; everything is importable from ``surveys.services``.
"""

from surveys.services.journeys import (
    journey_create,
    journey_delete,
    journey_update,
    touchpoint_add,
    touchpoint_delete,
    touchpoint_move,
    touchpoint_reorder,
    touchpoint_update,
)
from surveys.services.lifecycle import (
    SchemaValidationError,
    survey_archive,
    survey_create,
    survey_create_from_template,
    survey_delete,
    survey_draft_create,
    survey_draft_discard,
    survey_draft_languages_set,
    survey_publish,
    survey_restore,
    survey_sharing_update,
    survey_update,
)
from surveys.services.questions import (
    survey_question_add,
    survey_question_move,
    survey_question_remove,
    survey_question_update,
)

__all__ = [
    "SchemaValidationError",
    "journey_create",
    "journey_delete",
    "journey_update",
    "survey_archive",
    "survey_create",
    "survey_create_from_template",
    "survey_delete",
    "survey_draft_create",
    "survey_draft_discard",
    "survey_draft_languages_set",
    "survey_publish",
    "survey_question_add",
    "survey_question_move",
    "survey_question_remove",
    "survey_question_update",
    "survey_restore",
    "survey_sharing_update",
    "survey_update",
    "touchpoint_add",
    "touchpoint_delete",
    "touchpoint_move",
    "touchpoint_reorder",
    "touchpoint_update",
]
