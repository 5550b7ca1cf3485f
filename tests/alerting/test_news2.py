"""NEWS2 sub-scores, aggregate, partial score and Chart 4 response (clinical-rules.md §2)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from alerting import news2
from alerting.manual import ManualObservation, ManualParameter
from alerting.model import Priority
from alerting.news2 import Response

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

# Every row edge of Chart 1 on both sides, plus a fractional value between rows (scores on the worse side).
SCALE1 = [
    (0, 3), (91, 3), (91.5, 3), (92, 2), (93, 2), (93.5, 2), (94, 1), (95, 1), (95.5, 1), (96, 0), (100, 0),
]  # fmt: skip


@pytest.mark.parametrize(("spo2", "expected"), SCALE1)
def test_spo2_scale1_every_edge(spo2: float, expected: int) -> None:
    assert news2.spo2_scale1_score(spo2) == expected
    assert news2.spo2_score(spo2, 1, on_oxygen=True) == expected  # scale 1 ignores oxygen for SpO2


SCALE2 = [
    # (spo2, on_oxygen, expected) -- §2.1 scale 2
    (83, False, 3), (83.5, False, 3), (84, False, 2), (85, False, 2), (85.5, False, 2), (86, False, 1),
    (87, False, 1), (87.5, False, 1), (88, False, 0), (92, False, 0), (93, False, 0), (97, False, 0),
    (100, False, 0),
    (83, True, 3), (84, True, 2), (86, True, 1), (88, True, 0), (92, True, 0), (92.5, True, 1),
    (93, True, 1), (94, True, 1), (94.5, True, 2), (95, True, 2), (96, True, 2), (96.5, True, 3),
    (97, True, 3), (100, True, 3),
]  # fmt: skip


@pytest.mark.parametrize(("spo2", "on_oxygen", "expected"), SCALE2)
def test_spo2_scale2_every_edge_with_air_oxygen_split(spo2: float, on_oxygen: bool, expected: int) -> None:
    assert news2.spo2_scale2_score(spo2, on_oxygen) == expected
    assert news2.spo2_score(spo2, 2, on_oxygen) == expected


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="scale must be 1 or 2"):
        news2.spo2_score(95, 3, on_oxygen=False)


def test_air_or_oxygen_parameter() -> None:
    assert news2.air_or_oxygen_score(True) == 2
    assert news2.air_or_oxygen_score(False) == 0


PULSE = [
    (0, 3), (40, 3), (40.5, 3), (41, 1), (50, 1), (50.5, 1), (51, 0), (90, 0), (90.5, 1), (91, 1),
    (110, 1), (110.5, 2), (111, 2), (130, 2), (130.5, 3), (131, 3), (250, 3),
]  # fmt: skip


@pytest.mark.parametrize(("pulse", "expected"), PULSE)
def test_pulse_every_edge(pulse: float, expected: int) -> None:
    assert news2.pulse_score(pulse) == expected


RESPIRATION = [
    (0, 3), (8, 3), (8.5, 3), (9, 1), (11, 1), (11.5, 1), (12, 0), (20, 0), (20.5, 2), (21, 2), (24, 2),
    (24.5, 3), (25, 3), (60, 3),
]  # fmt: skip


@pytest.mark.parametrize(("rate", "expected"), RESPIRATION)
def test_respiration_rate_every_edge(rate: float, expected: int) -> None:
    assert news2.respiration_rate_score(rate) == expected


SYSTOLIC = [
    (50, 3), (90, 3), (90.5, 3), (91, 2), (100, 2), (100.5, 2), (101, 1), (110, 1), (110.5, 1), (111, 0),
    (219, 0), (219.5, 3), (220, 3), (260, 3),
]  # fmt: skip


@pytest.mark.parametrize(("systolic", "expected"), SYSTOLIC)
def test_systolic_bp_every_edge(systolic: float, expected: int) -> None:
    assert news2.systolic_bp_score(systolic) == expected


TEMPERATURE = [
    (30.0, 3), (35.0, 3), (35.05, 3), (35.1, 1), (36.0, 1), (36.05, 1), (36.1, 0), (38.0, 0), (38.05, 1),
    (38.1, 1), (39.0, 1), (39.05, 2), (39.1, 2), (42.0, 2),
]  # fmt: skip


@pytest.mark.parametrize(("celsius", "expected"), TEMPERATURE)
def test_temperature_every_edge(celsius: float, expected: int) -> None:
    assert news2.temperature_score(celsius) == expected


@pytest.mark.parametrize(("level", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness_acvpu(level: str, expected: int) -> None:
    assert news2.consciousness_score(level) == expected


def test_consciousness_unknown_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="ACVPU"):
        news2.consciousness_score("X")


@pytest.mark.parametrize(
    "scorer",
    [
        news2.spo2_scale1_score,
        news2.pulse_score,
        news2.respiration_rate_score,
        news2.systolic_bp_score,
        news2.temperature_score,
    ],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_implausible_numbers_are_refused(scorer: object, bad: float) -> None:
    assert callable(scorer)
    with pytest.raises(ValueError, match="finite, non-negative"):
        scorer(bad)


RESPONSES = [
    # (total, single parameter 3, response) -- Chart 4, §2.4
    (0, False, Response.ROUTINE),
    (1, False, Response.LOW),
    (4, False, Response.LOW),
    (3, True, Response.LOW_MEDIUM),
    (4, True, Response.LOW_MEDIUM),
    (5, False, Response.MEDIUM),
    (6, True, Response.MEDIUM),
    (7, False, Response.HIGH),
    (20, True, Response.HIGH),
]


@pytest.mark.parametrize(("total", "single", "expected"), RESPONSES)
def test_chart4_response_per_total(total: int, single: bool, expected: Response) -> None:
    assert news2.response_for(total, single) is expected


@pytest.mark.parametrize("total", [-1, 21])
def test_total_out_of_range_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="0-20"):
        news2.response_for(total, False)


def test_priority_mapping_per_response() -> None:
    assert news2.RESPONSE_PRIORITY == {
        Response.ROUTINE: None,
        Response.LOW: Priority.LOW,
        Response.LOW_MEDIUM: Priority.MEDIUM,
        Response.MEDIUM: Priority.MEDIUM,
        Response.HIGH: Priority.HIGH,
    }
    assert set(news2.RESPONSE_TEXT) == set(Response)
    assert news2.RESPONSE_TEXT[Response.HIGH][0] == "continuous"


def manual(
    parameter: ManualParameter, value: float | str, ago: timedelta = timedelta(hours=1)
) -> ManualObservation:
    return ManualObservation(parameter, value, AT - ago)


FULL_SET = (
    manual(ManualParameter.RESPIRATION_RATE, 22),  # 2
    manual(ManualParameter.SYSTOLIC_BP, 105),  # 1
    manual(ManualParameter.TEMPERATURE, 38.5),  # 1
    manual(ManualParameter.CONSCIOUSNESS, "A"),  # 0
)


def test_oximeter_only_score_is_partial_and_says_what_is_missing() -> None:
    result = news2.score(spo2=93, pulse=95, on_oxygen=False, scale=1, at=AT)
    assert result.partial
    assert result.missing == ("respiration_rate", "systolic_bp", "consciousness", "temperature")
    assert result.subscores == {"spo2": 2, "air_or_oxygen": 0, "pulse": 1}
    assert result.total == 3
    assert result.response is Response.LOW
    assert result.priority is Priority.LOW
    assert not result.red


def test_full_score_with_fresh_manual_observations() -> None:
    result = news2.score(spo2=93, pulse=95, on_oxygen=True, scale=1, at=AT, manual=FULL_SET)
    assert not result.partial
    assert result.missing == ()
    assert list(result.subscores) == [
        "respiration_rate", "spo2", "air_or_oxygen", "systolic_bp", "pulse", "consciousness", "temperature",
    ]  # fmt: skip
    assert result.total == 2 + 2 + 2 + 1 + 1 + 0 + 1
    assert result.response is Response.HIGH
    assert result.priority is Priority.HIGH
    assert result.red
    assert len(result.manual_used) == 4


def test_stale_manual_observations_do_not_count() -> None:
    stale = manual(ManualParameter.RESPIRATION_RATE, 30, ago=timedelta(hours=12, seconds=1))
    edge = manual(ManualParameter.SYSTOLIC_BP, 80, ago=timedelta(hours=12))
    future = ManualObservation(ManualParameter.TEMPERATURE, 40.0, AT + timedelta(seconds=1))
    result = news2.score(spo2=97, pulse=70, on_oxygen=False, scale=1, at=AT, manual=(stale, edge, future))
    assert "respiration_rate" in result.missing
    assert "temperature" in result.missing
    assert result.subscores["systolic_bp"] == 3  # exactly 12 h old still counts (Chart 4 longest interval)


def test_latest_manual_observation_of_a_parameter_wins() -> None:
    older = manual(ManualParameter.RESPIRATION_RATE, 30, ago=timedelta(hours=2))
    newer = manual(ManualParameter.RESPIRATION_RATE, 16, ago=timedelta(hours=1))
    for order in ((older, newer), (newer, older)):
        result = news2.score(spo2=97, pulse=70, on_oxygen=False, scale=1, at=AT, manual=order)
        assert result.subscores["respiration_rate"] == 0


def test_single_parameter_3_rule_fires_from_spo2_alone() -> None:
    result = news2.score(spo2=91, pulse=70, on_oxygen=False, scale=1, at=AT)
    assert result.total == 3
    assert result.single_parameter_3
    assert result.response is Response.LOW_MEDIUM
    assert result.priority is Priority.MEDIUM
    assert result.red


def test_single_parameter_3_fires_from_pulse_alone() -> None:
    result = news2.score(spo2=97, pulse=131, on_oxygen=False, scale=1, at=AT)
    assert result.single_parameter_3
    assert result.response is Response.LOW_MEDIUM


def test_missing_oximeter_values_make_the_score_partial() -> None:
    result = news2.score(spo2=None, pulse=None, on_oxygen=False, scale=1, at=AT, manual=FULL_SET)
    assert result.partial
    assert result.missing == ("spo2", "pulse")


def test_urgent_threshold_five_on_partial_score() -> None:
    # Scale 2 on oxygen at 95 % scores 2, plus oxygen 2, plus pulse 111-130 -> 2: total 6 -> urgent.
    result = news2.score(spo2=95, pulse=115, on_oxygen=True, scale=2, at=AT)
    assert result.total == 6
    assert result.partial
    assert result.response is Response.MEDIUM


def test_manual_observation_checks_value_kind() -> None:
    with pytest.raises(ValueError, match="ACVPU letter"):
        ManualObservation(ManualParameter.CONSCIOUSNESS, 3.0, AT)
    with pytest.raises(ValueError, match="a number"):
        ManualObservation(ManualParameter.TEMPERATURE, "hot", AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualObservation(ManualParameter.TEMPERATURE, 37.0, datetime(2026, 1, 1))


def test_manual_observation_round_trips_through_json() -> None:
    for obs in FULL_SET:
        assert ManualObservation.from_dict(obs.to_dict()) == obs
