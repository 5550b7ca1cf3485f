"""Scripted scenarios: deterministic, and shaped as their names promise."""

from __future__ import annotations

import pytest

from emulator.frames import FEATURES, continuous_frame, spot_check_frame
from emulator.plx_encode import DeviceSensorStatus, MeasurementStatus
from emulator.scenarios import PROBE_OFF, SCENARIOS, Sample, scenario
from tests.conftest import load_ble_vectors

VECTORS = {v["id"]: v for v in load_ble_vectors()}


def test_registry_names() -> None:
    assert set(SCENARIOS) == {"stable", "slow-desaturation", "sudden-drop", "probe-off"}


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="slow-desaturation"):
        scenario("bradycardia")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_samples_and_reiterable(name: str) -> None:
    first = scenario(name, seed=7)
    assert first.take(80) == scenario(name, seed=7).take(80)
    assert first.take(80) == first.take(80)  # iterating again restarts from the seed


@pytest.mark.parametrize("name", ["stable", "slow-desaturation", "sudden-drop"])
def test_different_seed_different_jitter(name: str) -> None:
    assert scenario(name, seed=1).take(40) != scenario(name, seed=2).take(40)


def test_length_truncates() -> None:
    assert len(list(scenario("stable", length=5))) == 5


def test_stable_stays_near_97_and_72() -> None:
    samples = scenario("stable", seed=3).take(500)
    assert all(s.spo2 is not None and 96 <= s.spo2 <= 98 for s in samples)
    assert all(s.pulse_rate is not None and 69 <= s.pulse_rate <= 75 for s in samples)
    assert {s.spo2 for s in samples} == {96.0, 97.0, 98.0}
    assert not any(s.probe_off for s in samples)


def _spo2(samples: list[Sample]) -> list[float]:
    values = [s.spo2 for s in samples]
    assert None not in values
    return [v for v in values if v is not None]


def test_slow_desaturation_reaches_92_or_below_and_settles_near_88() -> None:
    samples = scenario("slow-desaturation", ticks=60, seed=5).take(100)
    spo2 = _spo2(samples)
    assert spo2[0] >= 95
    assert min(spo2[:60]) <= 92
    first_low = next(i for i, v in enumerate(spo2) if v <= 92)
    assert 20 <= first_low < 60  # gradual, not a step
    assert all(87 <= v <= 89 for v in spo2[60:])


def test_slow_desaturation_lead_in_holds_baseline() -> None:
    spo2 = _spo2(scenario("slow-desaturation", lead_in=20, ticks=10).take(35))
    assert all(96 <= v <= 98 for v in spo2[:20])
    assert all(87 <= v <= 89 for v in spo2[30:])


def test_sudden_drop() -> None:
    spo2 = _spo2(scenario("sudden-drop", stable_ticks=30, seed=2).take(60))
    assert all(v >= 96 for v in spo2[:30])
    assert all(85 <= v <= 87 for v in spo2[30:])


def test_probe_off_emits_nan_and_status_bits_then_recovers() -> None:
    samples = scenario("probe-off", valid_ticks=10, off_ticks=5).take(30)
    assert not any(s.probe_off for s in samples[:10])
    assert samples[10:15] == [PROBE_OFF] * 5
    assert not any(s.probe_off for s in samples[15:])
    off = samples[10]
    assert off.spo2 is None
    assert off.pulse_rate is None
    assert off.measurement_status == MeasurementStatus.MEASUREMENT_UNAVAILABLE
    assert off.device_sensor_status & DeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER  # bit 11
    assert off.device_sensor_status & DeviceSensorStatus.SENSOR_DISCONNECTED  # bit 15
    # On the wire: NaN SpO2/PR plus the bits, exactly the shared "finger out" vector.
    assert continuous_frame(off).hex() == VECTORS["plx-cont-07"]["hex"]


def test_valid_frame_layout() -> None:
    frame = continuous_frame(Sample(spo2=97.0, pulse_rate=72.0, pai=5.2))
    # flags MS|DSS|PAI, 97, 72, MS 0, DSS 0, PAI 52e-1
    assert frame.hex() == "1c61004800" + "0000" + "000000" + "34f0"


def test_spot_check_frame_carries_the_timestamp() -> None:
    from datetime import datetime

    frame = spot_check_frame(Sample(spo2=95.0, pulse_rate=80.0, pai=None), datetime(2024, 11, 29, 23, 8, 57))
    assert frame.hex() == "07" + "5f005000" + "e8070b1d170839" + "0000" + "000000"


def test_features_value() -> None:
    # PAI + spot-check timestamp + both support masks (measurement unavailable; sensor bits 11, 15)
    assert FEATURES.hex() == "4b00" + "0020" + "008800"
