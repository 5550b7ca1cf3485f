"""The emulator's own encoder for the Nonin 3230 continuous oximetry frame (pure).

Layout from ble-protocols.md §2.4 (10 bytes, multi-byte fields big-endian, as four independent
implementations of Nonin doc 113142-000-02 agree). Independent of gateway/.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from emulator.scenarios import Sample

__all__ = ["NoninFrame", "NoninStatus", "encode_nonin_frame", "nonin_frame_for"]

_LENGTH = 10
_SPO2_MISSING, _PR_MISSING = 127, 511  # §2.4


class NoninStatus(enum.IntFlag):
    """Byte 1 (§2.4); bits 0 and 7 are unused."""

    NONE = 0
    WEAK_SIGNAL = 0x02
    SMARTPOINT = 0x04
    SEARCHING = 0x08
    SENSOR_ATTACHED = 0x10  # sensor attached / CorrectCheck OK
    LOW_BATTERY = 0x20
    ENCRYPTED = 0x40


@dataclass(frozen=True, slots=True)
class NoninFrame:
    """Field names as in ble-vectors.json; None = the "missing" marker."""

    status: int
    battery_v: float
    pai_percent: float
    counter: int
    spo2: int | None
    pulse_rate: int | None


def encode_nonin_frame(frame: NoninFrame) -> bytes:
    """length(10) status battery(×0.1 V) PAI(×0.01 %, u16 BE) counter(u16 BE) SpO2 PR(u16 BE)."""
    return struct.pack(
        ">BBBHHBH",
        _LENGTH,
        frame.status & 0xFF,
        round(frame.battery_v * 10) & 0xFF,
        round(frame.pai_percent * 100) & 0xFFFF,
        frame.counter & 0xFFFF,
        _SPO2_MISSING if frame.spo2 is None else frame.spo2,
        _PR_MISSING if frame.pulse_rate is None else frame.pulse_rate,
    )


def nonin_frame_for(sample: Sample, counter: int, *, battery_v: float, encrypted: bool) -> NoninFrame:
    """What the 3230 sends for `sample`. Finger out: sensor-attached cleared and values missing;
    no reading yet with the finger in: "searching" (vector nonin-02). `encrypted` is the link's
    real state (status bit 6)."""
    link = NoninStatus.ENCRYPTED if encrypted else NoninStatus.NONE
    if battery_v < 2.5:
        link |= NoninStatus.LOW_BATTERY
    if sample.probe_off:
        return NoninFrame(link, battery_v, 0.0, counter, None, None)
    if sample.spo2 is None or sample.pulse_rate is None:
        return NoninFrame(
            link | NoninStatus.SEARCHING | NoninStatus.SENSOR_ATTACHED, battery_v, 0.0, counter, None, None
        )
    pai = sample.pai or 0.0
    quality = (
        NoninStatus.SMARTPOINT if pai > 0.3 else NoninStatus.WEAK_SIGNAL
    )  # §2.4: weak ≤ 0.3 % modulation
    return NoninFrame(
        link | quality | NoninStatus.SENSOR_ATTACHED,
        battery_v,
        pai,
        counter,
        round(sample.spo2),
        round(sample.pulse_rate),
    )
