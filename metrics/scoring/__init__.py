"""Scoring maths for NPS, CES and CSAT.

Point estimates, confidence intervals and tests for a change between two periods,
computed from aggregated counts (a histogram, or n / sum / sum of squares), never from
rows: selectors aggregate in SQL or read rollups, then call these functions. Pure Python
(standard library only), no database access, no Django imports.

Conventions (see ``docs/metrics/scoring.md`` for the formulas and a worked example):

- Every result carries ``n`` and ``small_sample`` (``n`` below
  :data:`SMALL_SAMPLE_THRESHOLD`, or below the per-call ``small_sample_threshold``).
- ``n == 0`` never raises: estimates and intervals are ``None``.
- Units: NPS in points (-100..100); percentages in 0..100; ``*_share`` fields are
  fractions in 0..1; means on the answer scale (CES 1..7, CSAT 1..5). Margins, standard
  errors and differences use the unit of the estimate they belong to.
- Intervals are two-sided at ``confidence`` (default 0.95) and clipped to the range the
  estimate can take.
- Changes are ``current - previous``; tests are two-sided at ``alpha`` (default 0.05) and
  the interval of a change is at ``1 - alpha``.

The package splits into ``constants`` (scales, thresholds), ``distributions`` (normal
and Student t), ``results`` (the frozen result types) and ``estimates`` (NPS, CES, CSAT
and the tests for a change); import from ``metrics.scoring``.
"""

from __future__ import annotations

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
    SMALL_SAMPLE_THRESHOLD,
    ChangeTest,
    NpsGroup,
    NpsMethod,
)
from metrics.scoring.distributions import (
    regularized_incomplete_beta,
    t_cdf,
    t_critical,
    t_ppf,
    t_sf,
    z_critical,
)
from metrics.scoring.estimates import (
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
)
from metrics.scoring.results import (
    CesResult,
    ChangeResult,
    CsatResult,
    MeanResult,
    NpsResult,
    ProportionResult,
)

__all__ = [
    "CES_EASY_MIN",
    "CES_MAX",
    "CES_MIN",
    "CSAT_MAX",
    "CSAT_MIN",
    "CSAT_TOP_TWO_BOX_MIN",
    "DEFAULT_ALPHA",
    "DEFAULT_CONFIDENCE",
    "NPS_ADJUST_COUNT",
    "NPS_ADJUST_N",
    "NPS_MAX",
    "NPS_MIN",
    "PASSIVE_MIN",
    "PROMOTER_MIN",
    "SMALL_SAMPLE_THRESHOLD",
    "CesResult",
    "ChangeResult",
    "ChangeTest",
    "CsatResult",
    "MeanResult",
    "NpsGroup",
    "NpsMethod",
    "NpsResult",
    "ProportionResult",
    "ces_from_histogram",
    "ces_from_sums",
    "csat_from_histogram",
    "csat_from_sums",
    "mean_compare",
    "mean_from_histogram",
    "mean_from_sums",
    "nps_compare",
    "nps_from_counts",
    "nps_from_histogram",
    "nps_group",
    "proportion_compare",
    "proportion_interval",
    "regularized_incomplete_beta",
    "t_cdf",
    "t_critical",
    "t_ppf",
    "t_sf",
    "z_critical",
]
