"""Reads of the responses app.

The public survey pages find their organization from the link: an invitation token, a
survey's public id (open link) or a response's own token. Those lookups cross tenants on
purpose, once per request, each with one indexed query that brings along what the page
needs (organization, survey, touchpoint, version), so the submit path stays lean.
Everything else runs inside the organization's context.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from responses.answers import nps_group
from responses.models import Response, ResponseStatus
from surveys.models import Invitation, Journey, Survey, SurveyVersion
from surveys.rendering import render_questions
from surveys.schema import CHOICE_TYPES, SCALE_TYPES
from tenants.context import cross_tenant

# Tokens and public ids are URL-safe base64 (secrets.token_urlsafe). Anything else is
# refused before it reaches the database (a NUL byte would even be an error there).
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

logger = logging.getLogger(__name__)


def is_link_token(value: str) -> bool:
    return bool(_LINK_TOKEN.match(value or ""))


def invitation_for_answering(token: str) -> Invitation | None:
    """The invitation of a survey link ``/s/<token>/`` with its organization, contact,
    survey, touchpoint and version (one query; the organization's logo is left out)."""
    if not is_link_token(token):
        return None
    with cross_tenant(reason="public survey link: the invitation token names the organization"):
        return (
            Invitation.objects.select_related(
                "organization", "contact", "survey__touchpoint", "survey_version"
            )
            .defer("organization__logo")
            .filter(token=token)
            .first()
        )


def survey_version_by_public_id(public_id: str) -> SurveyVersion | None:
    """The current (latest published) version of the survey whose open link or widget
    carries ``public_id``, with survey, organization and touchpoint (one query).

    None for an unknown id or a survey without a published version; whether the survey
    takes answers (status, open link switched on) is the caller's decision.
    """
    if not is_link_token(public_id):
        return None
    key = public_id_cache_key(public_id)
    cached = _cache("get", key)
    if isinstance(cached, SurveyVersion):
        return cached
    with cross_tenant(reason="open link / widget: the survey's public id names the organization"):
        version = (
            SurveyVersion.objects.select_related("survey__organization", "survey__touchpoint")
            .defer("survey__organization__logo")
            .filter(survey__public_id=public_id, published_at__isnull=False)
            .order_by("-number")
            .first()
        )
    if version is not None:  # misses are not cached: guessing ids must not fill the cache
        _cache("set", key, version, PUBLIC_ID_CACHE_SECONDS)
    return version


# The open link and the widget are the hottest public paths: their survey (with its
# current version, organization and touchpoint) is cached for a minute and forgotten
# whenever the survey, one of its versions or its organization is saved
# (responses.apps connects the receivers to post_save/post_delete).
PUBLIC_ID_CACHE_SECONDS = 60


def _cache(method: str, *args: Any) -> Any:
    """A cache call that never fails the request: without the cache (Redis down) the
    public pages read the database, and the outage is logged."""
    try:
        return getattr(cache, method)(*args)
    except Exception:  # the cache (Redis) is down
        logger.warning("cache %s skipped: the cache is unavailable", method, exc_info=True)
        return None


def public_id_cache_key(public_id: str) -> str:
    return f"responses:survey-by-public-id:{public_id}"


def survey_public_id_forget(public_ids: Iterable[str]) -> None:
    _cache("delete_many", [public_id_cache_key(public_id) for public_id in public_ids])


def survey_by_public_id(public_id: str) -> Survey | None:
    """The survey whose open link or widget carries ``public_id``, with its organization
    (one query); None for an unknown id."""
    if not is_link_token(public_id):
        return None
    with cross_tenant(reason="open link / widget: the survey's public id names the organization"):
        return (
            Survey.objects.select_related("organization")
            .defer("organization__logo")
            .filter(public_id=public_id)
            .first()
        )


def response_by_token(token: str) -> Response | None:
    """The response of a response link ``/r/<token>/`` with organization, survey,
    touchpoint and the version it answers (one query)."""
    if not is_link_token(token):
        return None
    with cross_tenant(reason="response link: the response token names the organization"):
        return (
            Response.objects.select_related(
                "organization", "survey__touchpoint", "survey_version__survey"
            )
            .defer("organization__logo")
            .filter(token=token)
            .first()
        )


def response_for_invitation(invitation: Invitation) -> Response | None:
    """The response of an invitation (at most one). Current organization."""
    return Response.objects.filter(invitation_id=invitation.pk).first()


def response_for_open_link(*, survey_id: int, token: str) -> Response | None:
    """The open-link response a browser remembered (its cookie), if it still belongs to
    this survey. Current organization."""
    if not is_link_token(token):
        return None
    return (
        Response.objects.select_related("survey_version")
        .filter(token=token, survey_id=survey_id, invitation__isnull=True)
        .first()
    )


# --- The organization's response feed and response pages -------------------------------
#
# Newest first by ``responded_at`` (the ``response_feed`` index), cursor pages of 50.
# Live updates poll by id: a poll asks for rows with an id above ``after`` that it has not
# seen yet, and for the shown rows that may still change (a partial response gets its
# comment on the second step). ``seen`` keeps the last delivered ids above ``after``, so a
# row whose id was taken before a neighbour's but that committed after it still arrives.

FEED_PAGE_SIZE = 50
POLL_MAX_NEW = 50  # rows per poll; more than that: the page says "refresh"
POLL_SEEN_KEEP = 20
POLL_WATCH_MAX = 60
_MAX_ID_DIGITS = 18  # below 2**63: every database takes it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _positive_int(raw: str) -> int | None:
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_ID_DIGITS:
        return int(raw)
    return None


@dataclass(frozen=True, slots=True)
class FeedFilters:
    """What the feed shows. ``since`` inclusive, ``until`` exclusive (``responded_at``)."""

    survey_id: int | None = None
    touchpoint_id: int | None = None
    journey_id: int | None = None
    channel: str = ""
    nps_group: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, responses: QuerySet[Response]) -> QuerySet[Response]:
        lookups: dict[str, Any] = {
            "survey_id": self.survey_id,
            "touchpoint_id": self.touchpoint_id,
            "journey_id": self.journey_id,
            "channel": self.channel or None,
            "nps_group": self.nps_group or None,
            "status": self.status or None,
            "responded_at__gte": self.since,
            "responded_at__lt": self.until,
        }
        return responses.filter(**{key: value for key, value in lookups.items() if value})


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """The last row of a page: the next page starts below it."""

    responded_at: datetime
    response_id: int

    def encode(self) -> str:
        return f"{_micros(self.responded_at)}_{self.response_id}"

    @classmethod
    def decode(cls, raw: str) -> FeedCursor | None:
        """None for anything that is not a cursor this module made."""
        micros, _sep, response_id = (raw or "").partition("_")
        negative = micros.startswith("-")
        number = _positive_int(micros[1:] if negative else micros)
        pk = _positive_int(response_id)
        if number is None or pk is None:
            return None
        try:
            moment = _EPOCH + timedelta(microseconds=-number if negative else number)
        except OverflowError:
            return None
        return cls(moment, pk)


@dataclass(frozen=True, slots=True)
class FeedPollState:
    """Where a live feed stands, carried in the poll URL.

    Every response up to id ``after`` has been considered, and the ids in ``seen`` above
    it have been delivered. ``watch``: shown responses that may still change, with the
    ``updated_at`` they were shown with (microseconds since the epoch).
    """

    after: int
    seen: tuple[int, ...] = ()
    watch: tuple[tuple[int, int], ...] = ()

    def query(self) -> dict[str, str]:
        params = {"after": str(self.after)}
        if self.seen:
            params["seen"] = ",".join(str(pk) for pk in self.seen)
        if self.watch:
            params["watch"] = ",".join(f"{pk}.{stamp}" for pk, stamp in self.watch)
        return params

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> FeedPollState | None:
        """None without a valid ``after``; malformed ``seen``/``watch`` items are dropped."""
        after = _positive_int(query.get("after", ""))
        if after is None:
            return None
        seen = []
        for item in query.get("seen", "").split(",")[:POLL_SEEN_KEEP]:
            pk = _positive_int(item)
            if pk is not None and pk > after:
                seen.append(pk)
        watch = []
        for item in query.get("watch", "").split(",")[:POLL_WATCH_MAX]:
            pk_raw, _dot, stamp_raw = item.partition(".")
            pk, stamp = _positive_int(pk_raw), _positive_int(stamp_raw)
            if pk is not None and stamp is not None:
                watch.append((pk, stamp))
        return cls(after=after, seen=tuple(seen), watch=tuple(watch))


@dataclass(frozen=True, slots=True)
class FeedPage:
    rows: list[Response]
    older: FeedCursor | None  # where the next (older) page starts; None on the last page
    poll: FeedPollState | None  # where live updates start (the first page only)


@dataclass(frozen=True, slots=True)
class FeedPoll:
    new: list[Response]  # newest first
    changed: list[Response]  # shown rows whose answers or status changed
    state: FeedPollState
    more: bool  # more new responses arrived than one poll delivers

    @property
    def is_empty(self) -> bool:
        return not self.new and not self.changed


def _feed_rows() -> QuerySet[Response]:
    # What a feed row shows, in one query; the answers are read on the detail page.
    return Response.objects.select_related("survey", "touchpoint", "journey", "contact").defer(
        "answers", "metadata", "contact_attributes", "idempotency_key", "token"
    )


def _watch(rows: Iterable[Response], now: datetime) -> tuple[tuple[int, int], ...]:
    # Imported here: the submit service may read through this module one day.
    from responses.services.submit import response_can_change

    stamps = {row.pk: _micros(row.updated_at) for row in rows if response_can_change(row, now)}
    return tuple(sorted(stamps.items(), reverse=True)[:POLL_WATCH_MAX])


def response_feed_page(
    *, filters: FeedFilters, before: FeedCursor | None = None, now: datetime | None = None
) -> FeedPage:
    """One page of the feed, newest first; ``before``: the cursor of an older page.

    The first page also says where live updates start. The newest id is read before the
    page, so a response committed in between is on the page and marked as seen rather
    than missing from both.
    """
    now = now or timezone.now()
    newest = None
    if before is None:
        newest = Response.objects.aggregate(newest=Max("id"))["newest"] or 0
    responses = filters.apply(_feed_rows())
    if before is not None:
        responses = responses.filter(
            Q(responded_at__lt=before.responded_at)
            | Q(responded_at=before.responded_at, id__lt=before.response_id)
        )
    rows = list(responses.order_by("-responded_at", "-id")[: FEED_PAGE_SIZE + 1])
    older = None
    if len(rows) > FEED_PAGE_SIZE:
        rows = rows[:FEED_PAGE_SIZE]
        older = FeedCursor(rows[-1].responded_at, rows[-1].pk)
    poll = None
    if newest is not None:
        seen = tuple(sorted((row.pk for row in rows if row.pk > newest), reverse=True))
        poll = FeedPollState(after=newest, seen=seen[:POLL_SEEN_KEEP], watch=_watch(rows, now))
    return FeedPage(rows=rows, older=older, poll=poll)


def response_feed_poll_start() -> FeedPollState:
    """Live updates from now on (a poll that brings no state)."""
    return FeedPollState(after=Response.objects.aggregate(newest=Max("id"))["newest"] or 0)


def response_feed_poll(
    *, filters: FeedFilters, state: FeedPollState, now: datetime | None = None
) -> FeedPoll:
    """What arrived since ``state`` (matching ``filters``) and which watched rows changed.

    Two queries whatever the number of rows. At most ``POLL_MAX_NEW`` new rows, the
    newest; when more arrived, ``more`` is set and the older ones are left to a reload.
    """
    now = now or timezone.now()
    fresh = filters.apply(_feed_rows()).filter(id__gt=state.after)
    if state.seen:
        fresh = fresh.exclude(id__in=state.seen)
    new = list(fresh.order_by("-id")[: POLL_MAX_NEW + 1])
    more = len(new) > POLL_MAX_NEW
    new = new[:POLL_MAX_NEW]
    stamps = dict(state.watch)
    watched = list(_feed_rows().filter(id__in=stamps).order_by("-id")) if stamps else []
    changed = [row for row in watched if _micros(row.updated_at) != stamps[row.pk]]
    delivered = sorted({*state.seen, *(row.pk for row in new)}, reverse=True)
    seen: tuple[int, ...]
    if more:
        after, seen = max([state.after, *delivered]), ()
    else:
        kept, dropped = delivered[:POLL_SEEN_KEEP], delivered[POLL_SEEN_KEEP:]
        after, seen = max([state.after, *dropped]), tuple(kept)
    next_state = FeedPollState(after=after, seen=seen, watch=_watch([*new, *watched], now))
    return FeedPoll(new=new, changed=changed, state=next_state, more=more)


def feed_filter_choices() -> dict[str, list[Any]]:
    """Choices of the feed's filters: surveys, touchpoints grouped by journey, journeys."""
    from surveys.selectors import touchpoint_choices

    return {
        "survey": list(Survey.objects.order_by("name", "id").values_list("id", "name")),
        "touchpoint": touchpoint_choices(),
        "journey": list(Journey.objects.order_by("name", "id").values_list("id", "name")),
    }


# --- One response -------------------------------------------------------------------------


def response_get(*, response_id: int) -> Response:
    """One response of the current organization with what its page shows; raises
    ``Response.DoesNotExist`` (another organization's response does not exist here)."""
    return Response.objects.select_related(
        "survey", "survey_version", "touchpoint", "journey", "contact", "invitation"
    ).get(pk=response_id)


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    """One question of the response's version with the customer's answer.

    ``text``: as the customer saw it (a follow-up's text for their score group).
    ``value``: the scale value or the text; ``labels``: the chosen options' labels.
    """

    number: int
    question_id: str
    type: str
    text: str
    answered: bool
    value: Any = None
    labels: tuple[str, ...] = ()
    scale_min: int | None = None
    scale_max: int | None = None

    @property
    def kind(self) -> str:
        if self.type in SCALE_TYPES:
            return "scale"
        return "choice" if self.type in CHOICE_TYPES else "text"


def response_answers(response: Response, *, language: str | None) -> list[AnsweredQuestion]:
    """Every question of the response's version in ``language`` (else the version's
    default language), each with the answer given, if any."""
    answers = response.answers or {}
    items = []
    for question in render_questions(response.survey_version, language):
        value = answers.get(question.id)
        text = question.text
        if question.follow_up_for:
            score = answers.get(question.follow_up_for)
            group = nps_group(score) if isinstance(score, int) else None
            text = question.texts_by_group.get(group or "", "") or text
        labels: tuple[str, ...] = ()
        if question.is_choice and value is not None:
            names = {option.id: option.label for option in question.options}
            chosen = value if isinstance(value, list) else [value]
            labels = tuple(names.get(str(option_id)) or str(option_id) for option_id in chosen)
        items.append(
            AnsweredQuestion(
                number=question.number,
                question_id=question.id,
                type=question.type,
                text=text,
                answered=value is not None and value != [] and value != "",
                value=value,
                labels=labels,
                scale_min=question.scale_min,
                scale_max=question.scale_max,
            )
        )
    return items


# --- The API's list -----------------------------------------------------------------------


def response_list(
    *,
    survey_id: int | None = None,
    touchpoint_id: int | None = None,
    journey_id: int | None = None,
    channel: str = "",
    nps_group: str = "",
    completed: bool | None = None,
    contact_id: int | None = None,
    crm_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Response]:
    """Responses of the current organization, filtered; each with its contact's CRM id
    (``contact_crm_id``) and the number of the case it opened or joined
    (``case_number``), both in the same query, and its version prefetched (one query
    per page, whatever the number of responses). ``since``/``until`` bound the time of
    the answer (``since`` inclusive, ``until`` exclusive); ``updated_since`` the time of
    the last change (inclusive). The caller orders."""
    # The closed loop owns the link between responses and cases; it is read here, never
    # written (closedloop depends on responses, so the import waits for the call).
    from closedloop.models import CaseResponse

    case_number = CaseResponse.objects.filter(response_id=OuterRef("pk")).values("case__number")
    rows = (
        Response.objects.annotate(
            contact_crm_id=F("contact__crm_id"), case_number=Subquery(case_number[:1])
        )
        .prefetch_related("survey_version")
        .order_by()
    )
    for name, value in (
        ("survey_id", survey_id),
        ("touchpoint_id", touchpoint_id),
        ("journey_id", journey_id),
        ("contact_id", contact_id),
        ("responded_at__gte", since),
        ("responded_at__lt", until),
        ("updated_at__gte", updated_since),
    ):
        if value is not None:
            rows = rows.filter(**{name: value})
    if channel:
        rows = rows.filter(channel=channel)
    if nps_group:
        rows = rows.filter(nps_group=nps_group)
    if completed is not None:
        rows = rows.filter(status=ResponseStatus.COMPLETE if completed else ResponseStatus.PARTIAL)
    if crm_id:
        rows = rows.filter(contact__crm_id=crm_id)
    return rows
