"""Wire contract v1 at the service's edge: raw MQTT topic + payload bytes -> typed value or rejection.

Pure functions, no I/O. The reasons are exactly those of docs/wire-contract.md, checked in this
order: `malformed` (not UTF-8 JSON, or not an object), `unsupported-version` (`v` is not 1),
`schema` (a required field missing or of the wrong type/shape, an impossible date), `out-of-range`
(SpO2 / perfusion index outside 0-100, pulse outside 0-350) and `topic-mismatch` (the topic is not
a v1 readings topic, its partition is not crc32(gateway_id) mod 16, or `source.gateway_id` differs
from the topic's gateway id). `unknown-device` is decided later, when the store looks the device up.

Unknown fields are ignored (versioning rule). msgspec does the decoding (~1 us per reading,
docs/services.md "Parsing is not the bottleneck"); the ranges are checked by hand afterwards so an
out-of-range value is told apart from a wrong shape.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec

READINGS_PREFIX = "oxiward/v1/readings/"
STATUS_PREFIX = "oxiward/v1/status/"
PARTITIONS = 16  # docs/wire-contract.md: crc32(gateway_id) mod 16

Mode = Literal["spot-check", "continuous"]
GatewayState = Literal["online", "offline"]


class RejectReason(StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported-version"
    SCHEMA = "schema"
    OUT_OF_RANGE = "out-of-range"
    UNKNOWN_DEVICE = "unknown-device"
    TOPIC_MISMATCH = "topic-mismatch"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    #: Says what is wrong for the dead-letter record. May quote a value: never log it.
    detail: str


@dataclass(frozen=True, slots=True)
class ValidReading:
    """One accepted reading. Times are UTC epoch milliseconds (the contract's precision)."""

    reading_id: str
    measured_ms: int
    received_ms: int
    mode: Mode
    spo2: float | None
    pulse: float | None
    perfusion_index: float | None
    measurement_status: int | None
    device_sensor_status: int | None
    device_clock_not_set: bool
    gateway_id: str
    device_address: str
    protocol: str
    model: str | None
    frame: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    gateway_id: str
    state: GatewayState
    at_ms: int | None
    reason: str | None
    outbox_depth: int | None
    #: The `devices` array re-encoded as JSON (kept as sent, minus unknown top-level fields).
    devices_json: str | None


# -- decoding shapes (private) ------------------------------------------------------------
_UTC_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
_Utc = Annotated[str, msgspec.Meta(pattern=_UTC_RE)]
_GatewayId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# JSON Schema "integer" also admits 2.0; take int or float and check integrality by hand.
_IntLike = int | float | None


class _Status(msgspec.Struct):
    measurement: _IntLike
    device_sensor: _IntLike
    device_clock_not_set: bool = False


class _Source(msgspec.Struct):
    gateway_id: _GatewayId
    device_address: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    protocol: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    model: Annotated[str, msgspec.Meta(max_length=80)] | None


class _Reading(msgspec.Struct):
    v: Any
    reading_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
    measured_at: _Utc
    received_at: _Utc
    mode: Mode
    spo2: float | None
    pulse: float | None
    perfusion_index: float | None
    status: _Status
    source: _Source
    frame: Annotated[str, msgspec.Meta(pattern=r"^([0-9a-f]{2}){0,256}$")] | None = None


class _Device(msgspec.Struct):
    address: str
    state: Literal["connected", "away", "searching"]
    protocol: str | None = None
    model: str | None = None


class _GatewayStatus(msgspec.Struct):
    v: Any
    gateway_id: _GatewayId
    state: GatewayState
    at: _Utc | None = None
    reason: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    outbox_depth: Annotated[int, msgspec.Meta(ge=0)] | None = None
    devices: list[_Device] | None = None


_READING_DECODER = msgspec.json.Decoder(_Reading)
_STATUS_DECODER = msgspec.json.Decoder(_GatewayStatus)
_TOPIC_RE = re.compile(r"^oxiward/v1/readings/([0-9]{2})/([A-Za-z0-9_-]{1,64})$")
_STATUS_TOPIC_RE = re.compile(r"^oxiward/v1/status/([A-Za-z0-9_-]{1,64})$")


def partition_of(gateway_id: str) -> int:
    return zlib.crc32(gateway_id.encode("utf-8")) % PARTITIONS


def readings_topic(gateway_id: str) -> str:
    return f"{READINGS_PREFIX}{partition_of(gateway_id):02d}/{gateway_id}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # naive on purpose: format_utc_ms writes the "Z" itself


def parse_utc_ms(text: str) -> int:
    """`YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (shape already checked) -> epoch ms; sub-ms digits truncated.

    Raises ValueError for a date or time that does not exist (2026-02-30, 24:00:00).
    """
    dt = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_MS


def datetime_ms(dt: datetime) -> int:
    """An aware datetime -> epoch ms (exact, no float rounding)."""
    return (dt - _EPOCH) // _ONE_MS


def format_utc_ms(ms: int) -> str:
    """Epoch ms -> `YYYY-MM-DDTHH:MM:SS.mmmZ`, the contract's fixed-width form (sorts as text)."""
    # isoformat is C code, under half the cost of strftime: REST reads format hundreds per request.
    return (_NAIVE_EPOCH + ms * _ONE_MS).isoformat(timespec="milliseconds") + "Z"


def _shape_problem(payload: bytes) -> Rejection | None:
    """Classify a payload the typed decoder refused: malformed, wrong version, or None (= schema).

    The stdlib parser is used here, off the hot path, because it reads numbers too big for a float
    (1e999, as inf) instead of failing; msgspec already refused NaN / Infinity tokens.
    """
    try:
        obj = json.loads(payload)
    except ValueError:
        return Rejection(RejectReason.MALFORMED, "not JSON")
    if not isinstance(obj, dict):
        return Rejection(RejectReason.MALFORMED, f"JSON {type(obj).__name__}, not an object")
    return _version_problem(obj.get("v"))


def _version_problem(v: object) -> Rejection | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != 1:
        return Rejection(RejectReason.UNSUPPORTED_VERSION, f"v={v!r}, this service reads v=1")
    return None


def _decode_checked(payload: bytes, decoder: msgspec.json.Decoder[Any]) -> Any:
    """Decode with `decoder`; a Rejection when that fails, classified as the contract orders it."""
    try:
        payload.decode("utf-8")  # msgspec skips unknown fields without checking their UTF-8
    except UnicodeDecodeError:
        return Rejection(RejectReason.MALFORMED, "not UTF-8")
    try:
        value = decoder.decode(payload)
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            problem = _shape_problem(payload)
            if problem is not None:
                return problem
            reason = RejectReason.OUT_OF_RANGE if "out of range" in str(exc) else RejectReason.SCHEMA
            return Rejection(reason, str(exc))
        return Rejection(RejectReason.MALFORMED, "not JSON")
    problem = _version_problem(value.v)
    return problem if problem is not None else value


def _int_field(name: str, value: int | float | None, maximum: int) -> int | Rejection | None:
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return Rejection(RejectReason.SCHEMA, f"{name} is not an integer")
        value = int(value)
    if not 0 <= value <= maximum:
        return Rejection(RejectReason.SCHEMA, f"{name} outside 0-{maximum}")
    return value


def _in_range(value: float | None, low: float, high: float) -> bool:
    return value is None or (math.isfinite(value) and low <= value <= high)


def validate_reading(topic: str, payload: bytes) -> ValidReading | Rejection:
    """Check one reading against wire contract v1 and the topic it arrived on."""
    decoded = _decode_checked(payload, _READING_DECODER)
    if isinstance(decoded, Rejection):
        return decoded
    r: _Reading = decoded
    try:
        measured_ms = parse_utc_ms(r.measured_at)
        received_ms = parse_utc_ms(r.received_at)
    except ValueError:
        return Rejection(RejectReason.SCHEMA, "measured_at or received_at is not a real date and time")
    measurement = _int_field("status.measurement", r.status.measurement, 0xFFFF)
    if isinstance(measurement, Rejection):
        return measurement
    device_sensor = _int_field("status.device_sensor", r.status.device_sensor, 0xFFFFFF)
    if isinstance(device_sensor, Rejection):
        return device_sensor
    if not _in_range(r.spo2, 0, 100):
        return Rejection(RejectReason.OUT_OF_RANGE, f"spo2 {r.spo2} outside 0-100")
    if not _in_range(r.pulse, 0, 350):
        return Rejection(RejectReason.OUT_OF_RANGE, f"pulse {r.pulse} outside 0-350")
    if not _in_range(r.perfusion_index, 0, 100):
        return Rejection(RejectReason.OUT_OF_RANGE, f"perfusion_index {r.perfusion_index} outside 0-100")
    mismatch = _topic_problem(topic, r.source.gateway_id)
    if mismatch is not None:
        return mismatch
    return ValidReading(
        reading_id=r.reading_id,
        measured_ms=measured_ms,
        received_ms=received_ms,
        mode=r.mode,
        spo2=r.spo2,
        pulse=r.pulse,
        perfusion_index=r.perfusion_index,
        measurement_status=measurement,
        device_sensor_status=device_sensor,
        device_clock_not_set=r.status.device_clock_not_set,
        gateway_id=r.source.gateway_id,
        device_address=r.source.device_address,
        protocol=r.source.protocol,
        model=r.source.model,
        frame=r.frame,
    )


def _topic_problem(topic: str, gateway_id: str) -> Rejection | None:
    m = _TOPIC_RE.match(topic)
    if m is None:
        return Rejection(RejectReason.TOPIC_MISMATCH, "not an oxiward/v1/readings/{partition}/{id} topic")
    if m.group(2) != gateway_id:
        return Rejection(RejectReason.TOPIC_MISMATCH, "source.gateway_id differs from the topic's gateway id")
    if int(m.group(1)) != partition_of(gateway_id):
        return Rejection(RejectReason.TOPIC_MISMATCH, "partition is not crc32(gateway_id) mod 16")
    return None


def validate_status(topic: str, payload: bytes) -> GatewayStatus | Rejection:
    """Check one gateway status message (retained, also the last will) against status.v1."""
    decoded = _decode_checked(payload, _STATUS_DECODER)
    if isinstance(decoded, Rejection):
        return decoded
    s: _GatewayStatus = decoded
    m = _STATUS_TOPIC_RE.match(topic)
    if m is None or m.group(1) != s.gateway_id:
        return Rejection(RejectReason.TOPIC_MISMATCH, "gateway_id differs from the status topic's gateway id")
    try:
        at_ms = None if s.at is None else parse_utc_ms(s.at)
    except ValueError:
        return Rejection(RejectReason.SCHEMA, "at is not a real date and time")
    devices = None if s.devices is None else msgspec.json.encode(s.devices).decode("utf-8")
    return GatewayStatus(
        gateway_id=s.gateway_id,
        state=s.state,
        at_ms=at_ms,
        reason=s.reason,
        outbox_depth=s.outbox_depth,
        devices_json=devices,
    )


def is_status_topic(topic: str) -> bool:
    return topic.startswith(STATUS_PREFIX)


class _Batch(msgspec.Struct):
    readings: list[msgspec.Raw]


class BatchError(ValueError):
    """The envelope of a REST batch is wrong: not JSON at all (`malformed`), or not the shape."""

    def __init__(self, detail: str, *, malformed: bool) -> None:
        super().__init__(detail)
        self.malformed = malformed


def split_batch(body: bytes) -> list[bytes]:
    """A REST batch ``{"readings": [<payload>, ...]}`` -> each payload's bytes exactly as sent, so
    each is checked like one MQTT message (api/routes/gateway_ingest.py). Raises BatchError for
    the envelope only; the payloads are not looked into here."""
    try:
        batch = msgspec.json.decode(body, type=_Batch)
    except msgspec.ValidationError as exc:
        raise BatchError(
            f'the body must be an object {{"readings": [...]}}: {exc}', malformed=False
        ) from None
    except msgspec.DecodeError as exc:
        raise BatchError(f"the body is not JSON: {exc}", malformed=True) from None
    return [bytes(raw) for raw in batch.readings]
