"""The survey builder through the HTTP client: create, edit questions and translations,
preview, publish (with and without problems), version 2, archive, roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from surveys.forms import QuestionForm
from surveys.models import Survey, SurveyStatus, SurveyVersion
from surveys.selectors import survey_version_current, survey_version_draft
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tests.conftest import Tenant
from tests.factories import TouchpointFactory, survey_with_draft


def _create(tenant: Tenant, template: str = "relationship-nps", name: str = "NPS") -> Survey:
    with tenant_context(tenant.organization):
        touchpoint: Any = TouchpointFactory(name="Renewal")
    form = tenant.client.get(tenant.url(f"surveys/new/?touchpoint={touchpoint.pk}"))
    assert form.status_code == 200
    assert f'<option value="{touchpoint.pk}" selected>' in form.content.decode()
    response = tenant.client.post(
        tenant.url("surveys/new/"),
        {
            "touchpoint": touchpoint.pk,
            "name": name,
            "template": template,
            "languages": ["en", "de"],
            "default_language": "en",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant.organization):
        survey = Survey.objects.get(name=name)
    assert response["Location"] == tenant.url(f"surveys/{survey.pk}/")
    return survey


def _draft(tenant: Tenant, survey: Survey) -> SurveyVersion:
    with tenant_context(tenant.organization):
        draft = survey_version_draft(survey)
    assert draft is not None
    return draft


def _question(tenant: Tenant, survey: Survey, question_id: str) -> dict[str, Any]:
    return next(q for q in _draft(tenant, survey).questions if q["id"] == question_id)


def _form_data(tenant: Tenant, survey: Survey, question_id: str, **changes: Any) -> dict[str, Any]:
    """What the builder's form for this question submits when only ``changes`` are edited."""
    draft = _draft(tenant, survey)
    form = QuestionForm(
        question=_question(tenant, survey, question_id),
        questions=draft.questions,
        languages=draft.languages,
        default_language=draft.default_language,
    )
    data = {name: form[name].value() for name in form.fields}
    data.update(changes)
    return {k: v for k, v in data.items() if v not in (None, False)}


def _save(tenant: Tenant, survey: Survey, question_id: str, **changes: Any) -> Any:
    return tenant.client.post(
        tenant.url(f"surveys/{survey.pk}/questions/{question_id}/"),
        _form_data(tenant, survey, question_id, **changes),
    )


def _audit(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        return list(AuditLog.objects.order_by("id").values_list("action", flat=True))


def _frame(tenant: Tenant, survey: Survey, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = tenant.client.get(tenant.url(f"surveys/{survey.pk}/preview/frame/?{query}"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    return response.content.decode()


def test_a_survey_is_created_from_a_template_with_both_languages(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    draft = _draft(tenant_a, survey)
    assert (draft.number, draft.languages, draft.default_language) == (1, ["en", "de"], "en")
    assert [q["type"] for q in draft.questions] == ["nps", "text", "csat"]
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    # Texts side by side: one field per language for every text.
    assert 'lang="en"' in page
    assert 'lang="de"' in page
    assert "How likely are you to recommend us to a friend or colleague?" in page
    assert "Wie wahrscheinlich ist es, dass Sie uns einem Freund" in page
    assert "Missing translations" not in page
    assert _audit(tenant_a)[-1] == "survey.create"
    with tenant_context(tenant_a.organization):
        assert AuditLog.objects.get(action="survey.create").changes["template"] == [
            None,
            "relationship-nps",
        ]


def test_a_question_of_each_type_is_added_with_a_stable_unique_id(tenant_a: Tenant) -> None:
    survey = _create(tenant_a, template="")
    types = ["nps", "ces", "csat", "text", "single_choice", "multiple_choice"]
    for qtype in types:
        response = tenant_a.client.post(
            tenant_a.url(f"surveys/{survey.pk}/questions/"), {"type": qtype}
        )
        assert response.status_code == 302
        assert re.search(r"#question-[a-z0-9-]+$", response["Location"])
    questions = _draft(tenant_a, survey).questions
    assert [q["type"] for q in questions] == types
    ids = [q["id"] for q in questions]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", i) for i in ids)
    bad = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/"), {"type": "stars"})
    assert bad.status_code == 200
    assert len(_draft(tenant_a, survey).questions) == len(types)
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    for question_id in ids:
        assert f'id="question-{question_id}"' in page


def test_texts_are_edited_and_translated_side_by_side(tenant_a: Tenant) -> None:
    survey = _create(tenant_a, template="")
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/"), {"type": "ces"})
    qid = _draft(tenant_a, survey).questions[0]["id"]
    response = _save(
        tenant_a,
        survey,
        qid,
        text_en="How easy was it?",
        low_en="Very difficult",
        high_en="Very easy",
        required="on",
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#question-{qid}")
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert "Missing translations" in page
    assert "German: 3 texts missing" in page
    # German falls back to English until translated.
    assert "How easy was it?" in _frame(tenant_a, survey, lang="de")
    _save(
        tenant_a,
        survey,
        qid,
        text_de="Wie einfach war es?",
        low_de="Sehr schwierig",
        high_de="Sehr einfach",
    )
    question = _question(tenant_a, survey, qid)
    assert question["text"] == {"en": "How easy was it?", "de": "Wie einfach war es?"}
    assert question["scale_labels"] == {
        "low": {"en": "Very difficult", "de": "Sehr schwierig"},
        "high": {"en": "Very easy", "de": "Sehr einfach"},
    }
    assert question["required"] is True
    assert (
        "Missing translations"
        not in tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    )
    german = _frame(tenant_a, survey, lang="de")
    assert '<html lang="de">' in german
    assert "Wie einfach war es?" in german
    assert "1 = Sehr schwierig" in german
    assert "7 = Sehr einfach" in german
    assert "Absenden" in german or "Submit" in german
    english = _frame(tenant_a, survey, lang="en")
    assert "How easy was it?" in english
    assert "Wie einfach" not in english
    assert _audit(tenant_a).count("survey.question_update") == 2


def test_choice_options_are_added_edited_and_removed(tenant_a: Tenant) -> None:
    survey = _create(tenant_a, template="")
    tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/questions/"), {"type": "multiple_choice"}
    )
    qid = _draft(tenant_a, survey).questions[0]["id"]
    _save(
        tenant_a,
        survey,
        qid,
        text_en="What did you buy?",
        text_de="Was haben Sie gekauft?",
        new_0_en="Shoes",
        new_0_de="Schuhe",
        new_1_en="Bags",
    )
    options = _question(tenant_a, survey, qid)["options"]
    assert [o["label"] for o in options] == [{"en": "Shoes", "de": "Schuhe"}, {"en": "Bags"}]
    shoes, bags = (o["id"] for o in options)
    _save(
        tenant_a,
        survey,
        qid,
        **{f"option_{bags}_de": "Taschen", f"option_{shoes}_remove": "on", "new_0_en": "Belts"},
    )
    options = _question(tenant_a, survey, qid)["options"]
    assert next(o["id"] for o in options) == bags  # ids are stable across edits
    assert [o["label"]["en"] for o in options] == ["Bags", "Belts"]
    frame = _frame(tenant_a, survey, lang="de")
    assert 'type="checkbox"' in frame
    assert "Taschen" in frame
    assert "<legend" in frame
    assert "Belts" in frame  # no German label yet: English stands in


def test_nps_follow_up_texts_by_group(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    response = _save(
        tenant_a,
        survey,
        "recommend-reason",
        group_passive_en="What is missing?",
        group_passive_de="Was fehlt Ihnen?",
    )
    assert response.status_code == 302
    question = _question(tenant_a, survey, "recommend-reason")
    assert question["follow_up_for"] == "recommend"
    assert question["texts_by_group"]["passive"] == {
        "en": "What is missing?",
        "de": "Was fehlt Ihnen?",
    }
    frame = _frame(tenant_a, survey, lang="de")
    assert 'data-follow-up-for="recommend"' in frame
    assert 'data-text-detractor="Was sollten wir verbessern?"' in frame
    assert 'data-text-passive="Was fehlt Ihnen?"' in frame
    assert "Was ist der wichtigste Grund für Ihre Bewertung?" in frame
    assert "js/survey.js" in frame


def test_bad_question_input_shows_field_errors_and_saves_nothing(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    before_schema = _draft(tenant_a, survey).schema
    before_audit = _audit(tenant_a)
    too_long = _save(tenant_a, survey, "recommend", text_de="x" * 501)
    assert too_long.status_code == 200
    assert "Ensure this value has at most 500 characters" in too_long.content.decode()
    orphan = _save(tenant_a, survey, "recommend-reason", follow_up_for="")
    assert orphan.status_code == 200
    assert "Choose the NPS question this follows up" in orphan.content.decode()
    bad_length = _save(tenant_a, survey, "recommend-reason", max_length="0")
    assert bad_length.status_code == 200
    assert 'id="question-recommend-reason"' in bad_length.content.decode()
    empty_option = survey_with_options(tenant_a)
    assert empty_option.status_code == 200
    assert "Give the option a label or remove it." in empty_option.content.decode()
    assert _draft(tenant_a, survey).schema == before_schema
    assert _audit(tenant_a)[: len(before_audit)] == before_audit


def survey_with_options(tenant: Tenant) -> Any:
    survey = _create(tenant, template="purchase-csat", name="CSAT")
    option = _question(tenant, survey, "purchase-topic")["options"][0]["id"]
    return _save(
        tenant, survey, "purchase-topic", **{f"option_{option}_en": "", f"option_{option}_de": ""}
    )


def test_duplicate_option_labels_are_refused_by_the_service(tenant_a: Tenant) -> None:
    survey = _create(tenant_a, template="purchase-csat", name="CSAT")
    before = _draft(tenant_a, survey).schema
    response = _save(tenant_a, survey, "purchase-topic", new_0_en="The product")
    assert response.status_code == 200
    assert "have the same label in English" in response.content.decode()
    assert _draft(tenant_a, survey).schema == before


def test_questions_are_reordered_and_removed_without_javascript(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    move = tenant_a.url(f"surveys/{survey.pk}/questions/value-for-money/move/")
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert f'action="{move}"' in page
    tenant_a.client.post(move, {"direction": "up"})
    order = [q["id"] for q in _draft(tenant_a, survey).questions]
    assert order == ["recommend", "value-for-money", "recommend-reason"]
    # A follow-up cannot move above the NPS question it follows up.
    tenant_a.client.post(move, {"direction": "up"})
    follow = tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/questions/recommend-reason/move/"), {"direction": "up"}
    )
    assert [q["id"] for q in _draft(tenant_a, survey).questions] == [
        "value-for-money",
        "recommend",
        "recommend-reason",
    ]
    assert (
        "must stay after the NPS question"
        in tenant_a.client.get(follow["Location"]).content.decode()
    )
    # The NPS question cannot go while its follow-up is there.
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/recommend/remove/"))
    assert len(_draft(tenant_a, survey).questions) == 3
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/recommend-reason/remove/"))
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/recommend/remove/"))
    assert [q["id"] for q in _draft(tenant_a, survey).questions] == ["value-for-money"]
    assert _audit(tenant_a).count("survey.question_remove") == 2


def test_publish_with_problems_lists_them_and_publishes_nothing(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/questions/"), {"type": "single_choice"})
    before = _audit(tenant_a)
    response = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The draft cannot be published yet" in html
    assert "Question 4: question text is missing in English, the default language." in html
    assert "Question 4: add at least two options." in html
    qid = _draft(tenant_a, survey).questions[3]["id"]
    assert f'href="#question-{qid}"' in html
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.DRAFT
        assert survey_version_current(survey) is None
    assert _audit(tenant_a) == before


def test_publish_edit_and_publish_version_two(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    # Leave one German text out: publishing works, with a warning.
    _save(tenant_a, survey, "value-for-money", text_de="")
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert "German: 1 text missing" in page
    assert "Question 3: question text" in page
    response = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"), follow=True)
    html = response.content.decode()
    assert "Version 1 is published." in html
    assert "1 text is missing in German: customers who answer in German see the" in html
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
        v1 = survey_version_current(survey)
    assert survey.status == SurveyStatus.ACTIVE
    assert v1 is not None
    assert v1.number == 1
    assert "Edit survey" in html
    assert f"surveys/{survey.pk}/questions/recommend/" not in html  # read-only now

    response = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/edit/"), follow=True)
    assert "Draft of version 2" in response.content.decode()
    _save(tenant_a, survey, "recommend", text_en="Would you recommend us?")
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"))
    with tenant_context(tenant_a.organization):
        v2 = survey_version_current(survey)
        v1.refresh_from_db()
    assert v2 is not None
    assert v2.number == 2
    assert v1.questions[0]["text"]["en"].startswith("How likely are you to recommend us")
    assert v2.questions[0]["text"]["en"] == "Would you recommend us?"

    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    for version in (v1, v2):
        assert tenant_a.url(f"surveys/versions/{version.pk}/") in page
    old = tenant_a.client.get(tenant_a.url(f"surveys/versions/{v1.pk}/")).content.decode()
    assert "How likely are you to recommend us" in old
    assert "Would you recommend us?" not in old
    assert "it never changes" in old
    preview_v1 = _frame(tenant_a, survey, version="1", lang="en")
    assert "How likely are you to recommend us" in preview_v1
    assert _audit(tenant_a).count("survey.publish") == 2


def test_draft_languages_and_survey_settings(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    bad = tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/languages/"),
        {"languages": ["de"], "default_language": "en"},
    )
    assert bad.status_code == 200
    assert "The default language must be one of the languages offered." in bad.content.decode()
    tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/languages/"),
        {"languages": ["en", "de"], "default_language": "de"},
    )
    draft = _draft(tenant_a, survey)
    assert (draft.languages, draft.default_language) == (["en", "de"], "de")
    settings_page = tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/settings/"),
        {"name": "Relationship NPS 2026", "review_url": "reviews.example.com/acme"},
    )
    assert settings_page.status_code == 302
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
    assert (survey.name, survey.review_url, survey.default_language) == (
        "Relationship NPS 2026",
        "https://reviews.example.com/acme",
        "de",
    )


def test_archive_restore_and_delete(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"))
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/archive/"))
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
    assert survey.status == SurveyStatus.ARCHIVED
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert "Restore" in page
    assert "Edit survey" not in page
    refused = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/edit/"), follow=True)
    assert "archived" in refused.content.decode()
    assert (
        tenant_a.client.get(tenant_a.url("surveys/?status=archived"))
        .content.decode()
        .count(f"surveys/{survey.pk}/")
    )
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/delete/"))  # published: kept
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/restore/"))
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.ACTIVE
    never_published = _create(tenant_a, name="Scratch", template="")
    response = tenant_a.client.post(tenant_a.url(f"surveys/{never_published.pk}/delete/"))
    assert response["Location"] == tenant_a.url("surveys/")
    with tenant_context(tenant_a.organization):
        assert not Survey.objects.filter(pk=never_published.pk).exists()
        assert Survey.objects.filter(pk=survey.pk).exists()
    assert _audit(tenant_a).count("survey.archive") == 1


def test_preview_shows_the_customer_page_per_language_and_width(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    page = tenant_a.client.get(
        tenant_a.url(f"surveys/{survey.pk}/preview/?lang=de&width=desktop")
    ).content.decode()
    frame_src = tenant_a.url(f"surveys/{survey.pk}/preview/frame/?version=1&amp;lang=de")
    assert f'src="{frame_src}"' in page
    assert 'width="1024"' in page
    phone = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/preview/")).content.decode()
    assert 'width="375"' in phone
    frame = _frame(tenant_a, survey, lang="de")
    # NPS: eleven radio inputs 0-10 with labels, in a fieldset whose legend is the question.
    for value in range(11):
        assert (
            f'<input type="radio" name="recommend" id="recommend-{value}" value="{value}" required>'
            in frame
        )
        assert f'<label for="recommend-{value}">{value}</label>' in frame
    assert '<legend class="sq-text">Wie wahrscheinlich ist es' in frame
    assert '<textarea name="recommend-reason"' in frame
    assert 'maxlength="2000"' in frame
    assert 'name="viewport"' in frame
    assert (
        tenant_a.client.get(
            tenant_a.url(f"surveys/{survey.pk}/preview/frame/?version=9")
        ).status_code
        == 404
    )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_viewers_and_owners_see_surveys_but_change_nothing(tenant_a: Tenant, role: str) -> None:
    survey = _create(tenant_a)
    tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"))
    with tenant_context(tenant_a.organization):
        version = survey_version_current(survey)
    assert version is not None
    client: Client = tenant_a.client_for(tenant_a.member(role))
    before = _audit(tenant_a)
    assert tenant_a.url("surveys/") in client.get(tenant_a.url()).content.decode()
    listing = client.get(tenant_a.url("surveys/")).content.decode()
    assert "NPS" in listing
    assert "New survey" not in listing
    detail = client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert "How likely are you to recommend us" in detail
    assert "publish/" not in detail
    assert "Edit survey" not in detail
    for path in (
        f"surveys/{survey.pk}/preview/",
        f"surveys/{survey.pk}/preview/frame/",
        f"surveys/versions/{version.pk}/",
    ):
        assert client.get(tenant_a.url(path)).status_code == 200, path
    assert client.get(tenant_a.url("surveys/new/")).status_code == 403
    for path in (
        "surveys/new/",
        f"surveys/{survey.pk}/settings/",
        f"surveys/{survey.pk}/languages/",
        f"surveys/{survey.pk}/questions/",
        f"surveys/{survey.pk}/questions/recommend/",
        f"surveys/{survey.pk}/questions/recommend/move/",
        f"surveys/{survey.pk}/questions/recommend/remove/",
        f"surveys/{survey.pk}/publish/",
        f"surveys/{survey.pk}/edit/",
        f"surveys/{survey.pk}/discard/",
        f"surveys/{survey.pk}/archive/",
        f"surveys/{survey.pk}/restore/",
        f"surveys/{survey.pk}/delete/",
    ):
        assert client.post(tenant_a.url(path), {"name": "x", "type": "nps"}).status_code == 403
    assert _audit(tenant_a) == before


def test_cx_manager_builds_and_publishes(tenant_a: Tenant) -> None:
    tenant_a.client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    survey = _create(tenant_a, template="support-ces", name="CES")
    response = tenant_a.client.post(tenant_a.url(f"surveys/{survey.pk}/publish/"))
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        survey.refresh_from_db()
    assert survey.status == SurveyStatus.ACTIVE


def _survey_list_queries(tenant: Tenant) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert tenant.client.get(tenant.url("surveys/")).status_code == 200
    return len(captured)


def test_survey_list_does_not_query_per_row(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        survey_with_draft(name="First")
    few = _survey_list_queries(tenant_a)
    with tenant_context(tenant_a.organization):
        for i in range(15):
            survey = survey_with_draft(name=f"S{i}")
            if i % 2:
                from surveys.services import survey_draft_create, survey_publish
                from tenants.services import SYSTEM

                survey_publish(actor=SYSTEM, survey=survey)
                survey_draft_create(actor=SYSTEM, survey=survey)
    assert _survey_list_queries(tenant_a) == few
    assert few <= 20


def test_texts_of_a_language_no_longer_offered_are_kept(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    tenant_a.client.post(
        tenant_a.url(f"surveys/{survey.pk}/languages/"),
        {"languages": ["en"], "default_language": "en"},
    )
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert 'lang="de"' not in page
    _save(tenant_a, survey, "recommend", text_en="Would you recommend us?")
    text = _question(tenant_a, survey, "recommend")["text"]
    assert text["en"] == "Would you recommend us?"
    assert text["de"].startswith("Wie wahrscheinlich")  # back when German is offered again


def test_german_builder(tenant_a: Tenant) -> None:
    survey = _create(tenant_a)
    tenant_a.client.cookies["django_language"] = "de"
    page = tenant_a.client.get(tenant_a.url(f"surveys/{survey.pk}/")).content.decode()
    assert '<html lang="de">' in page
    assert "Umfragen" in page
    assert "Frage 1" in page


def test_staff_admin_lists_surveys_read_only(tenant_a: Tenant) -> None:
    from tests.factories import UserFactory

    survey = _create(tenant_a)
    version = _draft(tenant_a, survey)
    root: Any = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    for model in ("journey", "touchpoint", "survey", "surveyversion"):
        assert client.get(f"/admin/surveys/{model}/").status_code == 200, model
    change = client.get(f"/admin/surveys/surveyversion/{version.pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
