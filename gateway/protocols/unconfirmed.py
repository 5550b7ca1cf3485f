"""Low-confidence protocols, decoded for field engineers but never selected automatically (UNCONFIRMED).

- JKS50F (ble-protocols.md §2.9; Boerni89/ha_bt_oximeter jks50f.py and its tests): 69-byte frames on
  FFE1, `FF 44 01 | finger (0 = present) | SpO2 | PR | PI low 7 bits | PI high 6 bits | ... | checksum`,
  checksum = (sum of bytes 0-67 + 1) & 0xFF; 127 = invalid SpO2/PR, PI bytes 7F 7F = invalid.
  FFE0/FFE1 is the generic HM-10 serial service, so the service alone cannot identify the device.
- Contec CMS50D-BT (§2.8; one capture in tobiasisenberg/OxiVis issue #2): `EB 01` 8-byte value frames,
  byte 3 PR, byte 4 SpO2, byte 2 a status byte the reporter guessed means 4 = no finger / 6 = finger.
  The `EB 00` pleth frames are not decoded. No checksum is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from gateway.protocols.common import ReadingFields, check_exact_length, no_reading_if_zero
from gateway.protocols.errors import FrameError

JKS50F: Final = "jks50f"
CONTEC: Final = "contec-cms50d-bt"
CONFIRMED: Final = False

JKS50F_SERVICE_UUID: Final = "0000ffe0-0000-1000-8000-00805f9b34fb"
JKS50F_NOTIFY_UUID: Final = "0000ffe1-0000-1000-8000-00805f9b34fb"
JKS50F_LENGTH: Final = 69
JKS50F_HEAD: Final = b"\xff\x44\x01"
JKS50F_INVALID: Final = 127
JKS50F_PI_INVALID: Final = 0x7F7F  # both PI bytes 0x7F

CONTEC_NOTIFY_UUID: Final = "0000ff02-0000-1000-8000-00805f9b34fb"
CONTEC_WRITE_UUID: Final = "0000ff01-0000-1000-8000-00805f9b34fb"
CONTEC_START: Final = b"\x9b\x01\x1c"  # must be re-sent periodically or streaming stops (§2.8)
CONTEC_HEADER: Final = 0xEB
CONTEC_VALUES: Final = 0x01
CONTEC_VALUES_LENGTH: Final = 8


@dataclass(frozen=True, slots=True)
class Jks50fFrame:
    finger_present: bool
    spo2: int | None
    pulse_rate: int | None
    pi_hundredths: int | None
    raw: bytes

    @property
    def pi(self) -> float | None:
        return None if self.pi_hundredths is None else self.pi_hundredths / 100


@dataclass(frozen=True, slots=True)
class ContecFrame:
    status_byte: int  # 4 / 6 guessed to mean no finger / finger: UNCONFIRMED
    pulse_rate: int
    spo2: int
    raw: bytes


def decode_jks50f(data: bytes) -> Jks50fFrame:
    data = bytes(data)
    check_exact_length(JKS50F, data, JKS50F_LENGTH, "a JKS50F frame")
    if data[:3] != JKS50F_HEAD:
        raise FrameError(JKS50F, "frame does not start with FF 44 01", data.hex())
    expected = (sum(data[:68]) + 1) & 0xFF
    if data[68] != expected:
        raise FrameError(JKS50F, f"checksum 0x{data[68]:02x} != 0x{expected:02x}", data.hex())
    spo2, pulse = data[4], data[5]
    if 100 < spo2 != JKS50F_INVALID:
        raise FrameError(JKS50F, f"SpO2 {spo2} is out of range (0-100, 127 = invalid)", data.hex())
    pi_raw = (data[6] & 0x7F) | (data[7] & 0x3F) << 7
    pi_invalid = (data[6] & 0x7F) == 0x7F and (data[7] & 0x7F) == 0x7F
    return Jks50fFrame(
        finger_present=data[3] == 0,
        spo2=None if spo2 == JKS50F_INVALID else spo2,
        pulse_rate=None if pulse == JKS50F_INVALID else pulse,
        pi_hundredths=None if pi_invalid else pi_raw,
        raw=data,
    )


def decode_contec(data: bytes) -> ContecFrame:
    data = bytes(data)
    if len(data) < 2 or data[0] != CONTEC_HEADER:
        raise FrameError(CONTEC, "frame does not start with EB", data.hex())
    if data[1] != CONTEC_VALUES:
        raise FrameError(CONTEC, f"EB {data[1]:02x} frames are not decoded (only EB 01 values)", data.hex())
    check_exact_length(CONTEC, data, CONTEC_VALUES_LENGTH, "an EB 01 value frame")
    if data[4] > 100:
        raise FrameError(CONTEC, f"SpO2 {data[4]} is out of range (0-100)", data.hex())
    return ContecFrame(status_byte=data[2], pulse_rate=data[3], spo2=data[4], raw=data)


def jks50f_reading_fields(frame: Jks50fFrame) -> ReadingFields:
    return ReadingFields(
        spo2=no_reading_if_zero(frame.spo2),
        pulse=no_reading_if_zero(frame.pulse_rate),
        perfusion_index=frame.pi if frame.pi_hundredths else None,
        probe_off=not frame.finger_present,
    )


def contec_reading_fields(frame: ContecFrame) -> ReadingFields:
    # The finger guess is not trusted enough to mark probe-off; a 0 value is still "no reading".
    return ReadingFields(
        spo2=no_reading_if_zero(frame.spo2), pulse=no_reading_if_zero(frame.pulse_rate), perfusion_index=None
    )


def jks50f_dict(frame: Jks50fFrame) -> dict[str, Any]:
    return {
        "finger_present": frame.finger_present,
        "spo2": frame.spo2,
        "pulse_rate": frame.pulse_rate,
        "pi": frame.pi,
        "checksum_ok": True,
    }


def contec_dict(frame: ContecFrame) -> dict[str, Any]:
    return {
        "header": CONTEC_HEADER,
        "type": CONTEC_VALUES,
        "status_byte": frame.status_byte,
        "pulse_rate": frame.pulse_rate,
        "spo2": frame.spo2,
    }
