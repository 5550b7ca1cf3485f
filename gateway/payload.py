"""Reading ⇄ MQTT wire contract v1 (docs/wire-contract.md). Pure: no clock reads, no I/O."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from gateway.model import Derivation, DeviceStatus, Reading, format_utc
from gateway.protocols import plx
from gateway.protocols.errors import UnknownProtocolError
from gateway.protocols.sfloat import SfloatParts

CONTRACT_VERSION: Final = 1
TOPIC_ROOT: Final = "oxiward/v1"
PARTITIONS: Final = 16  # wire-contract.md: crc32(gateway_id) mod 16, two digits
GATEWAY_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATUS_REASON_MAX: Final = 200  # status.v1.schema.json `reason.maxLength`
GatewayState = Literal["online", "offline"]
GATEWAY_STATES: Final = ("online", "offline")

_BLUETOOTH_BASE_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"


def validate_gateway_id(gateway_id: str) -> str:
    """Return `gateway_id` if it may appear in a topic, else raise ValueError saying what to fix."""
    if not isinstance(gateway_id, str) or not GATEWAY_ID_PATTERN.fullmatch(gateway_id):
        raise ValueError(
            f"invalid gateway id {gateway_id!r}: use 1-64 characters from A-Z a-z 0-9 _ - "
            "(no '/', '+', '#' or spaces; it is also the gateway's MQTT username)"
        )
    return gateway_id


def partition(gateway_id: str) -> int:
    """The ingest partition (0-15) a gateway's readings go to; stable so one gateway stays in order."""
    return zlib.crc32(validate_gateway_id(gateway_id).encode("utf-8")) % PARTITIONS


def reading_topic(gateway_id: str) -> str:
    return f"{TOPIC_ROOT}/readings/{partition(gateway_id):02d}/{gateway_id}"


def status_topic(gateway_id: str) -> str:
    return f"{TOPIC_ROOT}/status/{validate_gateway_id(gateway_id)}"


def _full_uuid(uuid: str) -> str:
    uuid = uuid.strip().lower()
    if len(uuid) == 4:  # a 16-bit SIG UUID such as "2a5f"
        return f"0000{uuid}{_BLUETOOTH_BASE_SUFFIX}"
    return uuid


def _number(parts: SfloatParts | None) -> float | None:
    """The value, or None for an absent field or an SFLOAT special (NaN, NRes, ±INF, RFU)."""
    if parts is None:
        return None
    value = parts.value
    return value if isinstance(value, float) else None


def reading_from_plx(
    frame: bytes,
    *,
    characteristic_uuid: str,
    received_at: datetime,
    gateway_id: str,
    device_address: str,
    model: str | None,
) -> Reading:
    """Decode a PLX spot-check or continuous frame into a Reading.

    Continuous frames have no device clock, so measured_at = received_at. A spot-check's own
    timestamp is used (taken as UTC) unless it is absent, unknown, or the device says its clock is not set.
    Raises FrameError for a malformed frame, UnknownProtocolError for a non-measurement characteristic.
    """
    frame = bytes(frame)
    validate_gateway_id(gateway_id)
    uuid = _full_uuid(characteristic_uuid)
    if uuid == plx.CONTINUOUS_UUID:
        cont = plx.decode_continuous(frame)
        return Reading(
            measured_at=received_at,
            received_at=received_at,
            mode="continuous",
            spo2=_number(cont.spo2_sfloat),
            pulse=_number(cont.pulse_rate_sfloat),
            perfusion_index=_number(cont.pai_sfloat),
            measurement_status=cont.measurement_status,
            device_sensor_status=cont.device_sensor_status,
            device_clock_not_set=False,
            gateway_id=gateway_id,
            device_address=device_address,
            protocol=plx.CONTINUOUS,
            model=model,
            frame=frame,
        )
    if uuid == plx.SPOT_CHECK_UUID:
        spot = plx.decode_spot_check(frame)
        device_time = spot.timestamp
        measured = received_at
        if device_time is not None and not spot.device_clock_not_set:
            # The PLX Date Time carries no zone; the contract takes it as UTC rather than guess a local one.
            measured = device_time.replace(tzinfo=UTC)
        return Reading(
            measured_at=measured,
            received_at=received_at,
            mode="spot-check",
            spo2=_number(spot.spo2_sfloat),
            pulse=_number(spot.pulse_rate_sfloat),
            perfusion_index=_number(spot.pai_sfloat),
            measurement_status=spot.measurement_status,
            device_sensor_status=spot.device_sensor_status,
            device_clock_not_set=spot.device_clock_not_set,
            gateway_id=gateway_id,
            device_address=device_address,
            protocol=plx.SPOT_CHECK,
            model=model,
            frame=frame,
        )
    raise UnknownProtocolError(
        "plx", f"characteristic {characteristic_uuid} carries no PLX measurement (expected 2a5e or 2a5f)"
    )


def _derivation(derivation: Derivation) -> dict[str, Any]:
    out: dict[str, Any] = {"method": derivation.method, "detail": derivation.detail}
    if derivation.samples is not None:
        out["samples"] = derivation.samples
    if derivation.window_start is not None:
        out["window_start"] = format_utc(derivation.window_start)
    if derivation.window_end is not None:
        out["window_end"] = format_utc(derivation.window_end)
    return out


def _optional_additions(reading: Reading, payload: dict[str, Any]) -> dict[str, Any]:
    """wire-contract.md "Optional fields (v1 additions)": present only when they say something."""
    if reading.from_storage:
        payload["status"]["from_storage"] = True
    if reading.unconfirmed:
        payload["source"]["unconfirmed"] = True
    if reading.time_source is not None:
        clock: dict[str, Any] = {"source": reading.time_source}
        if reading.device_offset_s is not None:
            clock["device_offset_s"] = round(reading.device_offset_s, 3)
        payload["clock"] = clock
    if reading.derivation is not None:
        payload["derivation"] = _derivation(reading.derivation)
    return payload


def to_payload(reading: Reading) -> dict[str, Any]:
    """The reading as a reading.v1 JSON object."""
    return _optional_additions(
        reading,
        {
            "v": CONTRACT_VERSION,
            "reading_id": reading.reading_id,
            "measured_at": format_utc(reading.measured_at),
            "received_at": format_utc(reading.received_at),
            "mode": reading.mode,
            "spo2": reading.spo2,
            "pulse": reading.pulse,
            "perfusion_index": reading.perfusion_index,
            "status": {
                "measurement": reading.measurement_status,
                "device_sensor": reading.device_sensor_status,
                "device_clock_not_set": reading.device_clock_not_set,
            },
            "source": {
                "gateway_id": reading.gateway_id,
                "device_address": reading.device_address,
                "protocol": reading.protocol,
                "model": reading.model,
            },
            "frame": reading.frame.hex(),
        },
    )


def _encode(payload: Mapping[str, Any]) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON; specials are already None by this point.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode_reading(reading: Reading) -> bytes:
    """Compact UTF-8 JSON bytes for the reading topic."""
    return _encode(to_payload(reading))


def _device_entry(device: DeviceStatus | Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(device, DeviceStatus):
        device = DeviceStatus(
            address=device["address"],
            state=device["state"],
            protocol=device.get("protocol"),
            model=device.get("model"),
        )
    entry: dict[str, Any] = {
        "address": device.address,
        "state": device.state,
        "protocol": device.protocol,
        "model": device.model,
    }
    optional = {
        "label": device.label,
        "since": format_utc(device.since) if device.since is not None else None,
        "firmware": device.firmware,
        "battery_percent": device.battery_percent,
        "rssi": device.rssi,
        "last_reading_at": format_utc(device.last_reading_at) if device.last_reading_at else None,
        "stores_readings": device.stores_readings,
    }
    entry.update((key, value) for key, value in optional.items() if value is not None)
    return entry


def status_payload(
    gateway_id: str,
    state: GatewayState,
    *,
    at: datetime | None = None,
    reason: str | None = None,
    outbox_depth: int | None = None,
    devices: Sequence[DeviceStatus | Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A status.v1 JSON object; optional fields are left out when None.

    `extra`: further top-level fields (status.v1 allows them; wire-contract.md lists the ones the
    gateway sends, e.g. `outbox_dropped`, `clock`); they cannot replace the fields above.
    """
    validate_gateway_id(gateway_id)
    if state not in GATEWAY_STATES:
        raise ValueError(f"gateway state must be one of {GATEWAY_STATES}, got {state!r}")
    payload: dict[str, Any] = {"v": CONTRACT_VERSION, "gateway_id": gateway_id, "state": state}
    if at is not None:
        payload["at"] = format_utc(at)
    if reason is not None:
        if len(reason) > STATUS_REASON_MAX:
            raise ValueError(f"status reason is limited to {STATUS_REASON_MAX} characters, got {len(reason)}")
        payload["reason"] = reason
    if outbox_depth is not None:
        if outbox_depth < 0:
            raise ValueError(f"outbox_depth cannot be negative, got {outbox_depth}")
        payload["outbox_depth"] = outbox_depth
    if devices is not None:
        payload["devices"] = [_device_entry(d) for d in devices]
    for key, value in (extra or {}).items():
        payload.setdefault(key, value)
    return payload


def encode_status(
    gateway_id: str,
    state: GatewayState,
    *,
    at: datetime | None = None,
    reason: str | None = None,
    outbox_depth: int | None = None,
    devices: Sequence[DeviceStatus | Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """Compact UTF-8 JSON bytes for the (retained) status topic, also used as the last will."""
    return _encode(
        status_payload(
            gateway_id, state, at=at, reason=reason, outbox_depth=outbox_depth, devices=devices, extra=extra
        )
    )
