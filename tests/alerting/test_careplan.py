"""Care plans: every refusal says why; plans round-trip through JSON (alerting/careplan.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from alerting.bands import o2home_band
from alerting.careplan import BandThresholds, CarePlan, PlanError, RulePack, validate_plan
from alerting.continuous import ContinuousSettings
from alerting.model import Band, Priority
from alerting.schedule import OverdueLadder, OverdueStep

LADDER = OverdueLadder((OverdueStep(1800, Priority.ADVISORY, "prompt-patient"),), early_tolerance_s=900)

VALID = [
    CarePlan(),
    CarePlan(schedule=("09:00", "13:00", "17:00"), overdue=LADDER),
    CarePlan(thresholds=BandThresholds(green_from=94, amber_from=90), baseline_spo2=94),
    CarePlan(rule_pack=RulePack.O2HOME, target_spo2=(94, 98)),
    CarePlan(rule_pack=RulePack.NEWS2_SCALE1, on_oxygen=True),
    CarePlan(rule_pack=RulePack.NEWS2_SCALE1, target_spo2=(94, 98)),
    CarePlan(rule_pack=RulePack.NEWS2_SCALE2, target_spo2=(88, 92), on_oxygen=True),
    CarePlan(rule_pack=RulePack.BTS_94_98, baseline_spo2=96),
    CarePlan(rule_pack=RulePack.BTS_94_98, target_spo2=(94, 98), baseline_spo2=94),
    CarePlan(rule_pack=RulePack.BTS_88_92, baseline_spo2=90, on_oxygen=True),
    CarePlan(continuous=ContinuousSettings(persistence_s=0, rapid_desat_depth=10, hysteresis=0)),
    CarePlan(continuous=ContinuousSettings(persistence_s=60, rapid_desat_depth=5, hysteresis=4.9)),
    CarePlan(manual_max_age_s=12 * 3600),
]


@pytest.mark.parametrize("plan", VALID)
def test_sensible_plans_pass_and_round_trip(plan: CarePlan) -> None:
    validate_plan(plan)
    assert CarePlan.from_dict(plan.to_dict()) == plan


REFUSED = [
    (CarePlan(rule_pack=RulePack.NEWS2_SCALE2), "scale 2 is only for a patient whose target is 88-92"),
    (CarePlan(rule_pack=RulePack.NEWS2_SCALE2, target_spo2=(94, 98)), "scale 2 is only for"),
    (CarePlan(rule_pack=RulePack.NEWS2_SCALE1, target_spo2=(88, 92)), "calls for NEWS2 scale 2"),
    (CarePlan(target_spo2=(90, 95)), "not a BTS target range"),
    (CarePlan(rule_pack=RulePack.BTS_94_98, target_spo2=(88, 92)), "has its own target"),
    (CarePlan(target_spo2=(88, 92)), "needs bts-88-92 or scale 2"),
    (CarePlan(on_oxygen=True), "patients on air"),
    (CarePlan(rule_pack=RulePack.BTS_94_98, thresholds=BandThresholds()), "o2home pack only"),
    (CarePlan(rule_pack=RulePack.BTS_94_98, baseline_spo2=92), "baseline 92 % is below the target 94-98"),
    (CarePlan(thresholds=BandThresholds(green_from=93, amber_from=93)), "bands overlap"),
    (CarePlan(thresholds=BandThresholds(green_from=92, amber_from=95)), "bands overlap"),
    (CarePlan(thresholds=BandThresholds(green_from=95, amber_from=83.9)), "84-100"),
    (CarePlan(thresholds=BandThresholds(green_from=100.5, amber_from=93)), "84-100"),
    (CarePlan(baseline_spo2=0), "baseline_spo2 must be 0-100"),
    (CarePlan(baseline_spo2=101), "baseline_spo2 must be 0-100"),
    (CarePlan(baseline_spo2=math.nan), "baseline_spo2 must be 0-100"),
    (CarePlan(continuous=ContinuousSettings(persistence_s=-1)), "persistence must be 0-60"),
    (CarePlan(continuous=ContinuousSettings(persistence_s=60.1)), "persistence must be 0-60"),
    (CarePlan(continuous=ContinuousSettings(rapid_desat_depth=0)), "rapid desaturation depth"),
    (CarePlan(continuous=ContinuousSettings(rapid_desat_depth=100)), "rapid desaturation depth"),
    (CarePlan(continuous=ContinuousSettings(hysteresis=-0.5)), "hysteresis must be at least 0"),
    (CarePlan(continuous=ContinuousSettings(hysteresis=10)), "smaller than the rapid desaturation depth"),
    (
        CarePlan(thresholds=BandThresholds(green_from=99), continuous=ContinuousSettings(hysteresis=2)),
        "never clear",
    ),
    (CarePlan(late_after_s=0), "late_after_s must be positive"),
    (CarePlan(manual_max_age_s=0), "at most 12 h"),
    (CarePlan(manual_max_age_s=12 * 3600 + 1), "at most 12 h"),
    (CarePlan(schedule=("9:00",)), "is not HH:MM"),
    (CarePlan(schedule=("09-00",)), "is not HH:MM"),
    (CarePlan(schedule=("0a:00",)), "is not HH:MM"),
    (CarePlan(schedule=("24:00",)), "not a time of day"),
    (CarePlan(schedule=("13:00", "09:00")), "increasing order"),
    (CarePlan(schedule=("09:00", "09:00")), "increasing order"),
    (CarePlan(overdue=LADDER), "needs a reading schedule"),
    (CarePlan(schedule=("09:00",), overdue=OverdueLadder(())), "at least one step"),
]


@pytest.mark.parametrize(("plan", "why"), REFUSED)
def test_nonsense_plans_are_refused_with_the_reason(plan: CarePlan, why: str) -> None:
    with pytest.raises(PlanError, match=why):
        validate_plan(plan)


def test_every_problem_is_listed_at_once() -> None:
    plan = CarePlan(rule_pack=RulePack.NEWS2_SCALE2, late_after_s=-1, schedule=("25:00",))
    with pytest.raises(PlanError) as caught:
        validate_plan(plan)
    message = str(caught.value)
    assert "scale 2" in message
    assert "late_after_s" in message
    assert "25:00" in message
    # Each reason apart too (the API lists them in its 422 problem details).
    assert len(caught.value.reasons) == 3
    assert "; ".join(caught.value.reasons) == message


def test_a_decode_error_is_its_own_single_reason() -> None:
    with pytest.raises(PlanError) as caught:
        CarePlan.from_dict({"on_oxygen": "yes"})
    assert caught.value.reasons == (str(caught.value),)


def test_effective_target_and_scale() -> None:
    assert CarePlan(rule_pack=RulePack.BTS_88_92).target == (88, 92)
    assert CarePlan(rule_pack=RulePack.BTS_94_98).target == (94, 98)
    assert CarePlan(target_spo2=(94, 98)).target == (94, 98)
    assert CarePlan().target is None
    assert CarePlan(rule_pack=RulePack.NEWS2_SCALE1).news2_scale == 1
    assert CarePlan(rule_pack=RulePack.NEWS2_SCALE2).news2_scale == 2
    assert CarePlan().news2_scale is None


def test_default_thresholds_agree_with_the_spine_bands_everywhere() -> None:
    thresholds = CarePlan().band_thresholds
    for tenth in range(1001):
        spo2 = tenth / 10
        assert thresholds.band(spo2) is o2home_band(spo2)


@pytest.mark.parametrize(
    ("spo2", "band"), [(94, Band.GREEN), (93.9, Band.AMBER), (90, Band.AMBER), (89.9, Band.RED)]
)
def test_personalised_band_edges(spo2: float, band: Band) -> None:
    assert BandThresholds(green_from=94, amber_from=90).band(spo2) is band


@pytest.mark.parametrize("spo2", [math.nan, -1.0, 100.5])
def test_personalised_band_refuses_implausible_values(spo2: float) -> None:
    with pytest.raises(ValueError, match="0-100"):
        BandThresholds().band(spo2)


BAD_JSON = [
    ({"rule_pack": "news3"}, "rule_pack: expected one of"),
    ({"colour": "red"}, "unknown field"),
    ({"target_spo2": [88]}, "expected \\[low, high\\]"),
    ({"target_spo2": "88-92"}, "expected \\[low, high\\]"),
    ({"target_spo2": [88.5, 92]}, "whole number"),
    ({"on_oxygen": "yes"}, "true or false"),
    ({"baseline_spo2": "95"}, "expected a number"),
    ({"baseline_spo2": True}, "expected a number"),
    ({"schedule": "09:00"}, "list of strings"),
    ({"schedule": [9]}, "expected a string"),
    ({"thresholds": 93}, "expected an object"),
    ({"thresholds": {"red": 90}}, "unknown field"),
    ({"continuous": {"delay": 5}}, "unknown field"),
    ({"overdue": {"steps": "soon"}}, "expected a list"),
    (
        {"overdue": {"steps": [{"after_s": 60, "priority": "urgent", "action": "x"}]}},
        "high/medium/low/advisory",
    ),
    ({"overdue": {"steps": [{"after_s": 60, "priority": "low", "action": "x", "who": 1}]}}, "unknown field"),
    ({"rule_pack": "news2-scale2"}, "scale 2 is only for"),
]


@pytest.mark.parametrize(("data", "why"), BAD_JSON)
def test_from_dict_refuses_bad_json_with_the_field(data: dict[str, object], why: str) -> None:
    with pytest.raises(PlanError, match=why):
        CarePlan.from_dict(data)


def test_from_dict_fills_defaults_and_partial_thresholds() -> None:
    plan = CarePlan.from_dict({"thresholds": {"amber_from": 91}, "baseline_spo2": 95})
    assert plan.thresholds == BandThresholds(green_from=95, amber_from=91)
    assert plan.baseline_spo2 == 95.0
    assert plan.continuous == ContinuousSettings()
    assert replace(plan, thresholds=None, baseline_spo2=None) == CarePlan()
