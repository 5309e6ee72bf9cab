# mypy: disallow-untyped-defs, disallow-incomplete-defs
"""Writes of the theme taxonomy: create, change, archive, restore and delete themes.

Each service validates what it is given (a ``ValidationError`` keyed by field, nothing
written), writes in one transaction, records an audit log entry and, once the
transaction has committed, has every comment of the organization re-tagged by a task
(``metrics.themes_retag_task``), so the verbatims and themes pages follow the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from metrics.models import Theme
from metrics.services.themes import keyword_text, normalize_keywords
from tenants.context import require_organization_id
from tenants.models import Organization
from tenants.services import Actor, audit_log_record

logger = logging.getLogger(__name__)

NAME_MAX = 100
DESCRIPTION_MAX = 300
KEYWORDS_MAX = 50
KEYWORD_MAX = 60


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _name_taken() -> str:
    return _("A theme with this name already exists.")


@contextmanager
def _name_taken_is_an_error() -> Iterator[None]:
    """A concurrent save may take the name between the check and the write: the unique
    constraint refuses it, and the person gets the same message as for the check."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise ValidationError({"name": _name_taken()}) from exc


def _theme_fields(
    *, name: str, keywords: Sequence[str], description: str, exclude: int | None = None
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = " ".join(str(name or "").split())
    description = str(description or "").strip()
    if not name:
        _add(errors, "name", _("This field is required."))
    elif len(name) > NAME_MAX:
        _add(errors, "name", _("Use at most %(max)s characters.") % {"max": NAME_MAX})
    if len(description) > DESCRIPTION_MAX:
        _add(errors, "description", _("Use at most %(max)s characters.") % {"max": DESCRIPTION_MAX})
    cleaned = normalize_keywords(keywords)
    if not cleaned:
        _add(errors, "keywords", _("Enter at least one keyword."))
    elif len(cleaned) > KEYWORDS_MAX:
        _add(
            errors,
            "keywords",
            _("Use at most %(max)s keywords (you entered %(count)s).")
            % {"max": KEYWORDS_MAX, "count": len(cleaned)},
        )
    for keyword in cleaned:
        words = keyword_text(keyword)
        if len(keyword) > KEYWORD_MAX:
            _add(
                errors,
                "keywords",
                _("“%(keyword)s” is too long: use at most %(max)s characters per keyword.")
                % {"keyword": keyword[:KEYWORD_MAX] + "…", "max": KEYWORD_MAX},
            )
        elif not any(character.isalnum() for character in words):
            _add(
                errors,
                "keywords",
                _("“%(keyword)s” has no letters or digits, so it cannot find a comment.")
                % {"keyword": keyword},
            )
    if name and len(name) <= NAME_MAX:
        duplicates = Theme.objects.filter(name__iexact=name)
        if exclude is not None:
            duplicates = duplicates.exclude(pk=exclude)
        if duplicates.exists():
            _add(errors, "name", _name_taken())
    if errors:
        raise ValidationError(errors)
    return {"name": name, "keywords": cleaned, "description": description}


def themes_retag_schedule() -> None:
    """After commit, have every comment of the current organization re-tagged."""
    organization_id = require_organization_id()
    transaction.on_commit(lambda: _enqueue_retag(organization_id))


def _enqueue_retag(organization_id: int) -> None:
    from metrics.tasks import themes_retag_task

    try:
        themes_retag_task.apply_async(
            kwargs={"organization_id": organization_id}, retry_policy={"max_retries": 0}
        )
    except Exception:  # noqa: BLE001 - the next change or "Re-tag now" runs it again
        logger.warning(
            "re-tagging the comments of organization %s not queued: broker unavailable",
            organization_id,
        )


def theme_create(
    *, actor: Actor, name: str, keywords: Sequence[str], description: str = ""
) -> Theme:
    """Add a theme; the organization's comments are re-tagged after commit."""
    fields = _theme_fields(name=name, keywords=keywords, description=description)
    with transaction.atomic():
        with _name_taken_is_an_error():
            theme = Theme.objects.create(**fields)
        audit_log_record(
            actor=actor,
            action="theme.create",
            obj=theme,
            changes={key: [None, value] for key, value in fields.items() if value},
        )
        themes_retag_schedule()
    return theme


def theme_update(
    *, actor: Actor, theme: Theme, name: str, keywords: Sequence[str], description: str = ""
) -> Theme:
    """Rename a theme or change its keywords; a keyword change re-tags the comments."""
    fields = _theme_fields(name=name, keywords=keywords, description=description, exclude=theme.pk)
    with transaction.atomic():
        theme = Theme.objects.select_for_update().get(pk=theme.pk)
        changes = {
            key: [getattr(theme, key), value]
            for key, value in fields.items()
            if getattr(theme, key) != value
        }
        if changes:
            for key, value in fields.items():
                setattr(theme, key, value)
            theme.updated_at = timezone.now()
            with _name_taken_is_an_error():
                theme.save()
            audit_log_record(actor=actor, action="theme.update", obj=theme, changes=changes)
            if "keywords" in changes and not theme.archived:
                themes_retag_schedule()
    return theme


def theme_archive(*, actor: Actor, theme: Theme, archived: bool = True) -> Theme:
    """Archive a theme (it no longer tags comments and leaves the pages) or restore it
    (``archived=False``); the comments are re-tagged either way."""
    with transaction.atomic():
        theme = Theme.objects.select_for_update().get(pk=theme.pk)
        if theme.archived != archived:
            audit_log_record(
                actor=actor,
                action="theme.archive" if archived else "theme.restore",
                obj=theme,
                changes={"archived": [theme.archived, archived]},
            )
            theme.archived = archived
            theme.updated_at = timezone.now()
            theme.save(update_fields=["archived", "updated_at"])
            themes_retag_schedule()
    return theme


def theme_delete(*, actor: Actor, theme: Theme) -> None:
    """Delete a theme together with its taggings (archive it instead to keep it for the
    record). No re-tag is needed: the other themes' taggings stay as they are."""
    with transaction.atomic():
        theme = Theme.objects.select_for_update().get(pk=theme.pk)
        audit_log_record(
            actor=actor,
            action="theme.delete",
            obj=theme,
            changes={"name": [theme.name, None], "keywords": [theme.keywords, None]},
        )
        theme.delete()


def themes_retag_request(*, actor: Actor) -> None:
    """Re-tag every comment of the current organization now (when a re-tag was lost
    because the broker was away, say)."""
    organization = Organization.objects.get(pk=require_organization_id())
    with transaction.atomic():
        audit_log_record(actor=actor, action="theme.retag", obj=organization)
        themes_retag_schedule()
