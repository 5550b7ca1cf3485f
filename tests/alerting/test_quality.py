"""Signal quality from PLX status bits (clinical-rules.md §6), checked against the BLE vectors too."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from alerting.model import Mode, Observation, QualityLevel
from alerting.quality import DEVICE_FLAGS, MEASUREMENT_FLAGS, assess
from tests.conftest import load_ble_vectors

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def obs(
    spo2: float | None = 97.0,
    *,
    mode: Mode = Mode.SPOT_CHECK,
    ms: int | None = None,
    ds: int | None = None,
    clock_not_set: bool = False,
) -> Observation:
    return Observation(T0, spo2, 70.0, mode, ms, ds, device_clock_not_set=clock_not_set)


def test_clean_reading_is_scorable() -> None:
    q = assess(obs())
    assert (q.level, q.reasons, q.notes) == (QualityLevel.SCORABLE, (), ())


def test_validated_and_fully_qualified_bits_change_nothing() -> None:
    assert assess(obs(ms=(1 << 7) | (1 << 8), ds=1 << 0)).level is QualityLevel.SCORABLE


def test_reserved_bits_are_ignored() -> None:
    assert assess(obs(ms=0b11111, ds=0xFF0000)).level is QualityLevel.SCORABLE


@pytest.mark.parametrize(
    ("bit", "reason"),
    [
        (15, "invalid-measurement"),
        (13, "measurement-unavailable"),
        (6, "early-estimate"),
        (10, "demo-data"),
        (11, "test-data"),
        (12, "calibration-ongoing"),
    ],
)
def test_measurement_flags_that_make_a_reading_unscorable(bit: int, reason: str) -> None:
    q = assess(obs(ms=1 << bit))
    assert q.level is QualityLevel.UNSCORABLE
    assert q.reasons == (reason,)


def test_questionable_measurement_bit_is_questionable() -> None:
    q = assess(obs(ms=1 << 14))
    assert (q.level, q.reasons) == (QualityLevel.QUESTIONABLE, ("questionable-measurement",))


@pytest.mark.parametrize(
    ("bit", "reason"),
    [
        (11, "probe-off"),
        (13, "sensor-displaced"),
        (15, "sensor-disconnected"),
        (1, "equipment-malfunction"),
        (14, "sensor-malfunction"),
    ],
)
def test_device_flags_that_make_a_reading_unscorable(bit: int, reason: str) -> None:
    q = assess(obs(ds=1 << bit))
    assert (q.level, q.reasons) == (QualityLevel.UNSCORABLE, (reason,))


@pytest.mark.parametrize("bit", [2, 3, 4, 5, 6, 7, 8, 9, 10, 12])
def test_signal_warnings_are_questionable(bit: int) -> None:
    q = assess(obs(ds=1 << bit))
    assert q.level is QualityLevel.QUESTIONABLE
    assert q.reasons == (DEVICE_FLAGS[bit][0],)


def test_low_perfusion_and_erratic_named() -> None:
    assert assess(obs(ds=(1 << 5) | (1 << 6))).reasons == ("low-perfusion", "erratic-signal")


def test_measurement_ongoing_depends_on_mode() -> None:
    spot = assess(obs(ms=1 << 5, mode=Mode.SPOT_CHECK))
    assert (spot.level, spot.reasons) == (QualityLevel.UNSCORABLE, ("measurement-ongoing",))
    assert assess(obs(ms=1 << 5, mode=Mode.CONTINUOUS)).level is QualityLevel.SCORABLE


@pytest.mark.parametrize(
    ("spo2", "reason"),
    [
        (None, "no-spo2"),
        (math.nan, "spo2-not-plausible"),
        (101.0, "spo2-not-plausible"),
        (-1.0, "spo2-not-plausible"),
    ],
)
def test_missing_or_impossible_spo2_is_unscorable(spo2: float | None, reason: str) -> None:
    q = assess(obs(spo2))
    assert (q.level, q.reasons) == (QualityLevel.UNSCORABLE, (reason,))


def test_unscorable_wins_over_questionable_and_every_reason_is_kept() -> None:
    q = assess(obs(ms=(1 << 14) | (1 << 15), ds=(1 << 5) | (1 << 11)))
    assert q.level is QualityLevel.UNSCORABLE
    assert set(q.reasons) == {"questionable-measurement", "invalid-measurement", "low-perfusion", "probe-off"}


def test_storage_and_clock_bits_are_notes_not_quality() -> None:
    q = assess(obs(ms=1 << 9, clock_not_set=True))
    assert q.level is QualityLevel.SCORABLE
    assert q.notes == ("from-storage", "device-clock-not-set")


def test_every_table_bit_is_in_range() -> None:
    assert all(5 <= b <= 15 for b in MEASUREMENT_FLAGS)
    assert all(0 <= b <= 23 for b in DEVICE_FLAGS)


SENSOR_VECTORS = [v for v in load_ble_vectors("plx-") if v["protocol"] != "plx-features"]


@pytest.mark.parametrize("vector", SENSOR_VECTORS, ids=lambda v: v["id"])
def test_ble_vectors_are_judged_as_documented(vector: dict[str, Any]) -> None:
    exp = vector["expected"]
    mode = Mode.CONTINUOUS if vector["protocol"] == "plx-continuous" else Mode.SPOT_CHECK
    # The special SFLOAT values (NaN, NRes) reach the service as null.
    spo2 = exp["spo2"] if isinstance(exp["spo2"], int | float) else None
    q = assess(
        Observation(T0, spo2, None, mode, exp.get("measurement_status"), exp.get("device_sensor_status"))
    )
    bits = set(exp.get("device_sensor_status_bits") or []) | set(exp.get("measurement_status_bits") or [])
    expected = {
        "plx-cont-04": QualityLevel.SCORABLE,  # continuous: measurement ongoing is normal
        "plx-cont-07": QualityLevel.UNSCORABLE,  # probe off, disconnected, unavailable, no value
        "plx-cont-08": QualityLevel.UNSCORABLE,  # NRes value
        "plx-spot-01": QualityLevel.UNSCORABLE,  # spot-check still ongoing, equipment malfunction
        "plx-spot-04": QualityLevel.SCORABLE,  # validated, from storage (a note)
    }.get(vector["id"], QualityLevel.SCORABLE)
    assert q.level is expected, (bits, q)
    if "data_from_measurement_storage" in bits:
        assert "from-storage" in q.notes
