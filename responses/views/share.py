"""The survey's share page: the open link with its QR code, the answer change window,
and the website widget (on/off, allowed websites). Viewing needs SURVEYS_VIEW, changing
SURVEYS_MANAGE; the change goes through ``surveys.services.survey_sharing_update``."""

from __future__ import annotations

import io

import segno
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from responses.forms_share import SurveySharingForm
from surveys.messages import absolute
from surveys.models import Survey, SurveyStatus
from surveys.selectors import survey_version_current
from surveys.services import survey_sharing_update
from surveys.views._common import can
from tenants.permissions import Capability, capability_required
from tenants.services import Actor

# Service error keys -> form fields.
_FIELD_OF_ERROR = {"answer_change_window": "change_window_amount"}


def _survey(survey_id: int) -> Survey:
    return get_object_or_404(Survey.objects.select_related("touchpoint__journey"), pk=survey_id)


def open_link_url(survey: Survey) -> str:
    return absolute(reverse("responses:open-link", kwargs={"public_id": survey.public_id}))


@capability_required(Capability.SURVEYS_VIEW)
@require_http_methods(["GET", "POST"])
def survey_share(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    survey = _survey(survey_id)
    can_manage = can(request, Capability.SURVEYS_MANAGE)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        form = SurveySharingForm(request.POST)
        if form.is_valid():
            try:
                survey_sharing_update(
                    actor=Actor.of_user(request.user), survey=survey, **form.service_kwargs()
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    field = _FIELD_OF_ERROR.get(name, name)
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Sharing settings saved."))
                return redirect("responses:survey-share", org_slug=org_slug, survey_id=survey.pk)
        status = 400
    else:
        form = SurveySharingForm(initial=SurveySharingForm.initial_for(survey))
    return render(
        request,
        "responses/share.html",
        {
            "survey": survey,
            "form": form,
            "can_manage": can_manage,
            "open_link": open_link_url(survey),
            "published": survey_version_current(survey) is not None,
            "active": survey.status == SurveyStatus.ACTIVE,
        },
        status=status,
    )


def _qr(survey: Survey, kind: str, content_type: str) -> HttpResponse:
    code = segno.make(open_link_url(survey), error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=8, border=4, xmldecl=True)
    else:
        code.save(buffer, kind="png", scale=10, border=4)
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    name = f"{slugify(survey.name) or 'survey'}-qr.{kind}"
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["Cache-Control"] = "private, no-cache"
    return response


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_qr_png(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    return _qr(_survey(survey_id), "png", "image/png")


@capability_required(Capability.SURVEYS_VIEW)
@require_GET
def survey_qr_svg(request: HttpRequest, org_slug: str, survey_id: int) -> HttpResponse:
    return _qr(_survey(survey_id), "svg", "image/svg+xml")
