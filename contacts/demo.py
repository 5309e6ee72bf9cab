"""Demo contacts: ~200 customers in Germany, Switzerland and Austria (idempotent).

``seed_contacts`` is called by ``manage.py seed_demo``. Contacts are generated from a
fixed seed, so every run produces the same ones; existing CRM ids are left alone, and
consent events are only recorded for contacts created in this run.

``contacts/demo/contacts_sample.csv`` is a file to try the import page with: German
headers, ``;`` delimiter, UTF-8 with byte order mark, a few updates of demo contacts and
a few deliberately bad rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import phonenumbers
from django.utils import timezone

from contacts.models import ConsentAction, ConsentSource, Contact
from contacts.services import consent_record, contact_create
from tenants.context import tenant_context
from tenants.models import Organization
from tenants.services import Actor

SAMPLE_CSV = Path(__file__).resolve().parent / "demo" / "contacts_sample.csv"
DEMO_CONTACTS = 200
DEMO_ACTOR = Actor(label="demo data")
ACCOUNT_OWNERS = ["owner@demo.example", "lead@demo.example", "cx@demo.example"]

FIRST_NAMES = [
    "Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lea", "Paul", "Laura", "Noah",
    "Hannah", "Elias", "Emma", "Leon", "Mia", "Finn", "Lena", "Luca", "Clara", "David",
    "Johanna", "Matthias", "Katharina", "Stefan", "Ursula", "Reto", "Nadine", "Beat",
    "Andrea", "Florian", "Theresa", "Gerhard", "Ida", "Valentin", "Martina", "Jürgen",
]  # fmt: skip
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Hoffmann", "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Huber", "Gruber", "Bauer",
    "Pichler", "Steiner", "Moser", "Meier", "Keller", "Brunner", "Frei", "Baumann",
    "Gerber", "Zimmermann", "Graf", "Lehmann", "Krüger", "Winkler", "Berger", "Fuchs",
]  # fmt: skip
COUNTRIES = [
    # (country, share, time zone or "" for the organization's, mobile prefix, digits)
    ("DE", 60, "", "+49151", 8),
    ("CH", 20, "Europe/Zurich", "+4179", 7),
    ("AT", 20, "Europe/Vienna", "+43664", 7),
]
SEGMENTS = [
    # (segment, share, revenue from, revenue to)
    ("consumer", 50, 50, 5_000),
    ("smb", 35, 5_000, 150_000),
    ("enterprise", 15, 100_000, 2_000_000),
]
EMAIL_WORDING = (
    "Ja, ich möchte per E-Mail zu kurzen Umfragen über meine Erfahrungen eingeladen werden. "
    "Ich kann dies jederzeit über den Abmeldelink widerrufen."
)
SMS_WORDING = "Dürfen wir Sie per SMS zu einer kurzen Umfrage einladen? (Antwort STOP beendet)"


@dataclass(frozen=True)
class _DemoContact:
    crm_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    language: str
    timezone: str
    attributes: dict[str, str | int]


def _ascii(name: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
    return name.lower().translate(table)


def _phone(rng: random.Random, prefix: str, digits: int) -> str:
    while True:
        number = prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits))
        if phonenumbers.is_valid_number(phonenumbers.parse(number, None)):
            return number


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def demo_contacts(count: int = DEMO_CONTACTS) -> list[_DemoContact]:
    """The same ``count`` realistic contacts on every call."""
    rng = random.Random(20261123)  # noqa: S311 - demo data, not security
    contacts = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = _pick(rng, [(c[0], c[1]) for c in COUNTRIES])
        _c, _share, zone, prefix, digits = next(c for c in COUNTRIES if c[0] == country)
        segment = _pick(rng, [(s[0], s[1]) for s in SEGMENTS])
        _s, _share, low, high = next(s for s in SEGMENTS if s[0] == segment)
        domain = rng.choice(["example.com", "example.org", "example.net"])
        contacts.append(
            _DemoContact(
                crm_id=f"KD-{10001 + index}",
                first_name=first,
                last_name=last,
                email=""
                if rng.random() < 0.05
                else f"{_ascii(first)}.{_ascii(last)}{index}@{domain}",
                phone="" if rng.random() < 0.2 else _phone(rng, prefix, digits),
                language=_pick(rng, [("de", 75), ("en", 15), ("", 10)]),
                timezone=zone,
                attributes={
                    "segment": segment,
                    "revenue": rng.randrange(low, high, 10),
                    "account_owner": rng.choice(ACCOUNT_OWNERS),
                    "country": country,
                },
            )
        )
    return contacts


def _record_consent(contact: Contact, rng: random.Random) -> None:
    now = timezone.now()
    granted_at = now - timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1440))
    roll = rng.random()
    if contact.email and roll < 0.8:
        consent_record(
            contact=contact,
            channel="email",
            action=ConsentAction.GRANT,
            source=ConsentSource.IMPORT,
            wording=EMAIL_WORDING,
            actor=DEMO_ACTOR,
            occurred_at=granted_at,
        )
        if roll < 0.1:
            consent_record(
                contact=contact,
                channel="email",
                action=ConsentAction.WITHDRAW,
                source=ConsentSource.UNSUBSCRIBE_LINK,
                actor=DEMO_ACTOR,
                occurred_at=granted_at + timedelta(days=rng.randint(1, 25)),
            )
    if contact.phone and rng.random() < 0.45:
        consent_record(
            contact=contact,
            channel="sms",
            action=ConsentAction.GRANT,
            source=ConsentSource.STAFF,
            wording=SMS_WORDING,
            actor=DEMO_ACTOR,
            occurred_at=granted_at,
        )
        if rng.random() < 0.1:
            consent_record(
                contact=contact,
                channel="sms",
                action=ConsentAction.WITHDRAW,
                source=ConsentSource.REPLY_STOP,
                actor=DEMO_ACTOR,
                occurred_at=granted_at + timedelta(days=rng.randint(1, 25)),
            )


def seed_contacts(organization: Organization) -> int:
    """Create the demo contacts that do not exist yet; returns how many were created."""
    created = 0
    rng = random.Random(42)  # noqa: S311 - demo data, not security
    with tenant_context(organization):
        existing = set(Contact.objects.values_list("crm_id", flat=True))
        for spec in demo_contacts():
            if spec.crm_id in existing:
                continue
            contact = contact_create(
                actor=DEMO_ACTOR,
                crm_id=spec.crm_id,
                first_name=spec.first_name,
                last_name=spec.last_name,
                email=spec.email,
                phone=spec.phone,
                language=spec.language,
                timezone=spec.timezone,
                attributes=dict(spec.attributes),
            )
            _record_consent(contact, rng)
            created += 1
    return created
