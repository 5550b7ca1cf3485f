"""The rule dispatcher: packs, signal quality, questionable red, late data, continuous mode, isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerting.book import AlertBook
from alerting.careplan import BandThresholds, CarePlan, RulePack
from alerting.continuous import ContinuousState
from alerting.manual import ManualObservation, ManualParameter
from alerting.model import Band, Mode, Observation, Priority, QualityLevel
from alerting.news2 import Response
from alerting.results import RuleResult, Status
from alerting.rules import (
    EXERTION_RULE,
    FAILED_RULE,
    QUALITY_RULE,
    Evaluation,
    evaluate_exertion,
    evaluate_reading,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LOW_PERFUSION = 1 << 5
PROBE_OFF = 1 << 11
O2HOME = CarePlan()
SCALE1 = CarePlan(rule_pack=RulePack.NEWS2_SCALE1)
SCALE2_O2 = CarePlan(rule_pack=RulePack.NEWS2_SCALE2, target_spo2=(88, 92), on_oxygen=True)
BTS_HIGH = CarePlan(rule_pack=RulePack.BTS_94_98, baseline_spo2=97)


def reading(
    spo2: float | None,
    pulse: float | None = 80.0,
    *,
    ago: timedelta = timedelta(seconds=5),
    ds: int | None = None,
    mode: Mode = Mode.SPOT_CHECK,
) -> Observation:
    return Observation(NOW - ago, spo2, pulse, mode, None, ds)


def pack(evaluation: Evaluation, rule: str) -> RuleResult:
    found = evaluation.result(rule)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("spo2", "band", "priority", "status"),
    [
        (95, Band.GREEN, None, Status.CLEAR),
        (94, Band.AMBER, Priority.MEDIUM, Status.ALERT),
        (93, Band.AMBER, Priority.MEDIUM, Status.ALERT),
        (92, Band.RED, Priority.HIGH, Status.ALERT),
    ],
)
def test_o2home_pack(spo2: float, band: Band, priority: Priority | None, status: Status) -> None:
    result = pack(evaluate_reading(reading(spo2), O2HOME, NOW), "o2home-band")
    assert (result.band, result.priority, result.status) == (band, priority, status)


def test_o2home_reading_on_oxygen_is_flagged() -> None:
    result = pack(evaluate_reading(reading(96), O2HOME, NOW, on_oxygen=True), "o2home-band")
    assert result.status is Status.CLEAR
    assert result.reasons == ("on-oxygen-bands-assume-air",)


def test_o2home_personalised_thresholds() -> None:
    plan = CarePlan(thresholds=BandThresholds(green_from=92, amber_from=88))
    result = pack(evaluate_reading(reading(92), plan, NOW), "o2home-band")
    assert (result.band, result.status) == (Band.GREEN, Status.CLEAR)


def test_news2_pack_partial_from_oximeter_alone() -> None:
    result = pack(evaluate_reading(reading(91, 95), SCALE1, NOW), "news2")
    assert result.subscores == {"spo2": 3, "air_or_oxygen": 0, "pulse": 1}
    assert (result.news2_total, result.news2_partial) == (4, True)
    assert result.response == Response.LOW_MEDIUM.value
    assert result.priority is Priority.MEDIUM
    assert "partial" in result.reasons
    assert result.detail["missing"] == ("respiration_rate", "systolic_bp", "consciousness", "temperature")


def test_news2_pack_full_with_manual_observations_and_oxygen_from_the_reading() -> None:
    manual = [
        ManualObservation(ManualParameter.RESPIRATION_RATE, 16, NOW - timedelta(hours=1)),
        ManualObservation(ManualParameter.SYSTOLIC_BP, 120, NOW - timedelta(hours=1)),
        ManualObservation(ManualParameter.TEMPERATURE, 37.0, NOW - timedelta(hours=1)),
        ManualObservation(ManualParameter.CONSCIOUSNESS, "A", NOW - timedelta(hours=1)),
    ]
    result = pack(evaluate_reading(reading(96, 80), SCALE1, NOW, manual=manual, on_oxygen=True), "news2")
    assert (result.news2_total, result.news2_partial) == (2, False)
    assert result.subscores["air_or_oxygen"] == 2
    assert result.priority is Priority.LOW


def test_news2_scale2_on_oxygen_scores_high_saturation() -> None:
    result = pack(evaluate_reading(reading(97, 80), SCALE2_O2, NOW), "news2")
    assert result.subscores["spo2"] == 3
    assert result.news2_total == 5
    assert result.priority is Priority.MEDIUM


@pytest.mark.parametrize(
    ("spo2", "status", "reasons"),
    [
        (97, Status.CLEAR, ()),
        (94, Status.CLEAR, ()),  # within 94-98, a fall of 2 from baseline 96
        (93.5, Status.ALERT, ("below-target-94-98",)),  # below target, a fall of 2.5
        (93, Status.ALERT, ("below-target-94-98", "fall-3-from-baseline")),
    ],
)
def test_bts_pack(spo2: float, status: Status, reasons: tuple[str, ...]) -> None:
    plan = CarePlan(rule_pack=RulePack.BTS_94_98, baseline_spo2=96)
    result = pack(evaluate_reading(reading(spo2), plan, NOW), "bts")
    assert result.status is status
    assert result.reasons == reasons
    assert result.detail["target"] == "94-98"


def test_bts_fall_within_target_alerts() -> None:
    result = pack(evaluate_reading(reading(94), BTS_HIGH, NOW), "bts")
    assert (result.status, result.priority, result.reasons) == (
        Status.ALERT,
        Priority.MEDIUM,
        ("fall-3-from-baseline",),
    )


def test_unscorable_reading_does_not_drive_the_band_but_raises_an_advisory_and_a_repeat() -> None:
    evaluation = evaluate_reading(reading(85, ds=PROBE_OFF), O2HOME, NOW)
    band = pack(evaluation, "o2home-band")
    assert band.status is Status.UNSCORED
    assert band.repeat_requested
    quality = pack(evaluation, QUALITY_RULE)
    assert (quality.status, quality.priority, quality.technical) == (Status.ALERT, Priority.ADVISORY, True)
    assert quality.reasons == ("probe-off",)
    assert quality.repeat_requested
    assert evaluation.quality is not None
    assert evaluation.quality.level is QualityLevel.UNSCORABLE


def test_questionable_red_still_notifies_marked_questionable() -> None:
    evaluation = evaluate_reading(reading(88, ds=LOW_PERFUSION), O2HOME, NOW)
    band = pack(evaluation, "o2home-band")
    assert (band.status, band.priority, band.questionable) == (Status.ALERT, Priority.HIGH, True)
    assert pack(evaluation, QUALITY_RULE).questionable


@pytest.mark.parametrize(("plan", "rule"), [(O2HOME, "o2home-band"), (BTS_HIGH, "bts"), (SCALE1, "news2")])
def test_questionable_value_that_is_not_red_asks_for_a_repeat(plan: CarePlan, rule: str) -> None:
    result = pack(evaluate_reading(reading(94, ds=LOW_PERFUSION), plan, NOW), rule)
    assert result.status is Status.UNSCORED
    assert result.repeat_requested
    assert "questionable-not-red" in result.reasons


def test_late_reading_is_judged_on_its_own_value_and_marked_late() -> None:
    evaluation = evaluate_reading(reading(90, ago=timedelta(minutes=11)), O2HOME, NOW)
    band = pack(evaluation, "o2home-band")
    assert evaluation.late
    assert (band.priority, band.late, band.measured_at) == (Priority.HIGH, True, NOW - timedelta(minutes=11))
    book = AlertBook()
    sent = book.apply_all("p1", evaluation.results, NOW)
    assert [(n.rule, n.page) for n in sent] == [("o2home-band", False)]


def test_failing_rule_becomes_an_operational_alert_not_silence() -> None:
    evaluation = evaluate_reading(reading(95, pulse=-5), SCALE1, NOW)  # a pulse no rule can score
    failed = pack(evaluation, "news2")
    assert failed.status is Status.FAILED
    assert failed.reasons == ("ValueError: pulse must be a finite, non-negative number, got -5",)
    summary = pack(evaluation, FAILED_RULE)
    assert (summary.status, summary.priority, summary.technical, summary.reasons) == (
        Status.ALERT,
        Priority.LOW,
        True,
        ("news2",),
    )
    assert pack(evaluation, QUALITY_RULE).status is Status.CLEAR  # the other rules still ran


def test_recovered_rules_clear_the_operational_alert() -> None:
    book = AlertBook()
    book.apply_all("p1", evaluate_reading(reading(95, pulse=-5), SCALE1, NOW).results, NOW)
    assert book.open_alert("p1", FAILED_RULE) is not None
    book.apply_all(
        "p1",
        evaluate_reading(reading(97), SCALE1, NOW + timedelta(minutes=1)).results,
        NOW + timedelta(minutes=1),
    )
    assert book.open_alert("p1", FAILED_RULE) is None


def test_quality_failure_fails_the_pack_too() -> None:
    broken = Observation(NOW, 95, 80, Mode.SPOT_CHECK, "not bits", None)  # type: ignore[arg-type]
    evaluation = evaluate_reading(broken, O2HOME, NOW)
    assert evaluation.quality is None
    assert [r.status for r in evaluation.results] == [Status.FAILED, Status.FAILED, Status.ALERT]
    assert pack(evaluation, "o2home-band").reasons == ("signal quality could not be assessed",)


def continuous_series(plan: CarePlan, values: list[float | None], ds: int | None = None) -> list[Evaluation]:
    state: ContinuousState | None = None
    out = []
    for second, spo2 in enumerate(values):
        obs = Observation(NOW + timedelta(seconds=second), spo2, 80.0, Mode.CONTINUOUS, None, ds)
        evaluation = evaluate_reading(obs, plan, NOW + timedelta(seconds=second), continuous_state=state)
        state = evaluation.continuous_state
        out.append(evaluation)
    return out


def test_continuous_reading_alarms_only_after_persistence() -> None:
    series = continuous_series(O2HOME, [91.0] * 17)
    statuses = [pack(e, "o2home-band").status for e in series]
    assert statuses[:15] == [Status.CLEAR] * 15
    assert statuses[15:] == [Status.ALERT, Status.ALERT]
    result = pack(series[15], "o2home-band")
    assert result.detail["continuous_change"] == "raised"
    assert pack(series[3], "o2home-band").detail["pending"] == "high"


def test_continuous_rapid_desaturation_for_each_pack_limit() -> None:
    for plan, rule, value in (
        (O2HOME, "o2home-band", 83.0),
        (SCALE1, "news2", 82.0),
        (BTS_HIGH, "bts", 84.0),
    ):
        first = pack(continuous_series(plan, [value])[0], rule)
        assert first.status is Status.ALERT, plan.rule_pack
        assert first.detail["rapid_desat"] is True
    scale2 = pack(continuous_series(SCALE2_O2, [74.0])[0], "news2")
    assert scale2.detail["rapid_desat"] is True


def test_continuous_unscorable_and_out_of_order_readings() -> None:
    series = continuous_series(O2HOME, [None, 97.0])
    assert pack(series[0], "o2home-band").status is Status.UNSCORED
    state = series[1].continuous_state
    old = Observation(NOW - timedelta(seconds=30), 80.0, 80.0, Mode.CONTINUOUS)
    evaluation = evaluate_reading(old, O2HOME, NOW, continuous_state=state)
    result = pack(evaluation, "o2home-band")
    assert (result.status, result.reasons, result.repeat_requested) == (
        Status.UNSCORED,
        ("out-of-order",),
        False,
    )


def test_continuous_questionable_not_red_is_held() -> None:
    series = continuous_series(O2HOME, [94.0] * 20, ds=LOW_PERFUSION)
    assert {pack(e, "o2home-band").status for e in series} == {Status.UNSCORED}


def test_continuous_failure_keeps_the_previous_state() -> None:
    state = ContinuousState()
    obs = Observation(NOW, 95.0, -1.0, Mode.CONTINUOUS)
    evaluation = evaluate_reading(obs, SCALE1, NOW, continuous_state=state)
    assert pack(evaluation, "news2").status is Status.FAILED
    assert evaluation.continuous_state is state


def test_evaluation_prints_as_json_and_results_round_trip() -> None:
    evaluation = evaluate_reading(reading(91, 95, ds=LOW_PERFUSION), SCALE1, NOW)
    text = json.dumps(evaluation.to_dict())
    data = json.loads(text)
    assert data["quality"]["level"] == "questionable"
    for raw, result in zip(data["results"], evaluation.results, strict=True):
        assert RuleResult.from_dict(raw) == result
    assert json.loads(json.dumps(Evaluation(None, False, ()).to_dict()))["quality"] is None


def test_exertion_rule_results() -> None:
    rest = reading(97, ago=timedelta(minutes=3))
    positive = evaluate_exertion(rest, reading(93), NOW, plan=O2HOME)
    assert (positive.rule, positive.status, positive.priority) == (
        EXERTION_RULE,
        Status.ALERT,
        Priority.MEDIUM,
    )
    assert positive.detail["fall"] == 4
    negative = evaluate_exertion(rest, reading(96), NOW, plan=O2HOME)
    assert negative.status is Status.CLEAR
    refused = evaluate_exertion(reading(95, ago=timedelta(minutes=3)), reading(90), NOW, plan=O2HOME)
    assert (refused.status, refused.reasons) == (Status.NOT_APPLICABLE, ("rest-below-96",))
    unscored = evaluate_exertion(rest, reading(90, ds=PROBE_OFF), NOW, plan=O2HOME)
    assert (unscored.status, unscored.repeat_requested) == (Status.UNSCORED, True)
    backwards = evaluate_exertion(reading(97), rest, NOW, plan=O2HOME)
    assert backwards.status is Status.FAILED
