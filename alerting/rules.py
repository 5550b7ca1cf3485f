"""The rule dispatcher: one reading + the care plan + `now` -> every rule's result.

For each reading it runs, each inside its own guard (style.md practice 18: a broken rule becomes an
operational alert, never silence):

1. `signal-quality` (§6.2): an unscorable or questionable reading raises a technical **advisory**
   and asks for a repeat (§6.2.2-6.2.3); a scorable one clears it.
2. the plan's rule pack (alerting/packs.py) on the value, after signal quality: unscorable values
   never drive it; a questionable value drives it only when red, marked questionable (§6.2.4).
   Continuous readings go through the persistence / rapid-desat / hysteresis machine
   (alerting/continuous.py), whose state the caller keeps per patient and passes back in.
3. `evaluation-failed`: ALERT (low, technical) naming every rule that raised, else CLEAR, so a
   recovered rule closes the operational alert.

Late data (§6.2.5): each result is judged on the measured time and marked `late` when measured more
than the plan's `late_after_s` before `now`; the lifecycle then never pages it as current.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from alerting import codec
from alerting.careplan import CarePlan
from alerting.continuous import Change, ContinuousState, advance
from alerting.exertion import Outcome, score_readings
from alerting.manual import ManualObservation
from alerting.model import Mode, Observation, Priority, Quality, QualityLevel
from alerting.packs import RULE_FOR_PACK, PackInput, PackVerdict, alarm_limit, judge
from alerting.quality import assess
from alerting.results import Detail, RuleResult, Status

QUALITY_RULE = "signal-quality"
FAILED_RULE = "evaluation-failed"
EXERTION_RULE = "exertion-desaturation"
#: §6.2.2: technical advisories sit at the lowest grade (device practice, §5.1).
QUALITY_PRIORITY = Priority.ADVISORY
#: A rule that cannot run leaves the patient partly unmonitored: a technical alert, routed apart at
#: low priority (§5.3 item 3).
FAILED_PRIORITY = Priority.LOW


@dataclass(frozen=True, slots=True)
class Evaluation:
    quality: Quality | None
    late: bool
    results: tuple[RuleResult, ...]
    #: The continuous-mode state to keep for the next reading (unchanged for spot checks).
    continuous_state: ContinuousState | None = None

    def result(self, rule: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule == rule), None)

    def to_dict(self) -> dict[str, object]:
        quality = self.quality
        return {
            "quality": None
            if quality is None
            else {
                "level": quality.level.value,
                "reasons": list(quality.reasons),
                "notes": list(quality.notes),
            },
            "late": self.late,
            "results": [r.to_dict() for r in self.results],
            "continuous_state": None if self.continuous_state is None else self.continuous_state.to_dict(),
        }


def guarded(rule: str, measured_at: datetime | None, run: Callable[[], RuleResult]) -> RuleResult:
    """Run one rule; an exception becomes a FAILED result naming it (practice 18)."""
    try:
        return run()
    except Exception as err:  # any bug in one rule must not silence the others (practice 18)
        reason = f"{type(err).__name__}: {err}"
        return RuleResult(rule, Status.FAILED, technical=True, measured_at=measured_at, reasons=(reason,))


def failure_summary(results: Sequence[RuleResult], measured_at: datetime | None) -> RuleResult:
    """The `evaluation-failed` operational alert for a batch of results."""
    failed = tuple(r.rule for r in results if r.status is Status.FAILED)
    if not failed:
        return RuleResult(FAILED_RULE, Status.CLEAR, technical=True, measured_at=measured_at)
    return RuleResult(
        FAILED_RULE, Status.ALERT, FAILED_PRIORITY, technical=True, measured_at=measured_at, reasons=failed
    )


def _quality_result(quality: Quality, obs: Observation, late: bool) -> RuleResult:
    if quality.level is QualityLevel.SCORABLE:
        return RuleResult(QUALITY_RULE, Status.CLEAR, technical=True, measured_at=obs.measured_at, late=late)
    return RuleResult(
        QUALITY_RULE,
        Status.ALERT,
        QUALITY_PRIORITY,
        technical=True,
        measured_at=obs.measured_at,
        questionable=quality.level is QualityLevel.QUESTIONABLE,
        late=late,
        repeat_requested=True,
        reasons=quality.reasons,
    )


def _unscored(rule: str, obs: Observation, late: bool, reasons: tuple[str, ...], repeat: bool) -> RuleResult:
    return RuleResult(
        rule,
        Status.UNSCORED,
        measured_at=obs.measured_at,
        late=late,
        repeat_requested=repeat,
        reasons=reasons,
    )


def _from_verdict(
    verdict: PackVerdict,
    quality: Quality,
    obs: Observation,
    late: bool,
    priority: Priority | None,
    extra: Detail,
) -> RuleResult:
    questionable = quality.level is QualityLevel.QUESTIONABLE
    score = verdict.news2
    unscored = questionable and not verdict.red
    reasons = verdict.reasons + quality.reasons + (("questionable-not-red",) if unscored else ())
    if unscored:
        status, priority = Status.UNSCORED, None
    else:
        status = Status.CLEAR if priority is None else Status.ALERT
    return RuleResult(
        verdict.rule,
        status,
        priority,
        measured_at=obs.measured_at,
        band=verdict.band,
        subscores={} if score is None else score.subscores,
        news2_total=None if score is None else score.total,
        news2_partial=None if score is None else score.partial,
        response=None if score is None else score.response.value,
        questionable=questionable,
        late=late,
        repeat_requested=unscored,
        reasons=reasons,
        detail={**(verdict.detail or {}), **extra},
    )


def _spot(obs: Observation, quality: Quality, late: bool, given: PackInput) -> RuleResult:
    rule = RULE_FOR_PACK[given.plan.rule_pack]
    if quality.level is QualityLevel.UNSCORABLE or obs.spo2 is None:
        return _unscored(rule, obs, late, quality.reasons, repeat=True)
    verdict = judge(obs.spo2, given)
    return _from_verdict(verdict, quality, obs, late, verdict.priority, {})


def _continuous(
    obs: Observation, quality: Quality, late: bool, given: PackInput, state: ContinuousState
) -> tuple[RuleResult, ContinuousState]:
    plan = given.plan
    rule = RULE_FOR_PACK[plan.rule_pack]
    usable = quality.level is not QualityLevel.UNSCORABLE and obs.spo2 is not None
    verdict = judge(obs.spo2, given) if usable and obs.spo2 is not None else None
    scorable = verdict is not None and (quality.level is QualityLevel.SCORABLE or verdict.red)
    new_state, decision = advance(
        state,
        at=obs.measured_at,
        spo2=obs.spo2,
        scorable=scorable,
        classify=lambda value: judge(value, given).priority,
        limit=alarm_limit(plan),
        settings=plan.continuous,
    )
    if decision.change is Change.OUT_OF_ORDER:
        return _unscored(rule, obs, late, ("out-of-order",), repeat=False), new_state
    if verdict is None:
        return _unscored(rule, obs, late, quality.reasons, repeat=True), new_state
    extra: Detail = {
        "instant_priority": codec.priority_out(verdict.priority),
        "continuous_change": decision.change.value,
        "pending": codec.priority_out(decision.pending),
        "pending_s": decision.pending_s,
        "rapid_desat": decision.rapid_desat,
    }
    return _from_verdict(verdict, quality, obs, late, decision.confirmed, extra), new_state


def evaluate_reading(
    obs: Observation,
    plan: CarePlan,
    now: datetime,
    *,
    manual: Sequence[ManualObservation] = (),
    on_oxygen: bool | None = None,
    continuous_state: ContinuousState | None = None,
) -> Evaluation:
    """Every rule's result for one reading. `on_oxygen` overrides the plan when the reading states it."""
    late = (now - obs.measured_at).total_seconds() > plan.late_after_s
    given = PackInput(
        plan, obs.pulse, plan.on_oxygen if on_oxygen is None else on_oxygen, obs.measured_at, manual
    )
    rule = RULE_FOR_PACK[plan.rule_pack]
    assessed: list[Quality] = []

    def run_quality() -> RuleResult:
        assessed.append(assess(obs))
        return _quality_result(assessed[0], obs, late)

    results = [guarded(QUALITY_RULE, obs.measured_at, run_quality)]
    state_out = continuous_state
    if not assessed:
        reason = "signal quality could not be assessed"
        results.append(
            RuleResult(rule, Status.FAILED, technical=True, measured_at=obs.measured_at, reasons=(reason,))
        )
    elif obs.mode is Mode.CONTINUOUS:
        states: list[ContinuousState] = []

        def run_continuous() -> RuleResult:
            result, new_state = _continuous(
                obs, assessed[0], late, given, continuous_state or ContinuousState()
            )
            states.append(new_state)
            return result

        results.append(guarded(rule, obs.measured_at, run_continuous))
        state_out = states[0] if states else continuous_state
    else:
        results.append(guarded(rule, obs.measured_at, lambda: _spot(obs, assessed[0], late, given)))
    results.append(failure_summary(results, obs.measured_at))
    return Evaluation(assessed[0] if assessed else None, late, tuple(results), state_out)


def evaluate_exertion(
    rest: Observation, exertion: Observation, now: datetime, *, plan: CarePlan, supervised: bool = False
) -> RuleResult:
    """The exertional desaturation test as a rule result (§1.6)."""

    def run() -> RuleResult:
        found = score_readings(rest, exertion, supervised=supervised)
        late = (now - exertion.measured_at).total_seconds() > plan.late_after_s
        status = {
            Outcome.DESATURATED: Status.ALERT,
            Outcome.NO_DESATURATION: Status.CLEAR,
            Outcome.NOT_OFFERED: Status.NOT_APPLICABLE,
            Outcome.UNSCORED: Status.UNSCORED,
        }[found.outcome]
        return RuleResult(
            EXERTION_RULE,
            status,
            found.priority,
            measured_at=exertion.measured_at,
            questionable=found.questionable,
            late=late,
            repeat_requested=found.outcome is Outcome.UNSCORED,
            reasons=found.reasons,
            detail={
                "outcome": found.outcome.value,
                "rest_spo2": found.rest_spo2,
                "exertion_spo2": found.exertion_spo2,
                "fall": found.fall,
            },
        )

    return guarded(EXERTION_RULE, exertion.measured_at, run)
