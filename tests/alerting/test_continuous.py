"""Continuous mode: persistence, rapid-desat bypass, hysteresis over time series (alerting/continuous.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from alerting import codec
from alerting.bands import o2home_band
from alerting.continuous import (
    Change,
    Classify,
    ContinuousDecision,
    ContinuousSettings,
    ContinuousState,
    advance,
)
from alerting.evaluate import BAND_PRIORITY
from alerting.model import Priority

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RED_LIMIT = 93.0  # CO@h red is below 93 (§1.2)
DEFAULTS = ContinuousSettings()


def o2home(value: float) -> Priority | None:
    return BAND_PRIORITY[o2home_band(value)]


def run(
    series: Sequence[tuple[float, float | None]],
    settings: ContinuousSettings = DEFAULTS,
    classify: Classify = o2home,
    state: ContinuousState | None = None,
    scorable: bool = True,
) -> tuple[ContinuousState, list[ContinuousDecision]]:
    """Feed (seconds since T0, SpO2) readings; None SpO2 = an unscorable reading."""
    current = state or ContinuousState()
    decisions = []
    for seconds, spo2 in series:
        current, decision = advance(
            current,
            at=T0 + timedelta(seconds=seconds),
            spo2=spo2,
            scorable=scorable and spo2 is not None,
            classify=classify,
            limit=RED_LIMIT,
            settings=settings,
        )
        decisions.append(decision)
    return current, decisions


def changes(decisions: Sequence[ContinuousDecision]) -> list[tuple[int, Change, Priority | None]]:
    return [(i, d.change, d.confirmed) for i, d in enumerate(decisions) if d.change is not Change.NONE]


def test_defaults_come_from_the_rad97() -> None:
    assert DEFAULTS.persistence_s == 15  # S-RAD97 alarm delay, §5.1
    assert DEFAULTS.rapid_desat_depth == 10  # S-RAD97 Rapid Desat, §5.1


def test_brief_dip_shorter_than_persistence_never_alarms() -> None:
    series = [(t, 90.0) for t in range(15)] + [(15, 97.0), (16, 97.0)]  # red for 14 s, then green
    state, decisions = run(series)
    assert changes(decisions) == []
    assert state.confirmed is None
    assert decisions[14].pending is Priority.HIGH
    assert decisions[14].pending_s == 14


def test_breach_alarms_exactly_when_it_has_persisted_15_s() -> None:
    _, decisions = run([(t, 90.0) for t in range(17)])
    assert changes(decisions) == [(15, Change.RAISED, Priority.HIGH)]
    assert not decisions[15].rapid_desat
    assert (decisions[15].pending, decisions[15].pending_s) == (None, 0.0)  # nothing worse left waiting
    assert decisions[16].change is Change.NONE


@pytest.mark.parametrize(("spo2", "immediate"), [(83.0, True), (82.0, True), (83.1, False), (85.0, False)])
def test_rapid_desaturation_bypasses_the_delay_at_10_points_below_the_limit(
    spo2: float, immediate: bool
) -> None:
    _, decisions = run([(0, 97.0), (1, spo2)])
    assert (decisions[1].change is Change.RAISED) is immediate
    assert decisions[1].rapid_desat is immediate
    if immediate:
        assert decisions[1].confirmed is Priority.HIGH


def test_rapid_desat_also_upgrades_a_confirmed_lower_level() -> None:
    series = [(t, 94.0) for t in range(16)] + [(16, 80.0)]
    _, decisions = run(series)
    assert changes(decisions) == [(15, Change.RAISED, Priority.MEDIUM), (16, Change.UPGRADED, Priority.HIGH)]
    assert decisions[16].rapid_desat


def test_amber_then_red_upgrades_after_red_persists() -> None:
    series = [(t, 94.0) for t in range(16)] + [(t, 91.0) for t in range(16, 32)]
    _, decisions = run(series)
    assert changes(decisions) == [(15, Change.RAISED, Priority.MEDIUM), (31, Change.UPGRADED, Priority.HIGH)]
    assert (decisions[20].confirmed, decisions[20].pending, decisions[20].pending_s) == (
        Priority.MEDIUM,
        Priority.HIGH,
        4.0,
    )


def test_mixed_breach_confirms_the_level_that_persisted() -> None:
    # Red for 5 s then amber for 10 s: "amber or worse" held 15 s, red did not.
    series = [(t, 90.0) for t in range(5)] + [(t, 94.0) for t in range(5, 16)]
    _, decisions = run(series)
    assert changes(decisions) == [(15, Change.RAISED, Priority.MEDIUM)]


def test_hysteresis_lowers_only_once_clear_by_the_margin() -> None:
    state, _ = run([(t, 92.0) for t in range(16)])
    assert state.confirmed is Priority.HIGH
    _, decisions = run([(16, 93.0), (17, 94.0), (18, 95.0), (19, 96.0)], state=state)
    assert [(d.change, d.confirmed) for d in decisions] == [
        (Change.NONE, Priority.HIGH),  # 93 is amber, but 93 - 1 is still red: hold
        (Change.DOWNGRADED, Priority.MEDIUM),  # 94 - 1 = 93, amber
        (Change.NONE, Priority.MEDIUM),  # 95 - 1 = 94 still amber: hold
        (Change.CLEARED, None),  # 96 - 1 = 95 green
    ]


def flapping() -> list[tuple[float, float]]:
    return [(16 + t, 92.0 if t % 2 else 93.0) for t in range(60)]


def test_hysteresis_stops_a_value_on_the_edge_from_flapping() -> None:
    state, _ = run([(t, 92.0) for t in range(16)])
    _, decisions = run(flapping(), state=state)
    assert changes(decisions) == []


@pytest.mark.parametrize(("hysteresis", "expected_changes"), [(1.0, 1), (0.0, 40)])
def test_without_hysteresis_a_value_on_the_green_edge_flaps(hysteresis: float, expected_changes: int) -> None:
    # Persistence 0 so that only hysteresis stands between the edge and a flapping alarm.
    settings = ContinuousSettings(persistence_s=0, hysteresis=hysteresis)
    series = [(float(t), 94.0 if t % 2 == 0 else 95.0) for t in range(40)]
    _, decisions = run(series, settings)
    assert len(changes(decisions)) == expected_changes
    assert decisions[0].change is Change.RAISED


def test_unscorable_reading_breaks_a_pending_run_but_keeps_a_confirmed_alarm() -> None:
    series = [(t, 90.0) for t in range(10)] + [(10, None)] + [(t, 90.0) for t in range(11, 27)]
    _, decisions = run(series)
    assert changes(decisions) == [(10, Change.HELD, None), (26, Change.RAISED, Priority.HIGH)]
    state, _ = run([(t, 90.0) for t in range(16)])
    state, held = run([(16, None), (17, None)], state=state)
    assert [d.change for d in held] == [Change.HELD, Change.HELD]
    assert state.confirmed is Priority.HIGH  # a probe coming off is not an all-clear


def test_unscorable_flag_is_honoured_even_with_a_value() -> None:
    _, decisions = run([(t, 80.0) for t in range(3)], scorable=False)
    assert all(d.change is Change.HELD for d in decisions)


def test_a_gap_longer_than_the_persistence_breaks_the_run() -> None:
    _, decisions = run([(0, 90.0), (10, 90.0), (26, 90.0), (40, 90.0), (41, 90.0)])
    assert changes(decisions) == [(4, Change.RAISED, Priority.HIGH)]  # run restarted at 26 s


def test_out_of_order_reading_is_ignored() -> None:
    state, _ = run([(t, 90.0) for t in range(10)])
    after, decisions = run([(3, 80.0)], state=state)
    assert decisions[0].change is Change.OUT_OF_ORDER
    assert after == state


def test_zero_persistence_alarms_on_the_first_breach() -> None:
    _, decisions = run([(0, 94.0)], ContinuousSettings(persistence_s=0))
    assert changes(decisions) == [(0, Change.RAISED, Priority.MEDIUM)]


def test_hysteresis_works_for_high_saturation_breaches_too() -> None:
    def too_high(value: float) -> Priority | None:  # like NEWS2 scale 2 on oxygen, §2.1
        return Priority.MEDIUM if value >= 97 else None

    state, _ = run([(t, 97.0) for t in range(16)], classify=too_high)
    assert state.confirmed is Priority.MEDIUM
    _, decisions = run([(16, 96.0), (17, 95.0)], classify=too_high, state=state)
    assert [d.change for d in decisions] == [Change.NONE, Change.CLEARED]


def test_state_round_trips_through_json() -> None:
    state, _ = run([(t, 90.0) for t in range(20)])
    assert state.runs
    assert ContinuousState.from_dict(state.to_dict()) == state
    assert ContinuousState.from_dict(ContinuousState().to_dict()) == ContinuousState()
    assert ContinuousSettings.from_dict({"persistence_s": 30}) == ContinuousSettings(persistence_s=30)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"runs": "none"}, "expected a list"),
        ({"runs": [["high"]]}, "expected \\[priority, time\\]"),
        ({"runs": [["urgent", "2026-11-30T09:00:00+00:00"]]}, "high/medium/low/advisory"),
        ({"runs": [["high", "yesterday"]]}, "not an ISO 8601 time"),
        ({"last_at": "2026-11-30T09:00:00"}, "UTC offset"),
        ({"last_at": 5}, "ISO 8601 string"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_state_decoding_refuses_bad_values(data: dict[str, object], why: str) -> None:
    with pytest.raises(codec.DecodeError, match=why):
        ContinuousState.from_dict(data)
