"""alerting/explain.py: one reading + a plan -> band, every NEWS2 sub-score, BTS, results, priority."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.careplan import CarePlan, RulePack
from alerting.codec import DecodeError
from alerting.explain import ReadingInput, manual_from_list, reading_from_dict
from alerting.explain import explain as explain_dict
from alerting.manual import ManualObservation, ManualParameter
from alerting.model import Mode, Observation

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PROBE_OFF = 1 << 11
LOW_PERFUSION = 1 << 5


def explain(
    reading: ReadingInput, plan: CarePlan, now: datetime, manual: tuple[ManualObservation, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = explain_dict(reading, plan, now, manual)
    return out


def spot(spo2: float | None, pulse: float | None = 80.0, **kw: object) -> ReadingInput:
    return reading_from_dict({"spo2": spo2, "pulse": pulse, **kw}, NOW)


def test_reading_defaults_to_a_spot_check_measured_now() -> None:
    given = reading_from_dict({"spo2": 96}, NOW)
    assert given.observation == Observation(NOW, 96.0, None, Mode.SPOT_CHECK)
    assert given.on_oxygen is None


def test_reading_with_every_field() -> None:
    given = reading_from_dict(
        {
            "spo2": 94.5,
            "pulse": 101,
            "mode": "continuous",
            "measured_at": "2026-11-30T08:59:00+00:00",
            "measurement_status": 1 << 14,
            "device_sensor_status": LOW_PERFUSION,
            "perfusion_index": 0.4,
            "device_clock_not_set": True,
            "on_oxygen": True,
        },
        NOW,
    )
    obs = given.observation
    assert (obs.spo2, obs.pulse, obs.mode) == (94.5, 101.0, Mode.CONTINUOUS)
    assert obs.measured_at == NOW - timedelta(minutes=1)
    assert (obs.measurement_status, obs.device_sensor_status) == (1 << 14, LOW_PERFUSION)
    assert obs.perfusion_index == 0.4
    assert obs.device_clock_not_set is True
    assert given.on_oxygen is True


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"spo2": 96, "sats": 1}, "unknown field"),
        ({"spo2": "96"}, "expected a number"),
        ({"spo2": 96, "measurement_status": 1.5}, "whole number"),
        ({"spo2": 96, "mode": "sometimes"}, "spot-check, continuous"),
        ({"spo2": 96, "on_oxygen": "no"}, "true or false"),
        ({"spo2": 96, "measured_at": "2026-11-30T09:00:00"}, "UTC offset"),
    ],
)
def test_bad_readings_name_the_field(data: dict[str, object], why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        reading_from_dict(data, NOW)


def test_manual_observations_default_to_now() -> None:
    found = manual_from_list(
        [
            {"parameter": "respiration_rate", "value": 22},
            {"parameter": "consciousness", "value": "A", "measured_at": "2026-11-30T08:00:00+00:00"},
        ],
        NOW,
    )
    assert [(m.parameter, m.value, m.measured_at) for m in found] == [
        (ManualParameter.RESPIRATION_RATE, 22.0, NOW),
        (ManualParameter.CONSCIOUSNESS, "A", NOW - timedelta(hours=1)),
    ]


@pytest.mark.parametrize(
    ("items", "why"),
    [
        ({"parameter": "temperature"}, "expected a list"),
        (["temperature"], r"manual\[0\]: expected an object"),
        ([{"parameter": "consciousness", "value": 3}], r"manual\[0\]: value: expected a string"),
        ([{"parameter": "pulse", "value": 3}], r"manual\[0\]: parameter"),
        ([{"parameter": "temperature", "value": 38, "at": "x"}], "unknown field"),
    ],
)
def test_bad_manual_observations_are_refused(items: object, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        manual_from_list(items, NOW)


def test_red_on_co_at_home_bands() -> None:
    out = explain(spot(92), CarePlan(), NOW)
    assert out["band"] == "red"
    assert out["priority"] == "high"
    assert out["quality"] == {"level": "scorable", "reasons": [], "notes": []}
    news = out["news2"]
    # Not a NEWS2 plan: scale 1 inferred (no 88-92 target); an oximeter-only total is partial.
    assert (news["scale"], news["scale_inferred"], news["partial"]) == (1, True, True)
    assert news["subscores"] == {"spo2": 2, "air_or_oxygen": 0, "pulse": 0}
    assert news["missing"] == ["respiration_rate", "systolic_bp", "consciousness", "temperature"]
    assert (news["total"], news["response"], out["response"]) == (2, "low", "low")
    assert news["monitoring"] == "4-6-hourly"
    assert out["bts"] is None
    assert out["repeat_requested"] is False
    assert {r["rule"]: r["status"] for r in out["results"]} == {
        "signal-quality": "clear",
        "o2home-band": "alert",
        "evaluation-failed": "clear",
    }
    json.dumps(out)  # printable as JSON unchanged


def test_full_news2_with_fresh_manual_observations_on_scale_2_and_oxygen() -> None:
    plan = CarePlan(rule_pack=RulePack.NEWS2_SCALE2, target_spo2=(88, 92), on_oxygen=True, baseline_spo2=90)
    manual = manual_from_list(
        [
            {"parameter": "respiration_rate", "value": 25},
            {"parameter": "systolic_bp", "value": 120},
            {"parameter": "temperature", "value": 37},
            {"parameter": "consciousness", "value": "A"},
        ],
        NOW,
    )
    out = explain(spot(97, 95), plan, NOW, manual)
    news = out["news2"]
    assert (news["scale"], news["scale_inferred"], news["partial"], news["missing"]) == (2, False, False, [])
    # scale 2 on oxygen >=97 -> 3; oxygen 2; pulse 95 -> 1; RR 25 -> 3
    assert news["subscores"] == {
        "respiration_rate": 3,
        "spo2": 3,
        "air_or_oxygen": 2,
        "systolic_bp": 0,
        "pulse": 1,
        "consciousness": 0,
        "temperature": 0,
    }
    assert (news["total"], news["response"], news["priority"]) == (9, "high", "high")
    assert len(news["manual_used"]) == 4
    assert out["priority"] == "high"
    assert out["band"] == "green"  # the CO@h view, shown for every plan
    assert out["bts"] == {
        "target": [88, 92],
        "baseline": 90.0,
        "below_target": False,
        "fall": -7.0,
        "fell_from_baseline": False,
        "priority": None,
        "reasons": [],
    }


def test_bts_88_92_infers_scale_2_and_the_reading_may_say_air() -> None:
    plan = CarePlan(rule_pack=RulePack.BTS_88_92, baseline_spo2=91, on_oxygen=True)
    out = explain(spot(87, on_oxygen=False), plan, NOW)
    news = out["news2"]
    assert (news["scale"], news["scale_inferred"]) == (2, True)
    assert news["subscores"] == {"spo2": 1, "air_or_oxygen": 0, "pulse": 0}
    assert out["reading"]["on_oxygen"] is False
    bts = out["bts"]
    assert (bts["below_target"], bts["fell_from_baseline"], bts["priority"]) == (True, True, "medium")
    assert out["priority"] == "medium"


def test_unscorable_reading_contributes_no_value() -> None:
    plan = CarePlan(baseline_spo2=96, target_spo2=(94, 98))
    out = explain(spot(80, 50, device_sensor_status=PROBE_OFF), plan, NOW)
    assert out["band"] is None
    assert out["bts"] is None
    news = out["news2"]
    assert "spo2" in news["missing"]
    assert "pulse" in news["missing"]
    assert out["priority"] == "advisory"  # the signal-quality advisory only
    assert out["repeat_requested"] is True
    assert out["quality"]["reasons"] == ["probe-off"]


@pytest.mark.parametrize("pulse", [None, float("nan"), float("inf"), -1.0])
def test_a_missing_or_implausible_pulse_is_left_out_of_news2(pulse: float | None) -> None:
    out = explain(ReadingInput(Observation(NOW, 96.0, pulse, Mode.SPOT_CHECK)), CarePlan(), NOW)
    news = out["news2"]
    assert "pulse" in news["missing"]
    assert "pulse" not in news["subscores"]


def test_late_and_questionable_are_shown() -> None:
    given = spot(90, device_sensor_status=LOW_PERFUSION, measured_at=(NOW - timedelta(hours=1)).isoformat())
    out = explain(given, CarePlan(), NOW)
    assert out["late"] is True
    band_result = next(r for r in out["results"] if r["rule"] == "o2home-band")
    assert (band_result["questionable"], band_result["late"], band_result["priority"]) == (True, True, "high")
