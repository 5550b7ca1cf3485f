"""Wellue/Viatom PC-60FW fingertip oximeter over the Nordic UART Service (ble-protocols.md §2.6).

Sources (as cited there): sza2/viatom_pc60fw (README, pc60fw.py), the C# Viatom_PulseOximeter_PC60FW_Factory
parser and test captures, andradebyte/oximeter-wellue-pc60fw-web PROTOCOL.md, a Lepu "PC-60" note.

Frame: `AA 55` | token | length (bytes after it, CRC included) | function | data | CRC-8/MAXIM over all
previous bytes. Pinned: vitals (0x01), pleth (0x02), battery (0x03). UNCONFIRMED: function 0x21
(status / spot-check result), byte 10 of the vitals frame, and whether bytes 6-7 are one uint16 pulse rate.
The O2Ring / Checkme O2 request/response protocol is in wellue_o2ring.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from gateway.protocols.common import Parsed, ReadingFields, SkipRun, StreamStats, no_reading_if_zero
from gateway.protocols.crc import crc8_maxim
from gateway.protocols.errors import FrameError

PROTOCOL: Final = "pc60fw"
# Nordic UART Service; the oximeter notifies on TX (6E400003); RX (6E400002) is not needed.
SERVICE_UUID: Final = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NOTIFY_UUID: Final = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
WRITE_UUID: Final = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"

SYNC: Final = b"\xaa\x55"
TOKENS: Final = (0x0F, 0xF0)  # 0x0F measurement, 0xF0 device
FUNC_VITALS: Final = 0x01
FUNC_PLETH: Final = 0x02
FUNC_BATTERY: Final = 0x03
FUNC_STATUS: Final = 0x21
# The length byte each known function must carry (data bytes + function + CRC).
LENGTHS: Final = {FUNC_VITALS: 8, FUNC_PLETH: 7, FUNC_BATTERY: 3, FUNC_STATUS: 6}


@dataclass(frozen=True, slots=True)
class Pc60Vitals:
    """Function 0x01, about 1 Hz: the numbers on the display. 0 = searching, reported as None."""

    token: int
    spo2: int | None
    pulse_rate: int | None
    pi_tenths: int | None
    status_byte: int  # byte 10 (0xC0 in every capture): meaning UNCONFIRMED
    raw: bytes

    @property
    def pi(self) -> float | None:
        return None if self.pi_tenths is None else self.pi_tenths / 10


@dataclass(frozen=True, slots=True)
class Pc60Pleth:
    """Function 0x02, about 12/s: five pleth samples; bit 7 of a sample marks a beat."""

    token: int
    samples: tuple[int, ...]
    beat_indices: tuple[int, ...]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Pc60Battery:
    """Function 0x03 (token 0xF0): battery level 0-3."""

    token: int
    level: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Pc60Status:
    """Function 0x21 [UNCONFIRMED]: `02 00 00 00` with every pulse; `01 03 <SpO2> <PR>` a spot result."""

    token: int
    mode: int
    step: int
    spo2: int | None
    pulse_rate: int | None
    raw: bytes


Pc60Frame = Pc60Vitals | Pc60Pleth | Pc60Battery | Pc60Status


def _error(reason: str, data: bytes) -> FrameError:
    return FrameError(PROTOCOL, reason, data.hex())


def _spo2(value: int, data: bytes) -> int | None:
    if value > 100:
        raise _error(f"SpO2 {value} is out of range (0 = searching, 1-100)", data)
    return value or None


def decode_frame(data: bytes) -> Pc60Frame:
    """Decode one whole frame (sync, CRC and the function's length are checked)."""
    data = bytes(data)
    if len(data) < 6 or data[:2] != SYNC:
        raise _error("a frame starts AA 55 and is at least 6 bytes", data)
    token, length, func = data[2], data[3], data[4]
    if len(data) != 4 + length:
        raise _error(f"length byte {length} declares {4 + length} bytes, got {len(data)}", data)
    if crc8_maxim(data) != 0:
        raise _error(
            f"CRC-8/MAXIM mismatch (frame ends 0x{data[-1]:02x}, expected 0x{crc8_maxim(data[:-1]):02x})",
            data,
        )
    if token not in TOKENS:
        raise _error(f"token 0x{token:02x} is reserved (0x0f, 0xf0)", data)
    if func not in LENGTHS:
        raise _error(f"function 0x{func:02x} is not decoded (unconfirmed)", data)
    if length != LENGTHS[func]:
        raise _error(f"function 0x{func:02x} has length {LENGTHS[func]}, got {length}", data)
    if func == FUNC_VITALS:
        return Pc60Vitals(
            token=token,
            spo2=_spo2(data[5], data),
            pulse_rate=int.from_bytes(data[6:8], "little") or None,
            pi_tenths=data[8] or None,
            status_byte=data[10],
            raw=data,
        )
    if func == FUNC_PLETH:
        samples = data[5:10]
        beats = tuple(i for i, value in enumerate(samples) if value & 0x80)
        return Pc60Pleth(token=token, samples=tuple(v & 0x7F for v in samples), beat_indices=beats, raw=data)
    if func == FUNC_BATTERY:
        if data[5] > 3:
            raise _error(f"battery level {data[5]} is out of range (0-3)", data)
        return Pc60Battery(token=token, level=data[5], raw=data)
    return Pc60Status(
        token=token,
        mode=data[5],
        step=data[6],
        spo2=_spo2(data[7], data),
        pulse_rate=data[8] or None,
        raw=data,
    )


class Pc60Stream:
    """Reassembles PC-60FW frames from Nordic UART notifications. `feed()` never raises."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = StreamStats()

    @property
    def buffered(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes) -> Parsed[Pc60Frame]:
        self._buf += data
        buf = self._buf
        frames: list[Pc60Frame] = []
        errors: list[FrameError] = []
        skip = SkipRun(PROTOCOL)
        i = 0
        while i < len(buf):
            if buf[i] != SYNC[0] or (i + 1 < len(buf) and buf[i + 1] != SYNC[1]):
                skip.add(buf[i : i + 1], "no AA 55 sync")
                i += 1
                continue
            if len(buf) - i < 4:
                break  # wait for the length byte
            total = 4 + buf[i + 3]
            if total < 6:
                skip.add(buf[i : i + 1], f"length byte {buf[i + 3]} is too small")
                i += 1
                continue
            if len(buf) - i < total:
                break
            candidate = bytes(buf[i : i + total])
            if crc8_maxim(candidate) != 0:
                self.stats.rejected_frames += 1
                skip.add(candidate[:1], "CRC-8/MAXIM mismatch")
                i += 1
                continue
            skip.flush(errors, self.stats)
            i += total
            try:
                frames.append(decode_frame(candidate))
            except FrameError as err:  # CRC-valid but undecodable: skip the whole frame, report it
                self.stats.rejected_frames += 1
                self.stats.garbage_bytes += total
                errors.append(err)
        del buf[:i]
        skip.flush(errors, self.stats)
        self.stats.frames += len(frames)
        return Parsed(tuple(frames), tuple(errors))


def to_reading_fields(frame: Pc60Frame) -> ReadingFields | None:
    """Vitals give a Reading; pleth, battery and the unconfirmed 0x21 frames do not."""
    if not isinstance(frame, Pc60Vitals):
        return None
    spo2, pulse = no_reading_if_zero(frame.spo2), no_reading_if_zero(frame.pulse_rate)
    return ReadingFields(
        spo2=spo2, pulse=pulse, perfusion_index=frame.pi, searching=spo2 is None and pulse is None
    )


def as_dict(frame: Pc60Frame) -> dict[str, Any]:
    """The frame with the field names of ble-vectors.json (a decoded frame's CRC is always ok)."""
    out: dict[str, Any] = {"token": frame.token, "length": frame.raw[3], "func": frame.raw[4]}
    if isinstance(frame, Pc60Vitals):
        out.update(spo2=frame.spo2, pulse_rate=frame.pulse_rate, pi=frame.pi)
    elif isinstance(frame, Pc60Pleth):
        out["pleth_samples"] = list(frame.samples)
        if frame.beat_indices:
            out["beat_marker_index"] = frame.beat_indices[0]
    elif isinstance(frame, Pc60Battery):
        out["battery_level"] = frame.level
    else:
        out.update(mode=frame.mode, step=frame.step, spo2=frame.spo2, pulse_rate=frame.pulse_rate)
    out["crc_ok"] = True
    return out
