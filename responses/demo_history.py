"""A year of demo feedback (idempotent; called by ``responses.demo.seed_responses``).

What the dashboard of the demo organization shows:

* About 2,500-3,500 answers over the last 365 days to the five demo surveys, with weekly
  seasonality (the call centre is closed on Sundays, the online shop peaks on Sundays
  and Mondays) and a slowly growing volume.
* A visible story: delivery problems of the parcel partner about seven months ago pull
  the CSAT after purchase and the renewal NPS of the "Online purchase" journey down for
  a quarter (and fill the comments with delivery complaints), then recover; the
  "Service & repair" journey improves steadily over the year (shorter waiting times).
* Invitations by email and SMS to the demo customers, at most one per customer every
  30 days (the demo's contact budget), delivered, opened, answered, bounced or expired,
  so the response rates per channel are real; the other answers come in anonymously
  through the website widget and open links, half of them with the customer's segment
  and region passed along by the shop.
* Comments in German and English that mention the default themes (delivery, price,
  staff, waiting time, product quality, website, communication, repair).
* CRM attributes ``region`` and ``tier`` on the demo customers (beside ``segment`` and
  the others from ``contacts.demo``), copied into every answer's snapshot.

Answers older than five weeks are bulk-inserted, scored by the submit path's own helpers
(``answers_clean`` and ``answers_score``) so they are stored exactly as submitted ones;
the last five weeks go through ``response_submit`` (their outbox events, the routing
replay of ``closedloop.demo``). Every answer has an idempotency key ``demo:...`` derived
from its survey and local day (or its invitation), and every invitation a provider
message id ``demo:...``: a second run inserts nothing twice, and a run on a later day adds
only the new days.
"""

from __future__ import annotations

import math
import random
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from contacts.models import ConsentState, Contact
from contacts.selectors import with_consent_states
from contacts.services.contact import contact_mark_surveyed
from responses.answers import answers_clean, answers_score
from responses.demo_profiles import (
    COMMENTS,
    PROFILES,
    REGION_OF_COUNTRY,
    REGIONS_DE,
    TOPIC_OF_THEME,
    Profile,
)
from responses.models import Response, ResponseStatus
from responses.services import response_submit
from surveys.models import Survey, SurveyVersion
from surveys.models_distribution import (
    Invitation,
    InvitationEvent,
    InvitationStatus,
    InvitationTrigger,
)
from surveys.schema import CES, CSAT, NPS, SINGLE_CHOICE, TEXT
from surveys.services.distribution import new_token
from tenants.models import Organization

HISTORY_DAYS = 365
# Newer answers go through the submit service; closedloop.demo replays them into cases.
RECENT = timedelta(days=35)
KEY_PREFIX = "demo:"
# The newest demo customers stay without answers: closedloop.demo gives them the fresh
# responses of its live cases.
RESERVED_CONTACTS = 30
# Invitations are planned per customer from a fixed date, so a later run plans the same
# ones for the days it shares with an earlier run.
PLAN_EPOCH = date(2024, 1, 1)
BUDGET_DAYS = (30, 56)  # days between two invitations of one customer
BATCH = 500

S = InvitationStatus


# --- The story ------------------------------------------------------------------------


def incident(days_ago: int) -> float:
    """Intensity (0..1) of the parcel partner's problems: a quarter centred ~200 days ago."""
    return max(0.0, 1.0 - ((days_ago - 200) / 50) ** 2)


def _between(pair: tuple[float, float], days_ago: int) -> float:
    progress = 1.0 - days_ago / HISTORY_DAYS
    return pair[0] + (pair[1] - pair[0]) * progress


def _group(
    profile: Profile, days_ago: int, attributes: dict[str, Any], rng: random.Random
) -> tuple[str, float]:
    """The customer's NPS group, and how much the delivery problems weigh on them."""
    hurt = incident(days_ago) * profile.incident
    if attributes.get("region") in ("Ost", "Süd"):
        hurt *= 1.4  # the parcel partner's worst depots
    promoters = _between(profile.promoters, days_ago) - 0.25 * hurt
    detractors = _between(profile.detractors, days_ago) + 0.3 * hurt
    segment = attributes.get("segment")
    if segment == "enterprise":
        promoters, detractors = promoters + 0.06, detractors - 0.04
    elif segment == "consumer":
        detractors += 0.03
    roll = rng.random()
    if roll < promoters:
        return "promoter", hurt
    return ("detractor" if roll < promoters + detractors else "passive"), hurt


def _theme(profile: Profile, hurt: float, rng: random.Random) -> str:
    weights = dict(profile.themes)
    if "delivery" in weights or hurt:
        weights["delivery"] = weights.get("delivery", 0) + 14 * hurt
    names = sorted(weights)
    return rng.choices(names, weights=[weights[name] for name in names])[0]


def _comment(group: str, theme: str, language: str, rng: random.Random) -> str:
    chance = {"detractor": 0.75, "passive": 0.5, "promoter": 0.4}[group]
    if rng.random() >= chance:
        return ""
    negative, positive = COMMENTS[theme][language if language in ("de", "en") else "de"]
    praise = group == "promoter" or (group == "passive" and rng.random() < 0.4)
    return rng.choice(positive if praise else negative)


def _score(kind: str, group: str, rng: random.Random) -> int:
    if kind == NPS:
        if group == "promoter":
            return rng.choices([9, 10], weights=[55, 45])[0]
        if group == "passive":
            return rng.choice([7, 8])
        return rng.choices(range(7), weights=[4, 3, 5, 8, 10, 14, 16])[0]
    if kind == CSAT:
        if group == "promoter":
            return rng.choices([5, 4], weights=[80, 20])[0]
        if group == "passive":
            return rng.choices([4, 3], weights=[70, 30])[0]
        return rng.choices([1, 2, 3], weights=[25, 40, 35])[0]
    if group == "promoter":  # CES
        return rng.choices([7, 6], weights=[55, 45])[0]
    if group == "passive":
        return rng.choices([5, 4], weights=[60, 40])[0]
    return rng.choices([1, 2, 3, 4], weights=[15, 25, 35, 25])[0]


def demo_answers(
    version: SurveyVersion, group: str, theme: str, comment: str, rng: random.Random
) -> dict[str, Any]:
    """Answers to every question of ``version`` of one customer in ``group``."""
    answers: dict[str, Any] = {}
    for question in version.questions:
        qid, qtype = question["id"], question["type"]
        if qtype in (NPS, CES, CSAT):
            if question.get("required") or rng.random() < 0.7:
                answers[qid] = _score(qtype, group, rng)
        elif qtype == SINGLE_CHOICE:
            options = [option["id"] for option in question.get("options") or []]
            wanted = TOPIC_OF_THEME.get(theme)
            if options and rng.random() < 0.8:
                answers[qid] = wanted if wanted in options else rng.choice(options)
        elif qtype == TEXT and comment and comment not in answers.values():
            answers[qid] = comment
    return answers


# --- The plan -------------------------------------------------------------------------


@dataclass(slots=True)
class Planned:
    """One answer to write (and its invitation, when it came by one)."""

    key: str
    survey: Survey
    version: SurveyVersion
    channel: str
    language: str
    responded_at: datetime
    answers: dict[str, Any]
    contact: Contact | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # open-link parameters
    invitation: Invitation | None = None


@dataclass(slots=True)
class _Customer:
    contact: Contact
    email: bool
    sms: bool


def _poisson(mean: float, rng: random.Random) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _local(day: date, hour: float, zone: zoneinfo.ZoneInfo) -> datetime:
    minutes = int(hour * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


def _language(version: SurveyVersion, wanted: str) -> str:
    return wanted if wanted in version.languages else version.default_language


class _Planner:
    def __init__(
        self,
        organization: Organization,
        versions: dict[str, SurveyVersion],
        customers: list[_Customer],
        now: datetime,
    ) -> None:
        self.zone = zoneinfo.ZoneInfo(organization.timezone)
        self.versions = versions
        self.customers = customers
        self.now = now
        self.today = now.astimezone(self.zone).date()
        self.first_day = self.today - timedelta(days=HISTORY_DAYS - 1)
        # Segment and region of the shop's known customers (passed to the widget).
        self.known = [c.contact.attributes or {} for c in customers]

    def days_ago(self, moment: datetime) -> int:
        return (self.today - moment.astimezone(self.zone).date()).days

    def anonymous(self) -> Iterator[Planned]:
        """Widget and open-link answers, per survey and local day."""
        day = self.first_day
        while day <= self.today:
            days_ago = (self.today - day).days
            growth = 0.85 + 0.3 * (1 - days_ago / HISTORY_DAYS)
            for name, version in self.versions.items():
                profile = PROFILES[name]
                rng = random.Random(f"demo:{name}:{day.isoformat()}")  # noqa: S311 - demo
                volume = profile.per_day * profile.weekdays[day.weekday()] * growth
                if name == "Support call effort":
                    volume *= 1 + 0.5 * incident(days_ago)  # customers call about parcels
                for index in range(_poisson(volume, rng)):
                    hour = rng.uniform(*profile.hours)
                    responded_at = _local(day, hour, self.zone)
                    attributes: dict[str, Any] = {}
                    if self.known and rng.random() < 0.55:
                        shop_customer = rng.choice(self.known)
                        attributes = {
                            key: shop_customer[key]
                            for key in ("segment", "region")
                            if key in shop_customer
                        }
                    language = _language(version, rng.choices(["de", "en"], [75, 25])[0])
                    channels = profile.anonymous_channels
                    channel = rng.choices([c for c, _w in channels], [w for _c, w in channels])[0]
                    group, hurt = _group(profile, days_ago, attributes, rng)
                    theme = _theme(profile, hurt, rng)
                    comment = _comment(group, theme, language, rng)
                    if responded_at > self.now:
                        continue
                    yield Planned(
                        key=f"{KEY_PREFIX}{version.survey_id}:{day:%Y%m%d}:{index}",
                        survey=version.survey,
                        version=version,
                        channel=channel,
                        language=language,
                        responded_at=responded_at,
                        answers=demo_answers(version, group, theme, comment, rng),
                        attributes=attributes,
                    )
            day += timedelta(days=1)

    def invitations(self) -> Iterator[tuple[Invitation, list[InvitationEvent], Planned | None]]:
        """Every customer's invitations of the year, at most one per budget period."""
        names = sorted(self.versions)
        weights = [PROFILES[name].invitation_weight for name in names]
        start = datetime.combine(self.first_day, time.min, tzinfo=self.zone)
        for customer in self.customers:
            if not (customer.email or customer.sms):
                continue
            crm_id = customer.contact.crm_id
            rng = random.Random(f"demo-invitations:{crm_id}")  # noqa: S311 - demo data
            day = PLAN_EPOCH + timedelta(days=rng.randint(0, BUDGET_DAYS[1]))
            while day <= self.today:
                # The same draws in every round, whatever is kept: a later run plans the
                # same invitations for the same days.
                name = rng.choices(names, weights=weights)[0]
                gap = rng.randint(*BUDGET_DAYS)
                hour = rng.uniform(9, 17)
                outcome, lag = rng.random(), rng.random()
                answer_rng = random.Random(f"demo-answer:{crm_id}:{day.isoformat()}")  # noqa: S311
                weekend = day.weekday() >= 5  # sent on the Monday after
                sent_day = day + timedelta(days=7 - day.weekday() if weekend else 0)
                sent_at = _local(sent_day, hour, self.zone)
                if start <= sent_at <= self.now:
                    yield self._invitation(customer, name, sent_at, outcome, lag, answer_rng)
                day += timedelta(days=gap)

    def _invitation(
        self,
        customer: _Customer,
        name: str,
        sent_at: datetime,
        outcome: float,
        lag: float,
        rng: random.Random,
    ) -> tuple[Invitation, list[InvitationEvent], Planned | None]:
        profile = PROFILES[name]
        version = self.versions[name]
        channel = profile.invitation_channel
        if not (customer.sms if channel == "sms" else customer.email):
            channel = "email" if customer.email else "sms"
        contact = customer.contact
        key = f"{KEY_PREFIX}{contact.crm_id}:{sent_at.astimezone(self.zone):%Y%m%d}"
        minute = timedelta(minutes=1)
        # Answered within minutes, hours or (after the reminder) days.
        if lag < 0.5:
            answer_after = timedelta(minutes=5 + lag * 220)
        elif lag < 0.85:
            answer_after = timedelta(hours=2 + (lag - 0.5) * 60)
        else:
            answer_after = timedelta(days=3, hours=(lag - 0.85) * 160)
        answered_at = sent_at + answer_after
        rate = 0.42 if channel == "email" else 0.5
        bounced = channel == "email" and outcome > 0.97
        answered = outcome < rate and answered_at <= self.now
        opened = answered or (not bounced and outcome < rate + 0.15)
        expires_at = sent_at + timedelta(days=14)
        events: list[tuple[str, str, datetime, str]] = [(S.SCHEDULED, S.SENT, sent_at, "sent")]
        invitation = Invitation(
            contact=contact,
            survey=version.survey,
            survey_version=version,
            channel=channel,
            token=new_token(),
            trigger=InvitationTrigger.API,
            event_type=profile.event_type,
            send_at=sent_at,
            sent_at=sent_at,
            provider="file",
            provider_message_id=key,
            reminder_due_at=sent_at + timedelta(days=3),
            expires_at=expires_at,
            attempts=1,
            created_at=sent_at - timedelta(hours=2),
        )
        planned = None
        if bounced:
            invitation.status = S.BOUNCED
            events.append((S.SENT, S.BOUNCED, sent_at + 2 * minute, "bounced: mailbox unknown"))
        else:
            events.append((S.SENT, S.DELIVERED, sent_at + minute, "delivered"))
            status = S.DELIVERED
            if opened:
                opened_at = (answered_at if answered else sent_at + answer_after / 2) - minute
                invitation.opened_at = opened_at
                events.append((S.DELIVERED, S.OPENED, opened_at, "link opened"))
                status = S.OPENED
            reminded = not answered or answer_after > timedelta(days=3)
            if reminded and sent_at + timedelta(days=3) <= self.now:
                invitation.reminder_sent_at = sent_at + timedelta(days=3)
            if answered:
                events.append((status, S.ANSWERED, answered_at, f"answered ({channel})"))
                status = S.ANSWERED
                planned = self._answer(customer, version, profile, channel, answered_at, rng, key)
            elif expires_at <= self.now:
                events.append((status, S.EXPIRED, expires_at, "expired"))
                status = S.EXPIRED
            invitation.status = status
        events.insert(0, ("", S.SCHEDULED, invitation.created_at, "CRM event"))
        timeline = [
            InvitationEvent(
                invitation=invitation, from_status=old, to_status=new, reason=why, at=at
            )
            for old, new, at, why in events
        ]
        if planned is not None:
            planned.invitation = invitation
        return invitation, timeline, planned

    def _answer(
        self,
        customer: _Customer,
        version: SurveyVersion,
        profile: Profile,
        channel: str,
        responded_at: datetime,
        rng: random.Random,
        key: str,
    ) -> Planned:
        contact = customer.contact
        attributes = dict(contact.attributes or {})
        language = _language(version, contact.language or "de")
        group, hurt = _group(profile, self.days_ago(responded_at), attributes, rng)
        theme = _theme(profile, hurt, rng)
        comment = _comment(group, theme, language, rng)
        return Planned(
            key=key,
            survey=version.survey,
            version=version,
            channel=channel,
            language=language,
            responded_at=responded_at,
            answers=demo_answers(version, group, theme, comment, rng),
            contact=contact,
        )


# --- Writing --------------------------------------------------------------------------


def _scored(planned: Planned) -> Response:
    """The response ``response_submit`` would store for ``planned`` (complete, scored by
    the same helpers), for a bulk insert."""
    version = planned.version
    cleaned = answers_clean(version, planned.answers)
    if not cleaned.is_valid:
        raise ValueError(f"demo answers {planned.key}: {cleaned.errors}")
    scores = answers_score(version, cleaned.values)
    survey = planned.survey
    completed_at = planned.responded_at + timedelta(minutes=2)
    window = survey.answer_change_window
    snapshot = dict(planned.contact.attributes or {}) if planned.contact is not None else {}
    snapshot.update(planned.attributes)
    return Response(
        survey=survey,
        survey_version=version,
        touchpoint_id=survey.touchpoint_id,
        journey_id=survey.touchpoint.journey_id,
        invitation=planned.invitation,
        contact=planned.contact,
        channel=planned.channel,
        language=planned.language,
        status=ResponseStatus.COMPLETE,
        answers=cleaned.values,
        nps=scores.nps,
        nps_group=scores.nps_group,
        ces=scores.ces,
        csat=scores.csat,
        comment=scores.comment,
        contact_attributes=snapshot,
        metadata={"demo": True},
        idempotency_key=planned.key,
        responded_at=planned.responded_at,
        completed_at=completed_at,
        editable_until=completed_at + window if window else None,
        updated_at=completed_at,
    )


def _submit(planned: Planned) -> None:
    result = response_submit(
        version=planned.version,
        channel=planned.channel,
        language=planned.language,
        answers=planned.answers,
        invitation=planned.invitation,
        contact=planned.contact,
        idempotency_key=planned.key,
        attributes=planned.attributes,
        metadata={"demo": True},
        responded_at=planned.responded_at,
    )
    if not result.ok:
        raise ValueError(f"demo answers {planned.key}: {result.errors}")


def _crm_attributes(contacts: list[Contact]) -> None:
    """Give the demo customers a ``region`` and a ``tier`` (as a CRM sync would; one
    bulk update: seed data, no audit entries)."""
    changed = []
    for contact in contacts:
        attributes = dict(contact.attributes or {})
        if "region" in attributes and "tier" in attributes:
            continue
        rng = random.Random(f"demo-region:{contact.crm_id}")  # noqa: S311 - demo data
        country = str(attributes.get("country") or "DE")
        attributes.setdefault("region", REGION_OF_COUNTRY.get(country, rng.choice(REGIONS_DE)))
        try:
            revenue = float(attributes.get("revenue") or 0)
        except (TypeError, ValueError):
            revenue = 0.0
        tier = "gold" if revenue >= 100_000 else "silver" if revenue >= 10_000 else "bronze"
        attributes.setdefault("tier", tier)
        contact.attributes = attributes
        changed.append(contact)
    Contact.objects.bulk_update(changed, ["attributes"], batch_size=BATCH)


def _customers() -> list[_Customer]:
    demo = list(
        with_consent_states(Contact.objects.filter(crm_id__startswith="KD-")).order_by("crm_id")
    )
    _crm_attributes(demo)
    customers = []
    for contact in demo[: max(0, len(demo) - RESERVED_CONTACTS)]:
        email_state = getattr(contact, "consent_email", ConsentState.UNKNOWN)
        sms_state = getattr(contact, "consent_sms", ConsentState.UNKNOWN)
        customers.append(
            _Customer(
                contact=contact,
                email=bool(contact.email) and email_state != ConsentState.WITHDRAWN,
                sms=bool(contact.phone) and sms_state == ConsentState.GRANTED,
            )
        )
    return customers


@dataclass(frozen=True, slots=True)
class HistoryResult:
    inserted: int  # bulk-inserted answers (older than RECENT)
    submitted: int  # answers through response_submit
    invitations: int


def seed_history(organization: Organization, surveys: list[Survey]) -> HistoryResult:
    """Write the year of demo answers and invitations that do not exist yet (in the
    organization's context)."""
    now = timezone.now()
    versions: dict[str, SurveyVersion] = {}
    for survey in surveys:
        if survey.name not in PROFILES:
            continue
        version = (
            SurveyVersion.objects.filter(survey=survey, published_at__isnull=False)
            .select_related("survey__touchpoint")
            .order_by("-number")
            .first()
        )
        if version is not None:
            versions[survey.name] = version
    if not versions:
        return HistoryResult(0, 0, 0)
    planner = _Planner(organization, versions, _customers(), now)
    known_keys = set(
        Response.objects.filter(idempotency_key__startswith=KEY_PREFIX).values_list(
            "idempotency_key", flat=True
        )
    )
    known_invitations = set(
        Invitation.objects.filter(provider_message_id__startswith=KEY_PREFIX).values_list(
            "provider_message_id", flat=True
        )
    )
    planned: list[Planned] = [p for p in planner.anonymous() if p.key not in known_keys]
    invitations: list[Invitation] = []
    timelines: list[InvitationEvent] = []
    last_sent: dict[int, datetime] = {}
    for invitation, timeline, answer in planner.invitations():
        if invitation.provider_message_id in known_invitations:
            continue
        invitations.append(invitation)
        timelines.extend(timeline)
        if invitation.sent_at is not None:
            last_sent[invitation.contact_id] = invitation.sent_at
        if answer is not None and answer.key not in known_keys:
            planned.append(answer)
    Invitation.objects.bulk_create(invitations, batch_size=BATCH)
    for event in timelines:
        event.invitation_id = event.invitation.pk
    InvitationEvent.objects.bulk_create(timelines, batch_size=BATCH)
    for contact_id, sent_at in last_sent.items():
        contact_mark_surveyed(contact_id=contact_id, at=sent_at)
    cutoff = now - RECENT
    planned.sort(key=lambda p: (p.responded_at, p.key))
    older = [_scored(p) for p in planned if p.responded_at < cutoff]
    Response.objects.bulk_create(older, batch_size=BATCH)
    recent = [p for p in planned if p.responded_at >= cutoff]
    for answer in recent:
        _submit(answer)
    return HistoryResult(inserted=len(older), submitted=len(recent), invitations=len(invitations))
