"""Survey versions: one draft at a time, publishing freezes it, and a published version
never changes (service, model, queryset update, raw SQL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from surveys.models import SurveyStatus, SurveyVersion, SurveyVersionImmutable
from surveys.selectors import survey_version_current, survey_version_draft
from surveys.services import (
    SchemaValidationError,
    survey_draft_create,
    survey_publish,
    survey_question_add,
    survey_question_update,
)
from tenants.context import tenant_context
from tenants.models import AuditLog
from tenants.services import Actor
from tests.conftest import Tenant
from tests.factories import survey_with_draft


def _published(tenant: Tenant) -> tuple[Any, SurveyVersion]:
    with tenant_context(tenant.organization):
        survey = survey_with_draft()
        version = survey_publish(actor=Actor.of_user(tenant.admin), survey=survey)
    return survey, version


def test_publishing_freezes_the_draft_as_the_current_version(tenant_a: Tenant) -> None:
    survey, version = _published(tenant_a)
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.ACTIVE
        assert version.number == 1
        assert version.published_at is not None
        assert version.published_by == tenant_a.admin
        assert survey_version_current(survey) == version
        assert survey_version_draft(survey) is None
        entry = AuditLog.objects.get(action="survey.publish")
        assert entry.changes == {"version": [None, 1]}


def test_a_published_version_cannot_change_through_the_services(tenant_a: Tenant) -> None:
    survey, version = _published(tenant_a)
    before = copy.deepcopy(version.schema)
    actor = Actor.of_user(tenant_a.admin)
    with tenant_context(tenant_a.organization):
        with pytest.raises(ValidationError, match="no draft"):
            survey_question_update(
                actor=actor,
                survey=survey,
                question_id="recommend",
                content={"text": {"en": "Changed"}},
            )
        with pytest.raises(ValidationError, match="no draft"):
            survey_question_add(actor=actor, survey=survey, question_type="text")
        with pytest.raises(ValidationError, match="no draft"):
            survey_publish(actor=actor, survey=survey)
        version.refresh_from_db()
    assert version.schema == before


def test_a_published_version_refuses_save_and_delete(tenant_a: Tenant) -> None:
    _survey, version = _published(tenant_a)
    with tenant_context(tenant_a.organization):
        stale = SurveyVersion.objects.get(pk=version.pk)
        stale.schema = {"questions": []}
        with pytest.raises(SurveyVersionImmutable):
            stale.save()
        stale.published_at = None  # even pretending to be a draft does not help
        with pytest.raises(SurveyVersionImmutable):
            stale.save(update_fields=["published_at"])
        with pytest.raises(SurveyVersionImmutable):
            stale.delete()
        version.refresh_from_db()
        assert version.questions[0]["id"] == "recommend"
        assert version.published_at is not None


def test_the_database_refuses_to_update_a_published_version(tenant_a: Tenant) -> None:
    _survey, version = _published(tenant_a)
    with tenant_context(tenant_a.organization):
        with pytest.raises(IntegrityError), transaction.atomic():
            SurveyVersion.objects.filter(pk=version.pk).update(schema={"questions": []})
        with pytest.raises(IntegrityError), transaction.atomic():
            SurveyVersion.objects.filter(pk=version.pk).update(published_at=None)
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE surveys_surveyversion SET languages = %s WHERE id = %s",
                ['["de"]', version.pk],
            )
        version.refresh_from_db()
        assert version.languages == ["en", "de"]
        assert version.questions[0]["id"] == "recommend"


def test_drafts_stay_editable_in_the_database(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = survey_with_draft()
        draft = survey_version_draft(survey)
        assert draft is not None
        assert SurveyVersion.objects.filter(pk=draft.pk).update(languages=["en"]) == 1


def test_deleting_the_publisher_only_clears_published_by(tenant_a: Tenant) -> None:
    cx = tenant_a.member("cx_manager")
    with tenant_context(tenant_a.organization):
        survey = survey_with_draft()
        version = survey_publish(actor=Actor.of_user(cx), survey=survey)
        schema = copy.deepcopy(version.schema)
        cx.delete()
        version.refresh_from_db()
    assert version.published_by is None
    assert version.schema == schema


def test_editing_a_published_survey_publishes_version_two(tenant_a: Tenant) -> None:
    survey, v1 = _published(tenant_a)
    v1_schema = copy.deepcopy(v1.schema)
    actor = Actor.of_user(tenant_a.admin)
    with tenant_context(tenant_a.organization):
        draft = survey_draft_create(actor=actor, survey=survey)
        assert draft.number == 2
        assert draft.schema == v1_schema
        assert survey_draft_create(actor=actor, survey=survey) == draft  # one draft only
        survey_question_update(
            actor=actor,
            survey=survey,
            question_id="recommend",
            content={"required": True, "text": {"en": "Would you recommend us?", "de": "Empf.?"}},
        )
        assert survey_version_current(survey) == v1  # still answering version 1
        v2 = survey_publish(actor=actor, survey=survey)
        assert v2.number == 2
        assert survey_version_current(survey) == v2
        v1.refresh_from_db()
        assert v1.schema == v1_schema
        assert v2.questions[0]["text"]["en"] == "Would you recommend us?"
        assert v2.questions[0]["id"] == v1.questions[0]["id"]  # stable ids across versions


def test_only_one_draft_per_survey(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey = survey_with_draft()
        with pytest.raises(IntegrityError), transaction.atomic():
            SurveyVersion.objects.create(survey=survey, number=2, languages=["en"])


def test_publishing_an_invalid_draft_changes_nothing(tenant_a: Tenant) -> None:
    actor = Actor.of_user(tenant_a.admin)
    with tenant_context(tenant_a.organization):
        survey = survey_with_draft()
        survey_question_add(actor=actor, survey=survey, question_type="single_choice")
        audit_before = AuditLog.objects.count()
        with pytest.raises(SchemaValidationError) as caught:
            survey_publish(actor=actor, survey=survey)
        assert [e.code for e in caught.value.schema_errors] == ["missing_text", "too_few_options"]
        draft = survey_version_draft(survey)
        assert draft is not None
        assert draft.published_at is None
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.DRAFT
        assert AuditLog.objects.count() == audit_before
