"""Hypothesis properties: arbitrary bytes never crash a decoder; well-formed frames round-trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocols import (
    PROTOCOLS,
    FrameError,
    decode,
    decode_continuous,
    decode_date_time,
    decode_features,
    decode_sfloat,
    decode_sfloat_parts,
    decode_spot_check,
)
from gateway.protocols.sfloat import SPECIALS

DECODERS: dict[str, Callable[[bytes], object]] = {
    "decode_spot_check": decode_spot_check,
    "decode_continuous": decode_continuous,
    "decode_features": decode_features,
    "decode_date_time": decode_date_time,
    "decode_sfloat": decode_sfloat,
    "decode_sfloat_parts": decode_sfloat_parts,
}
# Several teammates run suites at once; no per-example deadline, a bounded example count.
FUZZ = settings(max_examples=300, deadline=None)
ROUND_TRIP = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(data=st.binary(min_size=0, max_size=40))
def test_arbitrary_bytes_decode_or_frame_error(name: str, data: bytes) -> None:
    try:
        DECODERS[name](data)
    except FrameError as err:
        error = err
    else:
        return
    assert error.frame_hex == data.hex()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.binary(min_size=0, max_size=40))
def test_arbitrary_bytes_through_decode_give_json_or_frame_error(protocol: str, data: bytes) -> None:
    try:
        result = decode(protocol, data)
    except FrameError:
        return
    json.dumps(result, allow_nan=False)


# --- SFLOAT ---------------------------------------------------------------------------------------

non_special_raw = st.integers(0, 0xFFFF).filter(lambda raw: raw not in SPECIALS)


@given(raw=non_special_raw)
def test_sfloat_is_mantissa_times_ten_to_the_exponent(raw: int) -> None:
    parts = decode_sfloat_parts(raw)
    assert -2048 <= parts.mantissa <= 2047
    assert -8 <= parts.exponent <= 7
    # The float nearest the exact decimal: one rounding, never two.
    assert parts.value == float(Fraction(parts.mantissa) * Fraction(10) ** parts.exponent)
    assert ((parts.exponent & 0xF) << 12 | (parts.mantissa & 0xFFF)) == raw
    assert decode_sfloat(raw.to_bytes(2, "little")) == parts.value


@given(mantissa=st.integers(-2048, 2047), exponent=st.integers(-8, 7))
def test_sfloat_encode_decode(mantissa: int, exponent: int) -> None:
    raw = (exponent & 0xF) << 12 | (mantissa & 0xFFF)
    parts = decode_sfloat_parts(raw)
    if raw in SPECIALS:
        assert parts.special is SPECIALS[raw]
        assert parts.value is SPECIALS[raw]
    else:
        assert (parts.mantissa, parts.exponent, parts.special) == (mantissa, exponent, None)


# --- a test-side encoder, written from ble-protocols.md §1.4/§1.5 independently of the decoder ------

sfloat_raw = st.integers(0, 0xFFFF)
maybe = st.one_of


def _sf(raw: int) -> bytes:
    return raw.to_bytes(2, "little")


@st.composite
def continuous_frames(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    fields: dict[str, Any] = {
        "normal": (draw(sfloat_raw), draw(sfloat_raw)),
        "fast": draw(maybe(st.none(), st.tuples(sfloat_raw, sfloat_raw))),
        "slow": draw(maybe(st.none(), st.tuples(sfloat_raw, sfloat_raw))),
        "ms": draw(maybe(st.none(), st.integers(0, 0xFFFF))),
        "dss": draw(maybe(st.none(), st.integers(0, 0xFFFFFF))),
        "pai": draw(maybe(st.none(), sfloat_raw)),
    }
    rfu = draw(st.sampled_from([0, 0x20, 0xE0]))
    flags = rfu
    body = _sf(fields["normal"][0]) + _sf(fields["normal"][1])
    for bit, key in ((0x01, "fast"), (0x02, "slow")):
        if fields[key] is not None:
            flags |= bit
            body += _sf(fields[key][0]) + _sf(fields[key][1])
    if fields["ms"] is not None:
        flags |= 0x04
        body += fields["ms"].to_bytes(2, "little")
    if fields["dss"] is not None:
        flags |= 0x08
        body += fields["dss"].to_bytes(3, "little")
    if fields["pai"] is not None:
        flags |= 0x10
        body += _sf(fields["pai"])
    fields["flags"] = flags
    return bytes([flags]) + body, fields


@st.composite
def spot_check_frames(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    fields: dict[str, Any] = {
        "spo2": draw(sfloat_raw),
        "pr": draw(sfloat_raw),
        "ts": draw(maybe(st.none(), st.datetimes().map(lambda d: d.replace(microsecond=0)))),
        "ms": draw(maybe(st.none(), st.integers(0, 0xFFFF))),
        "dss": draw(maybe(st.none(), st.integers(0, 0xFFFFFF))),
        "pai": draw(maybe(st.none(), sfloat_raw)),
        "clock_not_set": draw(st.booleans()),
    }
    flags = 0x10 if fields["clock_not_set"] else 0
    body = _sf(fields["spo2"]) + _sf(fields["pr"])
    if fields["ts"] is not None:
        flags |= 0x01
        ts = fields["ts"]
        body += ts.year.to_bytes(2, "little") + bytes([ts.month, ts.day, ts.hour, ts.minute, ts.second])
    if fields["ms"] is not None:
        flags |= 0x02
        body += fields["ms"].to_bytes(2, "little")
    if fields["dss"] is not None:
        flags |= 0x04
        body += fields["dss"].to_bytes(3, "little")
    if fields["pai"] is not None:
        flags |= 0x08
        body += _sf(fields["pai"])
    fields["flags"] = flags
    return bytes([flags]) + body, fields


def _raw(parts: Any) -> int | None:
    return None if parts is None else int(parts.raw)


@ROUND_TRIP
@given(case=continuous_frames())
def test_continuous_round_trip(case: tuple[bytes, dict[str, Any]]) -> None:
    frame, f = case
    assert 5 <= len(frame) <= 20  # §1.5: fits a default-MTU notification
    m = decode_continuous(frame)
    assert m.flags == f["flags"]
    assert (m.spo2_sfloat.raw, m.pulse_rate_sfloat.raw) == f["normal"]
    fast = (_raw(m.spo2_fast_sfloat), _raw(m.pulse_rate_fast_sfloat))
    slow = (_raw(m.spo2_slow_sfloat), _raw(m.pulse_rate_slow_sfloat))
    assert fast == (f["fast"] or (None, None))
    assert slow == (f["slow"] or (None, None))
    assert (m.measurement_status, m.device_sensor_status, _raw(m.pai_sfloat)) == (f["ms"], f["dss"], f["pai"])


@ROUND_TRIP
@given(case=spot_check_frames())
def test_spot_check_round_trip(case: tuple[bytes, dict[str, Any]]) -> None:
    frame, f = case
    assert 5 <= len(frame) <= 19  # §1.4
    s = decode_spot_check(frame)
    assert s.flags == f["flags"]
    assert (s.spo2_sfloat.raw, s.pulse_rate_sfloat.raw) == (f["spo2"], f["pr"])
    assert s.timestamp == f["ts"]
    assert s.device_clock_not_set is f["clock_not_set"]
    assert (s.measurement_status, s.device_sensor_status, _raw(s.pai_sfloat)) == (f["ms"], f["dss"], f["pai"])


@ROUND_TRIP
@given(case=st.one_of(continuous_frames(), spot_check_frames()), extra=st.binary(min_size=1, max_size=4))
def test_any_length_change_is_rejected(case: tuple[bytes, dict[str, Any]], extra: bytes) -> None:
    frame, _ = case
    decoder = decode_spot_check if "spo2" in case[1] else decode_continuous
    with pytest.raises(FrameError):
        decoder(frame + extra)
    with pytest.raises(FrameError):
        decoder(frame[: len(frame) - len(extra)])


@given(
    features=st.integers(0, 0xFFFF),
    ms=st.integers(0, 0xFFFF),
    dss=st.integers(0, 0xFFFFFF),
)
def test_features_round_trip(features: int, ms: int, dss: int) -> None:
    frame = features.to_bytes(2, "little")
    if features & 0x01:
        frame += ms.to_bytes(2, "little")
    if features & 0x02:
        frame += dss.to_bytes(3, "little")
    f = decode_features(frame)
    assert f.supported_features == features
    assert f.measurement_status_support == (ms if features & 0x01 else None)
    assert f.device_sensor_status_support == (dss if features & 0x02 else None)
    with pytest.raises(FrameError):
        decode_features(frame + b"\x00")
