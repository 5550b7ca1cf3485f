"""PLX field types shared by the characteristics: status bit tables (§1.6-§1.8) and Date Time (§1.3).

Section numbers refer to /work/shared/docs/ble-protocols.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from gateway.protocols.errors import FrameError

DATE_TIME: Final = "ble-date-time"
DATE_TIME_LENGTH: Final = 7  # §1.3

# §1.6 Measurement Status (uint16); bits 0-4 RFU.
MEASUREMENT_STATUS_BITS: Final[Mapping[int, str]] = MappingProxyType(
    {
        5: "measurement_ongoing",
        6: "early_estimated_data",
        7: "validated_data",
        8: "fully_qualified_data",
        9: "data_from_measurement_storage",
        10: "data_for_demonstration",
        11: "data_for_testing",
        12: "calibration_ongoing",
        13: "measurement_unavailable",
        14: "questionable_measurement_detected",
        15: "invalid_measurement_detected",
    }
)

# §1.7 Device and Sensor Status (24-bit); bits 16-23 RFU.
DEVICE_SENSOR_STATUS_BITS: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "extended_display_update_ongoing",
        1: "equipment_malfunction_detected",
        2: "signal_processing_irregularity_detected",
        3: "inadequate_signal_detected",
        4: "poor_signal_detected",
        5: "low_perfusion_detected",
        6: "erratic_signal_detected",
        7: "nonpulsatile_signal_detected",
        8: "questionable_pulse_detected",
        9: "signal_analysis_ongoing",
        10: "sensor_interference_detected",
        11: "sensor_unconnected_to_user",
        12: "unknown_sensor_connected",
        13: "sensor_displaced",
        14: "sensor_malfunctioning",
        15: "sensor_disconnected",
    }
)

# §1.8 PLX Features, Supported Features (uint16); bits 8-15 RFU.
SUPPORTED_FEATURES_BITS: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "measurement_status_support",
        1: "device_and_sensor_status_support",
        2: "spot_check_measurement_storage",
        3: "spot_check_timestamp",
        4: "spo2pr_fast",
        5: "spo2pr_slow",
        6: "pulse_amplitude_index",
        7: "multiple_bonds",
    }
)


def bit_names(value: int | None, table: Mapping[int, str]) -> tuple[str, ...]:
    """Names of the defined bits set in `value`, lowest bit first; RFU bits are ignored."""
    if value is None:
        return ()
    return tuple(name for bit, name in sorted(table.items()) if value >> bit & 1)


@dataclass(frozen=True, slots=True)
class BleDateTime:
    """The 7-byte Date Time fields as sent (§1.3); 0 in year/month/day means unknown."""

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    def to_datetime(self) -> datetime | None:
        """Naive datetime on the device's clock, or None when the date is unknown."""
        if self.year == 0 or self.month == 0 or self.day == 0:
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)


def check_length(protocol: str, data: bytes, expected: int, what: str) -> None:
    if len(data) != expected:
        raise FrameError(protocol, f"{what} declares {expected} bytes, got {len(data)}", data.hex())


def date_time_fields(protocol: str, data: bytes, whole: bytes) -> BleDateTime:
    """Fields of a 7-byte Date Time; `whole` is the enclosing frame, reported if the date is impossible."""
    fields = BleDateTime(int.from_bytes(data[0:2], "little"), data[2], data[3], data[4], data[5], data[6])
    try:
        fields.to_datetime()
    except ValueError as err:  # month 13, hour 25, 31 February ...
        raise FrameError(protocol, f"impossible date/time {fields}: {err}", whole.hex()) from err
    return fields


def decode_date_time_fields(data: bytes) -> BleDateTime:
    """Decode the 7-byte Date Time characteristic value to its raw fields."""
    data = bytes(data)
    check_length(DATE_TIME, data, DATE_TIME_LENGTH, "Date Time")
    return date_time_fields(DATE_TIME, data, data)


def decode_date_time(data: bytes) -> datetime | None:
    """Decode the 7-byte Date Time to a naive datetime (device clock), or None when the date is unknown."""
    return decode_date_time_fields(data).to_datetime()
