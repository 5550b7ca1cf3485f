"""Wire contract v1 at the service edge (every golden file), and the reading codec."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from api.contract import (
    GatewayStatus,
    Rejection,
    RejectReason,
    ValidReading,
    format_utc_ms,
    parse_utc_ms,
    partition_of,
    readings_topic,
    validate_reading,
    validate_status,
)
from api.reading_codec import from_fields, latest_json, latest_to_api, to_api, to_fields
from tests.api.factories import TOPIC, encode, golden_payload, payload
from tests.conftest import ROOT, load_golden

READING_SCHEMA = json.loads((ROOT / "docs/contract/reading.v1.schema.json").read_text())


def raw_of(g: dict[str, Any]) -> bytes:
    return g["raw"].encode("utf-8") if "raw" in g else json.dumps(g["payload"]).encode("utf-8")


def topic_of(g: dict[str, Any]) -> str:
    p = g.get("payload")
    gw = p["source"]["gateway_id"] if isinstance(p, dict) and "source" in p else "gw-0001"
    return readings_topic(gw)


ACCEPT = [(n, g) for n, g in load_golden("accept-")]
REJECT = [(n, g) for n, g in load_golden("reject-")]


def test_golden_files_are_present() -> None:
    assert len(ACCEPT) >= 4
    assert len(REJECT) >= 9


@pytest.mark.parametrize(("name", "g"), ACCEPT, ids=[n for n, _ in ACCEPT])
def test_golden_accept(name: str, g: dict[str, Any]) -> None:
    r = validate_reading(topic_of(g), raw_of(g))
    assert isinstance(r, ValidReading), r
    p = g["payload"]
    assert r.reading_id == p["reading_id"]
    assert format_utc_ms(r.measured_ms) == p["measured_at"]
    assert format_utc_ms(r.received_ms) == p["received_at"]
    assert r.mode == p["mode"]
    assert (r.spo2, r.pulse, r.perfusion_index) == (p["spo2"], p["pulse"], p["perfusion_index"])
    assert r.measurement_status == p["status"]["measurement"]
    assert r.device_sensor_status == p["status"]["device_sensor"]
    assert r.device_clock_not_set == p["status"]["device_clock_not_set"]
    src = p["source"]
    assert (r.gateway_id, r.device_address, r.protocol, r.model) == (
        src["gateway_id"],
        src["device_address"],
        src["protocol"],
        src["model"],
    )
    assert r.frame == p["frame"]


@pytest.mark.parametrize(("name", "g"), REJECT, ids=[n for n, _ in REJECT])
def test_golden_reject(name: str, g: dict[str, Any]) -> None:
    r = validate_reading(topic_of(g), raw_of(g))
    if g["reason"] == "unknown-device":
        # Valid on the wire; the store dead-letters it once the device lookup fails (test_store).
        assert isinstance(r, ValidReading)
        return
    assert isinstance(r, Rejection), r
    assert r.reason == g["reason"]
    assert r.detail


@pytest.mark.parametrize(("name", "g"), ACCEPT + REJECT, ids=[n for n, _ in ACCEPT + REJECT])
def test_verdicts_agree_with_the_json_schema(name: str, g: dict[str, Any]) -> None:
    """Our hand-made checks and the published schema say the same about every golden payload."""
    if "raw" in g:
        return
    schema_ok = jsonschema.Draft202012Validator(READING_SCHEMA).is_valid(g["payload"])
    ours = validate_reading(topic_of(g), raw_of(g))
    assert schema_ok == isinstance(ours, ValidReading)


def reject(p: Any, topic: str = TOPIC) -> RejectReason:
    raw = p if isinstance(p, bytes) else json.dumps(p).encode()
    r = validate_reading(topic, raw)
    assert isinstance(r, Rejection), r
    return r.reason


def test_unknown_fields_are_ignored_at_every_level() -> None:
    p = payload()
    p["new_optional"] = {"x": [1, 2]}
    p["status"]["future_bit"] = True
    p["source"]["firmware"] = "1.2"
    assert isinstance(validate_reading(TOPIC, encode(p)), ValidReading)


def test_optional_frame_may_be_absent() -> None:
    p = payload()
    del p["frame"]
    r = validate_reading(TOPIC, encode(p))
    assert isinstance(r, ValidReading)
    assert r.frame is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff\xfe{}", b"[1,2]", b'"text"', b"42", b"null", b"{", b'{"v":1} trailing', b'{"v": NaN}'],
)
def test_malformed(raw: bytes) -> None:
    assert reject(raw) is RejectReason.MALFORMED


def test_invalid_utf8_inside_an_unknown_field_is_malformed() -> None:
    raw = encode(payload())[:-1] + b', "x": "\xc3\x28"}'
    assert reject(raw) is RejectReason.MALFORMED


@pytest.mark.parametrize("v", [2, 0, "1", None, True, 1.5])
def test_unsupported_version(v: Any) -> None:
    p = payload()
    p["v"] = v
    assert reject(p) is RejectReason.UNSUPPORTED_VERSION


def test_missing_version_is_unsupported_version() -> None:
    p = payload()
    del p["v"]
    assert reject(p) is RejectReason.UNSUPPORTED_VERSION


def test_wrong_version_wins_over_a_wrong_shape() -> None:
    assert reject({"v": 2, "something": "else"}) is RejectReason.UNSUPPORTED_VERSION


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spo2",), True),
        (("spo2",), "97"),
        (("pulse",), [70]),
        (("mode",), "Continuous"),
        (("measured_at",), "2026-11-30T09:00:00.000+00:00"),
        (("measured_at",), "2026-02-30T09:00:00.000Z"),  # the right shape, no such day
        (("received_at",), 1764493200),
        (("status", "measurement"), 1.5),
        (("status", "measurement"), 65536),
        (("status", "device_sensor"), -1),
        (("status", "device_clock_not_set"), "no"),
        (("source", "gateway_id"), "gw/1"),
        (("source", "device_address"), ""),
        (("source", "model"), 7),
        (("frame",), "ABC"),
        (("status",), None),
    ],
)
def test_schema(path: tuple[str, ...], value: Any) -> None:
    p = payload()
    target = p
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert reject(p) is RejectReason.SCHEMA


@pytest.mark.parametrize(
    "missing", ["received_at", "mode", "spo2", "pulse", "perfusion_index", "status", "source"]
)
def test_every_required_field_is_required(missing: str) -> None:
    p = payload()
    del p[missing]
    assert reject(p) is RejectReason.SCHEMA


def test_integral_float_status_bits_are_integers() -> None:
    p = payload(measurement=None)
    p["status"]["measurement"] = 288.0
    r = validate_reading(TOPIC, encode(p))
    assert isinstance(r, ValidReading)
    assert r.measurement_status == 288


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spo2", 100.01),
        ("spo2", -0.5),
        ("pulse", 350.5),
        ("pulse", -1),
        ("perfusion_index", 100.5),
        ("perfusion_index", -0.01),
    ],
)
def test_out_of_range(field: str, value: float) -> None:
    p = payload()
    p[field] = value
    assert reject(p) is RejectReason.OUT_OF_RANGE


def test_a_number_too_big_for_a_float_is_out_of_range() -> None:
    raw = encode(payload(spo2=97.0)).replace(b'"spo2": 97.0', b'"spo2": 1e999')
    assert b"1e999" in raw
    assert reject(raw) is RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spo2", 0),
        ("spo2", 100),
        ("pulse", 0),
        ("pulse", 350),
        ("perfusion_index", 0),
        ("perfusion_index", 100),
    ],
)
def test_range_edges_are_accepted(field: str, value: float) -> None:
    p = payload()
    p[field] = value
    assert isinstance(validate_reading(TOPIC, encode(p)), ValidReading)


def test_topic_mismatch() -> None:
    p = payload(gateway="gw-0002")
    assert reject(p, TOPIC) is RejectReason.TOPIC_MISMATCH  # payload says gw-0002, topic gw-0001
    wrong_partition = f"oxiward/v1/readings/{(partition_of('gw-0001') + 1) % 16:02d}/gw-0001"
    assert reject(payload(), wrong_partition) is RejectReason.TOPIC_MISMATCH
    assert reject(payload(), "oxiward/v1/readings/gw-0001") is RejectReason.TOPIC_MISMATCH
    assert reject(payload(), "oxiward/v2/readings/01/gw-0001") is RejectReason.TOPIC_MISMATCH


def test_partition_is_crc32_mod_16() -> None:
    assert readings_topic("gw-0001") == "oxiward/v1/readings/01/gw-0001"
    assert all(0 <= partition_of(f"gw-{i}") < 16 for i in range(100))


def test_times_parse_to_milliseconds() -> None:
    assert parse_utc_ms("1970-01-01T00:00:00Z") == 0
    assert parse_utc_ms("2026-11-30T09:00:00.2Z") == parse_utc_ms("2026-11-30T09:00:00.200Z")
    assert parse_utc_ms("2026-11-30T09:00:00.123999Z") % 1000 == 123
    assert format_utc_ms(parse_utc_ms("2024-02-29T23:59:59.999Z")) == "2024-02-29T23:59:59.999Z"


# -- status ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "g"), load_golden("status-"), ids=[n for n, _ in load_golden("status-")])
def test_golden_status(name: str, g: dict[str, Any]) -> None:
    s = validate_status("oxiward/v1/status/gw-0001", json.dumps(g["payload"]).encode())
    assert isinstance(s, GatewayStatus), s
    assert (s.gateway_id, s.state) == ("gw-0001", g["payload"]["state"])


def test_status_details() -> None:
    _, g = load_golden("status-online")[0]
    s = validate_status("oxiward/v1/status/gw-0001", json.dumps(g["payload"]).encode())
    assert isinstance(s, GatewayStatus)
    assert s.outbox_depth == 0
    assert s.at_ms == parse_utc_ms("2026-11-30T09:00:00.000Z")
    assert s.devices_json is not None
    assert json.loads(s.devices_json)[0]["address"] == "C0:FF:EE:00:00:01"


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        ("oxiward/v1/status/gw-0002", b'{"v":1,"gateway_id":"gw-0001","state":"online"}', "topic-mismatch"),
        ("oxiward/v1/status/gw-0001", b'{"v":1,"gateway_id":"gw-0001","state":"asleep"}', "schema"),
        (
            "oxiward/v1/status/gw-0001",
            b'{"v":1,"gateway_id":"gw-0001","state":"online","at":"2026-02-30T00:00:00Z"}',
            "schema",
        ),
        (
            "oxiward/v1/status/gw-0001",
            b'{"v":3,"gateway_id":"gw-0001","state":"online"}',
            "unsupported-version",
        ),
        ("oxiward/v1/status/gw-0001", b"", "malformed"),
    ],
)
def test_status_rejections(topic: str, raw: bytes, reason: str) -> None:
    s = validate_status(topic, raw)
    assert isinstance(s, Rejection)
    assert s.reason == reason


# -- codec ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "g"), ACCEPT, ids=[n for n, _ in ACCEPT])
def test_codec_round_trip(name: str, g: dict[str, Any]) -> None:
    r = validate_reading(topic_of(g), raw_of(g))
    assert isinstance(r, ValidReading)
    fields = to_fields(r)
    assert all(isinstance(v, str) for v in fields.values())
    assert from_fields(fields) == r
    # redis-py hands back bytes
    assert from_fields({k: v for k, v in fields.items()}) == r


def test_codec_omits_nulls_and_uses_short_names() -> None:
    r = validate_reading(TOPIC, encode(golden_payload("accept-probe-off-plx-cont-07")))
    assert isinstance(r, ValidReading)
    fields = to_fields(r)
    assert set(fields) == {"r", "m", "g", "o", "ms", "ds", "gw", "d", "pr", "md", "f"}
    assert fields["o"] == "c"


def test_to_api_shape() -> None:
    p = golden_payload("accept-continuous-plx-cont-04")
    r = validate_reading(TOPIC, encode(p))
    assert isinstance(r, ValidReading)
    stored_ms = r.measured_ms + 300
    fields = {k.encode(): v.encode() for k, v in to_fields(r).items()}
    api = to_api(f"{stored_ms}-0".encode(), fields)
    assert api == {
        "reading_id": p["reading_id"],
        "entry_id": f"{stored_ms}-0",
        "measured_at": p["measured_at"],
        "received_at": p["received_at"],
        "stored_at": format_utc_ms(stored_ms),
        "late": False,
        "mode": "continuous",
        "spo2": 99.0,
        "pulse": 97.0,
        "perfusion_index": 8.9,
        "status": {"measurement": 288, "device_sensor": 0, "device_clock_not_set": False},
        "source": p["source"],
        "frame": p["frame"],
    }
    assert latest_to_api(latest_json(f"{stored_ms}-0", to_fields(r))) == api


def test_to_api_marks_late_arrivals() -> None:
    r = validate_reading(TOPIC, encode(payload()))
    assert isinstance(r, ValidReading)
    f = to_fields(r)
    assert to_api(f"{r.measured_ms + 600_000}-0", f)["late"] is False
    assert to_api(f"{r.measured_ms + 600_001}-0", f)["late"] is True


def test_to_api_of_a_reading_without_values() -> None:
    r = validate_reading(TOPIC, encode(golden_payload("accept-minimal-plx-cont-01")))
    assert isinstance(r, ValidReading)
    api = to_api("1-0", to_fields(r))
    assert api["perfusion_index"] is None
    assert api["status"] == {"measurement": None, "device_sensor": None, "device_clock_not_set": False}


def test_fractional_values_survive_the_codec() -> None:
    p = payload(spo2=94.5, pulse=61.25)
    r = validate_reading(TOPIC, encode(p))
    assert isinstance(r, ValidReading)
    assert to_fields(r)["s"] == "94.5"
    assert to_api("5-0", to_fields(r))["spo2"] == 94.5
