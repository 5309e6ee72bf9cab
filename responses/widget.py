"""Reads of the website widget: who the page says the customer is, and what the widget
shows them (the survey's configuration in one language).

The endpoints are in ``responses.views.widget``; docs/responses/widget.md describes the
protocol. Everything here runs in the survey's organization context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from contacts.models import Contact
from responses.signing import ATTRIBUTE_PREFIX, verify_params
from surveys.models import Survey, SurveyStatus, SurveyVersion
from surveys.rendering import RenderedQuestion, render_questions, resolve_language
from surveys.selectors import (
    contact_by_crm_id,
    survey_version_current,
    widget_contact_may_be_surveyed,
)

# Why the widget stays hidden (``reason`` of the configuration).
REASON_INACTIVE = "inactive"
REASON_BUDGET = "contact_budget"

IDENTITY_KEYS = frozenset({"crm_id", "exp", "sig"})


def identity_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The signed-identity parameters in ``params`` (``crm_id``, ``exp``, ``sig``,
    ``a.<name>``), as strings; everything else is left out."""
    return {
        str(key): str(value)
        for key, value in params.items()
        if (key in IDENTITY_KEYS or str(key).startswith(ATTRIBUTE_PREFIX))
        and isinstance(value, str | int)
        and not isinstance(value, bool)
    }


def language_code(value: Any) -> str:
    """``de-DE`` -> ``de``: the primary subtag of a page's or browser's language."""
    if not isinstance(value, str):
        return ""
    return value.strip().split("-")[0].split("_")[0].lower()[:8]


def origin_normalize(value: Any) -> str:
    """``scheme://host[:port]`` in lower case without a default port; "" when ``value``
    is not an http(s) origin (a path, if given, is dropped)."""
    if not isinstance(value, str):
        return ""
    parts = urlsplit(value.strip().lower())
    netloc = parts.netloc
    if parts.scheme not in ("http", "https") or not netloc or "@" in netloc:
        return ""
    default_port = ":80" if parts.scheme == "http" else ":443"
    if netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    return f"{parts.scheme}://{netloc}"


def origin_allowed(survey: Survey, origin: str) -> bool:
    origins = survey.allowed_origins if isinstance(survey.allowed_origins, list) else []
    wanted = origin_normalize(origin)
    return bool(wanted) and any(origin_normalize(allowed) == wanted for allowed in origins)


@dataclass(frozen=True, slots=True)
class WidgetIdentity:
    """The customer as the page's signed parameters name them. ``crm_id`` and
    ``attributes`` only when the signature is valid; ``contact`` when the CRM id is a
    contact of the organization."""

    crm_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    contact: Contact | None = None


def widget_identify(survey: Survey, params: Mapping[str, str]) -> WidgetIdentity:
    """Who is answering, if the page says so with a valid signature (else anonymous)."""
    identity = verify_params(survey.link_secret, params)
    if not identity.valid:
        return WidgetIdentity()
    return WidgetIdentity(
        crm_id=identity.crm_id,
        attributes=identity.attributes,
        contact=contact_by_crm_id(identity.crm_id),
    )


def widget_version(survey: Survey) -> SurveyVersion | None:
    """The version the widget asks: the current published one of an active survey."""
    if survey.status != SurveyStatus.ACTIVE:
        return None
    version = survey_version_current(survey)
    if version is not None:
        version.survey = survey  # loaded already, with its organization
    return version


def widget_texts() -> dict[str, str]:
    """The widget's own words in the active language."""
    return {
        "title": _("Your feedback"),
        "submit": _("Submit"),
        "sending": _("Sending…"),
        "close": _("Close"),
        "thank_you": _("Thank you!"),
        "thank_you_detail": _("Thank you for your time."),
        "required": _("Please answer this question."),
        "required_label": _("required"),
        "choose_all": _("Choose all that apply."),
        "max_length": _("Up to %(max)s characters."),
        "check": _("Please check your answers."),
        "failed": _("Your answers could not be sent. Please try again."),
    }


def _question(question: RenderedQuestion) -> dict[str, Any]:
    return {
        "id": question.id,
        "type": question.type,
        "required": question.required,
        "text": question.text,
        "scale": question.scale,
        "low_label": question.low_label,
        "high_label": question.high_label,
        "max_length": question.max_length,
        "multiple": question.is_choice and question.multiple,
        "options": [{"id": o.id, "label": o.label} for o in question.options],
        "follow_up_for": question.follow_up_for,
        "texts_by_group": question.texts_by_group,
    }


def widget_config(*, survey: Survey, language: str, params: Mapping[str, str]) -> dict[str, Any]:
    """What the widget needs to show ``survey``: questions and texts in ``language`` (or
    the survey's default), and whether to show it at all (``show``; ``reason`` when not:
    the survey is not active, or the identified contact's survey budget is used up)."""
    version = widget_version(survey)
    language = language_code(language)
    show, reason = True, ""
    if version is None:
        offered = {code for code, _name in settings.LANGUAGES}
        language = language if language in offered else survey.default_language
        show, reason = False, REASON_INACTIVE
    else:
        language = resolve_language(version, language)
        contact = widget_identify(survey, params).contact
        if contact is not None and not widget_contact_may_be_surveyed(contact, survey):
            show, reason = False, REASON_BUDGET
    with translation.override(language):
        texts = widget_texts()
    return {
        "survey": {
            "public_id": survey.public_id,
            "name": survey.name,
            "language": language,
            "languages": list(version.languages) if version is not None else [],
        },
        "questions": [_question(q) for q in render_questions(version, language)]
        if version is not None and show
        else [],
        "texts": texts,
        "show": show,
        "reason": reason,
    }
