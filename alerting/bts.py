"""BTS 2017 oxygen target ranges (S-BTS17, clinical-rules.md §4).

"Clinical assessment is recommended if the saturation falls by >=3% or below the target range for the
patient." [confirmed, S-BTS17]. Two target ranges: 94-98 % for most acutely ill patients, 88-92 % for
those at risk of hypercapnic respiratory failure (§4) [secondary for the numbers].

Priority: both triggers ask for a clinical assessment, i.e. a prompt response -> medium (IEC leaves
priorities to us, §5.1). "Falls by >=3%" is read as percentage points below the patient's recorded
baseline (§1.7 points to this rule for a personalised baseline). Fractional values are compared as
measured: a fall of 2.9 points is not a fall of 3; 93.9 is below a 94-98 target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alerting.model import Priority

#: §4: the two BTS target ranges, inclusive.
TARGET_MOST = (94, 98)
TARGET_HYPERCAPNIC = (88, 92)
TARGETS = (TARGET_MOST, TARGET_HYPERCAPNIC)
#: §4: "falls by >=3%".
FALL_POINTS = 3
#: §4: both triggers recommend clinical assessment: prompt response (our mapping, §5.1).
ASSESSMENT_PRIORITY = Priority.MEDIUM


@dataclass(frozen=True, slots=True)
class BtsAssessment:
    target: tuple[int, int]
    baseline: float | None
    below_target: bool
    #: Points below the baseline (negative when above it); None without a baseline.
    fall: float | None
    fell_from_baseline: bool
    priority: Priority | None
    reasons: tuple[str, ...]


def assess(spo2: float, target: tuple[int, int], baseline: float | None) -> BtsAssessment:
    """Apply the BTS triggers to one SpO2 value for a patient's target range and optional baseline."""
    if math.isnan(spo2) or not 0 <= spo2 <= 100:
        raise ValueError(f"SpO2 must be 0-100 %, got {spo2!r}")
    if target not in TARGETS:
        raise ValueError(f"BTS target range must be 94-98 or 88-92 (§4), got {target!r}")
    below = spo2 < target[0]
    fall = None if baseline is None else baseline - spo2
    fell = fall is not None and fall >= FALL_POINTS
    reasons: list[str] = []
    if below:
        reasons.append(f"below-target-{target[0]}-{target[1]}")
    if fell:
        reasons.append(f"fall-{FALL_POINTS}-from-baseline")
    return BtsAssessment(
        target=target,
        baseline=baseline,
        below_target=below,
        fall=fall,
        fell_from_baseline=fell,
        priority=ASSESSMENT_PRIORITY if reasons else None,
        reasons=tuple(reasons),
    )
