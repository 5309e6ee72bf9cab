"""Result types: frozen dataclasses with a strict-JSON ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from metrics.scoring.constants import ChangeTest

# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


class _Result:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (nested results become nested dicts)."""
        out: dict[str, Any] = {}
        for field in fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            out[field.name] = value.to_dict() if isinstance(value, _Result) else value
        return out


@dataclass(frozen=True, slots=True)
class NpsResult(_Result):
    """NPS with its adjusted-Wald interval.

    ``score`` is the plain NPS (points); the interval is centred on ``adjusted_score``
    and has half-width ``margin`` before clipping to [-100, 100]. ``wald_margin`` is the
    plain (unadjusted) Wald margin around ``score``; it is 0 when everyone is a promoter.
    """

    score: float | None
    promoters: int
    passives: int
    detractors: int
    n: int
    promoter_share: float | None
    passive_share: float | None
    detractor_share: float | None
    adjusted_score: float | None
    ci_low: float | None
    ci_high: float | None
    margin: float | None
    wald_margin: float | None
    confidence: float
    small_sample: bool


@dataclass(frozen=True, slots=True)
class ProportionResult(_Result):
    """A share with its Agresti-Coull interval (``pct``, interval and margin in 0..100)."""

    successes: int
    n: int
    share: float | None
    pct: float | None
    ci_low: float | None
    ci_high: float | None
    margin: float | None
    confidence: float
    small_sample: bool


@dataclass(frozen=True, slots=True)
class MeanResult(_Result):
    """A mean with its t-interval (``df = n - 1``); ``sd`` is the sample SD (n - 1)."""

    mean: float | None
    n: int
    sd: float | None
    se: float | None
    df: int | None
    ci_low: float | None
    ci_high: float | None
    margin: float | None
    confidence: float
    small_sample: bool


@dataclass(frozen=True, slots=True)
class CesResult(_Result):
    """CES (1..7): mean with t-interval, and % easy (5..7) with Agresti-Coull interval."""

    n: int
    mean: MeanResult
    easy: ProportionResult
    small_sample: bool


@dataclass(frozen=True, slots=True)
class CsatResult(_Result):
    """CSAT (1..5): top-two-box % (4..5) with Agresti-Coull interval, and the mean."""

    n: int
    top_two_box: ProportionResult
    mean: MeanResult
    small_sample: bool


@dataclass(frozen=True, slots=True)
class ChangeResult(_Result):
    """A change ``current - previous`` between two periods, tested two-sided.

    ``difference`` is the plain change; ``estimate`` is the centre of the interval (the
    adjusted change for adjusted methods, else equal to ``difference``). ``statistic`` is
    z or t (``df`` is set for t only); ``se`` is the standard error used by the test.
    Undefined parts are ``None`` and ``significant`` is then False: with a period without
    responses (fewer than 2 for means) everything but ``difference`` is ``None``; with a
    zero standard error (no variation in either period, e.g. all promoters twice with the
    plain Wald method) the statistic and p-value are ``None``.
    """

    test: ChangeTest
    previous_n: int
    current_n: int
    difference: float | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    statistic: float | None
    df: float | None
    p_value: float | None
    alpha: float
    significant: bool
    small_sample: bool
