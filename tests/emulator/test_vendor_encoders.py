"""The vendor emulators' own encoders reproduce every shared byte vector of their protocols exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.scenarios import PROBE_OFF, Sample, scenario
from emulator.vendors.encode_berrymed import (
    BCI_FINGER_OUT,
    BciFrame,
    BerryPacket,
    bci_frame_for,
    berry_packet_for,
    encode_bci_frame,
    encode_bci_version,
    encode_berry_packet,
    encode_berry_version,
)
from emulator.vendors.encode_jumper import encode_jumper_values, jumper_values_for
from emulator.vendors.encode_nonin import NoninFrame, NoninStatus, encode_nonin_frame, nonin_frame_for
from emulator.vendors.encode_wellue import (
    O2RingSensors,
    crc8_maxim,
    crc8_viatom,
    encode_o2ring_request,
    encode_o2ring_response,
    encode_o2ring_sensors,
    encode_pc60fw_battery,
    encode_pc60fw_frame,
    encode_pc60fw_vitals,
    encode_pc60fw_waveform,
    o2ring_sensors_for,
    parse_o2ring_request,
)
from emulator.vendors.waveform import frames_in_tick, pleth_wave
from tests.conftest import load_ble_vectors

VECTORS = {v["id"]: v for v in load_ble_vectors()}
# the vendor protocols the emulators speak (ble-vectors.json protocol names)
EMULATED = ("berrymed-bci", "berrymed-berry", "nonin-continuous", "pc60fw", "viatom-o2ring", "jumper-cdeacb")
BCI_FIELDS = set(BciFrame.__dataclass_fields__)
BERRY_FIELDS = set(BerryPacket.__dataclass_fields__)


def _fields(expected: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in expected.items() if k in names}


def _bci(e: dict[str, Any]) -> bytes:
    if "frames" in e:
        return b"".join(encode_bci_frame(BciFrame(**_fields(f, BCI_FIELDS))) for f in e["frames"])
    return encode_bci_frame(BciFrame(**_fields(e, BCI_FIELDS)))


def _berry(e: dict[str, Any]) -> bytes:
    if e["kind"] == "software_version":
        return encode_berry_version("S", e["version"])
    if e["kind"] == "hardware_version":
        return encode_berry_version("H", e["version"])
    return encode_berry_packet(BerryPacket(**_fields(e, BERRY_FIELDS)))


def _nonin(e: dict[str, Any]) -> bytes:
    return encode_nonin_frame(
        NoninFrame(e["status"], e["battery_v"], e["pai_percent"], e["counter"], e["spo2"], e["pulse_rate"])
    )


def _pc60fw(e: dict[str, Any]) -> bytes:
    if e["func"] == 1:
        return encode_pc60fw_vitals(e["spo2"], e["pulse_rate"], e["pi"])
    if e["func"] == 2:
        return encode_pc60fw_waveform(e["pleth_samples"], e.get("beat_marker_index"))
    # func 0x21 (UNCONFIRMED status form, not sent by the emulator): the generic frame encoder
    return encode_pc60fw_frame(
        e["token"], e["func"], bytes([e["mode"], e["step"], e["spo2"], e["pulse_rate"]])
    )


def _o2ring_response(e: dict[str, Any]) -> bytes:
    sensors = O2RingSensors(
        e["spo2"],
        e["pulse_rate"],
        e["battery_percent"],
        e["charging"],
        e["motion"],
        e["pi_or_signal_strength"],
        e["finger_present"],
    )
    return encode_o2ring_response(encode_o2ring_sensors(sensors), status=e["status"])


ENCODERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "berrymed-bci": _bci,
    "berrymed-berry": _berry,
    "nonin-continuous": _nonin,
    "pc60fw": _pc60fw,
    "viatom-o2ring-request": lambda e: encode_o2ring_request(e["cmd"], block=e["block"]),
    "viatom-o2ring-response": _o2ring_response,
    "jumper-cdeacb": lambda e: encode_jumper_values(e["pulse_rate"], e["spo2"], e.get("pi_percent")),
}
# valid frames only: vectors a decoder must reject are not something a device sends
CASES = sorted(
    vid
    for vid, v in VECTORS.items()
    if v["protocol"].startswith(EMULATED) and v["expected"].get("frames") != []
)


def test_every_emulated_protocol_has_vectors() -> None:
    assert {VECTORS[vid]["protocol"] for vid in CASES} == set(ENCODERS)
    assert len(CASES) >= 20


@pytest.mark.parametrize("vector_id", CASES)
def test_encoder_reproduces_vector(vector_id: str) -> None:
    vector = VECTORS[vector_id]
    assert ENCODERS[vector["protocol"]](vector["expected"]).hex() == vector["hex"]


def test_pc60fw_battery_capture_from_the_doc() -> None:
    assert encode_pc60fw_battery(3) == bytes.fromhex("AA55F0030303F6")  # ble-protocols.md §2.6


BCI_FRAMES = st.builds(
    BciFrame,
    signal_strength=st.integers(0, 15),
    no_signal=st.booleans(),
    probe_unplugged=st.booleans(),
    pulse_beep=st.booleans(),
    pleth=st.one_of(st.none(), st.integers(0, 127)),
    bargraph=st.one_of(st.none(), st.integers(0, 15)),
    no_finger=st.booleans(),
    pulse_searching=st.booleans(),
    pulse_rate=st.one_of(st.none(), st.integers(0, 255)),
    spo2=st.one_of(st.none(), st.integers(0, 127)),
)


@given(BCI_FRAMES)
def test_bci_sync_bit_only_in_the_first_byte(bci: BciFrame) -> None:
    frame = encode_bci_frame(bci)
    assert len(frame) == 5
    assert frame[0] & 0x80
    assert not any(b & 0x80 for b in frame[1:])
    pulse = (frame[2] & 0x40) << 1 | frame[3]
    assert pulse == (255 if bci.pulse_rate is None else bci.pulse_rate)


def test_bci_frames_follow_the_scenario() -> None:
    samples = scenario("stable", seed=3).take(3)
    frames = [bci_frame_for(s, p) for s in samples for p in range(100)]
    assert {f.spo2 for f in frames} <= {96, 97, 98}
    assert all(1 <= (f.pleth or 0) <= 100 and 1 <= (f.bargraph or 0) <= 15 for f in frames)
    beats = sum(f.pulse_beep for f in frames)
    assert 2 <= beats <= 6  # ~72 bpm over 3 s at 100 frames/s
    assert bci_frame_for(PROBE_OFF, 7) == BCI_FINGER_OUT
    assert encode_bci_frame(BCI_FINGER_OUT).hex() == VECTORS["berrymed-bci-08"]["hex"]


def test_bci_version_answer() -> None:
    assert encode_bci_version("V1.0", packets=1) == [bytes.fromhex("FF56312E30")]  # §2.2 example
    assert encode_bci_version("V1.04.00.36") == [b"\xffV1.0", b"\xff4.00", b"\xff.36\x00"]
    assert encode_bci_version("V2.0", head=0xFE, packets=1) == [b"\xfeV2.0"]


def test_berry_packet_checksum_and_probe_off() -> None:
    sample = Sample(97.0, 72.0, 5.0)
    packet = encode_berry_packet(berry_packet_for(sample, 300, rate_hz=100, battery_percent=80))
    assert packet[:2] == b"\xff\xaa"
    assert len(packet) == 20
    assert sum(packet[:19]) & 0xFF == packet[19]
    assert (packet[2], packet[4], packet[6], packet[10], packet[17], packet[18]) == (
        300 & 0xFF,
        97,
        72,
        50,
        80,
        100,
    )
    off = encode_berry_packet(berry_packet_for(PROBE_OFF, 2, rate_hz=100, battery_percent=80))
    assert off.hex() == VECTORS["berrymed-berry-04"]["hex"]


def test_nonin_status_reflects_link_and_finger() -> None:
    frame = nonin_frame_for(Sample(98.0, 72.0, 3.0), 42, battery_v=2.9, encrypted=True)
    assert encode_nonin_frame(frame).hex() == VECTORS["nonin-01"]["hex"]
    plain = nonin_frame_for(Sample(98.0, 72.0, 3.0), 42, battery_v=2.9, encrypted=False)
    assert not plain.status & NoninStatus.ENCRYPTED
    off = nonin_frame_for(PROBE_OFF, 1, battery_v=2.9, encrypted=True)
    assert (off.spo2, off.pulse_rate, off.status & NoninStatus.SENSOR_ATTACHED) == (None, None, 0)
    assert encode_nonin_frame(off)[7:] == bytes.fromhex("7f01ff")


def test_o2ring_request_parser_reassembles_and_resyncs() -> None:
    request = bytes.fromhex(VECTORS["viatom-01"]["hex"])
    assert parse_o2ring_request(request[:5]) == (None, 0)  # wait for more
    parsed, used = parse_o2ring_request(request)
    assert parsed is not None
    assert (parsed.cmd, used) == (0x17, 8)
    assert parse_o2ring_request(b"\x00\x01" + request) == (None, 2)  # junk before the head
    bad = request[:-1] + bytes([request[-1] ^ 1])
    assert parse_o2ring_request(bad) == (None, 8)  # bad CRC: the whole frame is dropped
    assert parse_o2ring_request(b"\xaa\x17\x17\x00\x00\x00\x00\x00") == (None, 1)  # bad complement
    with_data = encode_o2ring_request(0x16, data=b'{"SetTIME":"x"}')
    parsed, used = parse_o2ring_request(with_data + request)
    assert parsed is not None
    assert parsed.data == b'{"SetTIME":"x"}'
    assert used == len(with_data)


def test_o2ring_payload_for_samples() -> None:
    assert encode_o2ring_sensors(o2ring_sensors_for(PROBE_OFF, battery_percent=96))[:3] == b"\xff\xff\xff"
    calibrating = o2ring_sensors_for(None, battery_percent=96)
    assert (calibrating.spo2, calibrating.pulse_rate, calibrating.finger_present) == (0, 0, True)
    assert (
        encode_o2ring_sensors(o2ring_sensors_for(Sample(95.0, 80.0, 4.0), battery_percent=50))[:2]
        == b"\x5f\x50"
    )


def test_crcs() -> None:
    assert crc8_viatom(bytes.fromhex("aa17e800000000")) == 0x1B  # viatom-01
    assert crc8_maxim(bytes.fromhex("aa550f080161400051 00c0".replace(" ", ""))) == 0x5B  # pc60fw-01


def test_jumper_frames() -> None:
    assert jumper_values_for(Sample(98.0, 72.0, 2.5)).hex() == VECTORS["jumper-01"]["hex"]
    assert jumper_values_for(PROBE_OFF).hex() == VECTORS["jumper-02"]["hex"]


def test_stream_timing_is_exact() -> None:
    assert [len(frames_in_tick(t, 100, 0.03)) for t in range(5)] == [3] * 5
    assert [len(frames_in_tick(t, 1, 0.25)) for t in range(8)] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert frames_in_tick(10, 100, 1.0) == range(1000, 1100)
    assert pleth_wave(5, None, 100) == (0, False)
    values = [pleth_wave(p, 60.0, 100)[0] for p in range(100)]
    assert min(values) >= 1
    assert max(values) == 100
