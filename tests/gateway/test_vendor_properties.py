"""Hypothesis properties for the vendor decoders and stream parsers.

Frames are built by the independent test-side encoders in vendor_frames.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocols import (
    PROTOCOLS,
    FrameError,
    berrymed,
    decode,
    jumper,
    nonin,
    racp,
    unconfirmed,
    wellue,
    wellue_o2ring,
)
from gateway.protocols.berrymed_stream import BerryMedStream
from tests.gateway.vendor_frames import (
    bci_bytes,
    bci_fields,
    berry_packets,
    crc_poly07,
    o2_response,
    o2_sensor_payloads,
    pc60_frames,
)

# Several teammates run suites at once on 2 cores: bounded example counts, no per-example deadline, and
# no "too slow to generate" failure (a property of the load, not of the code under test).
_CALM = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(_CALM, max_examples=150)
ROUND_TRIP = settings(_CALM, max_examples=100)
STREAM = settings(_CALM, max_examples=100)
RECOVER = settings(_CALM, max_examples=50)

DECODERS: dict[str, Callable[[bytes], object]] = {
    "bci_packet": berrymed.decode_bci_packet,
    "bci_frame": berrymed.decode_bci_frame,
    "berry_packet": berrymed.decode_berry_packet,
    "nonin": nonin.decode_continuous,
    "pc60fw": wellue.decode_frame,
    "o2_request": wellue_o2ring.decode_request,
    "o2_response": wellue_o2ring.decode_response,
    "jumper": jumper.decode_frame,
    "racp_request": racp.decode_request,
    "racp_response": racp.decode_response,
    "jks50f": unconfirmed.decode_jks50f,
    "contec": unconfirmed.decode_contec,
}


# --- arbitrary bytes never crash --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(data=st.binary(max_size=80))
def test_arbitrary_bytes_give_a_frame_or_a_frame_error(name: str, data: bytes) -> None:
    error: FrameError | None = None
    try:
        DECODERS[name](data)
    except FrameError as err:
        error = err
    if error is not None:
        assert error.frame_hex == data.hex()
        assert error.reason


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.binary(max_size=80))
def test_decode_gives_json_or_a_frame_error(protocol: str, data: bytes) -> None:
    try:
        result = decode(protocol, data)
    except FrameError as err:
        error = err
    else:
        json.dumps(result, allow_nan=False)
        return
    assert error.protocol == protocol


valid_frames = st.one_of(
    bci_fields.map(bci_bytes),
    berry_packets().map(lambda c: c[0]),
    pc60_frames,
    o2_sensor_payloads.map(lambda p: o2_response(0, p)),
)


@FUZZ
@given(frame=valid_frames, position=st.integers(0, 200), value=st.integers(0, 255))
def test_a_corrupted_frame_never_crashes_any_decoder(frame: bytes, position: int, value: int) -> None:
    corrupted = bytearray(frame)
    corrupted[position % len(frame)] = value
    for decoder in DECODERS.values():
        with contextlib.suppress(FrameError):
            decoder(bytes(corrupted))


@FUZZ
@given(
    case=st.one_of(
        berry_packets().map(lambda c: (c[0], berrymed.decode_berry_packet)),
        pc60_frames.map(lambda f: (f, wellue.decode_frame)),
        o2_sensor_payloads.map(lambda p: (o2_response(0, p), wellue_o2ring.decode_response)),
    ),
    position=st.integers(0, 200),
    flip=st.integers(1, 255),
)
def test_checksummed_frames_reject_any_single_byte_error(
    case: tuple[bytes, Callable[[bytes], object]], position: int, flip: int
) -> None:
    frame, decoder = case
    corrupted = bytearray(frame)
    corrupted[position % len(frame)] ^= flip
    with pytest.raises(FrameError):
        decoder(bytes(corrupted))


# --- round trips ----------------------------------------------------------------------------------


@ROUND_TRIP
@given(f=bci_fields)
def test_bci_round_trip(f: dict[str, Any]) -> None:
    frame = berrymed.decode_bci_frame(bci_bytes(f))
    assert frame.signal_strength == (None if f["signal"] == 15 else f["signal"])
    assert (frame.no_signal, frame.probe_unplugged, frame.pulse_beep) == (
        bool(f["no_signal"]), bool(f["unplugged"]), bool(f["beep"]),
    )  # fmt: skip
    assert (frame.pleth, frame.bargraph) == (f["pleth"] or None, f["bargraph"] or None)
    assert (frame.no_finger, frame.pulse_searching) == (bool(f["no_finger"]), bool(f["searching"]))
    assert frame.pulse_rate == (None if f["pr"] == 255 else f["pr"])
    assert frame.spo2 == (None if f["spo2"] == 127 else f["spo2"])


@ROUND_TRIP
@given(case=berry_packets())
def test_berry_round_trip(case: tuple[bytes, dict[str, Any]]) -> None:
    raw, f = case
    p = berrymed.decode_berry_packet(raw)
    assert isinstance(p, berrymed.BerryMeasurement)
    assert (p.packet_index, p.status, p.adc_sample, p.packet_rate_hz) == (
        f["index"],
        f["status"],
        f["adc"],
        f["rate"],
    )
    assert p.spo2 == (None if f["spo2"] == 127 else f["spo2"])
    assert p.pulse_rate_realtime == (None if f["pr_rt"] == 255 else f["pr_rt"])
    assert p.rr_interval_ms == (f["rr"] * 5 if f["rr"] else None)
    assert p.pi_percent == (f["pi"] / 10 if f["pi"] else None)
    assert p.battery_percent == f["battery"]


@ROUND_TRIP
@given(
    status=st.integers(0, 255),
    volts=st.integers(0, 255),
    pai=st.integers(0, 0xFFFF),
    counter=st.integers(0, 0xFFFF),
    spo2=st.one_of(st.integers(0, 100), st.just(127)),
    pr=st.integers(0, 511),
)
def test_nonin_round_trip_is_big_endian(
    status: int, volts: int, pai: int, counter: int, spo2: int, pr: int
) -> None:
    raw = bytes([10, status, volts]) + pai.to_bytes(2, "big") + counter.to_bytes(2, "big") + bytes([spo2])
    frame = nonin.decode_continuous(raw + pr.to_bytes(2, "big"))
    assert (frame.status, frame.battery_decivolts, frame.pai_hundredths, frame.counter) == (
        status,
        volts,
        pai,
        counter,
    )
    assert frame.spo2 == (None if spo2 == 127 else spo2)
    assert frame.pulse_rate == (None if pr == 511 else pr)


@ROUND_TRIP
@given(payload=o2_sensor_payloads, block=st.integers(0, 0xFFFF))
def test_o2ring_response_round_trip(payload: bytes, block: int) -> None:
    response = wellue_o2ring.decode_response(o2_response(0, payload, block))
    assert (response.status, response.block, response.payload) == (0, block, payload)
    sensors = wellue_o2ring.decode_sensors(response)
    assert sensors.spo2 == (None if payload[0] in (0, 255) else payload[0])
    assert sensors.finger_present is (payload[11] != 0)


@ROUND_TRIP
@given(
    cmd=st.sampled_from(sorted(wellue_o2ring.COMMANDS)),
    block=st.integers(0, 0xFFFF),
    data=st.binary(max_size=60),
)
def test_o2ring_request_builder_matches_the_documented_layout(cmd: int, block: int, data: bytes) -> None:
    frame = wellue_o2ring.build_request(cmd, block, data)
    body = (
        bytes([0xAA, cmd, cmd ^ 0xFF]) + block.to_bytes(2, "little") + len(data).to_bytes(2, "little") + data
    )
    assert frame == body + bytes([crc_poly07(body)])
    assert wellue_o2ring.decode_request(frame) == wellue_o2ring.O2Request(cmd, block, data, frame[-1])


# --- stream parsers: never raise, account for every byte, independent of notification boundaries -------

STREAMS: dict[str, Callable[[], Any]] = {
    "berrymed-auto": BerryMedStream,
    "berrymed-bci": lambda: BerryMedStream("bci"),
    "berrymed-berry": lambda: BerryMedStream("berry"),
    "pc60fw": wellue.Pc60Stream,
    "o2ring": wellue_o2ring.O2ResponseStream,
}


def _feed_all(parser: Any, chunks: list[bytes]) -> list[Any]:
    frames: list[Any] = []
    for chunk in chunks:
        frames.extend(parser.feed(chunk).frames)
    return frames


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("name", sorted(STREAMS))
@STREAM
@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_stream_never_raises_and_accounts_for_every_byte(name: str, data: bytes, cuts: list[int]) -> None:
    whole, chunked = STREAMS[name](), STREAMS[name]()
    frames = _feed_all(chunked, _split(data, cuts))
    assert frames == _feed_all(whole, [data])  # notification boundaries never change the result
    consumed = sum(len(f.raw) for f in frames) + chunked.stats.garbage_bytes + chunked.buffered
    assert consumed == len(data)
    assert chunked.stats.frames == len(frames)


@pytest.mark.parametrize("name", ["berrymed-auto", "pc60fw", "o2ring"])
@RECOVER
@given(data=st.data(), cuts=st.lists(st.integers(0, 2000), max_size=20))
def test_stream_recovers_every_frame_between_garbage(name: str, data: st.DataObject, cuts: list[int]) -> None:
    frame_strategy, forbidden = {
        "berrymed-auto": (bci_fields.map(bci_bytes), range(0x80, 0x100)),  # garbage without sync bytes
        "pc60fw": (pc60_frames, [0xAA]),
        "o2ring": (o2_sensor_payloads.map(lambda p: o2_response(0, p)), [0x55]),
    }[name]
    frames = data.draw(st.lists(frame_strategy, min_size=1, max_size=8))
    garbage = st.binary(max_size=7).map(lambda b: bytes(x for x in b if x not in forbidden))
    stream = b"".join(data.draw(garbage) + f for f in frames)
    parser = STREAMS[name]()
    parsed = _feed_all(parser, _split(stream, cuts))
    assert [p.raw for p in parsed] == frames
    assert parser.buffered == 0
