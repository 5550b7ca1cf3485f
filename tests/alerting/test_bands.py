"""CO@h RAG bands (clinical-rules.md §1.2): boundaries on both sides, fractions, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.bands import o2home_band
from alerting.model import Band


@pytest.mark.parametrize(
    ("spo2", "band"),
    [
        (100, Band.GREEN),
        (95, Band.GREEN),  # green >=95
        (95.0, Band.GREEN),
        (94.99, Band.AMBER),  # below the green edge: amber, not rounded up
        (94.9, Band.AMBER),
        (94.5, Band.AMBER),
        (94, Band.AMBER),
        (93, Band.AMBER),  # amber 93-94
        (93.0, Band.AMBER),
        (92.99, Band.RED),  # between the whole-number bands: the worse one
        (92.9, Band.RED),
        (92.5, Band.RED),
        (92, Band.RED),  # red <=92
        (85, Band.RED),
        (0, Band.RED),
    ],
)
def test_band_edges(spo2: float, band: Band) -> None:
    assert o2home_band(spo2) is band


@pytest.mark.parametrize("bad", [math.nan, -0.1, 100.1, math.inf, -math.inf])
def test_impossible_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="SpO2"):
        o2home_band(bad)


@given(st.floats(min_value=0, max_value=100))
def test_band_never_better_than_the_whole_percent_below(spo2: float) -> None:
    # Any fraction is banded like the whole percent below it: never an under-call.
    assert o2home_band(spo2) is o2home_band(math.floor(spo2))
