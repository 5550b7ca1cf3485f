"""BTS 2017 target ranges: a fall of >= 3 points from baseline, or below the target (clinical-rules.md §4)."""

from __future__ import annotations

import math

import pytest

from alerting import bts
from alerting.model import Priority

BELOW_TARGET = [
    # (target, spo2, below) -- each edge of both ranges, both sides
    ((94, 98), 94, False), ((94, 98), 93.9, True), ((94, 98), 93, True), ((94, 98), 99, False),
    ((88, 92), 88, False), ((88, 92), 87.9, True), ((88, 92), 87, True), ((88, 92), 95, False),
]  # fmt: skip


@pytest.mark.parametrize(("target", "spo2", "below"), BELOW_TARGET)
def test_below_target_range(target: tuple[int, int], spo2: float, below: bool) -> None:
    found = bts.assess(spo2, target, baseline=None)
    assert found.below_target is below
    assert found.priority is (Priority.MEDIUM if below else None)
    assert found.fall is None
    assert not found.fell_from_baseline


FALLS = [
    # (baseline, spo2, fell) -- the 3-point edge on both sides
    (97, 94, True), (97, 94.1, False), (97, 95, False), (97, 97, False), (97, 99, False), (96.5, 93.5, True),
]  # fmt: skip


@pytest.mark.parametrize(("baseline", "spo2", "fell"), FALLS)
def test_fall_of_three_points_from_baseline(baseline: float, spo2: float, fell: bool) -> None:
    found = bts.assess(spo2, (88, 92), baseline)
    assert found.fell_from_baseline is fell
    assert found.fall == pytest.approx(baseline - spo2)
    assert found.priority is (Priority.MEDIUM if fell else None)
    assert found.reasons == (("fall-3-from-baseline",) if fell else ())


def test_both_triggers_are_reported() -> None:
    found = bts.assess(90, (94, 98), baseline=96)
    assert found.reasons == ("below-target-94-98", "fall-3-from-baseline")
    assert found.priority is Priority.MEDIUM


@pytest.mark.parametrize("spo2", [math.nan, -0.1, 100.1])
def test_implausible_spo2_refused(spo2: float) -> None:
    with pytest.raises(ValueError, match="0-100"):
        bts.assess(spo2, (94, 98), None)


def test_only_the_two_bts_targets() -> None:
    with pytest.raises(ValueError, match="94-98 or 88-92"):
        bts.assess(95, (90, 95), None)
