"""The organization's responses: the live feed, its polling endpoint, one response.

* ``/o/<org>/responses/``: newest first, filters as a GET form, cursor pages ("older").
  The first page polls ``feed/new/`` every few seconds (htmx); without JavaScript the
  page has a "Refresh" link.
* ``/o/<org>/responses/feed/new/?after=<id>&...``: the rows that arrived since (and the
  shown rows that changed, as out-of-band swaps), for the same filters; 204 when nothing
  did. Without ``after`` it only starts a poller.
* ``/o/<org>/responses/<id>/``: every answer with the question texts of the response's
  survey version in the user's language, scores, source details and timestamps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from responses.forms_feed import ResponseFilterForm
from responses.models import Response
from responses.selectors import (
    FeedCursor,
    FeedPollState,
    response_answers,
    response_feed_page,
    response_feed_poll,
    response_feed_poll_start,
    response_get,
)
from tenants.models import Organization
from tenants.permissions import Capability, capability_required

# Browsers poll this often while the page is open and visible.
POLL_SECONDS = 4
COMMENT_PREVIEW = 280


def _org(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined]


def _filter_form(request: HttpRequest) -> ResponseFilterForm:
    return ResponseFilterForm(request.GET, timezone_name=_org(request).timezone)


def _poll_url(org_slug: str, params: dict[str, str], state: FeedPollState) -> str:
    url = reverse("responses:feed-new", kwargs={"org_slug": org_slug})
    return f"{url}?{urlencode({**params, **state.query()})}"


def _row_context(now: datetime) -> dict[str, Any]:
    return {"just_now": now - timedelta(minutes=1), "comment_preview": COMMENT_PREVIEW}


@capability_required(Capability.RESPONSES_VIEW)
@require_GET
def response_feed(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = _filter_form(request)
    before = FeedCursor.decode(request.GET.get("before", ""))
    context: dict[str, Any] = {
        "form": form,
        "before": before,
        "rows": [],
        "poll_seconds": POLL_SECONDS,
        **_row_context(timezone.now()),
    }
    if form.is_valid():
        params = form.params()
        page = response_feed_page(filters=form.filters(), before=before)
        context["rows"] = page.rows
        context["newest_url"] = "?" + urlencode(params)
        if page.older is not None:
            context["older_url"] = "?" + urlencode({**params, "before": page.older.encode()})
        if page.poll is not None:
            context["poll_url"] = _poll_url(org_slug, params, page.poll)
    return render(request, "responses/feed.html", context)


@capability_required(Capability.RESPONSES_VIEW)
@require_GET
def response_feed_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid():
        return HttpResponse(status=400)
    params = form.params()
    state = FeedPollState.from_query(request.GET)
    if state is None:
        start = response_feed_poll_start()
        context = {"poll_url": _poll_url(org_slug, params, start), "poll_seconds": POLL_SECONDS}
        return render(request, "responses/feed_new.html", context)
    poll = response_feed_poll(filters=form.filters(), state=state)
    if poll.is_empty and poll.state == state:
        return HttpResponse(status=204)
    return render(
        request,
        "responses/feed_new.html",
        {
            "poll": poll,
            "poll_url": _poll_url(org_slug, params, poll.state),
            "poll_seconds": POLL_SECONDS,
            **_row_context(timezone.now()),
        },
    )


@capability_required(Capability.RESPONSES_VIEW)
@require_GET
def response_detail(request: HttpRequest, org_slug: str, response_id: int) -> HttpResponse:
    try:
        response = response_get(response_id=response_id)
    except Response.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "responses/response_detail.html",
        {
            "response": response,
            "answers": response_answers(response, language=translation.get_language()),
            "metadata": sorted((response.metadata or {}).items()),
            "attributes": sorted((response.contact_attributes or {}).items()),
            "page_url": _web_address((response.metadata or {}).get("page_url")),
        },
    )


def _web_address(value: Any) -> str:
    """A page address worth a link: http(s) only (it came from a customer's browser)."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return ""
