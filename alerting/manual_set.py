"""A manual observation scored when it is recorded, not at the patient's next reading.

NEWS2 is scored per observation set (clinical-rules.md §2.3, §2.4). A patient on spot checks sends a
few readings a day; respiration rate, systolic BP, temperature, consciousness or air/oxygen recorded
between them (§2.1, §2.3) must alert when they are entered. The set is scored at `at`, the newer of the
observation's measured time and the latest reading's, with the same rules a reading gets:

- SpO2 and pulse of the patient's latest oximeter reading, when it is scorable (§6.2.2: an unreliable
  reading drives no physiological escalation) and measured within the plan's manual freshness
  window of `at` -- the window a manual observation gets beside a reading (§2.4; our inference,
  applied the other way round);
- every manual observation fresh at `at` (news2.fresh_manual), oxygen status as the caller finds it;
- late (§6.2.5) when `at` is more than the plan's `late_after_s` before `now`.

Without a usable reading the score lacks SpO2 and pulse: partial, a floor (§2.3 design consequence).
It may raise or upgrade, but never clears -- it says nothing about saturation.

Only the NEWS2 packs score manual observations; for any other pack there is nothing to re-score
(None). A continuous-mode patient's persistence state (alerting/continuous.py) takes the set's level
as confirmed: a recorded set is not a momentary SpO2 value to wait out, and the next reading must
not clear what the set found before hysteresis would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from alerting.careplan import CarePlan
from alerting.continuous import ContinuousState, worst
from alerting.manual import ManualObservation
from alerting.model import Observation, QualityLevel
from alerting.packs import NEWS2_RULE, PackInput, news2_verdict
from alerting.quality import assess
from alerting.results import RuleResult, Status
from alerting.rules import Evaluation, failure_summary, guarded

#: The reason every result of a manual set carries: the alert says where its evidence came from.
MANUAL_REASON = "manual-observation"
#: Why a set without a usable reading clears nothing.
NO_READING_REASON = "no-oximeter-reading"


def usable_reading(reading: Observation | None, at: datetime, max_age: timedelta) -> Observation | None:
    """`reading` if its SpO2 may join a set measured at `at` (scorable, and fresh at `at`)."""
    if reading is None or at - reading.measured_at > max_age:
        return None
    return reading if assess(reading).level is QualityLevel.SCORABLE else None


def evaluate_manual_set(
    plan: CarePlan,
    now: datetime,
    *,
    at: datetime,
    manual: Sequence[ManualObservation],
    reading: Observation | None = None,
    on_oxygen: Callable[[datetime], bool | None] = lambda _: None,
    continuous_state: ContinuousState | None = None,
) -> Evaluation | None:
    """The NEWS2 result of the set recorded at `at`, or None when the plan does not score manual
    observations. `on_oxygen(t)`: the oxygen status recorded for time t, None for the plan's default."""
    scale = plan.news2_scale
    if scale is None:
        return None
    used = usable_reading(reading, at, timedelta(seconds=plan.manual_max_age_s))
    set_at = at if used is None else max(at, used.measured_at)
    late = (now - set_at).total_seconds() > plan.late_after_s
    states: list[ContinuousState] = []

    def run() -> RuleResult:
        oxygen = on_oxygen(set_at)
        given = PackInput(
            plan,
            None if used is None else used.pulse,
            plan.on_oxygen if oxygen is None else oxygen,
            set_at,
            manual,
        )
        verdict = news2_verdict(None if used is None else used.spo2, given, scale)
        priority = verdict.priority
        if continuous_state is not None:
            priority = worst(priority, continuous_state.confirmed)
            states.append(replace(continuous_state, confirmed=priority))
        reasons = (MANUAL_REASON, *verdict.reasons)
        status = Status.ALERT if priority is not None else Status.CLEAR
        if priority is None and used is None:
            status, reasons = Status.UNSCORED, (*reasons, NO_READING_REASON)
        score = verdict.news2
        assert score is not None  # a NEWS2 verdict always carries its score
        return RuleResult(
            NEWS2_RULE,
            status,
            priority,
            measured_at=set_at,
            subscores=score.subscores,
            news2_total=score.total,
            news2_partial=score.partial,
            response=score.response.value,
            late=late,
            reasons=reasons,
            detail=dict(verdict.detail or {}),
        )

    result = guarded(NEWS2_RULE, set_at, run)
    results = (result, failure_summary((result,), set_at))
    return Evaluation(None, late, results, states[0] if states else continuous_state)
