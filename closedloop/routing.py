"""Routing conditions: what a rule can ask of a response, and how it is answered.

A rule's ``conditions`` is a list; all must hold (a rule with none matches every
response). Each condition is ``{"field": F, "op": O, "value": V}``:

* ``nps_group`` (detractor / passive / promoter): ``in``
* ``nps`` (0-10), ``ces`` (1-7), ``csat`` (1-5): ``gte``, ``lte``, ``between``
* ``journey``, ``touchpoint`` (ids), ``channel`` (email / sms / link / widget / api): ``in``
* ``comment`` (the verbatim; case-insensitive words at word starts): ``contains_any``
* ``answer:<question id>``: ``eq``, ``in``, ``contains_any``, ``gte``, ``lte``
* ``attribute:<name>`` (the contact's CRM attribute at answer time): ``eq``, ``in``,
  ``gte``, ``lte``, ``exists``

A condition on a missing value (no CES asked, no such attribute) does not hold, except
``exists`` which asks exactly that. Numeric comparisons accept numbers written as text
("12000", "12.000,50" is not a number). ``between`` takes ``[low, high]``, inclusive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

SCORE_FIELDS = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}
ID_FIELDS = ("journey", "touchpoint")
NPS_GROUPS = ("detractor", "passive", "promoter")
CHANNELS = ("email", "sms", "link", "widget", "api")
PREFIXED = ("answer:", "attribute:")

OPERATORS: dict[str, tuple[str, ...]] = {
    "nps_group": ("in",),
    "nps": ("gte", "lte", "between"),
    "ces": ("gte", "lte", "between"),
    "csat": ("gte", "lte", "between"),
    "journey": ("in",),
    "touchpoint": ("in",),
    "channel": ("in",),
    "comment": ("contains_any",),
    "answer:": ("eq", "in", "contains_any", "gte", "lte"),
    "attribute:": ("eq", "in", "gte", "lte", "exists"),
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing knows about a response (read once, then every rule asks it)."""

    nps: int | None
    nps_group: str | None
    ces: int | None
    csat: int | None
    journey: int
    touchpoint: int
    channel: str
    comment: str
    answers: Mapping[str, Any]
    attributes: Mapping[str, Any]


def _operators_for(name: str) -> tuple[str, ...] | None:
    for prefix in PREFIXED:
        if name.startswith(prefix) and len(name) > len(prefix):
            return OPERATORS[prefix]
    # A bare prefix ("answer:" without a question id) names no field.
    return None if name in PREFIXED else OPERATORS.get(name)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    if not isinstance(value, list):
        return []
    return [str(word).strip().lower() for word in value if str(word).strip()]


def conditions_clean(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate and normalise conditions: (clean conditions, error messages)."""
    if raw in (None, ""):
        return [], []
    if not isinstance(raw, list):
        return [], [_("Conditions must be a list.")]
    clean: list[dict[str, Any]] = []
    errors: list[str] = []
    for index, condition in enumerate(raw, start=1):
        if not isinstance(condition, Mapping):
            errors.append(_("Condition %(n)s is not a condition.") % {"n": index})
            continue
        name = str(condition.get("field", "")).strip()
        op = str(condition.get("op", "")).strip()
        value = condition.get("value")
        allowed = _operators_for(name)
        if allowed is None:
            errors.append(_("Condition %(n)s: unknown field “%(f)s”.") % {"n": index, "f": name})
            continue
        if op not in allowed:
            errors.append(
                _("Condition %(n)s: “%(op)s” does not apply to %(f)s (use %(ops)s).")
                % {"n": index, "op": op, "f": name, "ops": ", ".join(allowed)}
            )
            continue
        problem, value = _clean_value(name, op, value)
        if problem:
            errors.append(_("Condition %(n)s: %(problem)s") % {"n": index, "problem": problem})
            continue
        clean.append({"field": name, "op": op, "value": value})
    return clean, errors


def _clean_value(name: str, op: str, value: Any) -> tuple[str, Any]:
    if op == "exists":
        return "", True
    if op == "contains_any":
        words = _words(value)
        return ("" if words else _("name at least one word.")), words
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            return _("give a lowest and a highest value."), value
        low, high = _number(value[0]), _number(value[1])
        if low is None or high is None or low > high:
            return _("give a lowest and a highest value."), value
        return _score_range(name, [low, high])
    if op in ("gte", "lte"):
        number = _number(value)
        if number is None:
            return _("give a number."), value
        return _score_range(name, [number])
    if op == "in":
        items = value if isinstance(value, list) else re.split(r"[,\n]", str(value or ""))
        items = [str(item).strip() for item in items if str(item).strip()]
        if name in ("nps_group", "channel"):
            items = [item.lower() for item in items]
        if not items:
            return _("choose at least one value."), items
        if name == "nps_group" and not set(items) <= set(NPS_GROUPS):
            return _("choose detractor, passive or promoter."), items
        if name == "channel" and not set(items) <= set(CHANNELS):
            return _("choose channels from %(c)s.") % {"c": ", ".join(CHANNELS)}, items
        if name in ID_FIELDS:
            if not all(item.isdigit() for item in items):
                return _("choose from the list."), items
            return "", [int(item) for item in items]
        return "", items
    # eq
    if value is None or str(value).strip() == "":
        return _("give a value."), value
    return "", str(value).strip()


def _score_range(name: str, numbers: list[Decimal]) -> tuple[str, Any]:
    bounds = SCORE_FIELDS.get(name)
    if bounds and not all(bounds[0] <= n <= bounds[1] for n in numbers):
        return _("scores of %(f)s run from %(lo)s to %(hi)s.") % {
            "f": name.upper(),
            "lo": bounds[0],
            "hi": bounds[1],
        }, numbers
    plain = [int(n) if n == int(n) else float(n) for n in numbers]
    return "", plain if len(plain) > 1 else plain[0]


def _value_of(facts: Facts, name: str) -> tuple[bool, Any]:
    """(known, value) of a field for these facts."""
    if name.startswith("answer:"):
        key = name.removeprefix("answer:")
        return key in facts.answers, facts.answers.get(key)
    if name.startswith("attribute:"):
        key = name.removeprefix("attribute:")
        value = facts.attributes.get(key)
        return value not in (None, ""), value
    value = getattr(facts, name)
    return value is not None, value


def condition_holds(condition: Mapping[str, Any], facts: Facts) -> bool:
    name, op = condition["field"], condition["op"]
    expected: Any = condition.get("value")
    known, value = _value_of(facts, name)
    if op == "exists":
        return known
    if not known:
        return False
    if op == "contains_any":
        if isinstance(value, list):
            text = " ".join(str(v) for v in value).lower()
        else:
            text = str(value).lower()
        return any(_word_in(word, text) for word in expected)
    if op in ("gte", "lte", "between"):
        number = _number(value)
        if number is None:
            return False
        if op == "between":
            return Decimal(str(expected[0])) <= number <= Decimal(str(expected[1]))
        bound = Decimal(str(expected))
        return number >= bound if op == "gte" else number <= bound
    if op == "in":  # text compares case-insensitively
        wanted = {str(e).strip().lower() for e in expected}
        if isinstance(value, list):  # a multiple-choice answer: any chosen option
            return any(str(v).strip().lower() in wanted for v in value)
        return str(value).strip().lower() in wanted
    # eq: text compares case-insensitively, numbers as numbers
    left, right = _number(value), _number(expected)
    if left is not None and right is not None:
        return left == right
    if isinstance(value, list):
        return any(str(v).strip().lower() == str(expected).lower() for v in value)
    return str(value).strip().lower() == str(expected).lower()


def _word_in(word: str, text: str) -> bool:
    """A keyword matches at word starts: "refund" matches "refunds", not "prefund"."""
    return re.search(r"(?<!\w)" + re.escape(word), text) is not None


def conditions_match(conditions: Sequence[Mapping[str, Any]], facts: Facts) -> bool:
    return all(condition_holds(condition, facts) for condition in conditions)
