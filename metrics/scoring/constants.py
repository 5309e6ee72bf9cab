"""Scales, thresholds and defaults shared by the scoring modules."""

from __future__ import annotations

from typing import Final, Literal

SMALL_SAMPLE_THRESHOLD: Final = 30
"""Results with fewer responses than this are flagged ``small_sample``."""

DEFAULT_CONFIDENCE: Final = 0.95
DEFAULT_ALPHA: Final = 0.05

NPS_MIN: Final = 0
NPS_MAX: Final = 10
PROMOTER_MIN: Final = 9
PASSIVE_MIN: Final = 7
CES_MIN: Final = 1
CES_MAX: Final = 7
CES_EASY_MIN: Final = 5
"""CES answers 5..7 count as "easy" (7 = very easy)."""
CSAT_MIN: Final = 1
CSAT_MAX: Final = 5
CSAT_TOP_TWO_BOX_MIN: Final = 4
"""CSAT answers 4..5 count as "satisfied" (top two box)."""

NPS_ADJUST_N: Final = 3.0
NPS_ADJUST_COUNT: Final = 0.75
"""Adjusted-Wald NPS (Rocks 2016): add 3 to n and 3/4 to promoters and to detractors."""

NpsGroup = Literal["promoter", "passive", "detractor"]
NpsMethod = Literal["adjusted-wald", "wald"]
ChangeTest = Literal["nps-adjusted-wald-z", "nps-wald-z", "two-proportion-z", "welch-t"]
