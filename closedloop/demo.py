"""Demo cases with running SLA clocks (idempotent; called by ``manage.py seed_demo``).

The demo's responses are routed the way production routes them, at the time they were
given: a small simulation replays the last five weeks in time order (older responses
stay without cases: the replay is the most expensive part of the demo seed). Each case that
opens gets a story (its owner tries to reach the customer, takes notes, waits on the
customer, tags root causes, resolves it, sometimes asks the follow-up survey, closes
it), and the escalation sweep runs at every step, so reminders, breaches and
escalations happen when they would have. Whatever lies after today is not played:
recent cases stand in the middle of their story.

A dozen fresh responses of the last days add cases in every state: brand new, due
soon, overdue and escalated, in progress with contact attempts, waiting on the
customer, with a reply from the customer, resolved with the customer recovered or not,
closed. Routing rules of the demo add a keyword rule (cancellation and refunds are
urgent) and rules for low CES and CSAT scores, so the call centre and the online shop
have cases too.

Running it again routes only responses that have no case yet and sweeps once more.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from closedloop.models import (
    OPEN_CASE_STATUSES,
    AssignMode,
    BusinessHours,
    Case,
    CaseResponse,
    CaseStatus,
    MessageChannel,
    MessageTemplate,
    Notification,
    Priority,
    RootCause,
    RoutingRule,
    SlaPolicy,
)
from closedloop.routing import conditions_clean
from closedloop.services.cases import (
    ALLOWED_TRANSITIONS,
    case_assign,
    case_contact_attempt_log,
    case_note_add,
    case_root_causes_set,
    case_transition,
)
from closedloop.services.defaults import closedloop_defaults_create
from closedloop.services.escalations import escalation_sweep
from closedloop.services.routing import response_route
from contacts.models import Contact
from responses.models import Response, ResponseChannel
from responses.services import response_submit
from surveys.models import Survey, SurveyStatus, SurveyVersion, Touchpoint
from surveys.schema import CES, CSAT, NPS, TEXT
from tenants.context import tenant_context
from tenants.models import Membership, Organization, Role, Team
from tenants.services import SYSTEM, Actor

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OWNER_LOGIN = "owner@demo.example"
# Follow-up surveys of the replayed history (each is an email to a demo customer).
MAX_HISTORY_FOLLOW_UPS = 6
# How far back responses are routed into cases.
HISTORY = timedelta(days=35)

NPS_RENEWAL = "Relationship NPS at renewal"
NPS_REPAIR = "NPS after repair"
CES_SUPPORT = "Support call effort"
CSAT_PURCHASE = "Satisfaction after purchase"


@dataclass(frozen=True, slots=True)
class DemoCases:
    inbox_url: str = ""
    owner_login: str = OWNER_LOGIN
    open_cases: int = 0
    overdue: int = 0
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class Live:
    """A fresh response of the last days and the story of its case."""

    key: str
    survey: str
    hours_ago: float
    score: int
    comment: str
    story: str


LIVE = [
    Live("fresh", NPS_RENEWAL, 0.4, 1, "Die Rechnung ist seit drei Monaten falsch.", "new"),
    Live("due-soon", NPS_RENEWAL, 20, 3, "Der Techniker kam zweimal nicht zum Termin.", "new"),
    Live("overdue", NPS_REPAIR, 30, 2, "Die Reparatur dauert schon drei Wochen.", "new"),
    Live(
        "escalated",
        NPS_RENEWAL,
        77,
        0,
        "Wenn das so weitergeht, werde ich meinen Vertrag kündigen.",
        "new",
    ),
    Live("contacted", NPS_REPAIR, 10, 4, "Das Gerät kam mit Kratzern zurück.", "contacted"),
    Live("waiting", NPS_RENEWAL, 50, 6, "Die Preiserhöhung ist nicht nachvollziehbar.", "waiting"),
    Live("replied", NPS_REPAIR, 28, 5, "Ersatzteil fehlt seit Wochen.", "replied"),
    Live("recovered", NPS_RENEWAL, 6 * 24, 2, "Falsche Abrechnung, zweimal.", "recovered"),
    Live("not-recovered", NPS_REPAIR, 9 * 24, 1, "Reparatur hat nichts gebracht.", "not_recovered"),
    Live("closed", NPS_RENEWAL, 14 * 24, 7, "Die Lieferung hat etwas gedauert.", "closed"),
    Live("support", CES_SUPPORT, 6, 2, "Dreimal weiterverbunden, niemand war zuständig.", "new"),
    Live(
        "shop",
        CSAT_PURCHASE,
        15,
        1,
        "Zahlung schlug fehl, das Geld wurde trotzdem abgebucht.",
        "contacted",
    ),
]

NOTES = [
    "Kunde erreicht, Problem verstanden. Kläre das intern mit dem Fachbereich.",
    "Rückruf vereinbart; Kunde wünscht eine schriftliche Bestätigung.",
    "Mit dem Servicepartner gesprochen, Ursache liegt in der Terminplanung.",
    "Kunde war verärgert, hat sich nach dem Gespräch beruhigt.",
]
SUMMARIES = [
    "Entschuldigt, Gutschrift veranlasst und den Ablauf mit dem Team besprochen.",
    "Ersatz geliefert, Kunde ist zufrieden.",
    "Rechnung korrigiert und den Fehler im Abrechnungssystem gemeldet.",
    "Neuen Termin vereinbart und eingehalten.",
]
PROMOTER_SUMMARY = "Bedankt und um eine Weiterempfehlung gebeten."
CAUSES_BY_WORD = [
    (("liefer", "delivery", "parcel", "paket"), "Delivery"),
    (("rechnung", "abrechnung", "billing", "zahlung", "abgebucht"), "Billing"),
    (("preis", "teuer", "price", "pricey"), "Price"),
    (("warte", "hold", "lange", "dauert"), "Waiting time"),
    (("techniker", "freundlich", "staff"), "Staff behaviour"),
    (("kratzer", "beschädigt", "damaged", "reparatur", "ersatzteil"), "Product quality"),
    (("e-mail", "email", "weiterverbunden", "zuständig"), "Communication"),
]


def seed_cases(organization: Organization, *, now: datetime | None = None) -> DemoCases:
    """Route the demo's responses into cases with stories; what to show (see module)."""
    now = now or timezone.now()
    # One transaction: its outbox events and notification emails reach the workers as a
    # few tasks after commit, not hundreds.
    with (
        transaction.atomic(),
        tenant_context(organization),
        translation.override(organization.default_language),
    ):
        closedloop_defaults_create(language=organization.default_language)
        _demo_rules()
        _business_hours(now)
        _touchpoint_teams()
        first_notification = _last_notification_id()
        live = _live_responses(now)
        replay = _Replay(now, live)
        for response in (
            Response.objects.exclude(channel=ResponseChannel.IMPORT)
            .filter(responded_at__gte=now - HISTORY)
            .exclude(pk__in=CaseResponse.objects.values("response_id"))
            .select_related("touchpoint", "contact")
            .order_by("responded_at", "pk")
        ):
            replay.add(response.responded_at, replay.route_step(response))
        replay.run()
        _quiet_history(first_notification, replay.live_case_ids, now)
        open_cases = Case.objects.filter(status__in=OPEN_CASE_STATUSES)
        return DemoCases(
            inbox_url=_inbox_url(organization),
            open_cases=open_cases.count(),
            # A case waiting on the customer is paused, not overdue.
            overdue=open_cases.filter(paused_at__isnull=True)
            .filter(
                Q(resolution_due_at__lt=now)
                | Q(first_responded_at__isnull=True, first_response_due_at__lt=now)
            )
            .count(),
            waiting=open_cases.filter(status=CaseStatus.WAITING).count(),
        )


def _inbox_url(organization: Organization) -> str:
    try:
        path = reverse("closedloop:inbox", kwargs={"org_slug": organization.slug})
    except NoReverseMatch:
        path = f"/o/{organization.slug}/cases/"
    return settings.SITE_URL.rstrip("/") + path


# --- Set-up ---------------------------------------------------------------------------


def _policy(resolution_days: int) -> SlaPolicy | None:
    return (
        SlaPolicy.objects.filter(resolution_minutes=resolution_days * 24 * 60).first()
        or SlaPolicy.objects.first()
    )


def _demo_rules() -> None:
    """A keyword rule first, and rules for low CES and CSAT scores after the defaults."""
    urgent, detractor, passive = _policy(2), _policy(2), _policy(5)
    rules = [
        (
            0,
            _("Cancellation or refund mentioned"),
            [
                {
                    "field": "comment",
                    "op": "contains_any",
                    "value": ["kündig", "cancel", "refund", "erstatt", "anwalt", "lawyer"],
                }
            ],
            Priority.URGENT,
            urgent,
        ),
        (
            10,
            _("Hard work for the customer (CES 1-3)"),
            [{"field": "ces", "op": "between", "value": [1, 3]}],
            Priority.NORMAL,
            passive,
        ),
        (
            11,
            _("Dissatisfied after a purchase (CSAT 1-2)"),
            [{"field": "csat", "op": "lte", "value": 2}],
            Priority.HIGH,
            detractor,
        ),
    ]
    for position, name, raw, priority, policy in rules:
        if RoutingRule.objects.filter(name=name).exists():
            continue
        conditions, errors = conditions_clean(raw)
        if errors:
            raise ValueError(f"demo rule {name!r}: {errors}")
        RoutingRule.objects.create(
            position=position,
            name=name,
            conditions=conditions,
            priority=priority,
            sla_policy=policy,
            assign_mode=AssignMode.TOUCHPOINT_TEAM,
        )


def _business_hours(now: datetime) -> None:
    """Office hours with this and next year's German public holidays (shown in the
    settings; the default policies count around the clock)."""
    if BusinessHours.objects.exists():
        return
    holidays = [
        date(year, month, day).isoformat()
        for year in (now.year, now.year + 1)
        for month, day in ((1, 1), (5, 1), (10, 3), (12, 24), (12, 25), (12, 26), (12, 31))
    ]
    BusinessHours.objects.create(
        timezone="Europe/Berlin",
        weekdays=[1, 2, 3, 4, 5],
        opens_at=time(8),
        closes_at=time(18),
        holidays=holidays,
    )


def _touchpoint_teams() -> None:
    """Touchpoints with a survey but no team go to customer care."""
    care = Team.objects.filter(name="Customer care").first()
    if care is None:
        return
    Touchpoint.objects.filter(team__isnull=True, surveys__isnull=False).update(team=care)


def _version(survey_name: str) -> SurveyVersion | None:
    survey = Survey.objects.filter(name=survey_name, status=SurveyStatus.ACTIVE).first()
    if survey is None:
        return None
    return (
        SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
        .select_related("survey__touchpoint")
        .order_by("-number")
        .first()
    )


def _answers(version: SurveyVersion, score: int, comment: str) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in version.questions:
        if question["type"] in (NPS, CES, CSAT) and not answers:
            answers[question["id"]] = score
        elif question["type"] == TEXT and comment and comment not in answers.values():
            answers[question["id"]] = comment
    return answers


def _live_responses(now: datetime) -> dict[int, Live]:
    """The fresh responses (made once, by idempotency key): response id -> story."""
    answered = set(Response.objects.exclude(contact=None).values_list("contact_id", flat=True))
    candidates = list(
        Contact.objects.exclude(email="")
        .exclude(pk__in=answered)
        .filter(crm_id__startswith="KD-")
        .order_by("-crm_id")[: len(LIVE) + 5]
    )
    richest = max(candidates, key=_revenue, default=None)
    others = iter([c for c in candidates if c is not richest])
    live: dict[int, Live] = {}
    for spec in LIVE:
        key = f"demo-case:{spec.key}"
        response = Response.objects.filter(idempotency_key=key).first()
        if response is None:
            version = _version(spec.survey)
            if version is None:
                continue
            contact = richest if spec.key == "escalated" else next(others, None)
            language = (contact.language if contact else "") or "de"
            language = language if language in version.languages else version.default_language
            result = response_submit(
                version=version,
                channel="email",
                language=language,
                answers=_answers(version, spec.score, spec.comment),
                contact=contact,
                idempotency_key=key,
                responded_at=now - spec.hours_ago * HOUR,
                metadata={"demo": True},
            )
            response = result.response
        if response is not None:
            live[response.pk] = spec
    return live


def _revenue(contact: Contact) -> float:
    try:
        return float((contact.attributes or {}).get("revenue") or 0)
    except (TypeError, ValueError):
        return 0.0


# --- The replay -----------------------------------------------------------------------

Step = Callable[[datetime], None]


class _Replay:
    """Steps in time order; before each, the escalation sweep runs at that time."""

    def __init__(self, now: datetime, live: dict[int, Live]) -> None:
        self.now = now
        self.live = live
        self.live_case_ids: set[int] = set()
        self.follow_ups = 0
        self._heap: list[tuple[datetime, int, Step]] = []
        self._order = itertools.count()
        self._last_notification = 0
        self._actors: dict[int, Actor] = {}

    def add(self, at: datetime, step: Step) -> None:
        if at <= self.now:  # the future is not played
            heapq.heappush(self._heap, (at, next(self._order), step))

    def run(self) -> None:
        self._last_notification = _last_notification_id()
        while self._heap:
            at, _order, step = heapq.heappop(self._heap)
            if Case.objects.filter(next_escalation_at__lte=at).exists():
                escalation_sweep(now=at)
                self._stamp(at)
            step(at)
            self._stamp(at)
        escalation_sweep(now=self.now)
        self._stamp(self.now)

    def _stamp(self, at: datetime) -> None:
        """Date the notifications just written ``at`` (services date them now)."""
        if Notification.objects.filter(pk__gt=self._last_notification).update(created_at=at):
            self._last_notification = _last_notification_id()

    def actor(self, case: Case, at: datetime) -> Actor:
        """The case's owner; an unassigned case is taken by its team lead (or an
        administrator) first."""
        owner_id, team_id = Case.objects.filter(pk=case.pk).values_list("owner_id", "team_id")[0]
        if owner_id is None:
            owner_id = Team.objects.filter(pk=team_id).values_list("lead_id", flat=True).first()
            owner_id = owner_id or (
                Membership.objects.filter(role=Role.ADMIN)
                .order_by("pk")
                .values_list("user_id", flat=True)
                .first()
            )
            if owner_id is None:
                return SYSTEM
            case_assign(case=case, actor=SYSTEM, owner_id=owner_id, now=at)
        if owner_id not in self._actors:
            user = get_user_model().objects.get(pk=owner_id)
            self._actors[owner_id] = Actor.of_user(user)
        return self._actors[owner_id]

    def route_step(self, response: Response) -> Step:
        def route(at: datetime) -> None:
            case = response_route(response=response, now=at)
            if case is None or case.response_id != response.pk:
                return  # no rule took it, or it joined the contact's open case
            spec = self.live.get(response.pk)
            if spec is not None:
                self.live_case_ids.add(case.pk)
                _live_story(self, case, spec, at)
            else:
                _history_story(self, case, response, at)

        return route


def _last_notification_id() -> int:
    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _quiet_history(first_notification: int, live_case_ids: set[int], now: datetime) -> None:
    """The replayed past sends no emails; notifications of finished cases are read."""
    seeded = Notification.objects.filter(pk__gt=first_notification)
    seeded.exclude(case_id__in=live_case_ids).update(email_pending=False)
    seeded.filter(case__status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED]).update(read_at=now)


# --- Stories --------------------------------------------------------------------------


def _contact(
    replay: _Replay, case: Case, outcome: str = "reached", method: str = "phone", text: str = ""
) -> Step:
    def step(at: datetime) -> None:
        case_contact_attempt_log(
            case=case,
            actor=replay.actor(case, at),
            method=method,
            outcome=outcome,
            text=text,
            now=at,
        )

    return step


def _note(replay: _Replay, case: Case, text: str) -> Step:
    def step(at: datetime) -> None:
        case_note_add(case=case, actor=replay.actor(case, at), text=text, now=at)

    return step


def _move(
    replay: _Replay, case: Case, status: str, summary: str = "", follow_up: bool = False
) -> Step:
    def step(at: datetime) -> None:
        current = Case.objects.get(pk=case.pk)
        if status not in ALLOWED_TRANSITIONS[current.status]:
            return  # e.g. the customer's reply already moved it on
        if status == CaseStatus.CLOSED and current.status != CaseStatus.RESOLVED:
            return
        case_transition(
            case=current,
            to_status=status,
            actor=replay.actor(case, at),
            resolution_summary=summary or None,
            send_follow_up=follow_up,
            now=at,
        )

    return step


def _causes(replay: _Replay, case: Case, comment: str, rng: random.Random) -> Step:
    def step(at: datetime) -> None:
        wanted = [
            name for words, name in CAUSES_BY_WORD if any(w in comment.lower() for w in words)
        ]
        names = wanted[:2] or [rng.choice([name for _w, name in CAUSES_BY_WORD])]
        translated = [_(name) for name in names]
        ids = list(
            RootCause.objects.filter(Q(name__in=names) | Q(name__in=translated)).values_list(
                "pk", flat=True
            )
        )
        if ids:
            case_root_causes_set(
                case=case, actor=replay.actor(case, at), root_cause_ids=ids, now=at
            )

    return step


def _message(replay: _Replay, case: Case) -> Step:
    """The apology template by email (a real message: a worker sends it)."""

    def step(at: datetime) -> None:
        from closedloop.services.messages import case_message_send, message_template_fill

        template = MessageTemplate.objects.filter(channel=MessageChannel.EMAIL).first()
        current = Case.objects.select_related("contact", "owner", "touchpoint").get(pk=case.pk)
        if template is None or current.contact is None or not current.contact.email:
            return
        filled = message_template_fill(template=template, case=current)
        try:
            case_message_send(
                case=current,
                actor=replay.actor(case, at),
                channel=MessageChannel.EMAIL,
                subject=filled["subject"],
                body=filled["body"],
                template=template,
                language=filled["language"],
                now=at,
            )
        except ValidationError:
            case_note_add(
                case=current,
                actor=replay.actor(case, at),
                text="Entschuldigung telefonisch statt per E-Mail.",
                now=at,
            )

    return step


def _reply(case: Case, text: str) -> Step:
    def step(at: datetime) -> None:
        from closedloop.services.messages import case_message_receive

        current = Case.objects.select_related("contact").get(pk=case.pk)
        if current.contact is None or not current.contact.email:
            return
        case_message_receive(
            case=current,
            channel=MessageChannel.EMAIL,
            from_address=current.contact.email,
            subject="Re: Ihr Feedback",
            body=text,
            external_id=f"demo-reply-{case.pk}",
            provider="demo",
            now=at,
        )

    return step


def _answer(case: Case, concern_resolved: bool, nps: int, comment: str) -> Step:
    def step(at: datetime) -> None:
        from closedloop.models import CaseFollowUp
        from closedloop.services.follow_ups import case_follow_up_answer

        follow_up = CaseFollowUp.objects.filter(case_id=case.pk, answered_at=None).first()
        if follow_up is not None:
            case_follow_up_answer(
                follow_up=follow_up,
                concern_resolved=concern_resolved,
                nps=nps,
                comment=comment,
                now=at,
            )

    return step


def _live_story(replay: _Replay, case: Case, spec: Live, opened: datetime) -> None:
    rng = random.Random(spec.key)  # noqa: S311 - demo data, not security
    add = replay.add
    story = spec.story
    if story == "contacted":
        add(opened + HOUR, _contact(replay, case, "voicemail"))
        add(opened + 3 * HOUR, _contact(replay, case, "reached", text=rng.choice(NOTES)))
        add(opened + 3.5 * HOUR, _message(replay, case))
    elif story == "waiting":
        add(opened + 5 * HOUR, _contact(replay, case, "reached", text=NOTES[1]))
        add(opened + 6 * HOUR, _move(replay, case, CaseStatus.WAITING))
    elif story == "replied":
        add(opened + 2 * HOUR, _contact(replay, case, "no_answer"))
        add(opened + 2.2 * HOUR, _message(replay, case))
        add(opened + 2.5 * HOUR, _move(replay, case, CaseStatus.WAITING))
        add(
            opened + 26 * HOUR,
            _reply(case, "Danke für Ihre Nachricht. Können Sie mich morgen Vormittag anrufen?"),
        )
    elif story in ("recovered", "not_recovered", "closed"):
        add(opened + 3 * HOUR, _contact(replay, case, "reached", text=rng.choice(NOTES)))
        add(opened + 20 * HOUR, _causes(replay, case, spec.comment, rng))
        follow_up = story != "closed"
        add(opened + 20 * HOUR, _move(replay, case, CaseStatus.RESOLVED, SUMMARIES[0], follow_up))
        if story == "recovered":
            add(opened + 44 * HOUR, _answer(case, True, 9, "Schnell und freundlich gelöst."))
        elif story == "not_recovered":
            add(opened + 72 * HOUR, _answer(case, False, 3, "Das Problem besteht weiterhin."))
        else:
            add(opened + 5 * DAY, _move(replay, case, CaseStatus.CLOSED))


def _history_story(replay: _Replay, case: Case, response: Response, opened: datetime) -> None:
    """A plausible life of a case; the part after today is not played."""
    rng = random.Random(response.pk)  # noqa: S311 - demo data, not security
    add = replay.add
    promoter = response.nps_group == "promoter"
    if promoter:
        at = opened + rng.uniform(20, 80) * HOUR
        add(at, _contact(replay, case, "reached", method="email"))
        add(at + HOUR, _move(replay, case, CaseStatus.RESOLVED, PROMOTER_SUMMARY))
        add(at + rng.uniform(2, 5) * DAY, _move(replay, case, CaseStatus.CLOSED))
        return
    # First contact: mostly within the day, one in five late (the sweep marks it).
    late = rng.random() < 0.2
    at = opened + (rng.uniform(25, 40) if late else rng.uniform(0.5, 18)) * HOUR
    if rng.random() < 0.3:
        add(at, _contact(replay, case, rng.choice(["voicemail", "no_answer"])))
        at += rng.uniform(2, 6) * HOUR
    add(at, _contact(replay, case, "reached", text=rng.choice(NOTES)))
    if rng.random() < 0.25:  # the customer needs to send something first
        at += rng.uniform(1, 3) * HOUR
        add(at, _move(replay, case, CaseStatus.WAITING))
        at += rng.uniform(12, 60) * HOUR
        add(at, _note(replay, case, "Unterlagen vom Kunden erhalten."))
        add(at, _move(replay, case, CaseStatus.IN_PROGRESS))
    slow = rng.random() < 0.1
    at += (rng.uniform(50, 90) if slow else rng.uniform(2, 24)) * HOUR
    add(at, _causes(replay, case, response.comment, rng))
    follow_up = (
        response.nps_group == "detractor"
        and case.contact_id is not None
        and rng.random() < 0.5
        and replay.follow_ups < MAX_HISTORY_FOLLOW_UPS
        and at <= replay.now
    )
    if follow_up:
        replay.follow_ups += 1
    add(at, _move(replay, case, CaseStatus.RESOLVED, rng.choice(SUMMARIES), follow_up))
    if follow_up:
        recovered = rng.random() < 0.7
        add(
            at + rng.uniform(20, 50) * HOUR,
            _answer(case, recovered, rng.choice([8, 9, 10]) if recovered else 4, ""),
        )
    if rng.random() < 0.75:
        add(at + rng.uniform(2, 6) * DAY, _move(replay, case, CaseStatus.CLOSED))
