"""Jumper JPD-500F / "Medical" / "My Oximeter" (CDEACB80 service) — EXPERIMENTAL, UNCONFIRMED.

ble-protocols.md §2.7: layout reverse-engineered by the community (SensorsIot/Oximeters-BLE-Hack-ESP32
Oximeter_Jumper.ino, obniz PLS_01BT part). Value frame `81 | PR | SpO2 | PI` (PI raw 0-200, /10 = %).
No capture with expected values exists; the "no reading" markers PR 255 / SpO2 127 are UNCONFIRMED, and so
is the waveform frame (first byte 0x80), which is recognised but not decoded. The gateway only selects this
protocol when experimental protocols are enabled (registry.py); never build safety logic on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from gateway.protocols.common import ReadingFields, check_exact_length, no_reading_if_zero
from gateway.protocols.errors import FrameError

PROTOCOL: Final = "jumper-cdeacb"
EXPERIMENTAL: Final = True
CONFIRMED: Final = False
SERVICE_UUID: Final = "cdeacb80-5235-4c07-8846-93a37ee6b86d"
NOTIFY_UUID: Final = "cdeacb81-5235-4c07-8846-93a37ee6b86d"

VALUE_FRAME: Final = 0x81
WAVEFORM_FRAME: Final = 0x80
VALUE_LENGTH: Final = 4
PULSE_NONE: Final = 255  # UNCONFIRMED (obniz skips frames with PR 255)
SPO2_NONE: Final = 127  # UNCONFIRMED
PI_MAX_RAW: Final = 200


@dataclass(frozen=True, slots=True)
class JumperValues:
    """A 0x81 value frame; None where the (unconfirmed) no-reading marker was sent."""

    pulse_rate: int | None
    spo2: int | None
    pi_raw: int
    raw: bytes

    @property
    def pi_percent(self) -> float | None:
        """PI in %; None for 0 (no PI) or a raw value beyond the documented 0-200."""
        return self.pi_raw / 10 if 0 < self.pi_raw <= PI_MAX_RAW else None


@dataclass(frozen=True, slots=True)
class JumperWaveform:
    """A 0x80 frame: pleth data whose layout is UNCONFIRMED; kept raw, never turned into a reading."""

    raw: bytes


JumperFrame = JumperValues | JumperWaveform


def decode_frame(data: bytes) -> JumperFrame:
    """Decode one notification: a 4-byte 0x81 value frame or a 0x80 waveform frame."""
    data = bytes(data)
    if not data:
        raise FrameError(PROTOCOL, "empty frame", "")
    if data[0] == WAVEFORM_FRAME:
        return JumperWaveform(raw=data)
    if data[0] != VALUE_FRAME:
        # e.g. the repeated 0x2D ('-') idle frames some units send before measuring (§2.7, UNCONFIRMED)
        raise FrameError(
            PROTOCOL, f"frame type 0x{data[0]:02x} is unknown (0x81 values, 0x80 waveform)", data.hex()
        )
    check_exact_length(PROTOCOL, data, VALUE_LENGTH, "a 0x81 value frame")
    pulse, spo2, pi_raw = data[1], data[2], data[3]
    if 100 < spo2 != SPO2_NONE:
        raise FrameError(PROTOCOL, f"SpO2 {spo2} is out of range (0-100, 127 = none)", data.hex())
    return JumperValues(
        pulse_rate=None if pulse == PULSE_NONE else pulse,
        spo2=None if spo2 == SPO2_NONE else spo2,
        pi_raw=pi_raw,
        raw=data,
    )


def to_reading_fields(frame: JumperFrame) -> ReadingFields | None:
    if not isinstance(frame, JumperValues):
        return None
    spo2, pulse = no_reading_if_zero(frame.spo2), no_reading_if_zero(frame.pulse_rate)
    return ReadingFields(
        spo2=spo2, pulse=pulse, perfusion_index=frame.pi_percent, searching=spo2 is None and pulse is None
    )


def as_dict(frame: JumperFrame) -> dict[str, Any]:
    """Field names of ble-vectors.json; `pi_percent` only when the frame carries a PI (raw 1-200)."""
    if isinstance(frame, JumperWaveform):
        return {"frame_type": WAVEFORM_FRAME, "payload_hex": frame.raw[1:].hex()}
    out: dict[str, Any] = {
        "frame_type": VALUE_FRAME,
        "pulse_rate": frame.pulse_rate,
        "spo2": frame.spo2,
        "pi_raw": frame.pi_raw,
    }
    if frame.pi_percent is not None:
        out["pi_percent"] = frame.pi_percent
    return out
