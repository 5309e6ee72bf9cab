"""Receivers that keep the open-link / widget survey cache honest.

Connected in ``ResponsesConfig.ready``. They hold no business rules: saving a survey,
one of its versions or its organization forgets the cached look-up of the survey's
public id (``responses.selectors.survey_version_by_public_id``).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from responses.selectors import survey_public_id_forget
from surveys.models import Survey, SurveyVersion
from tenants.context import cross_tenant
from tenants.models import Organization


def _survey_saved(sender: Any, instance: Survey, **kwargs: Any) -> None:
    survey_public_id_forget([instance.public_id])


def _version_saved(sender: Any, instance: SurveyVersion, **kwargs: Any) -> None:
    public_ids = Survey._base_manager.filter(pk=instance.survey_id).values_list(
        "public_id", flat=True
    )
    survey_public_id_forget(list(public_ids))


def _organization_saved(sender: Any, instance: Organization, **kwargs: Any) -> None:
    with cross_tenant(reason="forget the cached open links of a changed organization"):
        public_ids = list(
            Survey._base_manager.filter(organization_id=instance.pk).values_list(
                "public_id", flat=True
            )
        )
    survey_public_id_forget(public_ids)


def connect() -> None:
    for signal in (post_save, post_delete):
        signal.connect(_survey_saved, sender=Survey, dispatch_uid="responses-survey-cache")
        signal.connect(_version_saved, sender=SurveyVersion, dispatch_uid="responses-version-cache")
        signal.connect(_organization_saved, sender=Organization, dispatch_uid="responses-org-cache")
