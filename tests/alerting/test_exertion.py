"""Exertional desaturation: rest then exertion, fall >= 3, only at rest >= 96 (clinical-rules.md §1.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting import exertion
from alerting.exertion import Outcome
from alerting.model import Mode, Observation, Priority

REST_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LOW_PERFUSION = 1 << 5
PROBE_OFF = 1 << 11


@pytest.mark.parametrize(("rest", "supervised", "offered"), [
    (96, False, True), (95.9, False, False), (95, False, False), (100, False, True), (90, True, True),
])  # fmt: skip
def test_offered_only_at_rest_96_unless_supervised(rest: float, supervised: bool, offered: bool) -> None:
    assert exertion.offered(rest, supervised=supervised) is offered


@pytest.mark.parametrize(("rest", "after", "outcome"), [
    (98, 95, Outcome.DESATURATED), (98, 95.1, Outcome.NO_DESATURATION), (98, 96, Outcome.NO_DESATURATION),
    (96, 93, Outcome.DESATURATED), (96, 97, Outcome.NO_DESATURATION), (97, 90, Outcome.DESATURATED),
])  # fmt: skip
def test_fall_of_three_points_on_both_sides(rest: float, after: float, outcome: Outcome) -> None:
    found = exertion.score_values(rest, after)
    assert found.outcome is outcome
    assert found.fall == pytest.approx(rest - after)
    assert found.priority is (Priority.MEDIUM if outcome is Outcome.DESATURATED else None)


def test_not_offered_below_96_is_not_scored() -> None:
    found = exertion.score_values(95, 88)
    assert found.outcome is Outcome.NOT_OFFERED
    assert found.priority is None
    assert found.reasons == ("rest-below-96",)


def test_supervised_setting_may_test_below_96() -> None:
    assert exertion.score_values(94, 90, supervised=True).outcome is Outcome.DESATURATED


def reading(spo2: float | None, at: datetime, ds: int | None = None) -> Observation:
    return Observation(at, spo2, 80.0, Mode.SPOT_CHECK, None, ds)


def test_from_readings_positive() -> None:
    found = exertion.score_readings(reading(97, REST_AT), reading(93, REST_AT + timedelta(minutes=2)))
    assert found.outcome is Outcome.DESATURATED
    assert not found.questionable


def test_from_readings_questionable_still_counts_and_is_marked() -> None:
    after = reading(93, REST_AT + timedelta(minutes=2), ds=LOW_PERFUSION)
    found = exertion.score_readings(reading(97, REST_AT), after)
    assert found.outcome is Outcome.DESATURATED
    assert found.questionable
    assert "exertion:low-perfusion" in found.reasons


def test_from_readings_unscorable_is_unscored() -> None:
    after = reading(85, REST_AT + timedelta(minutes=2), ds=PROBE_OFF)
    found = exertion.score_readings(reading(97, REST_AT), after)
    assert found.outcome is Outcome.UNSCORED
    assert found.priority is None
    assert found.reasons == ("exertion:probe-off",)
    missing = exertion.score_readings(reading(None, REST_AT), reading(90, REST_AT + timedelta(minutes=1)))
    assert missing.outcome is Outcome.UNSCORED


def test_exertion_must_follow_rest() -> None:
    with pytest.raises(ValueError, match="after the rest reading"):
        exertion.score_readings(reading(97, REST_AT), reading(93, REST_AT))
