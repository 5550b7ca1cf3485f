"""Reading → wire contract v1: golden payloads, JSON Schema, topics, reading_id, status messages."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource

from gateway.model import DeviceStatus, Reading, format_utc, parse_utc
from gateway.payload import (
    encode_reading,
    encode_status,
    partition,
    reading_from_plx,
    reading_topic,
    status_topic,
    to_payload,
    validate_gateway_id,
)
from gateway.protocols import (
    CONTINUOUS_UUID,
    FEATURES_UUID,
    SPOT_CHECK_UUID,
    FrameError,
    UnknownProtocolError,
)
from tests.conftest import ROOT, load_ble_vectors, load_golden

CONTRACT = ROOT / "docs" / "contract"
VECTORS = {v["id"]: v for v in load_ble_vectors("plx-")}
ACCEPT = [(name, g) for name, g in load_golden("accept-") if "decoded_from" in g]
GW = "gw-0001"
ADDRESS = "C0:FF:EE:00:00:01"
MODEL = "Oxiward Emulated PLX"
T0 = datetime(2026, 11, 30, 9, 0, 0, 250000, tzinfo=UTC)


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(Path(CONTRACT / name).read_text())
    return schema


READING_SCHEMA = _schema("reading.v1.schema.json")
STATUS_SCHEMA = _schema("status.v1.schema.json")
REGISTRY: Registry[Any] = Registry().with_resource(
    READING_SCHEMA["$id"], Resource.from_contents(READING_SCHEMA)
)
READING_VALIDATOR = Draft202012Validator(READING_SCHEMA, registry=REGISTRY)
STATUS_VALIDATOR = Draft202012Validator(STATUS_SCHEMA, registry=REGISTRY)


def _from_vector(vector_id: str, received_at: datetime = T0, **overrides: Any) -> Reading:
    vector = VECTORS[vector_id]
    kwargs: dict[str, Any] = {
        "characteristic_uuid": vector["characteristic"],
        "received_at": received_at,
        "gateway_id": GW,
        "device_address": ADDRESS,
        "model": MODEL,
    }
    kwargs.update(overrides)
    return reading_from_plx(bytes.fromhex(vector["hex"]), **kwargs)


def test_golden_set_is_not_empty() -> None:
    assert len(ACCEPT) >= 4
    assert {g["payload"]["mode"] for _, g in ACCEPT} == {"spot-check", "continuous"}


@pytest.mark.parametrize(("name", "golden"), ACCEPT, ids=[n for n, _ in ACCEPT])
def test_reading_payload_matches_golden(name: str, golden: dict[str, Any]) -> None:
    source = golden["decoded_from"]
    vector = VECTORS[source["vector"]]
    reading = reading_from_plx(
        bytes.fromhex(vector["hex"]),
        characteristic_uuid=vector["characteristic"],
        received_at=parse_utc(source["received_at"]),
        gateway_id=source["gateway_id"],
        device_address=source["device_address"],
        model=source["model"],
    )
    payload = to_payload(reading)
    assert payload == golden["payload"]
    READING_VALIDATOR.validate(payload)
    encoded = encode_reading(reading)
    assert json.loads(encoded.decode("utf-8")) == golden["payload"]
    assert b" " not in encoded.replace(MODEL.encode(), b"")  # compact separators


def test_golden_rejects_fail_the_schema_validator_we_use() -> None:
    # Guards the validator wiring: a schema that accepted anything would make the test above vacuous.
    schema_rejects = [g for _, g in load_golden("reject-") if g.get("reason") == "schema"]
    assert schema_rejects
    for golden in schema_rejects:
        assert not READING_VALIDATOR.is_valid(golden["payload"]), golden["description"]


def test_status_online_golden() -> None:
    [(_, golden)] = load_golden("status-online")
    encoded = encode_status(
        GW,
        "online",
        at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        outbox_depth=0,
        devices=[DeviceStatus(address=ADDRESS, state="connected", protocol="plx-continuous", model=MODEL)],
    )
    payload = json.loads(encoded)
    assert payload == golden["payload"]
    STATUS_VALIDATOR.validate(payload)


def test_status_devices_may_be_plain_mappings() -> None:
    [(_, golden)] = load_golden("status-online")
    device = {"address": ADDRESS, "state": "connected", "protocol": "plx-continuous", "model": MODEL}
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert (
        json.loads(encode_status(GW, "online", at=at, outbox_depth=0, devices=[device])) == golden["payload"]
    )


def test_status_last_will_golden() -> None:
    [(_, golden)] = load_golden("status-last-will")
    payload = json.loads(encode_status(GW, "offline", reason="connection-lost"))
    assert payload == golden["payload"]
    STATUS_VALIDATOR.validate(payload)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"state": "sleeping"}, "online"),
        ({"state": "online", "outbox_depth": -1}, "negative"),
        ({"state": "online", "reason": "x" * 201}, "200"),
        ({"state": "online", "devices": [{"address": ADDRESS, "state": "lost"}]}, "connected"),
        ({"state": "online", "at": datetime(2026, 11, 30, 9, 0)}, "timezone-aware"),
    ],
)
def test_status_rejects_values_outside_the_contract(kwargs: dict[str, Any], match: str) -> None:
    state = kwargs.pop("state")
    with pytest.raises(ValueError, match=match):
        encode_status(GW, state, **kwargs)


# --- topics and gateway ids ------------------------------------------------------------------------


def test_topics() -> None:
    assert partition(GW) == zlib.crc32(GW.encode()) % 16
    assert reading_topic(GW) == f"oxiward/v1/readings/{partition(GW):02d}/{GW}"
    assert status_topic(GW) == "oxiward/v1/status/gw-0001"


@given(gateway_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"))
def test_partition_is_two_digits_00_to_15(gateway_id: str) -> None:
    topic = reading_topic(gateway_id)
    segments = topic.split("/")
    assert segments[:3] == ["oxiward", "v1", "readings"]
    assert segments[4] == gateway_id
    assert len(segments[3]) == 2
    assert 0 <= int(segments[3]) <= 15


@pytest.mark.parametrize("bad", ["", "gw/1", "gw+", "gw#", "gw 1", "gé", "x" * 65, "gw\n"])
def test_invalid_gateway_ids_are_refused_with_advice(bad: str) -> None:
    for call in (validate_gateway_id, partition, reading_topic, status_topic):
        with pytest.raises(ValueError, match=r"A-Z a-z 0-9 _ -"):
            call(bad)
    with pytest.raises(ValueError, match="gateway id"):
        _from_vector("plx-cont-01", gateway_id=bad)


# --- reading_from_plx policy -------------------------------------------------------------------------


def test_reading_id_follows_the_contract_formula() -> None:
    reading = _from_vector("plx-cont-04")
    material = "\x1f".join(
        (ADDRESS, "plx-continuous", "2026-11-30T09:00:00.250Z", VECTORS["plx-cont-04"]["hex"])
    )
    assert reading.reading_id == hashlib.sha256(material.encode()).hexdigest()[:32]


def test_same_measurement_reencoded_has_the_same_id() -> None:
    first, again = _from_vector("plx-cont-04"), _from_vector("plx-cont-04")
    assert first.reading_id == again.reading_id
    assert encode_reading(first) == encode_reading(again)
    # Same instant in another zone, and sub-millisecond jitter, are the same measured_at on the wire.
    shifted = T0.astimezone(timezone(timedelta(hours=5))) + timedelta(microseconds=500)
    assert _from_vector("plx-cont-04", received_at=shifted).reading_id == first.reading_id


def test_spot_check_replayed_later_keeps_its_id() -> None:
    # Its measured_at comes from the device clock, so an RACP replay an hour later dedupes.
    first = _from_vector("plx-spot-01", received_at=T0)
    later = _from_vector("plx-spot-01", received_at=T0 + timedelta(hours=1))
    assert first.reading_id == later.reading_id
    assert first.received_at != later.received_at


def test_different_frame_time_or_device_gives_a_different_id() -> None:
    base = _from_vector("plx-cont-04")
    assert _from_vector("plx-cont-01").reading_id != base.reading_id
    assert (
        _from_vector("plx-cont-04", received_at=T0 + timedelta(milliseconds=1)).reading_id != base.reading_id
    )
    assert _from_vector("plx-cont-04", device_address="C0:FF:EE:00:00:02").reading_id != base.reading_id
    assert replace(base, protocol="other").reading_id != base.reading_id


def test_continuous_measured_at_is_received_at() -> None:
    reading = _from_vector("plx-cont-04")
    assert reading.measured_at == reading.received_at == T0
    assert (reading.mode, reading.spo2, reading.pulse, reading.perfusion_index) == (
        "continuous",
        99.0,
        97.0,
        8.9,
    )


def test_spot_check_uses_the_device_clock_as_utc() -> None:
    reading = _from_vector("plx-spot-01")
    assert reading.measured_at == datetime(2024, 11, 29, 23, 8, 57, tzinfo=UTC)
    assert reading.received_at == T0
    assert (reading.mode, reading.perfusion_index) == ("spot-check", 8.7)


@pytest.mark.parametrize(
    ("hex_frame", "clock_not_set"),
    [
        ("11 6200 4800 e8070b1d170839", True),  # timestamp present but the clock is not set
        ("01 6200 4800 00000000000000", False),  # timestamp present but unknown
        ("00 6200 4800", False),  # no timestamp
    ],
)
def test_spot_check_without_a_trustworthy_clock_uses_received_at(hex_frame: str, clock_not_set: bool) -> None:
    reading = reading_from_plx(
        bytes.fromhex(hex_frame),
        characteristic_uuid=SPOT_CHECK_UUID,
        received_at=T0,
        gateway_id=GW,
        device_address=ADDRESS,
        model=None,
    )
    assert reading.measured_at == T0
    assert reading.device_clock_not_set is clock_not_set
    assert to_payload(reading)["status"]["device_clock_not_set"] is clock_not_set
    READING_VALIDATOR.validate(to_payload(reading))


def test_specials_become_null_never_nan() -> None:
    reading = _from_vector("plx-cont-08")  # SpO2 NRes, pulse 72
    assert (reading.spo2, reading.pulse) == (None, 72.0)
    payload = json.loads(encode_reading(reading))
    assert payload["spo2"] is None
    assert b"NaN" not in encode_reading(_from_vector("plx-cont-07"))


def test_pai_special_becomes_null_perfusion_index() -> None:
    frame = bytes.fromhex("10 6100 4800 ff07")  # PAI present but NaN
    reading = reading_from_plx(
        frame,
        characteristic_uuid=CONTINUOUS_UUID,
        received_at=T0,
        gateway_id=GW,
        device_address=ADDRESS,
        model=None,
    )
    assert (reading.perfusion_index, reading.spo2) == (None, 97.0)


@pytest.mark.parametrize("uuid", ["2a5f", "2A5F", CONTINUOUS_UUID.upper()])
def test_characteristic_uuid_forms(uuid: str) -> None:
    assert _from_vector("plx-cont-01", characteristic_uuid=uuid).protocol == "plx-continuous"


def test_non_measurement_characteristic_is_refused() -> None:
    with pytest.raises(UnknownProtocolError, match="2a5e or 2a5f"):
        _from_vector("plx-feat-01", characteristic_uuid=FEATURES_UUID)


def test_malformed_frame_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        reading_from_plx(
            bytes.fromhex("0064005a"),
            characteristic_uuid=CONTINUOUS_UUID,
            received_at=T0,
            gateway_id=GW,
            device_address=ADDRESS,
            model=None,
        )


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _from_vector("plx-cont-01", received_at=datetime(2026, 11, 30, 9, 0))


def test_timestamps_always_have_milliseconds_and_z() -> None:
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == "2026-01-02T03:04:05.999Z"
    plus_one = timezone(timedelta(hours=1))
    assert format_utc(datetime(2026, 1, 2, 0, 30, tzinfo=plus_one)) == "2026-01-01T23:30:00.000Z"
    assert parse_utc("2026-11-30T09:00:00.250Z") == T0
