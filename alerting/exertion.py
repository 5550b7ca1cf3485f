"""Exertional desaturation test: 40-step or 1-minute sit-to-stand (S-CEBM20, clinical-rules.md §1.6).

- Positive: "a fall of 3% or more" in the oximetry reading on exercise [confirmed, S-CEBM20].
- Safety: offered only when the resting SpO2 is >=96 %, "unless the patient is in a supervised care
  setting" [confirmed, S-CEBM20]. Outside that the test is refused, not scored.
- Both readings must be scorable (§6.2.2): a probe-off or invalid reading cannot show a fall. A
  questionable reading may (a possible real desaturation is not hidden, §6.2.4), marked so.
- Priority of a positive test: medium (a prompt clinical review; our mapping, §5.1). The Dutch >=4 %
  and TICC19 >5 % cut-offs in §1.6 are not the NHS rule and are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alerting.model import Observation, Priority, QualityLevel
from alerting.quality import assess

#: §1.6: rest SpO2 at which the test may be offered unsupervised.
REST_MINIMUM = 96
#: §1.6: "a fall of 3% or more" on exercise.
FALL_POINTS = 3
POSITIVE_PRIORITY = Priority.MEDIUM


class Outcome(StrEnum):
    DESATURATED = "desaturated"  # positive: fall >= 3 points
    NO_DESATURATION = "no-desaturation"
    NOT_OFFERED = "not-offered"  # rest < 96 % and not supervised: do not exercise this patient
    UNSCORED = "unscored"  # a reading may not be used (signal quality)


@dataclass(frozen=True, slots=True)
class ExertionResult:
    outcome: Outcome
    rest_spo2: float | None
    exertion_spo2: float | None
    fall: float | None
    priority: Priority | None
    questionable: bool = False
    reasons: tuple[str, ...] = ()


def offered(rest_spo2: float, *, supervised: bool = False) -> bool:
    """Whether the test may be done at this resting SpO2 (§1.6 safety rule)."""
    return supervised or rest_spo2 >= REST_MINIMUM


def score_values(rest_spo2: float, exertion_spo2: float, *, supervised: bool = False) -> ExertionResult:
    """Score a rest/exertion pair of SpO2 values (already known to be usable)."""
    if not offered(rest_spo2, supervised=supervised):
        reason = f"rest-below-{REST_MINIMUM}"
        return ExertionResult(Outcome.NOT_OFFERED, rest_spo2, exertion_spo2, None, None, reasons=(reason,))
    fall = rest_spo2 - exertion_spo2
    if fall >= FALL_POINTS:
        reasons = (f"fall-{FALL_POINTS}-on-exertion",)
        return ExertionResult(
            Outcome.DESATURATED, rest_spo2, exertion_spo2, fall, POSITIVE_PRIORITY, False, reasons
        )
    return ExertionResult(Outcome.NO_DESATURATION, rest_spo2, exertion_spo2, fall, None)


def score_readings(rest: Observation, exertion: Observation, *, supervised: bool = False) -> ExertionResult:
    """Score the test from the two oximeter readings, rest first; checks order and signal quality."""
    if exertion.measured_at <= rest.measured_at:
        raise ValueError("the exertion reading must be measured after the rest reading")
    rest_q, ex_q = assess(rest), assess(exertion)
    unscorable = [
        f"{which}:{reason}"
        for which, quality in (("rest", rest_q), ("exertion", ex_q))
        if quality.level is QualityLevel.UNSCORABLE
        for reason in quality.reasons
    ]
    if unscorable or rest.spo2 is None or exertion.spo2 is None:
        return ExertionResult(
            Outcome.UNSCORED, rest.spo2, exertion.spo2, None, None, reasons=tuple(unscorable)
        )
    result = score_values(rest.spo2, exertion.spo2, supervised=supervised)
    questionable = QualityLevel.QUESTIONABLE in (rest_q.level, ex_q.level)
    notes = tuple(f"{w}:{r}" for w, q in (("rest", rest_q), ("exertion", ex_q)) for r in q.reasons)
    return ExertionResult(
        result.outcome,
        result.rest_spo2,
        result.exertion_spo2,
        result.fall,
        result.priority,
        questionable,
        result.reasons + notes,
    )
