"""Every ble-vectors.json vector through decode(), plus hand-built vendor frames the vectors leave out.

Vendor protocols must return exactly the fields of the vector's `expected` object (no more, no fewer);
PLX-family results may add the `*_sfloat` parts and the clock flag, as test_plx_vectors.py allows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from gateway.protocols import (
    PROTOCOLS,
    FrameError,
    ProtocolError,
    berrymed,
    decode,
    jumper,
    nonin,
    racp,
    unconfirmed,
    wellue,
    wellue_o2ring,
)
from gateway.protocols.crc import crc8_poly07
from tests.conftest import BLE_VECTORS, load_ble_vectors

VECTORS = load_ble_vectors()
PLX_FAMILY = {"plx-spot-check", "plx-continuous", "plx-features", "ieee11073-sfloat", "ble-date-time"}
VENDOR_PROTOCOLS = {
    "berrymed-bci",
    "berrymed-berry",
    "nonin-continuous",
    "pc60fw",
    "viatom-o2ring-request",
    "viatom-o2ring-response",
    "jumper-cdeacb",
    "racp-request",
    "racp-response",
    "jks50f",
    "contec-cms50d-bt",
}


def _matches(actual: Any, expected: Any, path: str, *, exact_keys: bool) -> None:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        assert type(actual) is type(expected), f"{path}: type {type(actual)} != {type(expected)}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float), f"{path}: {actual!r}"
        assert not isinstance(actual, bool), f"{path}: {actual!r}"
        assert math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9), f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        if exact_keys:
            assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing {key!r}"
            _matches(actual[key], value, f"{path}.{key}", exact_keys=exact_keys)
    else:
        assert isinstance(expected, list), f"{path}: {expected!r}"
        assert isinstance(actual, list), f"{path}: {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _matches(a, e, f"{path}[{i}]", exact_keys=exact_keys)


def test_every_vector_in_the_file_is_tested_and_every_protocol_has_a_decoder() -> None:
    in_file = [v["id"] for v in json.loads(BLE_VECTORS.read_text())]
    assert len(in_file) == len(set(in_file))
    assert {v["id"] for v in VECTORS} == set(in_file)
    protocols = {v["protocol"] for v in VECTORS}
    assert protocols <= set(PROTOCOLS), protocols - set(PROTOCOLS)
    assert protocols >= VENDOR_PROTOCOLS  # the vendor decoders are exercised by real vectors
    assert protocols == PLX_FAMILY | VENDOR_PROTOCOLS


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["hex"])
    expected = vector["expected"]
    if expected.get("frames") == []:
        with pytest.raises(FrameError) as info:
            decode(vector["protocol"], frame)
        assert info.value.protocol == vector["protocol"]
        assert info.value.frame_hex == vector["hex"]
        return
    actual = decode(vector["protocol"], frame)
    if vector["protocol"] in PLX_FAMILY:
        _matches(actual, expected, vector["id"], exact_keys=False)
        extras = {k for k in set(actual) - set(expected) if not k.endswith("_sfloat")}
        assert extras <= {"device_clock_not_set"}, extras
    else:
        _matches(actual, expected, vector["id"], exact_keys=True)
    json.dumps(actual, allow_nan=False)


MALFORMED = [
    ("berrymed-bci", "", "empty"),
    ("berrymed-bci", "87320548", "4 bytes"),
    ("berrymed-bci", "ff56312e30", "software version reply is not a measurement"),
    ("berrymed-bci", "fe56322e30", "hardware version reply is not a measurement"),
    ("berrymed-bci", "8a32054862", "signal strength 10 is reserved"),
    ("berrymed-bci", "8765054862", "pleth 101"),
    ("berrymed-bci", "8732054865", "SpO2 101 is reserved"),
    ("berrymed-bci", "87324d7d62", "pulse rate 253 is reserved"),
    ("berrymed-bci", "0102030405060708", "no sync byte anywhere"),
    ("berrymed-berry", "ffaa02067f7fffff000000000000000000506460", "checksum off by one"),
    ("berrymed-berry", "feaa02067f7fffff000000000000000000506460", "head FE AA"),
    ("berrymed-berry", "ffaa02167f7fffff000000000000000000506471", "status bit 4 reserved"),
    ("berrymed-berry", "ffaa02006565ffff000000000000000000506427", "SpO2 101"),
    ("berrymed-berry", "ffaa02067f7fffff0000000000000000005064", "19 bytes"),
    ("nonin-continuous", "0a541d012c002a6200", "9 bytes"),
    ("nonin-continuous", "09541d012c002a620048", "length byte 9"),
    ("nonin-continuous", "0a541d012c002a650048", "SpO2 101"),
    ("nonin-continuous", "0a541d012c002a620200", "pulse 512"),
    ("pc60fw", "aa550f08016140005100c05c", "CRC off by one"),
    ("pc60fw", "ab550f08016140005100c05b", "broken sync"),
    ("pc60fw", "aa550f08016140005100c0", "cut short"),
    ("pc60fw", "aa550f0801654000510080c1", "SpO2 101 (valid CRC)"),
    ("pc60fw", "aa55f003030475", "battery level 4 (valid CRC)"),
    ("pc60fw", "aa550f03770072", "unknown function 0x77 (valid CRC)"),
    ("pc60fw", "aa553303030347", "reserved token 0x33 (valid CRC)"),
    ("viatom-o2ring-request", "aa17e8000000001c", "CRC off by one"),
    ("viatom-o2ring-request", "aa17e7000000002b", "complement wrong"),
    ("viatom-o2ring-request", "aa9966000000008b", "unknown command 0x99"),
    ("viatom-o2ring-request", "aa17e80000010000", "length 1 but no data"),
    ("viatom-o2ring-response", "5500ff00000d00624200000000006100920a01002e", "CRC off by one"),
    ("viatom-o2ring-response", "5500fe00000d00624200000000006100920a010005", "status complement wrong"),
    ("viatom-o2ring-response", "5500ff00000d00654200000000006100920a0100ca", "SpO2 101"),
    ("viatom-o2ring-response", "5500ff00", "4 bytes"),
    ("jumper-cdeacb", "", "empty"),
    ("jumper-cdeacb", "814862", "3 bytes"),
    ("jumper-cdeacb", "2d2d2d2d", "idle frame type 0x2d"),
    ("jumper-cdeacb", "81486519", "SpO2 101"),
    ("racp-request", "0102", "operator 2 not allowed in PLXS"),
    ("racp-request", "010100", "operand"),
    ("racp-request", "0600", "a response op code as request"),
    ("racp-response", "06000101ff", "5 bytes"),
    ("racp-response", "0601010a", "operator 1 in a response"),
    ("racp-response", "0600010a", "reserved response code 0x0a"),
    ("racp-response", "07000101", "op code 7"),
    ("racp-response", "0500010203", "3-byte record count"),
    ("jks50f", "ff4401", "3 bytes"),
    ("contec-cms50d-bt", "eb00010203ff", "EB 00 pleth frame not decoded"),
    ("contec-cms50d-bt", "eb010453657f0025", "SpO2 101"),
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
    assert err.reason
    assert protocol in str(err)
    if "no sync byte anywhere" not in why:
        assert err.frame_hex == hex_frame


def test_jks50f_with_a_bad_checksum_and_invalid_markers() -> None:
    good = bytearray(69)
    good[:8] = bytes([0xFF, 0x44, 0x01, 0x01, 127, 127, 0x7F, 0x7F])
    good[68] = (sum(good[:68]) + 1) & 0xFF
    frame = unconfirmed.decode_jks50f(bytes(good))
    assert (frame.finger_present, frame.spo2, frame.pulse_rate, frame.pi) == (False, None, None, None)
    good[68] ^= 1
    with pytest.raises(FrameError, match="checksum"):
        unconfirmed.decode_jks50f(bytes(good))


def test_pc60fw_unconfirmed_status_frame_and_searching_vitals() -> None:
    assert decode("pc60fw", bytes.fromhex("aa550f06210200000045")) == {
        "token": 15, "length": 6, "func": 33, "mode": 2, "step": 0, "spo2": None, "pulse_rate": None,
        "crc_ok": True,
    }  # fmt: skip
    # While searching the PC-60FW sends 0 for SpO2 / PR / PI (§2.6): no values, flagged searching.
    vitals = wellue.decode_frame(bytes.fromhex("aa550f08010000000000c096"))
    assert isinstance(vitals, wellue.Pc60Vitals)
    assert (vitals.spo2, vitals.pulse_rate, vitals.pi) == (None, None, None)
    fields = wellue.to_reading_fields(vitals)
    assert fields is not None
    assert fields.searching
    assert not fields.has_value


def test_o2ring_request_builder_matches_the_public_vector() -> None:
    request = wellue_o2ring.read_sensors_request()
    assert request.hex() == "aa17e8000000001b"
    assert wellue_o2ring.decode_request(request).meaning == "CMD_READ_SENSORS"
    long_request = wellue_o2ring.build_request(0x16, data=b'{"SetTIME":"2024-11-29,23:08:57"}')
    parts = wellue_o2ring.chunks(long_request)
    assert all(len(p) <= 20 for p in parts)
    assert b"".join(parts) == long_request
    assert wellue_o2ring.decode_request(long_request).data.startswith(b'{"SetTIME"')
    with pytest.raises(ValueError, match="unknown O2Ring command"):
        wellue_o2ring.build_request(0x99)


def test_o2ring_error_status_and_non_sensor_response() -> None:
    body = bytes.fromhex("5501fe00000000")
    frame = body + bytes([crc8_poly07(body)])
    assert decode("viatom-o2ring-response", frame) == {"status": 1, "payload_len": 0, "payload_hex": ""}
    with pytest.raises(FrameError, match="status 1"):
        wellue_o2ring.decode_sensors(wellue_o2ring.decode_response(frame))


def test_racp_requests_are_encoded_as_plxs_expects() -> None:
    assert racp.report_stored_records() == bytes.fromhex("0101")
    assert racp.report_number_of_records() == bytes.fromhex("0401")
    assert racp.delete_stored_records() == bytes.fromhex("0201")
    assert racp.abort() == bytes.fromhex("0300")
    for request in (racp.report_stored_records(), racp.abort()):
        assert racp.decode_request(request).op_code == request[0]


@pytest.mark.parametrize(("hex_frame", "count"), [("050005", 5), ("05000201", 258), ("050001000000", 1)])
def test_racp_number_of_records(hex_frame: str, count: int) -> None:
    response = racp.decode_response(bytes.fromhex(hex_frame))
    assert response == racp.RacpRecordCount(count=count)
    assert decode("racp-response", bytes.fromhex(hex_frame))["number_of_records"] == count


def test_racp_download_end_codes() -> None:
    done = racp.decode_response(bytes.fromhex("06000101"))
    empty = racp.decode_response(bytes.fromhex("06000106"))
    assert isinstance(done, racp.RacpResponseCode)
    assert done.succeeded
    assert not done.no_records
    assert isinstance(empty, racp.RacpResponseCode)
    assert empty.no_records
    assert not empty.succeeded


def test_jumper_waveform_frame_is_kept_raw_and_gives_no_reading() -> None:
    frame = jumper.decode_frame(bytes.fromhex("80102030"))
    assert isinstance(frame, jumper.JumperWaveform)
    assert jumper.to_reading_fields(frame) is None
    assert decode("jumper-cdeacb", bytes.fromhex("80102030")) == {"frame_type": 128, "payload_hex": "102030"}
    assert jumper.EXPERIMENTAL
    assert not jumper.CONFIRMED


def test_reading_fields_per_protocol() -> None:
    bci = berrymed.to_reading_fields(berrymed.decode_bci_frame(bytes.fromhex("b000507f7f")))
    assert bci is not None
    assert bci.probe_off
    assert bci.spo2 is None
    assert bci.device_sensor_status == (1 << 15) | (1 << 11) | (
        1 << 3
    )  # disconnected, unconnected, no signal
    berry = berrymed.decode_berry_packet(bytes.fromhex("ffaa02067f7fffff000000000000000000506461"))
    fields = berrymed.to_reading_fields(berry)
    assert fields is not None
    assert fields.probe_off
    assert fields.device_sensor_status == (1 << 11) | (1 << 3)
    assert berrymed.to_reading_fields(berrymed.decode_bci_packet(bytes.fromhex("ff56312e30"))) is None
    n = nonin.to_reading_fields(nonin.decode_continuous(bytes.fromhex("0a541d012c002a620048")))
    assert (n.spo2, n.pulse, n.perfusion_index, n.probe_off, n.device_sensor_status) == (
        98.0,
        72.0,
        3.0,
        False,
        0,
    )
    searching = nonin.to_reading_fields(nonin.decode_continuous(bytes.fromhex("0a581d0000002b7f01ff")))
    assert searching.searching
    assert searching.spo2 is None
    assert searching.perfusion_index is None
    pc = wellue.to_reading_fields(wellue.decode_frame(bytes.fromhex("aa550f08016140005100c05b")))
    assert pc is not None
    assert (pc.spo2, pc.pulse, pc.perfusion_index) == (97.0, 64.0, 8.1)
    assert pc.device_sensor_status is None  # the PC-60FW carries no status bits we trust
    response = wellue_o2ring.decode_response(bytes.fromhex("5500ff00000d00ffffff0000000060000500000043"))
    o2 = wellue_o2ring.to_reading_fields(wellue_o2ring.decode_sensors(response))
    assert o2.probe_off
    assert o2.spo2 is None
    assert o2.perfusion_index is None
    j = jumper.to_reading_fields(jumper.decode_frame(bytes.fromhex("81486219")))
    assert j is not None
    assert (j.spo2, j.pulse, j.perfusion_index) == (98.0, 72.0, 2.5)
    c = unconfirmed.contec_reading_fields(unconfirmed.decode_contec(bytes.fromhex("eb010453637f0025")))
    assert (c.spo2, c.pulse, c.probe_off) == (99.0, 83.0, False)
