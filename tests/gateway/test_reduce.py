"""Stream reducers: continuous readings at a set rate; the NHS spot-check method (clinical-rules.md §1.5)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocols import ReadingFields
from gateway.reduce import NHS_METHOD, ContinuousReducer, Sample, SpotCheckReducer, SpotOutcome

T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def sample(seconds: float, spo2: float | None = 97, pulse: float | None = 70, **flags: bool) -> Sample[float]:
    fields = ReadingFields(spo2=spo2, pulse=pulse, perfusion_index=None, **flags)
    return Sample(at=T0 + timedelta(seconds=seconds), fields=fields, item=seconds)


# --- continuous ----------------------------------------------------------------------------------


def test_100_hz_stream_gives_one_reading_per_second() -> None:
    reducer: ContinuousReducer[float] = ContinuousReducer()
    out = [s for i in range(6000) if (s := reducer.offer(sample(i / 100))) is not None]
    gaps = [b.item - a.item for a, b in itertools.pairwise(out)]
    # The grid is anchored on the first sample; each later reading is taken up to 1/4 interval early.
    assert gaps[0] == pytest.approx(0.75)
    assert all(abs(g - 1.0) < 0.011 for g in gaps[1:]), gaps
    assert len(out) == 61  # 0, 0.75, 1.75 ... 59.75


def test_configurable_rate() -> None:
    reducer: ContinuousReducer[float] = ContinuousReducer(rate_hz=0.2)  # one every 5 s
    out = [s for i in range(6000) if (s := reducer.offer(sample(i / 100))) is not None]
    assert [s.item for s in out[:3]] == [0, 3.75, 8.75]
    assert len(out) == 13


def test_a_jittery_1_hz_device_keeps_every_frame() -> None:
    rng = random.Random(7)
    times = [i + rng.uniform(-0.2, 0.2) for i in range(120)]
    reducer: ContinuousReducer[float] = ContinuousReducer()
    assert all(reducer.offer(sample(t)) is not None for t in times)


def test_a_slow_device_passes_unchanged_and_a_silence_restarts_the_grid() -> None:
    reducer: ContinuousReducer[float] = ContinuousReducer()
    for t in (0, 3, 6, 20):
        assert reducer.offer(sample(t)) is not None
    assert reducer.offer(sample(20.5)) is None
    assert reducer.offer(sample(20.8)) is not None  # within the jitter allowance of 21.0


def test_clock_stepping_back_does_not_stall_the_stream() -> None:
    reducer: ContinuousReducer[float] = ContinuousReducer()
    assert reducer.offer(sample(100)) is not None
    assert reducer.offer(sample(10)) is not None
    assert reducer.offer(sample(10.5)) is None
    assert reducer.offer(sample(11)) is not None


@pytest.mark.parametrize("rate", [0, -1, 101])
def test_rate_out_of_range_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        ContinuousReducer(rate_hz=rate)


@settings(max_examples=60, deadline=None)
@given(
    hz=st.sampled_from([1, 5, 25, 50, 100]),
    rate=st.sampled_from([0.5, 1.0, 2.0]),
    seconds=st.integers(10, 60),
)
def test_never_faster_than_the_rate_on_average(hz: int, rate: float, seconds: int) -> None:
    reducer: ContinuousReducer[float] = ContinuousReducer(rate_hz=rate)
    out = [s for i in range(hz * seconds) if (s := reducer.offer(sample(i / hz))) is not None]
    assert len(out) <= seconds * rate + 1
    assert len(out) >= min(hz, rate) * seconds - 1


# --- NHS spot-check --------------------------------------------------------------------------------


def feed(
    reducer: SpotCheckReducer[float], values: list[tuple[float, float | None]]
) -> list[SpotOutcome[float]]:
    outcomes: list[SpotOutcome[float]] = []
    for t, spo2 in values:
        outcome = reducer.offer(sample(t, spo2, pulse=60 + t))
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def series(start: float, end: float, value: float | None, hz: int = 1) -> list[tuple[float, float | None]]:
    return [(start + i / hz, value) for i in range(int((end - start) * hz))]


def test_highest_value_steady_for_5_s_after_60_s_is_recorded_with_its_derivation() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    readings = (
        series(0, 30, 99)  # a high value before 60 s of wear does not count
        + series(30, 62, 95)
        + series(62, 68, 97)  # 97 held 62..67 s: 5 s steady
        + series(68, 70, 98)  # 98 only 2 s: not steady
        + series(70, 90, 96)
    )
    assert feed(reducer, readings) == []
    outcome = reducer.offer(sample(90, None, None, probe_off=True))
    assert outcome is not None
    result = outcome.result
    assert result is not None
    assert result.spo2 == 97
    assert result.pulse == 60 + 67  # from the same frame as the SpO2 (clinical-rules.md §6.2.6)
    assert result.sample.item == 67
    assert (result.wear_started_at, result.steady_from, result.steady_until) == (
        T0,
        T0 + timedelta(seconds=62),
        T0 + timedelta(seconds=67),
    )
    assert result.method == NHS_METHOD
    assert "97" in result.derivation
    assert outcome.reason == "finger removed"
    assert outcome.samples == 90


def test_removed_before_60_s_gives_no_value_and_says_why() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    feed(reducer, series(0, 40, 97))
    outcome = reducer.offer(sample(40, None, None, probe_off=True))
    assert outcome is not None
    assert outcome.result is None
    assert "needs 60 s" in outcome.reason


def test_a_reading_that_never_settles_gives_no_value() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    feed(reducer, [(t, 94 + t % 4) for t in range(0, 120)])  # changes every second
    outcome = reducer.finish(T0 + timedelta(seconds=120))
    assert outcome is not None
    assert outcome.result is None
    assert "never held steady for 5 s" in outcome.reason
    assert outcome.reason.startswith("device stopped sending")


def test_4_s_steady_is_not_enough_at_100_hz() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    feed(reducer, series(0, 60, 95, hz=100) + series(60, 64.9, 99, hz=100) + series(64.9, 75, 96, hz=100))
    outcome = reducer.finish(T0 + timedelta(seconds=75))
    assert outcome is not None
    assert outcome.result is not None
    assert outcome.result.spo2 == 96  # 99 held only 4.9 s
    assert outcome.result.qualifying_runs == 1


def test_searching_breaks_a_steady_run_but_not_the_wear_time() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    readings = series(0, 60, 95) + series(60, 63, 98) + [(63, None)] + series(64, 67, 98) + series(67, 75, 96)
    feed(reducer, readings)
    outcome = reducer.finish(T0 + timedelta(seconds=75))
    assert outcome is not None
    assert outcome.result is not None
    assert outcome.result.spo2 == 96


def test_a_probe_off_restarts_the_wear_time() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    feed(reducer, series(0, 50, 97))
    first = reducer.offer(sample(50, None, None, probe_off=True))
    assert first is not None
    assert first.result is None
    feed(reducer, series(51, 100, 97))  # only 49 s of new wear
    second = reducer.finish(T0 + timedelta(seconds=100))
    assert second is not None
    assert second.result is None


def test_a_gap_in_samples_ends_the_session() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer(max_gap_s=3)
    outcomes = feed(reducer, series(0, 70, 97) + series(80, 90, 97))
    assert len(outcomes) == 1
    assert outcomes[0].reason == "samples stopped"
    assert outcomes[0].result is not None
    assert outcomes[0].result.spo2 == 97
    assert reducer.in_session


def test_a_long_session_is_closed_at_its_maximum_length() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer(max_session_s=120)
    outcomes = feed(reducer, series(0, 125, 97))
    assert len(outcomes) == 1
    assert outcomes[0].reason == "session reached its maximum length"
    assert outcomes[0].result is not None


def test_finish_without_a_session_and_probe_off_alone() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    assert reducer.finish(T0) is None
    assert reducer.offer(sample(0, None, None, probe_off=True)) is None
    assert not reducer.in_session


def test_no_valid_value_at_all() -> None:
    reducer: SpotCheckReducer[float] = SpotCheckReducer()
    feed(reducer, series(0, 10, None))
    outcome = reducer.finish(T0 + timedelta(seconds=10))
    assert outcome is not None
    assert "no valid reading" in outcome.reason


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_session_s"):
        SpotCheckReducer(max_session_s=30)
