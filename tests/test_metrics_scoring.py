"""Scoring maths: hand-worked tables, agreement with scipy, edge cases and properties.

Pure functions on counts: nothing here touches the database.
"""

from __future__ import annotations

import ast
import json
import math
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.special  # type: ignore[import-untyped]
import scipy.stats  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import scoring
from metrics.scoring import (
    ChangeResult,
    MeanResult,
    NpsResult,
    ProportionResult,
    ces_from_histogram,
    ces_from_sums,
    csat_from_histogram,
    csat_from_sums,
    mean_compare,
    mean_from_histogram,
    mean_from_sums,
    nps_compare,
    nps_from_counts,
    nps_from_histogram,
    nps_group,
    proportion_compare,
    proportion_interval,
    regularized_incomplete_beta,
    t_cdf,
    t_critical,
    t_ppf,
    t_sf,
    z_critical,
)

Z95 = 1.959963984540054
# Degrees of freedom for the scipy comparisons: every integer 1..1000 is covered by the
# quantile test; these add fractional (Welch) and large values.
FRACTIONAL_DF = [0.3, 0.5, 0.9, 1.5, 2.5, 3.7, 7.25, 12.9, 29.5, 57.3, 123.4, 999.9]
LARGE_DF = [1e4, 1e5, 9.9e5, 1.01e6, 1e7, 1e9]


def nps(promoters: int, passives: int, detractors: int, confidence: float = 0.95) -> NpsResult:
    return nps_from_counts(
        promoters=promoters, passives=passives, detractors=detractors, confidence=confidence
    )


def histogram_of(values: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


# --------------------------------------------------------------------------------------
# Hand-worked tables
# --------------------------------------------------------------------------------------


def test_nps_hand_worked_50_30_20() -> None:
    result = nps(50, 30, 20)

    # Plain NPS: 50 % promoters - 20 % detractors.
    assert result.score == 30.0
    assert result.n == 100
    assert (result.promoter_share, result.passive_share, result.detractor_share) == (
        0.5,
        0.3,
        0.2,
    )
    # Plain Wald: var = p + d - (p - d)^2 = 0.7 - 0.09 = 0.61; margin = z * sqrt(0.61 / 100).
    assert result.wald_margin == pytest.approx(100 * Z95 * math.sqrt(0.61 / 100), abs=1e-12)
    assert result.wald_margin == pytest.approx(15.3078, abs=1e-4)

    # Adjusted Wald, step by step: n' = 103, p' = 50.75 / 103, d' = 20.75 / 103.
    n_adj = 100 + 3
    p_adj = (50 + 0.75) / n_adj
    d_adj = (20 + 0.75) / n_adj
    nps_adj = p_adj - d_adj  # 30 / 103 = 0.291262...
    var_adj = p_adj + d_adj - nps_adj**2  # 71.5 / 103 - (30 / 103)^2 = 0.609341...
    margin = Z95 * math.sqrt(var_adj / n_adj)  # 1.95996 * 0.076915 = 0.150751...
    assert nps_adj == pytest.approx(0.291262, abs=1e-6)
    assert var_adj == pytest.approx(0.609341, abs=1e-6)
    assert margin == pytest.approx(0.150751, abs=1e-6)

    assert result.adjusted_score == pytest.approx(100 * nps_adj, abs=1e-12)
    assert result.margin == pytest.approx(100 * margin, abs=1e-12)
    assert result.ci_low == pytest.approx(100 * (nps_adj - margin), abs=1e-12)
    assert result.ci_high == pytest.approx(100 * (nps_adj + margin), abs=1e-12)
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert (round(result.ci_low, 2), round(result.ci_high, 2)) == (14.05, 44.20)
    assert result.confidence == 0.95
    assert result.small_sample is False


def test_nps_histogram_agrees_with_group_counts() -> None:
    answers = {0: 3, 3: 2, 6: 15, 7: 12, 8: 18, 9: 30, 10: 20}  # 20 / 30 / 50
    assert nps_from_histogram(answers) == nps(50, 30, 20)


def test_nps_group_table() -> None:
    table = {score: nps_group(score) for score in range(11)}
    assert table == {
        **dict.fromkeys(range(7), "detractor"),
        7: "passive",
        8: "passive",
        9: "promoter",
        10: "promoter",
    }


@pytest.mark.parametrize("bad", [-1, 11, 100])
def test_nps_group_rejects_out_of_scale(bad: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.10"):
        nps_group(bad)


@pytest.mark.parametrize("bad", [True, 9.0, "9"])
def test_nps_group_rejects_non_integers(bad: object) -> None:
    with pytest.raises(TypeError):
        nps_group(bad)  # type: ignore[arg-type]


def test_agresti_coull_hand_worked_30_of_40() -> None:
    result = proportion_interval(successes=30, n=40)
    # n' = 40 + z^2, p' = (30 + z^2 / 2) / n', margin = z * sqrt(p' (1 - p') / n').
    n_adj = 40 + Z95**2  # 43.8415
    p_adj = (30 + Z95**2 / 2) / n_adj  # 0.72809
    margin = Z95 * math.sqrt(p_adj * (1 - p_adj) / n_adj)  # 0.13171
    assert (result.share, result.pct) == (0.75, 75.0)
    assert result.margin == pytest.approx(100 * margin, abs=1e-12)
    assert result.ci_low == pytest.approx(100 * (p_adj - margin), abs=1e-12)
    assert result.ci_high == pytest.approx(100 * (p_adj + margin), abs=1e-12)
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert (round(result.ci_low, 2), round(result.ci_high, 2)) == (59.64, 85.98)


def test_ces_hand_worked() -> None:
    answers = {1: 1, 2: 2, 3: 3, 4: 4, 5: 10, 6: 12, 7: 8}  # n = 40, 30 "easy" (5-7)
    values = [value for value, count in answers.items() for _ in range(count)]
    result = ces_from_histogram(answers)

    assert result.n == 40
    assert result.mean.mean == pytest.approx(208 / 40)  # 5.2
    assert result.mean.sd == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert result.mean.df == 39
    t39 = 2.0226909200367595  # t(0.975, 39), printed tables: 2.0227
    se = statistics.stdev(values) / math.sqrt(40)
    assert result.mean.margin == pytest.approx(t39 * se, abs=1e-12)
    assert result.mean.ci_low == pytest.approx(5.2 - t39 * se, abs=1e-12)
    assert result.mean.ci_high == pytest.approx(5.2 + t39 * se, abs=1e-12)
    assert result.easy == proportion_interval(successes=30, n=40)
    assert result == ces_from_sums(
        n=40,
        total=sum(values),
        total_squares=sum(v * v for v in values),
        easy=30,
    )


def test_csat_hand_worked() -> None:
    answers = {1: 2, 2: 3, 3: 5, 4: 20, 5: 10}  # n = 40, top two box 30
    values = [value for value, count in answers.items() for _ in range(count)]
    result = csat_from_histogram(answers)

    assert result.top_two_box.pct == 75.0
    assert result.top_two_box == proportion_interval(successes=30, n=40)
    assert result.mean.mean == pytest.approx(statistics.fmean(values))
    assert result.mean.sd == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert result == csat_from_sums(
        n=40,
        total=sum(values),
        total_squares=sum(v * v for v in values),
        satisfied=30,
    )


def test_nps_compare_hand_worked() -> None:
    previous, current = nps(50, 30, 20), nps(60, 25, 15)
    change = nps_compare(previous, current)

    def adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
        p, d = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
        return p - d, (p + d - (p - d) ** 2) / (n + 3)

    centre1, v1 = adjusted(50, 20, 100)
    centre2, v2 = adjusted(60, 15, 100)
    se = math.sqrt(v1 + v2)
    z = (centre2 - centre1) / se
    assert change.test == "nps-adjusted-wald-z"
    assert change.difference == 15.0
    assert change.estimate == pytest.approx(100 * (centre2 - centre1), abs=1e-12)
    assert change.se == pytest.approx(100 * se, abs=1e-12)
    assert change.statistic == pytest.approx(z, abs=1e-12)
    assert change.p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), rel=1e-12)
    assert change.ci_low == pytest.approx(100 * (centre2 - centre1 - Z95 * se), abs=1e-12)
    assert change.ci_high == pytest.approx(100 * (centre2 - centre1 + Z95 * se), abs=1e-12)
    assert change.p_value == pytest.approx(0.1702, abs=1e-4)
    assert change.significant is False
    assert change.df is None


def test_nps_compare_plain_wald() -> None:
    previous, current = nps(50, 30, 20), nps(60, 25, 15)
    change = nps_compare(previous, current, method="wald")
    se = math.sqrt((0.7 - 0.3**2) / 100 + (0.75 - 0.45**2) / 100)
    assert change.test == "nps-wald-z"
    assert change.estimate == pytest.approx(15.0, abs=1e-12)
    assert change.se == pytest.approx(100 * se, abs=1e-12)
    assert change.statistic == pytest.approx(0.15 / se, abs=1e-12)


def test_nps_compare_detects_a_large_change() -> None:
    change = nps_compare(nps(300, 300, 400), nps(450, 300, 250))
    assert change.difference == 30.0
    assert change.p_value is not None
    assert change.p_value < 1e-6
    assert change.significant is True
    assert change.ci_low is not None
    assert change.ci_low > 0


def test_nps_compare_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="method"):
        nps_compare(nps(1, 1, 1), nps(1, 1, 1), method="exact")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Agreement with scipy
# --------------------------------------------------------------------------------------


def test_t_critical_matches_scipy_for_df_1_to_1000_and_infinity() -> None:
    worst = max(abs(t_critical(df) - scipy.stats.t.ppf(0.975, df)) for df in range(1, 1001))
    assert worst < 1e-10
    assert t_critical(math.inf) == pytest.approx(1.959963984540054, abs=1e-15)
    assert z_critical() == pytest.approx(1.959963984540054, abs=1e-15)
    assert t_critical(1) == pytest.approx(12.706204736174698, abs=1e-12)
    assert t_critical(30) == pytest.approx(2.0422724563012373, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.99, 0.999])
def test_t_critical_other_confidence_levels(confidence: float) -> None:
    for df in [1, 2, 3, 5, 10, 30, 100, 1000, *FRACTIONAL_DF]:
        expected = scipy.stats.t.ppf(0.5 + confidence / 2, df)
        assert t_critical(df, confidence) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 10, 30, 100, 1000, *FRACTIONAL_DF, *LARGE_DF])
def test_t_ppf_matches_scipy(df: float) -> None:
    for p in [1e-10, 1e-6, 0.001, 0.01, 0.025, 0.2, 0.4, 0.6, 0.8, 0.975, 0.99, 0.999999]:
        expected = scipy.stats.t.ppf(p, df)
        assert t_ppf(p, df) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert t_ppf(0.5, df) == 0.0


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 10, 30, 100, 1000, *FRACTIONAL_DF])
def test_t_cdf_and_sf_match_scipy(df: float) -> None:
    for t in np.linspace(-40.0, 40.0, 161):
        t = float(t)
        assert t_cdf(t, df) == pytest.approx(scipy.stats.t.cdf(t, df), abs=1e-14)
        expected_tail = scipy.stats.t.sf(t, df)
        # Relative accuracy far into the upper tail, where p-values live.
        assert t_sf(t, df) == pytest.approx(expected_tail, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("df", LARGE_DF)
def test_t_cdf_matches_scipy_for_large_df(df: float) -> None:
    for t in np.linspace(-10.0, 10.0, 201):
        assert t_cdf(float(t), df) == pytest.approx(scipy.stats.t.cdf(t, df), abs=1e-11)
    assert t_cdf(1.96, math.inf) == pytest.approx(scipy.stats.norm.cdf(1.96), abs=1e-15)
    assert (t_cdf(math.inf, df), t_cdf(-math.inf, df), t_sf(math.inf, df)) == (1.0, 0.0, 0.0)


def test_t_ppf_inverts_t_cdf() -> None:
    rng = random.Random(7)
    for _ in range(300):
        df = rng.choice([rng.uniform(0.5, 5.0), rng.uniform(5.0, 500.0), float(rng.randint(1, 50))])
        p = rng.uniform(0.001, 0.999)
        assert t_cdf(t_ppf(p, df), df) == pytest.approx(p, abs=1e-13)


def test_regularized_incomplete_beta_matches_scipy() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        a, b, x = rng.uniform(0.05, 200.0), rng.uniform(0.05, 200.0), rng.random()
        expected = scipy.special.betainc(a, b, x)
        assert regularized_incomplete_beta(x, a, b) == pytest.approx(expected, abs=1e-12)
    assert regularized_incomplete_beta(0.0, 2.0, 3.0) == 0.0
    assert regularized_incomplete_beta(1.0, 2.0, 3.0) == 1.0


def _sample(rng: np.random.Generator, size: int, weights: list[float]) -> list[int]:
    scale = np.arange(1, len(weights) + 1)
    probabilities = np.array(weights) / sum(weights)
    return [int(v) for v in rng.choice(scale, size=size, p=probabilities)]


@pytest.mark.parametrize(
    ("n1", "n2", "weights1", "weights2"),
    [
        (12, 9, [1, 1, 2, 3, 4, 3, 1], [1, 2, 2, 2, 2, 2, 4]),
        (40, 25, [1, 1, 1, 2, 5, 6, 4], [2, 2, 3, 3, 3, 2, 1]),
        (200, 35, [1, 1, 1, 1, 2, 3, 3], [1, 1, 1, 1, 2, 3, 3]),
        (5000, 3000, [1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1]),
        (3, 2, [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]),
    ],
)
def test_welch_matches_scipy_ttest_ind(
    n1: int, n2: int, weights1: list[float], weights2: list[float]
) -> None:
    rng = np.random.default_rng(n1 * 1000 + n2)
    for _ in range(20):
        previous_values = _sample(rng, n1, weights1)
        current_values = _sample(rng, n2, weights2)
        if 0 in (statistics.pvariance(previous_values), statistics.pvariance(current_values)):
            continue  # scipy warns on constant samples; covered by the edge-case tests
        previous = mean_from_histogram(histogram_of(previous_values))
        current = mean_from_histogram(histogram_of(current_values))
        change = mean_compare(previous, current)
        reference = scipy.stats.ttest_ind(current_values, previous_values, equal_var=False)
        low, high = reference.confidence_interval(0.95)

        assert change.test == "welch-t"
        assert change.statistic == pytest.approx(reference.statistic, rel=1e-9, abs=1e-12)
        assert change.df == pytest.approx(reference.df, rel=1e-9)
        assert change.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)
        assert change.ci_low == pytest.approx(low, rel=1e-9, abs=1e-12)
        assert change.ci_high == pytest.approx(high, rel=1e-9, abs=1e-12)
        assert change.significant == (reference.pvalue < 0.05)


def test_mean_interval_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    for size in [2, 3, 5, 10, 31, 100, 2500]:
        values = _sample(rng, size, [1, 2, 3, 4, 3, 2, 1])
        result = mean_from_histogram(histogram_of(values))
        sem = scipy.stats.sem(values)
        low, high = scipy.stats.t.interval(0.95, size - 1, loc=np.mean(values), scale=sem)
        assert result.se == pytest.approx(sem, rel=1e-12)
        assert result.ci_low == pytest.approx(low, rel=1e-10)
        assert result.ci_high == pytest.approx(high, rel=1e-10)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(30, 40, 20, 40), (180, 200, 150, 210), (5, 7, 1, 9), (0, 50, 3, 50), (999, 1000, 1000, 1000)],
)
def test_two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> None:
    change = proportion_compare(
        proportion_interval(successes=x1, n=n1), proportion_interval(successes=x2, n=n2)
    )
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    # Agresti-Caffo: one success and one failure added to each period.
    p1, p2 = (x1 + 1) / (n1 + 2), (x2 + 1) / (n2 + 2)
    caffo_se = math.sqrt(p1 * (1 - p1) / (n1 + 2) + p2 * (1 - p2) / (n2 + 2))
    z_crit = scipy.stats.norm.ppf(0.975)

    assert change.test == "two-proportion-z"
    assert change.difference == pytest.approx(100 * (x2 / n2 - x1 / n1), abs=1e-12)
    assert change.statistic == pytest.approx(z, rel=1e-12)
    assert change.p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), rel=1e-12)
    assert change.ci_low == pytest.approx(100 * max(-1, p2 - p1 - z_crit * caffo_se), abs=1e-9)
    assert change.ci_high == pytest.approx(100 * min(1, p2 - p1 + z_crit * caffo_se), abs=1e-9)


def test_two_proportion_z_test_by_hand() -> None:
    # 30/40 vs 20/40: pooled 0.625, se = sqrt(0.625 * 0.375 * 2 / 40) = 0.108253, z = -2.3094
    change = proportion_compare(
        proportion_interval(successes=30, n=40), proportion_interval(successes=20, n=40)
    )
    assert change.statistic == pytest.approx(-2.309401, abs=1e-6)
    assert change.p_value == pytest.approx(0.020921, abs=1e-6)
    assert change.significant is True


def test_nps_interval_matches_independent_computation() -> None:
    for promoters, passives, detractors in [(5, 3, 2), (120, 80, 300), (997, 2, 1)]:
        result = nps(promoters, passives, detractors, confidence=0.9)
        n_adj = promoters + passives + detractors + 3
        p, d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
        margin = scipy.stats.norm.ppf(0.95) * math.sqrt((p + d - (p - d) ** 2) / n_adj)
        assert result.ci_low == pytest.approx(100 * max(-1, p - d - margin), abs=1e-10)
        assert result.ci_high == pytest.approx(100 * min(1, p - d + margin), abs=1e-10)


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------


def test_no_responses() -> None:
    empty = nps(0, 0, 0)
    assert empty.n == 0
    assert empty.score is None
    assert (empty.ci_low, empty.ci_high, empty.margin, empty.wald_margin) == (
        None,
        None,
        None,
        None,
    )
    assert empty.small_sample is True
    assert nps_from_histogram({}) == empty

    for result in (ces_from_histogram({}), csat_from_histogram({})):
        assert result.n == 0
        assert result.small_sample is True
    assert ces_from_histogram({}).mean.mean is None
    assert ces_from_histogram({}).easy.pct is None
    assert csat_from_histogram({}).top_two_box.ci_low is None
    assert csat_from_histogram({}).mean.ci_high is None

    some = nps(10, 5, 5)
    for change in (nps_compare(empty, some), nps_compare(some, empty)):
        assert change.difference is None
        assert change.p_value is None
        assert change.significant is False
    assert (
        proportion_compare(
            proportion_interval(successes=0, n=0), proportion_interval(successes=3, n=4)
        ).p_value
        is None
    )
    assert mean_compare(mean_from_histogram({}), mean_from_histogram({1: 2, 3: 2})).se is None


def test_all_promoters_interval_is_not_degenerate() -> None:
    for n in [1, 2, 5, 30, 1000]:
        result = nps(n, 0, 0)
        assert result.score == 100.0
        assert result.wald_margin == 0.0  # the plain Wald interval collapses...
        assert result.margin is not None
        assert result.margin > 0.0  # ...the adjusted one does not
        assert result.ci_low is not None
        assert result.ci_low < 100.0
        assert result.ci_high is not None
        assert result.ci_high <= 100.0
    assert nps(1000, 0, 0).ci_high == 100.0
    # 30 promoters: n' = 33, p' = 30.75 / 33, d' = 0.75 / 33, centre 30 / 33.
    p, d = 30.75 / 33, 0.75 / 33
    low = 100 * (p - d - Z95 * math.sqrt((p + d - (p - d) ** 2) / 33))
    assert nps(30, 0, 0).ci_low == pytest.approx(low, abs=1e-12)
    assert round(low, 2) == 78.7


def test_all_detractors() -> None:
    result = nps(0, 0, 40)
    assert result.score == -100.0
    assert result.ci_low == -100.0
    assert result.ci_high is not None
    assert -100.0 < result.ci_high < -80.0
    assert result.to_dict()["ci_high"] == -nps(40, 0, 0).to_dict()["ci_low"]


def test_one_response() -> None:
    promoter = nps(1, 0, 0)
    # n' = 4, p' = 1.75 / 4, d' = 0.75 / 4: centred on 25 with a margin of z * 0.375.
    assert promoter.score == 100.0
    assert promoter.adjusted_score == 25.0
    assert promoter.margin == pytest.approx(100 * Z95 * 0.375)
    assert promoter.ci_low == pytest.approx(25 - 100 * Z95 * 0.375)
    assert promoter.ci_high == pytest.approx(25 + 100 * Z95 * 0.375)
    assert promoter.small_sample is True

    passive = nps(0, 1, 0)
    assert passive.score == 0.0
    assert passive.ci_low is not None
    assert passive.ci_high is not None
    assert passive.ci_low < 0.0 < passive.ci_high

    single = mean_from_histogram({4: 1})
    assert (single.mean, single.n) == (4.0, 1)
    assert (single.sd, single.se, single.df, single.ci_low, single.ci_high) == (
        None,
        None,
        None,
        None,
        None,
    )
    ces = ces_from_histogram({6: 1})
    assert ces.easy.pct == 100.0
    assert ces.easy.ci_low is not None
    assert ces.easy.ci_low < 100.0
    assert mean_compare(single, mean_from_histogram({1: 3, 5: 3})).p_value is None


def test_identical_answers_give_zero_width_mean_interval() -> None:
    result = csat_from_histogram({5: 40})
    assert result.mean.sd == 0.0
    assert (result.mean.ci_low, result.mean.ci_high) == (5.0, 5.0)
    assert result.top_two_box.ci_low is not None
    assert result.top_two_box.ci_low < 100.0

    flat = mean_compare(mean_from_histogram({5: 20}), mean_from_histogram({4: 20}))
    assert flat.difference == -1.0
    assert (flat.statistic, flat.p_value, flat.df, flat.significant) == (None, None, None, False)


def test_wald_nps_compare_without_variance_is_undefined() -> None:
    change = nps_compare(nps(20, 0, 0), nps(30, 0, 0), method="wald")
    assert change.difference == 0.0
    assert (change.statistic, change.p_value, change.ci_low) == (None, None, None)
    adjusted = nps_compare(nps(20, 0, 0), nps(30, 0, 0))
    assert adjusted.p_value is not None
    assert adjusted.significant is False


def test_mean_interval_is_clipped_to_the_scale() -> None:
    result = ces_from_histogram({6: 1, 7: 2})
    assert result.mean.ci_high == 7.0
    unclipped = mean_from_histogram({6: 1, 7: 2})
    assert unclipped.ci_high is not None
    assert unclipped.ci_high > 7.0


def test_small_sample_threshold() -> None:
    assert nps(10, 10, 9).small_sample is True
    assert nps(10, 10, 10).small_sample is False
    assert (
        nps_from_counts(
            promoters=5, passives=0, detractors=0, small_sample_threshold=5
        ).small_sample
        is False
    )
    assert ces_from_histogram({7: 12}, small_sample_threshold=10).small_sample is False
    assert csat_from_histogram({4: 12}).mean.small_sample is True
    previous, current = nps(100, 0, 0), nps(10, 0, 0)
    assert nps_compare(previous, current).small_sample is True


def test_small_sample_threshold_module_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring.constants, "SMALL_SAMPLE_THRESHOLD", 100)
    assert nps(50, 30, 19).small_sample is True
    assert nps(50, 30, 20).small_sample is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nps(-1, 0, 0), "must not be negative"),
        (lambda: nps(1, 1, 1, confidence=1.0), "confidence"),
        (lambda: nps_from_histogram({11: 1}), "outside the scale 0..10"),
        (lambda: ces_from_histogram({0: 1}), "outside the scale 1..7"),
        (lambda: csat_from_histogram({6: 1}), "outside the scale 1..5"),
        (lambda: csat_from_histogram({4: -1}), "must not be negative"),
        (lambda: proportion_interval(successes=5, n=4), "must not exceed n"),
        (lambda: mean_from_sums(n=3, total=5, total_squares=4), "inconsistent"),
        (lambda: ces_from_sums(n=2, total=20, total_squares=200, easy=2), "outside the scale"),
        (lambda: t_ppf(1.0, 5), "p must lie"),
        (lambda: t_ppf(0.5, 0), "degrees of freedom"),
        (lambda: t_cdf(1.0, -2), "degrees of freedom"),
        (lambda: regularized_incomplete_beta(1.5, 1, 1), "x must lie"),
        (lambda: nps_compare(nps(1, 1, 1), nps(1, 1, 1), alpha=0), "alpha"),
    ],
)
def test_invalid_input_raises_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_counts_must_be_integers() -> None:
    with pytest.raises(TypeError):
        nps_from_counts(promoters=1.5, passives=0, detractors=0)  # type: ignore[arg-type]
    assert nps(np.int64(5), 0, 0).score == 100.0  # type: ignore[arg-type]


def test_float_sums_are_accepted() -> None:
    exact = mean_from_sums(n=4, total=14, total_squares=54)
    approximate = mean_from_sums(n=4, total=14.0, total_squares=54.0)
    assert approximate.mean == exact.mean
    assert approximate.sd == pytest.approx(exact.sd, rel=1e-12)


def test_results_serialise_to_strict_json() -> None:
    results: list[NpsResult | ProportionResult | MeanResult | ChangeResult] = [
        nps(50, 30, 20),
        nps(0, 0, 0),
        proportion_interval(successes=3, n=9),
        mean_from_histogram({1: 2, 4: 3}),
        nps_compare(nps(50, 30, 20), nps(60, 25, 15)),
        mean_compare(mean_from_histogram({5: 20}), mean_from_histogram({4: 20})),
    ]
    for result in results:
        payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        assert set(payload) == set(result.__dataclass_fields__)
    nested = json.loads(json.dumps(ces_from_histogram({3: 2, 6: 5}).to_dict(), allow_nan=False))
    assert nested["easy"]["successes"] == 5
    assert nested["mean"]["n"] == 7


def test_results_are_frozen() -> None:
    result = nps(1, 2, 3)
    with pytest.raises(AttributeError):
        result.score = 0.0  # type: ignore[misc]


def test_module_uses_only_the_standard_library() -> None:
    modules: set[str] = set()
    package = Path(scoring.__file__).parent
    trees = [ast.parse(path.read_text()) for path in package.glob("*.py")]
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    assert modules - {"metrics"} <= set(sys.stdlib_module_names)


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=5000)


@settings(max_examples=300, deadline=None)
@given(promoters=counts, passives=counts, detractors=counts)
def test_nps_stays_in_range_and_interval_holds_the_estimate(
    promoters: int, passives: int, detractors: int
) -> None:
    result = nps(promoters, passives, detractors)
    if result.n == 0:
        assert result.score is None
        return
    assert result.score is not None
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.adjusted_score is not None
    assert -100.0 <= result.score <= 100.0
    assert -100.0 <= result.ci_low < result.ci_high <= 100.0
    assert result.ci_low <= result.adjusted_score <= result.ci_high
    if result.n >= 2:  # one lone promoter or detractor is the documented exception
        assert result.ci_low - 1e-9 <= result.score <= result.ci_high + 1e-9


@settings(max_examples=300, deadline=None)
@given(
    promoters=st.integers(0, 2000),
    passives=st.integers(0, 2000),
    detractors=st.integers(0, 2000),
    factor=st.integers(2, 50),
)
def test_nps_interval_narrows_as_n_grows(
    promoters: int, passives: int, detractors: int, factor: int
) -> None:
    small = nps(promoters, passives, detractors)
    large = nps(promoters * factor, passives * factor, detractors * factor)
    if small.n == 0:
        return
    assert small.margin is not None
    assert large.margin is not None
    assert large.margin < small.margin
    assert small.ci_low is not None
    assert small.ci_high is not None
    assert large.ci_low is not None
    assert large.ci_high is not None
    assert large.ci_high - large.ci_low <= small.ci_high - small.ci_low + 1e-9


@settings(max_examples=300, deadline=None)
@given(successes=st.integers(0, 10_000), failures=st.integers(0, 10_000))
def test_proportion_interval_holds_the_share(successes: int, failures: int) -> None:
    result = proportion_interval(successes=successes, n=successes + failures)
    if result.n == 0:
        return
    assert result.pct is not None
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert 0.0 <= result.ci_low <= result.pct <= result.ci_high <= 100.0
    assert result.ci_low < result.ci_high


@given(st.integers(min_value=-1000, max_value=1000))
def test_nps_group_covers_exactly_0_to_10(score: int) -> None:
    if 0 <= score <= 10:
        assert nps_group(score) in ("promoter", "passive", "detractor")
    else:
        with pytest.raises(ValueError, match="lies in"):
            nps_group(score)


def test_nps_groups_partition_the_scale() -> None:
    groups: dict[str, set[int]] = {"promoter": set(), "passive": set(), "detractor": set()}
    for score in range(11):
        groups[nps_group(score)].add(score)
    assert groups == {
        "promoter": {9, 10},
        "passive": {7, 8},
        "detractor": set(range(7)),
    }


@settings(max_examples=200, deadline=None)
@given(
    p=st.floats(min_value=1e-9, max_value=1 - 1e-9),
    df=st.floats(min_value=0.5, max_value=1e8),
)
def test_t_ppf_round_trip(p: float, df: float) -> None:
    assert t_cdf(t_ppf(p, df), df) == pytest.approx(p, abs=1e-12)
