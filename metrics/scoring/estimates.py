"""NPS, CES and CSAT estimates with intervals, and tests for a change between periods."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

from metrics.scoring import constants
from metrics.scoring.constants import (
    CES_EASY_MIN,
    CES_MAX,
    CES_MIN,
    CSAT_MAX,
    CSAT_MIN,
    CSAT_TOP_TWO_BOX_MIN,
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    NPS_ADJUST_COUNT,
    NPS_ADJUST_N,
    NPS_MAX,
    NPS_MIN,
    PASSIVE_MIN,
    PROMOTER_MIN,
    ChangeTest,
    NpsGroup,
    NpsMethod,
)
from metrics.scoring.distributions import (
    _check_confidence,
    _two_sided_p_normal,
    _two_sided_p_t,
    t_critical,
    z_critical,
)
from metrics.scoring.results import (
    CesResult,
    ChangeResult,
    CsatResult,
    MeanResult,
    NpsResult,
    ProportionResult,
)

# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _count(name: str, value: int) -> int:
    number = operator.index(value)  # ints (and numpy ints) only: counts are never floats
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def _is_small(n: int, threshold: int | None) -> bool:
    # Read at call time so the module default can be changed in one place.
    return n < (constants.SMALL_SAMPLE_THRESHOLD if threshold is None else threshold)


def _histogram(counts: Mapping[int, int], bounds: tuple[int, int] | None) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for value, count in counts.items():
        answer = operator.index(value)
        if bounds is not None and not bounds[0] <= answer <= bounds[1]:
            raise ValueError(f"answer {answer} is outside the scale {bounds[0]}..{bounds[1]}")
        histogram[answer] = histogram.get(answer, 0) + _count(f"count of {answer}", count)
    return histogram


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


# --------------------------------------------------------------------------------------
# NPS
# --------------------------------------------------------------------------------------


def nps_group(score: int) -> NpsGroup:
    """Classify a 0..10 answer: 9-10 promoter, 7-8 passive, 0-6 detractor."""
    if isinstance(score, bool) or not isinstance(score, int):
        raise TypeError("an NPS answer is an integer")
    if not NPS_MIN <= score <= NPS_MAX:
        raise ValueError(f"an NPS answer lies in {NPS_MIN}..{NPS_MAX}, got {score}")
    if score >= PROMOTER_MIN:
        return "promoter"
    if score >= PASSIVE_MIN:
        return "passive"
    return "detractor"


def nps_from_counts(
    *,
    promoters: int,
    passives: int,
    detractors: int,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> NpsResult:
    """NPS = %promoters - %detractors with the adjusted-Wald interval (Rocks 2016).

    Adjusted: n' = n + 3, p' = (promoters + 3/4) / n', d' = (detractors + 3/4) / n',
    var' = p' + d' - (p' - d')^2, margin = z * sqrt(var' / n'), interval
    (p' - d') +/- margin clipped to [-100, 100]. The adjustment keeps the interval wide
    when everyone is a promoter (the plain Wald margin is then 0). With a single
    response the interval is centred near 0 and may exclude the score itself.
    """
    _check_confidence(confidence)
    promoters = _count("promoters", promoters)
    passives = _count("passives", passives)
    detractors = _count("detractors", detractors)
    n = promoters + passives + detractors
    small = _is_small(n, small_sample_threshold)
    if n == 0:
        return NpsResult(
            None, 0, 0, 0, 0, None, None, None, None, None, None, None, None, confidence, small
        )
    z = z_critical(confidence)
    p, d = promoters / n, detractors / n
    wald_variance = max(0.0, p + d - (p - d) ** 2)
    n_adj = n + NPS_ADJUST_N
    p_adj = (promoters + NPS_ADJUST_COUNT) / n_adj
    d_adj = (detractors + NPS_ADJUST_COUNT) / n_adj
    centre = p_adj - d_adj
    margin = z * math.sqrt((p_adj + d_adj - centre * centre) / n_adj)
    return NpsResult(
        score=100.0 * (promoters - detractors) / n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        n=n,
        promoter_share=p,
        passive_share=passives / n,
        detractor_share=d,
        adjusted_score=100.0 * centre,
        ci_low=100.0 * _clip(centre - margin, -1.0, 1.0),
        ci_high=100.0 * _clip(centre + margin, -1.0, 1.0),
        margin=100.0 * margin,
        wald_margin=100.0 * z * math.sqrt(wald_variance / n),
        confidence=confidence,
        small_sample=small,
    )


def nps_from_histogram(
    counts: Mapping[int, int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> NpsResult:
    """NPS from answer counts ``{0..10: count}`` (missing answers count 0)."""
    groups = {"promoter": 0, "passive": 0, "detractor": 0}
    for answer, count in _histogram(counts, (NPS_MIN, NPS_MAX)).items():
        groups[nps_group(answer)] += count
    return nps_from_counts(
        promoters=groups["promoter"],
        passives=groups["passive"],
        detractors=groups["detractor"],
        confidence=confidence,
        small_sample_threshold=small_sample_threshold,
    )


# --------------------------------------------------------------------------------------
# Proportions and means (the building blocks of CES and CSAT)
# --------------------------------------------------------------------------------------


def proportion_interval(
    *,
    successes: int,
    n: int,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> ProportionResult:
    """A share with the Agresti-Coull (adjusted-Wald) interval.

    n' = n + z^2, p' = (successes + z^2 / 2) / n', interval p' +/- z * sqrt(p'(1 - p') / n')
    clipped to [0, 1]. It always contains the plain share, and stays non-degenerate at
    0 % and 100 %.
    """
    _check_confidence(confidence)
    successes, n = _count("successes", successes), _count("n", n)
    if successes > n:
        raise ValueError("successes must not exceed n")
    small = _is_small(n, small_sample_threshold)
    if n == 0:
        return ProportionResult(0, 0, None, None, None, None, None, confidence, small)
    z = z_critical(confidence)
    n_adj = n + z * z
    p_adj = (successes + 0.5 * z * z) / n_adj
    margin = z * math.sqrt(p_adj * (1.0 - p_adj) / n_adj)
    share = successes / n
    return ProportionResult(
        successes=successes,
        n=n,
        share=share,
        pct=100.0 * share,
        ci_low=100.0 * _clip(p_adj - margin, 0.0, 1.0),
        ci_high=100.0 * _clip(p_adj + margin, 0.0, 1.0),
        margin=100.0 * margin,
        confidence=confidence,
        small_sample=small,
    )


def mean_from_sums(
    *,
    n: int,
    total: float,
    total_squares: float,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> MeanResult:
    """Mean with the t-interval mean +/- t(0.975, n - 1) * sd / sqrt(n).

    ``total`` and ``total_squares`` are the sums of the answers and of their squares (SQL
    ``SUM(v)`` and ``SUM(v * v)``); integer sums are used exactly. ``bounds`` clips the
    interval to the answer scale. One response gives a mean but no SD and no interval;
    answers that are all equal give a zero-width interval.
    """
    _check_confidence(confidence)
    n = _count("n", n)
    small = _is_small(n, small_sample_threshold)
    if n == 0:
        return MeanResult(None, 0, None, None, None, None, None, None, confidence, small)
    if bounds is not None and not bounds[0] * n <= total <= bounds[1] * n:
        raise ValueError("total is outside the scale for n answers")
    mean = total / n
    if n == 1:
        return MeanResult(mean, 1, None, None, None, None, None, None, confidence, small)
    if isinstance(total, int) and isinstance(total_squares, int):
        scaled = n * total_squares - total * total  # exact: n * (n - 1) * variance
        if scaled < 0:
            raise ValueError("total_squares is inconsistent with total")
        variance = scaled / (n * (n - 1))
    else:
        variance = max(0.0, (float(total_squares) - float(total) * mean) / (n - 1))
    sd = math.sqrt(variance)
    se = sd / math.sqrt(n)
    margin = t_critical(n - 1, confidence) * se
    low, high = mean - margin, mean + margin
    if bounds is not None:
        low, high = _clip(low, *bounds), _clip(high, *bounds)
    return MeanResult(mean, n, sd, se, n - 1, low, high, margin, confidence, small)


def mean_from_histogram(
    counts: Mapping[int, int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
    bounds: tuple[int, int] | None = None,
) -> MeanResult:
    """Mean with t-interval from answer counts ``{value: count}``.

    With ``bounds`` the answers must lie inside them and the interval is clipped to them.
    """
    histogram = _histogram(counts, bounds)
    return mean_from_sums(
        n=sum(histogram.values()),
        total=sum(value * count for value, count in histogram.items()),
        total_squares=sum(value * value * count for value, count in histogram.items()),
        confidence=confidence,
        small_sample_threshold=small_sample_threshold,
        bounds=bounds,
    )


# --------------------------------------------------------------------------------------
# CES and CSAT
# --------------------------------------------------------------------------------------


def ces_from_sums(
    *,
    n: int,
    total: int,
    total_squares: int,
    easy: int,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> CesResult:
    """CES from SQL aggregates: count, SUM(v), SUM(v * v) and the count of answers >= 5."""
    return CesResult(
        n=_count("n", n),
        mean=mean_from_sums(
            n=n,
            total=total,
            total_squares=total_squares,
            confidence=confidence,
            small_sample_threshold=small_sample_threshold,
            bounds=(CES_MIN, CES_MAX),
        ),
        easy=proportion_interval(
            successes=easy,
            n=n,
            confidence=confidence,
            small_sample_threshold=small_sample_threshold,
        ),
        small_sample=_is_small(n, small_sample_threshold),
    )


def ces_from_histogram(
    counts: Mapping[int, int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> CesResult:
    """CES from answer counts ``{1..7: count}``."""
    histogram = _histogram(counts, (CES_MIN, CES_MAX))
    return ces_from_sums(
        n=sum(histogram.values()),
        total=sum(value * count for value, count in histogram.items()),
        total_squares=sum(value * value * count for value, count in histogram.items()),
        easy=sum(count for value, count in histogram.items() if value >= CES_EASY_MIN),
        confidence=confidence,
        small_sample_threshold=small_sample_threshold,
    )


def csat_from_sums(
    *,
    n: int,
    total: int,
    total_squares: int,
    satisfied: int,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> CsatResult:
    """CSAT from SQL aggregates: count, SUM(v), SUM(v * v) and the count of answers >= 4."""
    return CsatResult(
        n=_count("n", n),
        top_two_box=proportion_interval(
            successes=satisfied,
            n=n,
            confidence=confidence,
            small_sample_threshold=small_sample_threshold,
        ),
        mean=mean_from_sums(
            n=n,
            total=total,
            total_squares=total_squares,
            confidence=confidence,
            small_sample_threshold=small_sample_threshold,
            bounds=(CSAT_MIN, CSAT_MAX),
        ),
        small_sample=_is_small(n, small_sample_threshold),
    )


def csat_from_histogram(
    counts: Mapping[int, int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    small_sample_threshold: int | None = None,
) -> CsatResult:
    """CSAT from answer counts ``{1..5: count}``."""
    histogram = _histogram(counts, (CSAT_MIN, CSAT_MAX))
    return csat_from_sums(
        n=sum(histogram.values()),
        total=sum(value * count for value, count in histogram.items()),
        total_squares=sum(value * value * count for value, count in histogram.items()),
        satisfied=sum(count for value, count in histogram.items() if value >= CSAT_TOP_TWO_BOX_MIN),
        confidence=confidence,
        small_sample_threshold=small_sample_threshold,
    )


# --------------------------------------------------------------------------------------
# Changes between two periods
# --------------------------------------------------------------------------------------


def _change(
    *,
    test: ChangeTest,
    previous_n: int,
    current_n: int,
    difference: float | None,
    estimate: float | None = None,
    se: float | None = None,
    df: float | None = None,
    alpha: float,
    limit: float | None = None,
    small_sample: bool,
) -> ChangeResult:
    """Assemble a ChangeResult; ``se`` and ``estimate`` in the unit of ``difference``."""
    ci_low = ci_high = statistic = p_value = None
    if estimate is None:
        estimate = difference
    if estimate is not None and se is not None and se > 0.0:
        critical = z_critical(1.0 - alpha) if df is None else t_critical(df, 1.0 - alpha)
        ci_low, ci_high = estimate - critical * se, estimate + critical * se
        if limit is not None:
            ci_low, ci_high = _clip(ci_low, -limit, limit), _clip(ci_high, -limit, limit)
        statistic = estimate / se
        p_value = _two_sided_p_normal(statistic) if df is None else _two_sided_p_t(statistic, df)
    return ChangeResult(
        test=test,
        previous_n=previous_n,
        current_n=current_n,
        difference=difference,
        estimate=estimate,
        ci_low=ci_low,
        ci_high=ci_high,
        se=se,
        statistic=statistic,
        df=df,
        p_value=p_value,
        alpha=alpha,
        significant=p_value is not None and p_value < alpha,
        small_sample=small_sample,
    )


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie strictly between 0 and 1")


def nps_compare(
    previous: NpsResult,
    current: NpsResult,
    *,
    alpha: float = DEFAULT_ALPHA,
    method: NpsMethod = "adjusted-wald",
) -> ChangeResult:
    """Two-sample z-test on the NPS change (points, -200..200).

    se = sqrt(var1 / n1 + var2 / n2) with var = p + d - (p - d)^2 per period. With
    ``"adjusted-wald"`` (default; MeasuringU's test built on Rocks 2016) each period is
    adjusted first (n + 3, counts + 3/4) and z = (NPS2' - NPS1') / se'; with ``"wald"``
    the plain shares are used and the test is undefined when both periods have zero
    variance (e.g. all promoters twice).
    """
    _check_alpha(alpha)
    if method not in ("adjusted-wald", "wald"):
        raise ValueError(f"unknown method {method!r}")
    test: ChangeTest = "nps-adjusted-wald-z" if method == "adjusted-wald" else "nps-wald-z"
    small = previous.small_sample or current.small_sample
    if previous.score is None or current.score is None:
        return _change(
            test=test,
            previous_n=previous.n,
            current_n=current.n,
            difference=None,
            alpha=alpha,
            small_sample=small,
        )
    shift, extra = (NPS_ADJUST_N, NPS_ADJUST_COUNT) if method == "adjusted-wald" else (0.0, 0.0)
    centres: list[float] = []
    variance_of_difference = 0.0
    for result in (previous, current):
        n = result.n + shift
        p = (result.promoters + extra) / n
        d = (result.detractors + extra) / n
        centres.append(p - d)
        variance_of_difference += max(0.0, p + d - (p - d) ** 2) / n
    return _change(
        test=test,
        previous_n=previous.n,
        current_n=current.n,
        difference=current.score - previous.score,
        estimate=100.0 * (centres[1] - centres[0]),
        se=100.0 * math.sqrt(variance_of_difference),
        alpha=alpha,
        limit=200.0,
        small_sample=small,
    )


def proportion_compare(
    previous: ProportionResult,
    current: ProportionResult,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> ChangeResult:
    """Two-proportion z-test on a change in percentage points (CSAT top two box, CES easy).

    z uses the pooled share: z = (p2 - p1) / sqrt(P(1 - P)(1/n1 + 1/n2)). The interval is
    Agresti-Caffo (one success and one failure added to each period), centred on the
    adjusted change (``estimate``), so it stays non-degenerate at 0 % and 100 %.
    """
    _check_alpha(alpha)
    small = previous.small_sample or current.small_sample
    if previous.share is None or current.share is None:
        return _change(
            test="two-proportion-z",
            previous_n=previous.n,
            current_n=current.n,
            difference=None,
            alpha=alpha,
            small_sample=small,
        )
    n1, n2 = previous.n, current.n
    difference = current.share - previous.share
    pooled = (previous.successes + current.successes) / (n1 + n2)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    p1 = (previous.successes + 1.0) / (n1 + 2.0)
    p2 = (current.successes + 1.0) / (n2 + 2.0)
    caffo_se = math.sqrt(p1 * (1.0 - p1) / (n1 + 2.0) + p2 * (1.0 - p2) / (n2 + 2.0))
    critical = z_critical(1.0 - alpha)
    statistic = difference / pooled_se if pooled_se > 0.0 else None
    p_value = _two_sided_p_normal(statistic) if statistic is not None else None
    return ChangeResult(
        test="two-proportion-z",
        previous_n=n1,
        current_n=n2,
        difference=100.0 * difference,
        estimate=100.0 * (p2 - p1),
        ci_low=100.0 * _clip(p2 - p1 - critical * caffo_se, -1.0, 1.0),
        ci_high=100.0 * _clip(p2 - p1 + critical * caffo_se, -1.0, 1.0),
        se=100.0 * pooled_se,
        statistic=statistic,
        df=None,
        p_value=p_value,
        alpha=alpha,
        significant=p_value is not None and p_value < alpha,
        small_sample=small,
    )


def mean_compare(
    previous: MeanResult,
    current: MeanResult,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> ChangeResult:
    """Welch's t-test on a change of means (CES or CSAT mean), in scale points.

    se = sqrt(s1^2 / n1 + s2^2 / n2), t = (m2 - m1) / se, df by Welch-Satterthwaite:
    se^4 / ((s1^2 / n1)^2 / (n1 - 1) + (s2^2 / n2)^2 / (n2 - 1)). Needs two responses in
    each period and some variation in at least one.
    """
    _check_alpha(alpha)
    small = previous.small_sample or current.small_sample
    difference = (
        current.mean - previous.mean
        if current.mean is not None and previous.mean is not None
        else None
    )
    if previous.sd is None or current.sd is None:
        return _change(
            test="welch-t",
            previous_n=previous.n,
            current_n=current.n,
            difference=difference,
            alpha=alpha,
            small_sample=small,
        )
    v1 = previous.sd**2 / previous.n
    v2 = current.sd**2 / current.n
    se = math.sqrt(v1 + v2)
    df = None
    if se > 0.0:
        df = (v1 + v2) ** 2 / (v1 * v1 / (previous.n - 1) + v2 * v2 / (current.n - 1))
    return _change(
        test="welch-t",
        previous_n=previous.n,
        current_n=current.n,
        difference=difference,
        se=se,
        df=df,
        alpha=alpha,
        small_sample=small,
    )
