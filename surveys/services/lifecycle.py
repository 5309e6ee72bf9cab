# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Writes for surveys and their versions: create, settings, draft, publish, archive.

A survey has at most one draft (a version with ``published_at`` NULL). Publishing
validates the draft's schema and freezes it; editing a published survey starts a new
draft copied from the latest published version, which is published as the next number.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.models import Survey, SurveyStatus, SurveyVersion, Touchpoint, empty_schema
from surveys.schema import INCOMPLETE_CODES, SchemaError, known_languages, survey_schema_validate
from surveys.services._common import clean_text_field, raise_if
from surveys.templates_library import SURVEY_TEMPLATES
from tenants.services import Actor, audit_log_record


class SchemaValidationError(ValidationError):
    """Publishing (or saving a draft) found problems in the questions.

    ``schema_errors`` keeps each problem's path so a page can point at the question.
    """

    def __init__(self, schema_errors: list[SchemaError]) -> None:
        super().__init__([error.message for error in schema_errors], code="invalid_schema")
        self.schema_errors = schema_errors


def _clean_languages(
    errors: dict[str, list[str]], languages: Any, default_language: Any
) -> list[str]:
    known = known_languages()
    requested = list(languages) if isinstance(languages, list | tuple) else []
    chosen = [code for code in known if code in requested]
    if not chosen or any(code not in known for code in requested):
        errors.setdefault("languages", []).append(_("Choose at least one of the listed languages."))
    elif default_language not in chosen:
        errors.setdefault("default_language", []).append(
            _("The default language must be one of the survey's languages.")
        )
    return chosen


def _clean_review_url(errors: dict[str, list[str]], review_url: Any) -> str:
    url = clean_text_field(errors, Survey, "review_url", review_url, required=False)
    if url:
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError:
            errors.setdefault("review_url", []).append(_("Enter a full web address (https://…)."))
    return url


def structural_errors(schema: Any, languages: Any, default_language: str) -> list[SchemaError]:
    """Problems a draft may not have even while it is being written."""
    return [
        error
        for error in survey_schema_validate(schema, languages, default_language)
        if error.code not in INCOMPLETE_CODES
    ]


def survey_create(
    *,
    actor: Actor,
    touchpoint: Touchpoint,
    name: str,
    languages: list[str],
    default_language: str,
    review_url: str = "",
    schema: dict[str, Any] | None = None,
    template_key: str = "",
) -> Survey:
    """Create a survey at a touchpoint with its first draft (version 1)."""
    errors: dict[str, list[str]] = {}
    name = clean_text_field(errors, Survey, "name", name)
    chosen = _clean_languages(errors, languages, default_language)
    url = _clean_review_url(errors, review_url)
    raise_if(errors)
    schema = copy.deepcopy(schema) if schema is not None else empty_schema()
    problems = structural_errors(schema, chosen, default_language)
    if problems:
        raise SchemaValidationError(problems)
    with transaction.atomic():
        touchpoint = Touchpoint.objects.select_related("journey").get(pk=touchpoint.pk)
        survey = Survey.objects.create(
            touchpoint=touchpoint,
            name=name,
            default_language=default_language,
            review_url=url,
        )
        SurveyVersion.objects.create(
            survey=survey,
            number=1,
            schema=schema,
            languages=chosen,
            default_language=default_language,
        )
        changes: dict[str, Any] = {
            "name": [None, name],
            "touchpoint": [None, f"{touchpoint.journey.name} / {touchpoint.name}"],
            "languages": [None, chosen],
        }
        if template_key:
            changes["template"] = [None, template_key]
        audit_log_record(actor=actor, action="survey.create", obj=survey, changes=changes)
    return survey


def survey_create_from_template(
    *,
    actor: Actor,
    touchpoint: Touchpoint,
    template_key: str,
    name: str,
    languages: list[str],
    default_language: str,
    review_url: str = "",
) -> Survey:
    """Create a survey whose first draft holds a copy of a template's questions."""
    template = SURVEY_TEMPLATES.get(template_key)
    if template is None:
        raise ValidationError({"template": _("Choose one of the listed templates.")})
    return survey_create(
        actor=actor,
        touchpoint=touchpoint,
        name=name,
        languages=languages,
        default_language=default_language,
        review_url=review_url,
        schema=template.copy_schema(),
        template_key=template.key,
    )


def survey_update(*, actor: Actor, survey: Survey, name: str, review_url: str) -> Survey:
    """Rename a survey or change its review link (neither is part of a version)."""
    errors: dict[str, list[str]] = {}
    name = clean_text_field(errors, Survey, "name", name)
    url = _clean_review_url(errors, review_url)
    raise_if(errors)
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        changes = {
            field: [getattr(survey, field), value]
            for field, value in (("name", name), ("review_url", url))
            if getattr(survey, field) != value
        }
        if changes:
            survey.name, survey.review_url = name, url
            survey.save(update_fields=["name", "review_url", "updated_at"])
            audit_log_record(actor=actor, action="survey.update", obj=survey, changes=changes)
    return survey


# --- Sharing: open link, website widget, answer change window -------------------------

MAX_ANSWER_CHANGE_WINDOW = timedelta(days=365)
MAX_ALLOWED_ORIGINS = 50
ORIGIN_MAX_LENGTH = 200
DEV_HOSTS = frozenset({"localhost", "127.0.0.1"})
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def origin_normalize(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``value`` is not an origin.

    https for any host name; plain http only for localhost and 127.0.0.1 (development).
    No path (a single trailing slash is dropped), query, fragment or user name.
    """
    text = value.strip()
    if not text or len(text) > ORIGIN_MAX_LENGTH or not text.isascii() or " " in text:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme.lower() not in ("https", "http")
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or text.endswith(("?", "#"))
    ):
        return None
    scheme = parts.scheme.lower()
    if scheme == "http" and host not in DEV_HOSTS:
        return None
    labels = host.split(".")
    if host not in DEV_HOSTS and (
        len(host) > 253
        or len(labels) < 2
        or not all(_HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        return None
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _clean_origins(errors: dict[str, list[str]], origins: Any) -> list[str]:
    values = [str(v) for v in origins] if isinstance(origins, list | tuple) else []
    cleaned: list[str] = []
    for raw in values:
        if not raw.strip():
            continue
        origin = origin_normalize(raw)
        if origin is None:
            errors.setdefault("allowed_origins", []).append(
                _(
                    "“%(value)s” is not a website origin. Use https://host or "
                    "https://host:port without a path (http only for localhost)."
                )
                % {"value": raw.strip()[:ORIGIN_MAX_LENGTH]}
            )
        elif origin not in cleaned:
            cleaned.append(origin)
    if len(cleaned) > MAX_ALLOWED_ORIGINS:
        errors.setdefault("allowed_origins", []).append(
            _("List at most %(max)s websites.") % {"max": MAX_ALLOWED_ORIGINS}
        )
    return cleaned


def survey_sharing_update(
    *,
    actor: Actor,
    survey: Survey,
    open_link_enabled: bool,
    widget_enabled: bool,
    allowed_origins: list[str],
    answer_change_window: timedelta,
) -> Survey:
    """Switch the open link and the website widget, set the websites allowed to show the
    widget (origins, normalized) and how long customers may change their answers."""
    errors: dict[str, list[str]] = {}
    origins = _clean_origins(errors, allowed_origins)
    if not isinstance(answer_change_window, timedelta) or not (
        timedelta(0) <= answer_change_window <= MAX_ANSWER_CHANGE_WINDOW
    ):
        errors.setdefault("answer_change_window", []).append(
            _("Choose a period from 0 to 365 days.")
        )
    if widget_enabled and not origins and "allowed_origins" not in errors:
        errors.setdefault("allowed_origins", []).append(
            _("List at least one website that may show the widget.")
        )
    raise_if(errors)
    values: dict[str, Any] = {
        "open_link_enabled": bool(open_link_enabled),
        "widget_enabled": bool(widget_enabled),
        "allowed_origins": origins,
        "answer_change_window": answer_change_window,
    }
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        changes = {
            name: [_plain(getattr(survey, name)), _plain(value)]
            for name, value in values.items()
            if getattr(survey, name) != value
        }
        if changes:
            for name, value in values.items():
                setattr(survey, name, value)
            survey.save(update_fields=[*values, "updated_at"])
            audit_log_record(
                actor=actor, action="survey.sharing_update", obj=survey, changes=changes
            )
    return survey


def _plain(value: Any) -> Any:
    """A JSON-friendly value for the audit log (a period in seconds)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value


def lock_draft(survey: Survey) -> SurveyVersion:
    """The survey's draft, locked for this transaction; refuses without one."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == SurveyStatus.ARCHIVED:
        raise ValidationError(_("This survey is archived. Restore it before you change it."))
    draft = (
        SurveyVersion.objects.select_for_update()
        .filter(survey=survey, published_at__isnull=True)
        .first()
    )
    if draft is None:
        raise ValidationError(
            _("This survey has no draft. Choose “Edit survey” to start version %(number)s.")
            % {"number": _next_number(survey)}
        )
    draft.survey = survey
    return draft


def _next_number(survey: Survey) -> int:
    last = SurveyVersion.objects.filter(survey=survey).aggregate(last=Max("number"))["last"]
    return (last or 0) + 1


def survey_draft_create(*, actor: Actor, survey: Survey) -> SurveyVersion:
    """Start editing: a new draft copied from the latest published version.

    Returns the existing draft when there is one (there is never more than one).
    """
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status == SurveyStatus.ARCHIVED:
            raise ValidationError(_("This survey is archived. Restore it before you change it."))
        draft = SurveyVersion.objects.filter(survey=survey, published_at__isnull=True).first()
        if draft is not None:
            return draft
        latest = (
            SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
            .order_by("-number")
            .first()
        )
        number = _next_number(survey)
        if latest is None:
            draft = SurveyVersion.objects.create(
                survey=survey,
                number=number,
                schema=empty_schema(),
                languages=[survey.default_language],
                default_language=survey.default_language,
            )
        else:
            draft = SurveyVersion.objects.create(
                survey=survey,
                number=number,
                schema=copy.deepcopy(latest.schema),
                languages=list(latest.languages),
                default_language=latest.default_language,
            )
        audit_log_record(
            actor=actor,
            action="survey.draft_create",
            obj=survey,
            changes={"version": [latest.number if latest else None, number]},
        )
    return draft


def survey_draft_discard(*, actor: Actor, survey: Survey) -> None:
    """Throw the draft away; the published version stays as it is."""
    with transaction.atomic():
        draft = lock_draft(survey)
        if not SurveyVersion.objects.filter(survey=survey, published_at__isnull=False).exists():
            raise ValidationError(
                _("This survey was never published: delete the survey instead of its draft.")
            )
        audit_log_record(
            actor=actor,
            action="survey.draft_discard",
            obj=draft.survey,
            changes={"version": [draft.number, None]},
        )
        draft.delete()


def survey_draft_languages_set(
    *, actor: Actor, survey: Survey, languages: list[str], default_language: str
) -> SurveyVersion:
    """Choose the languages the draft offers and the fallback language for its texts."""
    errors: dict[str, list[str]] = {}
    chosen = _clean_languages(errors, languages, default_language)
    raise_if(errors)
    with transaction.atomic():
        draft = lock_draft(survey)
        changes: dict[str, Any] = {}
        if draft.languages != chosen:
            changes["languages"] = [draft.languages, chosen]
        if draft.default_language != default_language:
            changes["default_language"] = [draft.default_language, default_language]
        if changes:
            draft.languages, draft.default_language = chosen, default_language
            draft.save(update_fields=["languages", "default_language"])
            survey = draft.survey
            if survey.status == SurveyStatus.DRAFT:
                survey.default_language = default_language
                survey.save(update_fields=["default_language", "updated_at"])
            audit_log_record(
                actor=actor, action="survey.languages_set", obj=survey, changes=changes
            )
    return draft


def survey_publish(*, actor: Actor, survey: Survey) -> SurveyVersion:
    """Validate the draft and freeze it as the survey's current version.

    Raises ``SchemaValidationError`` listing every problem; nothing changes then.
    """
    with transaction.atomic():
        draft = lock_draft(survey)
        problems = survey_schema_validate(draft.schema, draft.languages, draft.default_language)
        if problems:
            raise SchemaValidationError(problems)
        previous = (
            SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
        draft.published_at = timezone.now()
        draft.published_by_id = actor.user.pk if actor.user is not None else None
        draft.save(update_fields=["published_at", "published_by"])
        survey = draft.survey
        survey.status = SurveyStatus.ACTIVE
        survey.default_language = draft.default_language
        survey.save(update_fields=["status", "default_language", "updated_at"])
        audit_log_record(
            actor=actor,
            action="survey.publish",
            obj=survey,
            changes={"version": [previous, draft.number]},
        )
    return draft


def survey_archive(*, actor: Actor, survey: Survey) -> Survey:
    """Stop using a survey. Its versions and answers stay; it can be restored."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status != SurveyStatus.ARCHIVED:
            old = survey.status
            survey.status = SurveyStatus.ARCHIVED
            survey.archived_at = timezone.now()
            survey.save(update_fields=["status", "archived_at", "updated_at"])
            audit_log_record(
                actor=actor,
                action="survey.archive",
                obj=survey,
                changes={"status": [old, survey.status]},
            )
    return survey


def survey_restore(*, actor: Actor, survey: Survey) -> Survey:
    """Bring an archived survey back: active when it has a published version."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status == SurveyStatus.ARCHIVED:
            published = SurveyVersion.objects.filter(
                survey=survey, published_at__isnull=False
            ).exists()
            survey.status = SurveyStatus.ACTIVE if published else SurveyStatus.DRAFT
            survey.archived_at = None
            survey.save(update_fields=["status", "archived_at", "updated_at"])
            audit_log_record(
                actor=actor,
                action="survey.restore",
                obj=survey,
                changes={"status": [SurveyStatus.ARCHIVED.value, survey.status]},
            )
    return survey


def survey_delete(*, actor: Actor, survey: Survey) -> None:
    """Delete a survey that was never published (published versions are kept forever)."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if SurveyVersion.objects.filter(survey=survey, published_at__isnull=False).exists():
            raise ValidationError(
                _("This survey has published versions and is kept; archive it instead.")
            )
        audit_log_record(actor=actor, action="survey.delete", obj=survey)
        SurveyVersion.objects.filter(survey=survey).delete()
        survey.delete()
