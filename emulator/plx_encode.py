"""The emulator's own encoder for Bluetooth SIG Pulse Oximeter (PLX) values: pure bytes out.

Layouts from docs ble-protocols.md §1 (PLXS v1.0.1, IEEE 11073-20601). Deliberately independent of
gateway/: a test tool must not share the decoder it exercises.
"""

from __future__ import annotations

import enum
import math
import struct
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "ContinuousFlag",
    "DeviceSensorStatus",
    "MeasurementStatus",
    "PlxFeature",
    "Sfloat",
    "SfloatInput",
    "SfloatSpecial",
    "SpotCheckFlag",
    "encode_date_time",
    "encode_plx_continuous",
    "encode_plx_features",
    "encode_plx_spot_check",
    "encode_sfloat",
]


class SfloatSpecial(enum.IntEnum):
    """Reserved SFLOAT raw values (§1.2); all have exponent nibble 0."""

    NAN = 0x07FF
    NRES = 0x0800
    POS_INF = 0x07FE
    NEG_INF = 0x0802
    RFU = 0x0801


class Sfloat(NamedTuple):
    """An explicit mantissa/exponent pair, for callers that want a given encoding (e.g. 1000e-1)."""

    mantissa: int
    exponent: int


# None and float NaN both mean "no reading" and go out as NaN (0x07FF).
SfloatInput = float | int | Sfloat | SfloatSpecial | None

# Normal mantissas stop short of the reserved ±2046..2047/-2048 codes (§1.2).
_MANTISSA_MAX = 2045
_EXPONENT_MIN, _EXPONENT_MAX = -8, 7


class ContinuousFlag(enum.IntFlag):
    """Flags byte of 0x2A5F (§1.5)."""

    SPO2PR_FAST = 1 << 0
    SPO2PR_SLOW = 1 << 1
    MEASUREMENT_STATUS = 1 << 2
    DEVICE_SENSOR_STATUS = 1 << 3
    PAI = 1 << 4


class SpotCheckFlag(enum.IntFlag):
    """Flags byte of 0x2A5E (§1.4)."""

    TIMESTAMP = 1 << 0
    MEASUREMENT_STATUS = 1 << 1
    DEVICE_SENSOR_STATUS = 1 << 2
    PAI = 1 << 3
    DEVICE_CLOCK_NOT_SET = 1 << 4


class MeasurementStatus(enum.IntFlag):
    """Measurement Status, uint16 (§1.6)."""

    NONE = 0
    MEASUREMENT_ONGOING = 1 << 5
    EARLY_ESTIMATED_DATA = 1 << 6
    VALIDATED_DATA = 1 << 7
    FULLY_QUALIFIED_DATA = 1 << 8
    DATA_FROM_MEASUREMENT_STORAGE = 1 << 9
    DATA_FOR_DEMONSTRATION = 1 << 10
    DATA_FOR_TESTING = 1 << 11
    CALIBRATION_ONGOING = 1 << 12
    MEASUREMENT_UNAVAILABLE = 1 << 13
    QUESTIONABLE_MEASUREMENT_DETECTED = 1 << 14
    INVALID_MEASUREMENT_DETECTED = 1 << 15


class DeviceSensorStatus(enum.IntFlag):
    """Device and Sensor Status, 24-bit (§1.7)."""

    NONE = 0
    EXTENDED_DISPLAY_UPDATE_ONGOING = 1 << 0
    EQUIPMENT_MALFUNCTION_DETECTED = 1 << 1
    SIGNAL_PROCESSING_IRREGULARITY_DETECTED = 1 << 2
    INADEQUATE_SIGNAL_DETECTED = 1 << 3
    POOR_SIGNAL_DETECTED = 1 << 4
    LOW_PERFUSION_DETECTED = 1 << 5
    ERRATIC_SIGNAL_DETECTED = 1 << 6
    NONPULSATILE_SIGNAL_DETECTED = 1 << 7
    QUESTIONABLE_PULSE_DETECTED = 1 << 8
    SIGNAL_ANALYSIS_ONGOING = 1 << 9
    SENSOR_INTERFERENCE_DETECTED = 1 << 10
    SENSOR_UNCONNECTED_TO_USER = 1 << 11
    UNKNOWN_SENSOR_CONNECTED = 1 << 12
    SENSOR_DISPLACED = 1 << 13
    SENSOR_MALFUNCTIONING = 1 << 14
    SENSOR_DISCONNECTED = 1 << 15


class PlxFeature(enum.IntFlag):
    """Supported Features of 0x2A60, uint16 (§1.8)."""

    NONE = 0
    MEASUREMENT_STATUS_SUPPORT = 1 << 0
    DEVICE_SENSOR_STATUS_SUPPORT = 1 << 1
    SPOT_CHECK_MEASUREMENT_STORAGE = 1 << 2
    SPOT_CHECK_TIMESTAMP = 1 << 3
    SPO2PR_FAST = 1 << 4
    SPO2PR_SLOW = 1 << 5
    PAI = 1 << 6
    MULTIPLE_BONDS = 1 << 7


def _raw(mantissa: int, exponent: int) -> int:
    return ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)


def _auto_sfloat(value: float) -> int:
    """Smallest exponent ≥ -8 that holds the value exactly, else the most precise one that fits."""
    if math.isinf(value):
        return SfloatSpecial.POS_INF if value > 0 else SfloatSpecial.NEG_INF
    best: tuple[int, int] | None = None
    for exponent in range(0, _EXPONENT_MIN - 1, -1):
        mantissa = round(value / 10.0**exponent)
        if abs(mantissa) > _MANTISSA_MAX:
            break
        best = (mantissa, exponent)
        if math.isclose(mantissa * 10.0**exponent, value, rel_tol=0.0, abs_tol=1e-9):
            break
    if best is None:  # too large for exponent 0: scale up, losing low digits as a device would
        for exponent in range(1, _EXPONENT_MAX + 1):
            mantissa = round(value / 10.0**exponent)
            if abs(mantissa) <= _MANTISSA_MAX:
                best = (mantissa, exponent)
                break
    if best is None:
        raise ValueError(f"{value!r} is out of SFLOAT range")
    return _raw(*best)


def encode_sfloat(value: SfloatInput) -> bytes:
    """IEEE 11073 16-bit SFLOAT, little-endian. None or NaN → NaN (0x07FF)."""
    if value is None:
        raw = int(SfloatSpecial.NAN)
    elif isinstance(value, SfloatSpecial):
        raw = int(value)
    elif isinstance(value, Sfloat):
        if not -2048 <= value.mantissa <= 2047 or not _EXPONENT_MIN <= value.exponent <= _EXPONENT_MAX:
            raise ValueError(f"{value!r} does not fit a 12-bit mantissa and 4-bit exponent")
        raw = _raw(value.mantissa, value.exponent)
    elif math.isnan(value):
        raw = int(SfloatSpecial.NAN)
    else:
        raw = _auto_sfloat(float(value))
    return struct.pack("<H", raw)


def encode_date_time(moment: datetime) -> bytes:
    """Bluetooth Date Time, 7 bytes (§1.3). Time zone is not carried; the caller chooses the clock."""
    return struct.pack(
        "<HBBBBB", moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    )


def _status_fields(measurement_status: int | None, device_sensor_status: int | None) -> bytes:
    out = b""
    if measurement_status is not None:
        out += struct.pack("<H", measurement_status & 0xFFFF)
    if device_sensor_status is not None:
        out += (device_sensor_status & 0xFFFFFF).to_bytes(3, "little")
    return out


def encode_plx_continuous(
    spo2: SfloatInput,
    pulse_rate: SfloatInput,
    *,
    fast: tuple[SfloatInput, SfloatInput] | None = None,
    slow: tuple[SfloatInput, SfloatInput] | None = None,
    measurement_status: int | None = None,
    device_sensor_status: int | None = None,
    pai: SfloatInput = None,
) -> bytes:
    """PLX Continuous Measurement (0x2A5F, §1.5). Optional fields are present when not None.

    spo2/pulse_rate are mandatory: None there means NaN. For `pai`, None means absent; pass
    float('nan') or SfloatSpecial.NAN for a present-but-invalid PAI.
    """
    flags = ContinuousFlag(0)
    body = encode_sfloat(spo2) + encode_sfloat(pulse_rate)
    if fast is not None:
        flags |= ContinuousFlag.SPO2PR_FAST
        body += encode_sfloat(fast[0]) + encode_sfloat(fast[1])
    if slow is not None:
        flags |= ContinuousFlag.SPO2PR_SLOW
        body += encode_sfloat(slow[0]) + encode_sfloat(slow[1])
    if measurement_status is not None:
        flags |= ContinuousFlag.MEASUREMENT_STATUS
    if device_sensor_status is not None:
        flags |= ContinuousFlag.DEVICE_SENSOR_STATUS
    body += _status_fields(measurement_status, device_sensor_status)
    if pai is not None:
        flags |= ContinuousFlag.PAI
        body += encode_sfloat(pai)
    return bytes([flags]) + body


def encode_plx_spot_check(
    spo2: SfloatInput,
    pulse_rate: SfloatInput,
    *,
    timestamp: datetime | None = None,
    device_clock_not_set: bool = False,
    measurement_status: int | None = None,
    device_sensor_status: int | None = None,
    pai: SfloatInput = None,
) -> bytes:
    """PLX Spot-check Measurement (0x2A5E, §1.4). Same None conventions as the continuous encoder."""
    flags = SpotCheckFlag(0)
    body = encode_sfloat(spo2) + encode_sfloat(pulse_rate)
    if timestamp is not None:
        flags |= SpotCheckFlag.TIMESTAMP
        body += encode_date_time(timestamp)
    if measurement_status is not None:
        flags |= SpotCheckFlag.MEASUREMENT_STATUS
    if device_sensor_status is not None:
        flags |= SpotCheckFlag.DEVICE_SENSOR_STATUS
    body += _status_fields(measurement_status, device_sensor_status)
    if pai is not None:
        flags |= SpotCheckFlag.PAI
        body += encode_sfloat(pai)
    if device_clock_not_set:
        flags |= SpotCheckFlag.DEVICE_CLOCK_NOT_SET
    return bytes([flags]) + body


def encode_plx_features(
    supported: int,
    *,
    measurement_status_support: int | None = None,
    device_sensor_status_support: int | None = None,
) -> bytes:
    """PLX Features (0x2A60, §1.8). Bits 0/1 are set from the presence of the support masks."""
    if supported & PlxFeature.MEASUREMENT_STATUS_SUPPORT and measurement_status_support is None:
        raise ValueError("feature bit 0 set but no measurement status support mask given")
    if supported & PlxFeature.DEVICE_SENSOR_STATUS_SUPPORT and device_sensor_status_support is None:
        raise ValueError("feature bit 1 set but no device and sensor status support mask given")
    if measurement_status_support is not None:
        supported |= PlxFeature.MEASUREMENT_STATUS_SUPPORT
    if device_sensor_status_support is not None:
        supported |= PlxFeature.DEVICE_SENSOR_STATUS_SUPPORT
    return struct.pack("<H", supported & 0xFFFF) + _status_fields(
        measurement_status_support, device_sensor_status_support
    )
