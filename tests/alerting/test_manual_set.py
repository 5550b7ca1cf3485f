"""A manual observation set scored when it is recorded (alerting/manual_set.py): with the latest reading
when it is scorable and fresh, partial without it, never an all-clear from a set without SpO2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerting.careplan import CarePlan, RulePack
from alerting.continuous import ContinuousState
from alerting.manual import ManualObservation, ManualParameter
from alerting.manual_set import MANUAL_REASON, NO_READING_REASON, evaluate_manual_set
from alerting.model import Mode, Observation, Priority
from alerting.packs import NEWS2_RULE
from alerting.results import RuleResult, Status
from alerting.rules import FAILED_RULE, Evaluation

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SCALE1 = CarePlan(rule_pack=RulePack.NEWS2_SCALE1)
PROBE_OFF = 1 << 11
RR, BP, TEMP, ACVPU = (
    ManualParameter.RESPIRATION_RATE,
    ManualParameter.SYSTOLIC_BP,
    ManualParameter.TEMPERATURE,
    ManualParameter.CONSCIOUSNESS,
)


def obs(
    parameter: ManualParameter, value: float | str, ago: timedelta = timedelta(minutes=5)
) -> ManualObservation:
    return ManualObservation(parameter, value, NOW - ago)


def reading(spo2: float = 97, ago: timedelta = timedelta(hours=3), ds: int | None = None) -> Observation:
    return Observation(NOW - ago, spo2, 80.0, Mode.SPOT_CHECK, None, ds)


def scored(found: Evaluation | None) -> RuleResult:
    assert found is not None
    result = found.result(NEWS2_RULE)
    assert result is not None
    return result


DETERIORATING = (obs(RR, 26), obs(ACVPU, "V"), obs(BP, 88))
NORMAL = (obs(RR, 16), obs(BP, 120), obs(TEMP, 37.0), obs(ACVPU, "A"))


def test_a_set_with_the_latest_scorable_reading_scores_news2_at_the_set_time() -> None:
    found = evaluate_manual_set(
        SCALE1, NOW, at=NOW - timedelta(minutes=5), manual=DETERIORATING, reading=reading()
    )
    result = scored(found)
    # RR 26, V, SBP 88 score 3 each (§2.3); SpO2 97 and pulse 80 score 0 (§2.1, §2.2): 9, emergency.
    assert (result.status, result.priority, result.news2_total, result.news2_partial) == (
        Status.ALERT,
        Priority.HIGH,
        9,
        True,
    )
    assert result.subscores["spo2"] == 0
    assert "temperature" not in result.subscores
    assert result.measured_at == NOW - timedelta(minutes=5)
    assert result.reasons == (MANUAL_REASON, "partial")
    assert (result.late, result.response) == (False, "high")
    assert found is not None
    assert found.continuous_state is None
    assert [r.status for r in found.results if r.rule == FAILED_RULE] == [Status.CLEAR]


def test_a_normal_full_set_clears() -> None:
    result = scored(
        evaluate_manual_set(SCALE1, NOW, at=NOW - timedelta(minutes=5), manual=NORMAL, reading=reading())
    )
    assert (result.status, result.priority, result.news2_total, result.news2_partial) == (
        Status.CLEAR,
        None,
        0,
        False,
    )
    assert result.reasons == (MANUAL_REASON,)


def test_without_a_usable_reading_the_score_is_partial_and_never_clears() -> None:
    at = NOW - timedelta(minutes=5)
    unusable = [None, reading(ago=timedelta(hours=13)), reading(ds=PROBE_OFF)]  # none, stale, unscorable
    for latest in unusable:
        normal = scored(evaluate_manual_set(SCALE1, NOW, at=at, manual=NORMAL, reading=latest))
        assert (normal.status, normal.news2_partial) == (Status.UNSCORED, True)
        assert normal.reasons == (MANUAL_REASON, "partial", NO_READING_REASON)
        assert "spo2" not in normal.subscores
        assert "pulse" not in normal.subscores
        # A 3 in a single parameter still alerts from the manual set alone (§2.4).
        alone = scored(evaluate_manual_set(SCALE1, NOW, at=at, manual=(obs(RR, 26),), reading=latest))
        assert (alone.status, alone.priority, alone.response) == (Status.ALERT, Priority.MEDIUM, "low-medium")


def test_a_reading_newer_than_a_backdated_set_sets_the_time_and_oxygen_is_asked_for_then() -> None:
    asked: list[datetime] = []

    def oxygen(at: datetime) -> bool | None:
        asked.append(at)
        return True

    newer = reading(ago=timedelta(hours=1))
    found = evaluate_manual_set(
        SCALE1,
        NOW,
        at=NOW - timedelta(hours=2),
        manual=(obs(RR, 16, timedelta(hours=2)),),
        reading=newer,
        on_oxygen=oxygen,
    )
    result = scored(found)
    assert result.measured_at == asked[0] == NOW - timedelta(hours=1)
    assert result.subscores["air_or_oxygen"] == 2  # oxygen = 2 (§2.1)
    assert (result.status, result.priority, result.late) == (Status.ALERT, Priority.LOW, True)


def test_continuous_state_takes_the_sets_level_and_never_lowers() -> None:
    at = NOW - timedelta(seconds=30)
    fresh = reading(ago=timedelta(seconds=31))
    raised = evaluate_manual_set(
        SCALE1, NOW, at=at, manual=(obs(RR, 26),), reading=fresh, continuous_state=ContinuousState()
    )
    assert raised is not None
    assert raised.continuous_state is not None
    assert (scored(raised).priority, raised.continuous_state.confirmed) == (Priority.MEDIUM, Priority.MEDIUM)
    held = evaluate_manual_set(
        SCALE1, NOW, at=at, manual=NORMAL, reading=fresh, continuous_state=ContinuousState(Priority.HIGH)
    )
    assert held is not None
    assert held.continuous_state is not None
    assert (scored(held).status, scored(held).priority) == (Status.ALERT, Priority.HIGH)
    assert held.continuous_state.confirmed is Priority.HIGH


def test_other_packs_score_no_manual_observation() -> None:
    assert evaluate_manual_set(CarePlan(), NOW, at=NOW, manual=DETERIORATING, reading=reading()) is None


def test_a_rule_that_raises_becomes_the_evaluation_failed_alert() -> None:
    state = ContinuousState(Priority.LOW)
    broken = (obs(ACVPU, "X"),)  # not an ACVPU letter: only a hand-edited entry could hold it
    found = evaluate_manual_set(SCALE1, NOW, at=NOW, manual=broken, reading=reading(), continuous_state=state)
    assert found is not None
    assert [(r.rule, r.status) for r in found.results] == [
        (NEWS2_RULE, Status.FAILED),
        (FAILED_RULE, Status.ALERT),
    ]
    assert found.continuous_state is state
