"""Bluetooth SIG Pulse Oximeter Service (PLXS v1.0.1): pure decoders for its characteristics.

Byte layouts, flag bits and status bit tables are from /work/shared/docs/ble-protocols.md §1
(see WIRE_FORMAT.md beside this file). All multi-byte fields are little-endian.

Policy: RFU flag bits are tolerated (a later spec revision may define them) but the frame length
must be exactly what the defined flag bits declare; anything else is a FrameError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.protocols.errors import FrameError
from gateway.protocols.plx_fields import (
    DEVICE_SENSOR_STATUS_BITS,
    MEASUREMENT_STATUS_BITS,
    SUPPORTED_FEATURES_BITS,
    BleDateTime,
    bit_names,
    check_length,
    date_time_fields,
)
from gateway.protocols.sfloat import SfloatParts, SfloatSpecial, decode_sfloat_parts

# §1.1 GATT layout.
SERVICE_UUID: Final = "00001822-0000-1000-8000-00805f9b34fb"
SPOT_CHECK_UUID: Final = "00002a5e-0000-1000-8000-00805f9b34fb"
CONTINUOUS_UUID: Final = "00002a5f-0000-1000-8000-00805f9b34fb"
FEATURES_UUID: Final = "00002a60-0000-1000-8000-00805f9b34fb"
RACP_UUID: Final = "00002a52-0000-1000-8000-00805f9b34fb"

# Protocol names as used in ble-vectors.json and on the wire (`source.protocol`).
SPOT_CHECK: Final = "plx-spot-check"
CONTINUOUS: Final = "plx-continuous"
FEATURES: Final = "plx-features"

# §1.4 spot-check flags.
SPOT_FLAG_TIMESTAMP: Final = 0x01
SPOT_FLAG_MEASUREMENT_STATUS: Final = 0x02
SPOT_FLAG_DEVICE_SENSOR_STATUS: Final = 0x04
SPOT_FLAG_PAI: Final = 0x08
SPOT_FLAG_CLOCK_NOT_SET: Final = 0x10
# §1.5 continuous flags.
CONT_FLAG_FAST: Final = 0x01
CONT_FLAG_SLOW: Final = 0x02
CONT_FLAG_MEASUREMENT_STATUS: Final = 0x04
CONT_FLAG_DEVICE_SENSOR_STATUS: Final = 0x08
CONT_FLAG_PAI: Final = 0x10
# §1.8 features bits that add fields.
FEAT_MEASUREMENT_STATUS_SUPPORT: Final = 0x0001
FEAT_DEVICE_SENSOR_STATUS_SUPPORT: Final = 0x0002


class _Measurement:
    """What spot-check and continuous frames share: the normal SpO2/PR pair, PAI and status bits."""

    __slots__ = ()
    spo2_sfloat: SfloatParts
    pulse_rate_sfloat: SfloatParts
    measurement_status: int | None
    device_sensor_status: int | None
    pai_sfloat: SfloatParts | None

    @property
    def spo2(self) -> float | SfloatSpecial:
        return self.spo2_sfloat.value

    @property
    def pulse_rate(self) -> float | SfloatSpecial:
        return self.pulse_rate_sfloat.value

    @property
    def pai(self) -> float | SfloatSpecial | None:
        return _opt(self.pai_sfloat)

    @property
    def measurement_status_bits(self) -> tuple[str, ...]:
        return bit_names(self.measurement_status, MEASUREMENT_STATUS_BITS)

    @property
    def device_sensor_status_bits(self) -> tuple[str, ...]:
        return bit_names(self.device_sensor_status, DEVICE_SENSOR_STATUS_BITS)


@dataclass(frozen=True, slots=True)
class PlxSpotCheck(_Measurement):
    """A PLX Spot-check Measurement (0x2A5E). Optional fields are None when the flags omit them."""

    flags: int
    spo2_sfloat: SfloatParts
    pulse_rate_sfloat: SfloatParts
    timestamp_fields: BleDateTime | None
    measurement_status: int | None
    device_sensor_status: int | None
    pai_sfloat: SfloatParts | None

    @property
    def timestamp(self) -> datetime | None:
        """Device clock time (naive), None when absent or unknown."""
        return None if self.timestamp_fields is None else self.timestamp_fields.to_datetime()

    @property
    def device_clock_not_set(self) -> bool:
        return bool(self.flags & SPOT_FLAG_CLOCK_NOT_SET)


@dataclass(frozen=True, slots=True)
class PlxContinuous(_Measurement):
    """A PLX Continuous Measurement (0x2A5F). Optional fields are None when the flags omit them."""

    flags: int
    spo2_sfloat: SfloatParts
    pulse_rate_sfloat: SfloatParts
    spo2_fast_sfloat: SfloatParts | None
    pulse_rate_fast_sfloat: SfloatParts | None
    spo2_slow_sfloat: SfloatParts | None
    pulse_rate_slow_sfloat: SfloatParts | None
    measurement_status: int | None
    device_sensor_status: int | None
    pai_sfloat: SfloatParts | None

    @property
    def spo2_fast(self) -> float | SfloatSpecial | None:
        return _opt(self.spo2_fast_sfloat)

    @property
    def pulse_rate_fast(self) -> float | SfloatSpecial | None:
        return _opt(self.pulse_rate_fast_sfloat)

    @property
    def spo2_slow(self) -> float | SfloatSpecial | None:
        return _opt(self.spo2_slow_sfloat)

    @property
    def pulse_rate_slow(self) -> float | SfloatSpecial | None:
        return _opt(self.pulse_rate_slow_sfloat)


@dataclass(frozen=True, slots=True)
class PlxFeatures:
    """PLX Features (0x2A60): what the device supports, plus the two optional support masks."""

    supported_features: int
    measurement_status_support: int | None
    device_sensor_status_support: int | None

    @property
    def supported_features_bits(self) -> tuple[str, ...]:
        return bit_names(self.supported_features, SUPPORTED_FEATURES_BITS)

    @property
    def measurement_status_support_bits(self) -> tuple[str, ...]:
        return bit_names(self.measurement_status_support, MEASUREMENT_STATUS_BITS)

    @property
    def device_sensor_status_support_bits(self) -> tuple[str, ...]:
        return bit_names(self.device_sensor_status_support, DEVICE_SENSOR_STATUS_BITS)


def _opt(parts: SfloatParts | None) -> float | SfloatSpecial | None:
    return None if parts is None else parts.value


def _sfloat(data: bytes, offset: int) -> SfloatParts:
    return decode_sfloat_parts(data[offset : offset + 2])


def _uint(data: bytes, offset: int, size: int) -> int:
    return int.from_bytes(data[offset : offset + size], "little")


def _flags(protocol: str, data: bytes) -> int:
    if not data:
        raise FrameError(protocol, "empty frame", "")
    return data[0]


def decode_spot_check(data: bytes) -> PlxSpotCheck:
    """Decode a PLX Spot-check Measurement (§1.4): flags | SpO2 | PR | [ts 7] | [MS 2] | [DSS 3] | [PAI 2]."""
    data = bytes(data)
    flags = _flags(SPOT_CHECK, data)
    has_ts = bool(flags & SPOT_FLAG_TIMESTAMP)
    has_ms = bool(flags & SPOT_FLAG_MEASUREMENT_STATUS)
    has_dss = bool(flags & SPOT_FLAG_DEVICE_SENSOR_STATUS)
    has_pai = bool(flags & SPOT_FLAG_PAI)
    expected = 5 + 7 * has_ts + 2 * has_ms + 3 * has_dss + 2 * has_pai
    check_length(SPOT_CHECK, data, expected, f"flags 0x{flags:02x}")
    offset = 5
    timestamp = None
    if has_ts:
        timestamp = date_time_fields(SPOT_CHECK, data[offset : offset + 7], data)
        offset += 7
    measurement_status = None
    if has_ms:
        measurement_status = _uint(data, offset, 2)
        offset += 2
    device_sensor_status = None
    if has_dss:
        device_sensor_status = _uint(data, offset, 3)
        offset += 3
    return PlxSpotCheck(
        flags=flags,
        spo2_sfloat=_sfloat(data, 1),
        pulse_rate_sfloat=_sfloat(data, 3),
        timestamp_fields=timestamp,
        measurement_status=measurement_status,
        device_sensor_status=device_sensor_status,
        pai_sfloat=_sfloat(data, offset) if has_pai else None,
    )


def decode_continuous(data: bytes) -> PlxContinuous:
    """Decode a PLX Continuous Measurement (§1.5): flags | normal | [fast] | [slow] | [MS] | [DSS] | [PAI]."""
    data = bytes(data)
    flags = _flags(CONTINUOUS, data)
    has_fast = bool(flags & CONT_FLAG_FAST)
    has_slow = bool(flags & CONT_FLAG_SLOW)
    has_ms = bool(flags & CONT_FLAG_MEASUREMENT_STATUS)
    has_dss = bool(flags & CONT_FLAG_DEVICE_SENSOR_STATUS)
    has_pai = bool(flags & CONT_FLAG_PAI)
    expected = 5 + 4 * has_fast + 4 * has_slow + 2 * has_ms + 3 * has_dss + 2 * has_pai
    check_length(CONTINUOUS, data, expected, f"flags 0x{flags:02x}")
    offset = 5
    fast: tuple[SfloatParts | None, SfloatParts | None] = (None, None)
    if has_fast:
        fast = (_sfloat(data, offset), _sfloat(data, offset + 2))
        offset += 4
    # A slow pair without a fast pair follows the normal pair directly (vector plx-cont-06).
    slow: tuple[SfloatParts | None, SfloatParts | None] = (None, None)
    if has_slow:
        slow = (_sfloat(data, offset), _sfloat(data, offset + 2))
        offset += 4
    measurement_status = None
    if has_ms:
        measurement_status = _uint(data, offset, 2)
        offset += 2
    device_sensor_status = None
    if has_dss:
        device_sensor_status = _uint(data, offset, 3)
        offset += 3
    return PlxContinuous(
        flags=flags,
        spo2_sfloat=_sfloat(data, 1),
        pulse_rate_sfloat=_sfloat(data, 3),
        spo2_fast_sfloat=fast[0],
        pulse_rate_fast_sfloat=fast[1],
        spo2_slow_sfloat=slow[0],
        pulse_rate_slow_sfloat=slow[1],
        measurement_status=measurement_status,
        device_sensor_status=device_sensor_status,
        pai_sfloat=_sfloat(data, offset) if has_pai else None,
    )


def decode_features(data: bytes) -> PlxFeatures:
    """Decode PLX Features (§1.8): features u16 | [MS support u16 if bit 0] | [DSS support u24 if bit 1]."""
    data = bytes(data)
    if len(data) < 2:
        raise FrameError(FEATURES, f"Supported Features is 2 bytes, got {len(data)}", data.hex())
    features = _uint(data, 0, 2)
    has_ms = bool(features & FEAT_MEASUREMENT_STATUS_SUPPORT)
    has_dss = bool(features & FEAT_DEVICE_SENSOR_STATUS_SUPPORT)
    # e.g. `01 00`: bit 0 promises a Measurement Status Support mask that is not there.
    check_length(FEATURES, data, 2 + 2 * has_ms + 3 * has_dss, f"supported features 0x{features:04x}")
    return PlxFeatures(
        supported_features=features,
        measurement_status_support=_uint(data, 2, 2) if has_ms else None,
        device_sensor_status_support=_uint(data, 2 + 2 * has_ms, 3) if has_dss else None,
    )
