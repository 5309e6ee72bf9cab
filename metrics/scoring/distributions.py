"""Normal and Student t distributions (the t via the regularized incomplete beta)."""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from typing import Final

from metrics.scoring.constants import DEFAULT_CONFIDENCE

# --------------------------------------------------------------------------------------
# Distributions: normal via the standard library, Student t via the incomplete beta.
# --------------------------------------------------------------------------------------

_STANDARD_NORMAL: Final = NormalDist()
_SQRT2: Final = math.sqrt(2.0)
_LN_SQRT_PI: Final = 0.5 * math.log(math.pi)  # ln Gamma(1/2)
_LN_SQRT_2PI: Final = 0.5 * math.log(2.0 * math.pi)
# Stirling series coefficients B_2k / (2k (2k - 1)) of ln Gamma.
_STIRLING: Final = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_CF_EPS: Final = 1e-15
_CF_TINY: Final = 1e-300
_CF_MAX_ITERATIONS: Final = 100_000
# Above this many degrees of freedom the t tail is the normal tail plus the first two
# terms of its expansion in 1/df (absolute error below 1e-15); below it, the continued
# fraction (whose rounding error grows with df, to about 3e-12 absolute at 1e6) is used.
_T_NORMAL_DF: Final = 1e6


def _ln_gamma_ratio_half(a: float) -> float:
    """ln Gamma(a + 1/2) - ln Gamma(a), without the cancellation of two big lgammas."""
    if a < 10.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    b = a + 0.5
    series = 0.0
    for k, coefficient in enumerate(_STIRLING, start=1):
        power = 2 * k - 1
        series += coefficient * (b**-power - a**-power)
    return 0.5 * math.log(a) + a * math.log1p(0.5 / a) - 0.5 + series


def _ln_beta(a: float, b: float) -> float:
    if b == 0.5:
        return _LN_SQRT_PI - _ln_gamma_ratio_half(a)
    if a == 0.5:
        return _LN_SQRT_PI - _ln_gamma_ratio_half(b)
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of I_x(a, b) (modified Lentz), fast for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    h = d
    for m in range(1, _CF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _CF_TINY else _CF_TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) <= _CF_EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def _incomplete_beta(
    a: float, b: float, x: float, y: float, ln_x: float, ln_y: float
) -> tuple[float, float]:
    """``(I_x(a, b), 1 - I_x(a, b))``, each accurate; ``y = 1 - x`` and the logs exact."""
    if x <= 0.0:
        return 0.0, 1.0
    if y <= 0.0:
        return 1.0, 0.0
    front = math.exp(a * ln_x + b * ln_y - _ln_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        value = front * _beta_continued_fraction(a, b, x) / a
        return value, 1.0 - value
    complement = front * _beta_continued_fraction(b, a, y) / b
    return 1.0 - complement, complement


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for 0 <= x <= 1, a, b > 0."""
    if not (a > 0.0 and b > 0.0):
        raise ValueError("a and b must be positive")
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must lie in [0, 1]")
    if x == 0.0 or x == 1.0:
        return x
    return _incomplete_beta(a, b, x, 1.0 - x, math.log(x), math.log1p(-x))[0]


def _check_df(df: float) -> None:
    if not df > 0.0:  # also rejects NaN
        raise ValueError("degrees of freedom must be positive")


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z - _LN_SQRT_2PI)


def _t_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    if t == 0.0:
        return 0.5
    if math.isinf(t):
        return 0.0
    if df > _T_NORMAL_DF:
        tail = 0.5 * math.erfc(t / _SQRT2)
        if math.isinf(df):
            return tail
        t2 = t * t
        first = (t2 + 1.0) * t / 4.0
        second = (((3.0 * t2 - 7.0) * t2 - 5.0) * t2 - 3.0) * t / 96.0
        return tail + _normal_pdf(t) * (first + second / df) / df
    r = t * t / df
    if math.isinf(r):
        return 0.0
    # x = df / (df + t^2) = 1 / (1 + r), y = 1 - x = r / (1 + r)
    ln_1pr = math.log1p(r)
    x, y = 1.0 / (1.0 + r), r / (1.0 + r)
    value, _ = _incomplete_beta(0.5 * df, 0.5, x, y, -ln_1pr, math.log(r) - ln_1pr)
    return 0.5 * value


def _t_pdf(t: float, df: float) -> float:
    if df > _T_NORMAL_DF:
        return _normal_pdf(t)
    ln_density = (
        -_ln_beta(0.5 * df, 0.5) - 0.5 * math.log(df) - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )
    return math.exp(ln_density)


def t_cdf(t: float, df: float) -> float:
    """Student t cumulative distribution P(T <= t) with ``df`` > 0 (``math.inf`` = normal)."""
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t must be a number")
    return 1.0 - _t_tail(t, df) if t >= 0.0 else _t_tail(-t, df)


def t_sf(t: float, df: float) -> float:
    """Student t survival function P(T > t), accurate far into the upper tail."""
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t must be a number")
    return _t_tail(t, df) if t >= 0.0 else 1.0 - _t_tail(-t, df)


def _cornish_fisher(z: float, df: float) -> float:
    """Cornish-Fisher expansion of the t quantile around the normal one (A&S 26.7.5)."""
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df


def _t_upper_quantile(q: float, df: float) -> float:
    """The t > 0 with P(T > t) = q, for 0 < q < 1/2."""
    if math.isinf(df):
        return -_STANDARD_NORMAL.inv_cdf(q)
    if df == 1.0:  # Cauchy
        return 1.0 / math.tan(math.pi * q)
    if df == 2.0:
        return (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    z = -_STANDARD_NORMAL.inv_cdf(q)
    t = _cornish_fisher(z, df) if df >= 3.0 else z
    # Safeguarded Newton: the tail is convex and decreasing for t > 0, so Newton steps
    # land left of the root and then climb to it; bisection catches any overshoot.
    low, high = 0.0, math.inf
    for _ in range(200):
        excess = _t_tail(t, df) - q
        if excess == 0.0:
            return t
        if excess > 0.0:
            low = t
        else:
            high = t
        candidate = t + excess / _t_pdf(t, df)
        if not low < candidate < high:
            candidate = 0.5 * (low + high) if math.isfinite(high) else 2.0 * t
        if abs(candidate - t) <= 1e-14 * candidate:
            return candidate
        t = candidate
    return t


def t_ppf(p: float, df: float) -> float:
    """Inverse Student t CDF (quantile) for 0 < p < 1 and ``df`` > 0 (``math.inf`` = normal)."""
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError("p must lie strictly between 0 and 1")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_t_upper_quantile(p, df)
    return _t_upper_quantile(1.0 - p, df)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")


@lru_cache(maxsize=64)
def z_critical(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Two-sided normal critical value: 1.959963984540054 for 0.95."""
    _check_confidence(confidence)
    return _STANDARD_NORMAL.inv_cdf(0.5 + 0.5 * confidence)


@lru_cache(maxsize=4096)
def t_critical(df: float, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Two-sided Student t critical value: 12.706204736174698 for df 1 at 0.95."""
    _check_confidence(confidence)
    _check_df(df)
    return _t_upper_quantile(0.5 * (1.0 - confidence), df)


def _two_sided_p_normal(z: float) -> float:
    return math.erfc(abs(z) / _SQRT2)


def _two_sided_p_t(t: float, df: float) -> float:
    return min(1.0, 2.0 * _t_tail(abs(t), df))
