"""The emulator's PLX encoder against the shared byte vectors (ble-vectors.json)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.plx_encode import (
    DeviceSensorStatus,
    MeasurementStatus,
    PlxFeature,
    Sfloat,
    SfloatSpecial,
    encode_date_time,
    encode_plx_continuous,
    encode_plx_features,
    encode_plx_spot_check,
    encode_sfloat,
)
from tests.conftest import load_ble_vectors

VECTORS = {v["id"]: v for v in load_ble_vectors()}
MS, DSS = MeasurementStatus, DeviceSensorStatus


def _expected(vector_id: str) -> dict[str, object]:
    expected: dict[str, object] = VECTORS[vector_id]["expected"]
    return expected


def _whole(vector_id: str, field: str) -> int:
    value = _expected(vector_id)[field]
    assert isinstance(value, int | float)
    return int(value)


# Each case builds the frame from the vector's decoded meaning; the bytes must match the vector.
FRAME_CASES: dict[str, Callable[[], bytes]] = {
    "plx-cont-01": lambda: encode_plx_continuous(
        _whole("plx-cont-01", "spo2"), _whole("plx-cont-01", "pulse_rate")
    ),
    "plx-cont-02": lambda: encode_plx_continuous(Sfloat(1000, -1), Sfloat(900, -1)),
    "plx-cont-04": lambda: encode_plx_continuous(
        Sfloat(990, -1),
        Sfloat(970, -1),
        fast=(Sfloat(970, -1), Sfloat(1370, -1)),
        slow=(Sfloat(980, -1), Sfloat(690, -1)),
        measurement_status=MS.MEASUREMENT_ONGOING | MS.FULLY_QUALIFIED_DATA,
        device_sensor_status=DSS.NONE,
        pai=Sfloat(890, -2),
    ),
    "plx-cont-05": lambda: encode_plx_continuous(97, 72, fast=(96, 75)),
    "plx-cont-07": lambda: encode_plx_continuous(
        None,
        math.nan,
        measurement_status=MS.MEASUREMENT_UNAVAILABLE,
        device_sensor_status=DSS.SENSOR_UNCONNECTED_TO_USER | DSS.SENSOR_DISCONNECTED,
    ),
    "plx-cont-08": lambda: encode_plx_continuous(
        SfloatSpecial.NRES, 72, measurement_status=MS.QUESTIONABLE_MEASUREMENT_DETECTED
    ),
    "plx-spot-01": lambda: encode_plx_spot_check(
        Sfloat(940, -1),
        Sfloat(1470, -1),
        timestamp=datetime(2024, 11, 29, 23, 8, 57),
        measurement_status=MS.MEASUREMENT_ONGOING | MS.QUESTIONABLE_MEASUREMENT_DETECTED,
        device_sensor_status=DSS.EQUIPMENT_MALFUNCTION_DETECTED | DSS.LOW_PERFUSION_DETECTED,
        pai=Sfloat(870, -2),
    ),
    "plx-spot-02": lambda: encode_plx_spot_check(98, 72),
    "plx-spot-04": lambda: encode_plx_spot_check(
        95, 75, measurement_status=MS.VALIDATED_DATA | MS.DATA_FROM_MEASUREMENT_STORAGE
    ),
    "plx-spot-05": lambda: encode_plx_spot_check(96, 80, pai=4.5),
    "plx-feat-01": lambda: encode_plx_features(
        PlxFeature.SPO2PR_SLOW | PlxFeature.MULTIPLE_BONDS,
        measurement_status_support=MS.EARLY_ESTIMATED_DATA | MS.CALIBRATION_ONGOING,
        device_sensor_status_support=DSS.NONPULSATILE_SIGNAL_DETECTED | DSS.QUESTIONABLE_PULSE_DETECTED,
    ),
    "plx-feat-02": lambda: encode_plx_features(
        PlxFeature.SPOT_CHECK_MEASUREMENT_STORAGE | PlxFeature.SPOT_CHECK_TIMESTAMP
    ),
}


@pytest.mark.parametrize("vector_id", sorted(FRAME_CASES))
def test_frame_matches_shared_vector(vector_id: str) -> None:
    assert FRAME_CASES[vector_id]().hex() == VECTORS[vector_id]["hex"]


def test_every_shared_plx_vector_is_covered() -> None:
    plx = {v for v, body in VECTORS.items() if body["protocol"].startswith("plx-")}
    assert plx <= set(FRAME_CASES), plx - set(FRAME_CASES)


SPECIALS = {
    "NaN": SfloatSpecial.NAN,
    "NRes": SfloatSpecial.NRES,
    "+INF": SfloatSpecial.POS_INF,
    "-INF": SfloatSpecial.NEG_INF,
    "RFU": SfloatSpecial.RFU,
}


@pytest.mark.parametrize("vector_id", sorted(v for v in VECTORS if v.startswith("sfloat-")))
def test_sfloat_vectors(vector_id: str) -> None:
    expected = _expected(vector_id)
    if "special" in expected:
        value = SPECIALS[str(expected["special"])]
        assert encode_sfloat(value).hex() == VECTORS[vector_id]["hex"]
    else:
        explicit = Sfloat(int(expected["mantissa"]), int(expected["exponent"]))  # type: ignore[call-overload]
        assert encode_sfloat(explicit).hex() == VECTORS[vector_id]["hex"]


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (None, "ff07"),
        (math.nan, "ff07"),
        (math.inf, "fe07"),
        (-math.inf, "0208"),
        (97, "6100"),
        (100.0, "6400"),
        (5.2, "34f0"),  # 52 × 10^-1
        (8.7, "57f0"),  # sfloat-07's value, chosen exponent -1 as there
        (-0.1, "ffff"),  # sfloat-11
        (-2045, "0308"),
    ],
)
def test_sfloat_automatic_exponent(value: float | None, hex_: str) -> None:
    assert encode_sfloat(value).hex() == hex_


def _decode(raw: bytes) -> float:
    """Minimal reference decode for the round-trip property (normal values only)."""
    word = int.from_bytes(raw, "little")
    mantissa, exponent = word & 0x0FFF, word >> 12
    mantissa -= 0x1000 if mantissa >= 0x800 else 0
    exponent -= 0x10 if exponent >= 0x8 else 0
    return float(mantissa * 10.0**exponent)


@given(st.integers(min_value=-2045, max_value=2045), st.integers(min_value=0, max_value=3))
def test_sfloat_round_trips_decimal_values(mantissa: int, decimals: int) -> None:
    value = mantissa / 10**decimals
    assert math.isclose(_decode(encode_sfloat(value)), value, abs_tol=1e-9)


def test_large_values_lose_low_digits_not_range() -> None:
    assert _decode(encode_sfloat(20450)) == 20450.0  # 2045 × 10^1
    assert _decode(encode_sfloat(20480)) == 20500.0  # 2048 does not fit a mantissa: 205 × 10^2
    with pytest.raises(ValueError, match="out of SFLOAT range"):
        encode_sfloat(1e12)


def test_explicit_sfloat_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_sfloat(Sfloat(5000, 0))


def test_date_time_example_from_docs() -> None:
    assert encode_date_time(datetime(2024, 11, 29, 23, 8, 57)).hex() == "e8070b1d170839"


def test_spot_check_clock_not_set_flag() -> None:
    frame = encode_plx_spot_check(98, 72, timestamp=datetime(2024, 1, 2, 3, 4, 5), device_clock_not_set=True)
    assert frame[0] == 0x11
    assert len(frame) == 12


def test_continuous_frame_with_everything_fits_a_default_mtu_notification() -> None:
    frame = encode_plx_continuous(
        97, 72, fast=(97, 72), slow=(97, 72), measurement_status=0, device_sensor_status=0, pai=5.0
    )
    assert len(frame) == 20  # §1.5: maximum 20 bytes


def test_features_refuse_a_bit_without_its_mask() -> None:
    with pytest.raises(ValueError, match="bit 0"):
        encode_plx_features(PlxFeature.MEASUREMENT_STATUS_SUPPORT)
