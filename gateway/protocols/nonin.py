"""Nonin 3230 (NoninConnect) / WristOx2 3150 BLE continuous oximetry packet (ble-protocols.md §2.4).

Layout agreed by four independent implementations (Nonin UWP sample, Villarroel ble_nco_spec_decoder.swift
citing Nonin doc 113142-000-02 Rev B, nonin_lib/common.py, andreasdri/nonin-3230-ble). No public capture
with expected values exists: vectors nonin-01..04 are spec-derived. Multi-byte fields are BIG-endian.
The link needs bonding (the characteristic requires encryption).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from gateway.protocols.common import ReadingFields, check_exact_length, device_sensor_bits, no_reading_if_zero
from gateway.protocols.errors import FrameError

PROTOCOL: Final = "nonin-continuous"
SERVICE_UUID: Final = "46a970e0-0d5f-11e2-8b5e-0002a5d5c51b"
CONTINUOUS_UUID: Final = "0aad7ea0-0d60-11e2-8e3c-0002a5d5c51b"
CONTROL_POINT_UUID: Final = "1447af80-0d60-11e2-88b6-0002a5d5c51b"
LENGTH: Final = 10
SPO2_MISSING: Final = 127
PULSE_MISSING: Final = 511
# Status byte (§2.4); bits 0 and 7 are unused and ignored.
STATUS_BITS: Final = {
    1: "weak_signal",  # pulse amplitude ≤ 0.3 % modulation
    2: "smartpoint",  # SmartPoint algorithm passed: a high-quality reading
    3: "searching",
    4: "sensor_attached_correctcheck",  # sensor attached and CorrectCheck passed
    5: "low_battery",
    6: "encrypted",
}
_WEAK, _SEARCHING, _ATTACHED = 0x02, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class NoninFrame:
    """One continuous-oximetry packet; spo2 / pulse_rate None when the device marks them missing."""

    status: int
    battery_decivolts: int
    pai_hundredths: int  # pulse amplitude index in 0.01 %
    counter: int
    spo2: int | None
    pulse_rate: int | None
    raw: bytes

    @property
    def status_bits(self) -> tuple[str, ...]:
        return tuple(name for bit, name in STATUS_BITS.items() if self.status >> bit & 1)

    @property
    def battery_v(self) -> float:
        return self.battery_decivolts / 10

    @property
    def pai_percent(self) -> float:
        return self.pai_hundredths / 100

    @property
    def searching(self) -> bool:
        return bool(self.status & _SEARCHING)

    @property
    def sensor_attached(self) -> bool:
        return bool(self.status & _ATTACHED)


def decode_continuous(data: bytes) -> NoninFrame:
    """Decode the 10-byte packet: length | status | battery | PAI BE | counter BE | SpO2 | PR BE."""
    data = bytes(data)
    check_exact_length(PROTOCOL, data, LENGTH, "a Nonin continuous oximetry packet")
    if data[0] != LENGTH:
        raise FrameError(PROTOCOL, f"length byte says {data[0]}, the packet is {LENGTH}", data.hex())
    spo2 = data[7]
    if 100 < spo2 != SPO2_MISSING:
        raise FrameError(PROTOCOL, f"SpO2 {spo2} is out of range (0-100, 127 = missing)", data.hex())
    pulse = int.from_bytes(data[8:10], "big")
    if pulse > PULSE_MISSING:
        raise FrameError(PROTOCOL, f"pulse rate {pulse} is out of range (0-510, 511 = missing)", data.hex())
    return NoninFrame(
        status=data[1],
        battery_decivolts=data[2],
        pai_hundredths=int.from_bytes(data[3:5], "big"),
        counter=int.from_bytes(data[5:7], "big"),
        spo2=None if spo2 == SPO2_MISSING else spo2,
        pulse_rate=None if pulse == PULSE_MISSING else pulse,
        raw=data,
    )


def to_reading_fields(frame: NoninFrame) -> ReadingFields:
    """A PAI of 0 while missing is "no pulse found", not a perfusion index; a clear bit 4 is probe-off."""
    no_sensor = not frame.sensor_attached
    return ReadingFields(
        spo2=no_reading_if_zero(frame.spo2),
        pulse=no_reading_if_zero(frame.pulse_rate),
        perfusion_index=frame.pai_percent if frame.pai_hundredths else None,
        device_sensor_status=device_sensor_bits(
            no_finger=no_sensor, weak_signal=bool(frame.status & _WEAK), searching=frame.searching
        ),
        probe_off=no_sensor,
        searching=frame.searching,
    )


def as_dict(frame: NoninFrame) -> dict[str, Any]:
    """The packet with the field names of ble-vectors.json."""
    return {
        "length": LENGTH,
        "status": frame.status,
        "status_bits": list(frame.status_bits),
        "battery_v": frame.battery_v,
        "pai_percent": frame.pai_percent,
        "counter": frame.counter,
        "spo2": frame.spo2,
        "pulse_rate": frame.pulse_rate,
    }
