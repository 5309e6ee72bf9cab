"""What the demo history is made of: how each demo survey is answered (volume, weekly
pattern, channels, scores a year ago and today) and the comments, in German and English,
that mention the default themes. Used by ``responses.demo_history``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Profile:
    """How one demo survey is answered."""

    per_day: float  # anonymous answers per day (widget, open link) before seasonality
    weekdays: tuple[float, ...]  # volume factor Monday .. Sunday
    hours: tuple[int, int]  # local hours in which customers answer
    anonymous_channels: tuple[tuple[str, int], ...]
    invitation_weight: float  # share of the customers' invitations for this survey
    invitation_channel: str  # preferred invitation channel
    event_type: str  # the CRM event that triggers the invitation
    promoters: tuple[float, float]  # share a year ago, share today
    detractors: tuple[float, float]
    incident: float  # how much the delivery problems hurt this survey (0..1)
    themes: dict[str, float] = field(default_factory=dict)


CALL_CENTRE_WEEK = (1.3, 1.1, 1.0, 1.0, 0.9, 0.35, 0.0)
OFFICE_WEEK = (1.1, 1.05, 1.0, 1.0, 0.95, 0.55, 0.35)
PROFILES: dict[str, Profile] = {
    "Satisfaction after purchase": Profile(
        per_day=2.2,
        weekdays=(1.15, 1.0, 0.95, 0.95, 1.0, 0.8, 1.2),
        hours=(7, 23),
        anonymous_channels=(("widget", 70), ("link", 30)),
        invitation_weight=0.3,
        invitation_channel="email",
        event_type="order_completed",
        promoters=(0.56, 0.6),
        detractors=(0.14, 0.11),
        incident=1.0,
        themes={"delivery": 3, "website": 3, "price": 2, "product": 2, "communication": 1},
    ),
    "Support call effort": Profile(
        per_day=1.0,
        weekdays=CALL_CENTRE_WEEK,
        hours=(8, 18),
        anonymous_channels=(("link", 100),),
        invitation_weight=0.12,
        invitation_channel="sms",
        event_type="support_call_closed",
        promoters=(0.45, 0.5),
        detractors=(0.22, 0.18),
        incident=0.45,
        themes={"waiting": 3, "staff": 3, "communication": 2, "delivery": 1, "price": 0.5},
    ),
    "Relationship NPS at renewal": Profile(
        per_day=1.6,
        weekdays=OFFICE_WEEK,
        hours=(8, 21),
        anonymous_channels=(("link", 100),),
        invitation_weight=0.3,
        invitation_channel="email",
        event_type="contract_renewal",
        promoters=(0.5, 0.53),
        detractors=(0.18, 0.15),
        incident=0.9,
        themes={
            "price": 3,
            "communication": 2,
            "staff": 1,
            "delivery": 1,
            "product": 1,
            "website": 1,
        },
    ),
    "Repair request effort": Profile(
        per_day=0.7,
        weekdays=CALL_CENTRE_WEEK,
        hours=(8, 18),
        anonymous_channels=(("link", 100),),
        invitation_weight=0.08,
        invitation_channel="sms",
        event_type="repair_requested",
        promoters=(0.33, 0.5),
        detractors=(0.32, 0.17),
        incident=0.0,
        themes={"waiting": 3, "communication": 2, "staff": 2, "repair": 2},
    ),
    "NPS after repair": Profile(
        per_day=1.3,
        weekdays=OFFICE_WEEK,
        hours=(8, 21),
        anonymous_channels=(("link", 100),),
        invitation_weight=0.2,
        invitation_channel="email",
        event_type="repair_completed",
        promoters=(0.3, 0.56),
        detractors=(0.36, 0.14),
        incident=0.0,
        themes={"repair": 4, "waiting": 2, "staff": 2, "product": 2, "communication": 1},
    ),
}

# (negative, positive) comments per theme and language.
COMMENTS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "delivery": {
        "de": (
            (
                "Die Lieferung kam eine Woche zu spät.",
                "Das Paket wurde beim Nachbarn abgegeben, ohne Benachrichtigung.",
                "Der Versand hat ewig gedauert, die Sendungsverfolgung stand tagelang still.",
                "Die Zustellung wurde dreimal verschoben.",
                "Lieferung unvollständig, ein Teil fehlt bis heute.",
            ),
            (
                "Schnelle Lieferung, schon am nächsten Tag da.",
                "Das Paket kam pünktlich und gut verpackt.",
            ),
        ),
        "en": (
            (
                "Delivery was a week late.",
                "The parcel was left with a neighbour without any note.",
                "Shipping took ages and the tracking did not move for days.",
                "The courier never showed up.",
            ),
            (
                "Fast delivery, it arrived the next day.",
                "The parcel arrived on time and well packed.",
            ),
        ),
    },
    "price": {
        "de": (
            (
                "Für diesen Preis erwarte ich mehr.",
                "Zu teuer im Vergleich zur Konkurrenz.",
                "Die Preiserhöhung zur Verlängerung ist nicht nachvollziehbar.",
            ),
            ("Faire Preise, ich komme wieder.", "Preis und Leistung stimmen."),
        ),
        "en": (
            (
                "Too expensive compared to other shops.",
                "For this price I expected more.",
                "The price went up again at renewal.",
            ),
            ("Fair prices, I will be back.", "Good value for the price."),
        ),
    },
    "staff": {
        "de": (
            (
                "Der Mitarbeiter am Telefon war unfreundlich.",
                "Wenig hilfsbereit, ich musste alles dreimal erklären.",
            ),
            (
                "Sehr freundliche und kompetente Beratung.",
                "Die Mitarbeiterin war super hilfsbereit.",
            ),
        ),
        "en": (
            ("The agent was rude and impatient.", "Not helpful, I had to explain it all twice."),
            ("Very friendly and competent advice.", "The agent was really helpful."),
        ),
    },
    "waiting": {
        "de": (
            (
                "Über 30 Minuten in der Warteschleife.",
                "Viel zu lange Wartezeit an der Hotline.",
                "Die Bearbeitung war sehr langsam.",
            ),
            ("Keine Wartezeit, sofort jemanden erreicht.",),
        ),
        "en": (
            (
                "Waited more than 30 minutes on hold.",
                "Far too long in the queue.",
                "Service was slow.",
            ),
            ("No waiting, got through right away.",),
        ),
    },
    "product": {
        "de": (
            (
                "Das Produkt kam beschädigt an.",
                "Nach zwei Wochen kaputt.",
                "Die Qualität hat deutlich nachgelassen.",
            ),
            ("Tolle Qualität, bin sehr zufrieden.",),
        ),
        "en": (
            ("The product arrived damaged.", "Broken after two weeks.", "Quality has gone down."),
            ("Great quality, very happy with it.",),
        ),
    },
    "website": {
        "de": (
            (
                "Die Bestellung im Shop war umständlich.",
                "Die Webseite ist beim Bezahlen abgestürzt.",
            ),
            ("Die Bestellung ging schnell und einfach.",),
        ),
        "en": (
            ("The checkout kept failing.", "Ordering on the website was clumsy."),
            ("The online shop is easy to use.",),
        ),
    },
    "communication": {
        "de": (
            (
                "Niemand hat auf meine E-Mail geantwortet.",
                "Der versprochene Rückruf kam nie.",
            ),
            ("Schnelle Antwort per E-Mail, ich wurde immer auf dem Laufenden gehalten.",),
        ),
        "en": (
            ("Nobody answered my email.", "The promised call back never came."),
            ("Quick answer to my email, I was always kept informed.",),
        ),
    },
    "repair": {
        "de": (
            (
                "Die Reparatur hat drei Wochen gedauert.",
                "Das Gerät kam aus der Werkstatt zurück und der Fehler ist immer noch da.",
            ),
            ("Reparatur schnell und sauber erledigt.",),
        ),
        "en": (
            (
                "The repair took three weeks.",
                "Back from the workshop and the fault is still there.",
            ),
            ("Repair done quickly and properly.",),
        ),
    },
}
# The purchase survey's "what was it about" option that matches a theme.
TOPIC_OF_THEME = {
    "delivery": "delivery",
    "price": "price",
    "website": "ordering",
    "product": "product",
    "staff": "service",
    "communication": "service",
}
REGIONS_DE = ("Nord", "Süd", "West", "Ost")
REGION_OF_COUNTRY = {"CH": "Schweiz", "AT": "Österreich"}
