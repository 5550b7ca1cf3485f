"""PLX-family decoders against the shared byte vectors (ble-vectors.json) and hand-built edge frames."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from gateway.protocols import (
    PROTOCOLS,
    FrameError,
    ProtocolError,
    SfloatSpecial,
    UnknownProtocolError,
    decode,
    decode_continuous,
    decode_date_time,
    decode_features,
    decode_sfloat,
    decode_sfloat_parts,
    decode_spot_check,
)
from tests.conftest import BLE_VECTORS, load_ble_vectors

PLX_FAMILY = ("plx-spot-check", "plx-continuous", "plx-features", "ieee11073-sfloat", "ble-date-time")
VECTORS = [v for v in load_ble_vectors() if v["protocol"] in PLX_FAMILY]
# decode() adds the SFLOAT mantissa/exponent of every SFLOAT field and the spot-check clock flag even where
# a vector's `expected` leaves them out; no other key may appear that the vector does not expect.
OPTIONAL_EXTRAS_SUFFIX = "_sfloat"
OPTIONAL_EXTRAS = {"device_clock_not_set"}


def _matches(actual: Any, expected: Any, path: str) -> None:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        assert type(actual) is type(expected), f"{path}: type {type(actual)} != {type(expected)}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float), f"{path}: {actual!r}"
        assert not isinstance(actual, bool), f"{path}: {actual!r}"
        assert math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9), f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing {key!r} in {actual!r}"
            _matches(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r}"
        assert len(actual) == len(expected), f"{path}: {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _matches(a, e, f"{path}[{i}]")
    else:  # pragma: no cover - the vector file holds only JSON types
        raise AssertionError(f"{path}: unexpected type {type(expected)}")


def test_every_plx_family_vector_is_tested() -> None:
    raw = json.loads(BLE_VECTORS.read_text())
    in_file = [v["id"] for v in raw if v["protocol"] in PLX_FAMILY]
    assert len(VECTORS) > 0
    assert [v["id"] for v in VECTORS] == in_file
    for protocol in PLX_FAMILY:
        assert any(v["protocol"] == protocol for v in VECTORS), f"no vector for {protocol}"
    assert set(PLX_FAMILY) <= set(PROTOCOLS)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["hex"])
    expected = vector["expected"]
    if expected.get("frames") == []:
        with pytest.raises(FrameError):
            decode(vector["protocol"], frame)
        return
    actual = decode(vector["protocol"], frame)
    _matches(actual, expected, vector["id"])
    extras = set(actual) - set(expected)
    unexplained = {k for k in extras if not k.endswith(OPTIONAL_EXTRAS_SUFFIX) and k not in OPTIONAL_EXTRAS}
    assert not unexplained, f"fields the frame does not carry: {unexplained}"
    json.dumps(actual, allow_nan=False)  # the CLI prints it


# --- malformed frames: always FrameError, never IndexError/struct.error ---------------------------

MALFORMED = [
    ("plx-features", "0100", "bit 0 set but the Measurement Status Support mask is missing (§1.8 note)"),
    ("plx-features", "0200", "bit 1 set but the Device and Sensor Status Support mask is missing"),
    ("plx-features", "a30040108001", "Device and Sensor Status Support mask cut short"),
    ("plx-features", "0c0000", "trailing byte"),
    ("plx-features", "0c", "one byte"),
    ("plx-features", "", "empty"),
    ("plx-continuous", "", "empty"),
    ("plx-continuous", "0064005a", "normal pair cut short"),
    ("plx-continuous", "0064005a0000", "trailing byte"),
    ("plx-continuous", "1fdef3caf3caf35af5d4f3b2f220010000007a", "PAI cut short"),
    ("plx-continuous", "0c0000000000200088", "device and sensor status cut short"),
    ("plx-spot-check", "", "empty"),
    ("plx-spot-check", "01620048", "flags only + short"),
    ("plx-spot-check", "0162004800e8070b1d1708", "timestamp cut short"),
    ("plx-spot-check", "0facf3bef5e8070b1d170839204022000066e3ff", "trailing byte"),
    ("plx-spot-check", "0162004800e8070d01000000", "month 13 in the timestamp"),
    ("plx-spot-check", "0162004800e8070b1d183b00", "hour 24 in the timestamp"),
    ("ble-date-time", "e8070b1d1708", "6 bytes"),
    ("ble-date-time", "e8070b1d17083900", "8 bytes"),
    ("ble-date-time", "e807021e000000", "30 February"),
    ("ieee11073-sfloat", "ff", "1 byte"),
    ("ieee11073-sfloat", "ff0700", "3 bytes"),
]


@pytest.mark.parametrize(
    ("protocol", "hex_frame", "why"), MALFORMED, ids=[f"{p}:{w}" for p, _, w in MALFORMED]
)
def test_malformed_frame_is_a_frame_error(protocol: str, hex_frame: str, why: str) -> None:
    with pytest.raises(FrameError) as info:
        decode(protocol, bytes.fromhex(hex_frame))
    err = info.value
    assert isinstance(err, ProtocolError)
    assert err.protocol == protocol
    assert err.frame_hex == hex_frame
    assert err.reason
    assert protocol in str(err)


def test_features_0100_reports_declared_and_actual_length() -> None:
    with pytest.raises(FrameError, match=r"declares 4 bytes, got 2"):
        decode_features(bytes.fromhex("0100"))


def test_unknown_protocol_name() -> None:
    with pytest.raises(UnknownProtocolError, match="plx-continuous"):
        decode("no-such-protocol", bytes.fromhex("0102030405"))


# --- hand-built frames for layout rules the shared vectors leave out ---------------------------------


def test_slow_pair_alone_follows_the_normal_pair() -> None:
    m = decode_continuous(bytes.fromhex("02 6100 4800 5f00 4600"))
    assert (m.spo2, m.pulse_rate) == (97.0, 72.0)
    assert (m.spo2_fast, m.pulse_rate_fast) == (None, None)
    assert (m.spo2_slow, m.pulse_rate_slow) == (95.0, 70.0)


def test_rfu_flag_bits_are_tolerated_and_kept() -> None:
    m = decode_continuous(bytes.fromhex("e0 6400 5a00"))
    assert m.flags == 0xE0
    assert (m.spo2, m.pulse_rate, m.pai) == (100.0, 90.0, None)
    s = decode_spot_check(bytes.fromhex("e0 6200 4800"))
    assert (s.flags, s.spo2, s.device_clock_not_set) == (0xE0, 98.0, False)


def test_spot_check_clock_not_set_and_unknown_date() -> None:
    s = decode_spot_check(bytes.fromhex("11 6200 4800 00000000000000"))
    assert s.device_clock_not_set
    assert s.timestamp_fields is not None
    assert s.timestamp is None
    assert decode("plx-spot-check", bytes.fromhex("116200480000000000000000"))["timestamp"] is None


def test_rfu_status_bits_get_no_name() -> None:
    m = decode_continuous(bytes.fromhex("0c 6100 4800 1f00 0000ff"))
    assert (m.measurement_status, m.measurement_status_bits) == (0x1F, ())
    assert (m.device_sensor_status, m.device_sensor_status_bits) == (0xFF0000, ())


def test_date_time() -> None:
    moment = decode_date_time(bytes.fromhex("e8070b1d170839"))
    assert moment is not None
    assert moment.isoformat() == "2024-11-29T23:08:57"
    assert decode_date_time(bytes.fromhex("0000 0b1d170839")) is None
    assert decode_date_time(bytes.fromhex("e807 00 1d170839")) is None
    assert decode_date_time(bytes.fromhex("e807 0b 00170839")) is None


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x07FF, SfloatSpecial.NAN),
        (0x0800, SfloatSpecial.NRES),
        (0x07FE, SfloatSpecial.POSITIVE_INFINITY),
        (0x0802, SfloatSpecial.NEGATIVE_INFINITY),
        (0x0801, SfloatSpecial.RFU),
    ],
)
def test_sfloat_specials(raw: int, special: SfloatSpecial) -> None:
    assert decode_sfloat(raw) is special
    assert decode_sfloat(raw.to_bytes(2, "little")) is special


def test_sfloat_exponent_nibble_8_is_minus_8_not_a_bias() -> None:
    # ble-protocols.md §1.2 counter-example: `62 80` is 98 x 10^-8, not 98.0.
    parts = decode_sfloat_parts(bytes.fromhex("6280"))
    assert (parts.mantissa, parts.exponent) == (98, -8)
    assert parts.value == 98 / 10**8


def test_sfloat_exact_decimal_values() -> None:
    assert decode_sfloat(bytes.fromhex("7ae3")) == 8.9
    assert decode_sfloat(bytes.fromhex("57f0")) == 8.7
    assert decode_sfloat(bytes.fromhex("e8f3")) == 100.0


def test_sfloat_int_out_of_range() -> None:
    with pytest.raises(ValueError, match="uint16"):
        decode_sfloat(0x10000)
