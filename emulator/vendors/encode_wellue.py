"""The emulator's own encoders for Wellue/Viatom PC-60FW and O2Ring/Checkme O2 frames (pure).

PC-60FW (ble-protocols.md §2.6): `AA 55 | token | length | func | data | CRC-8/MAXIM`, length
counting the bytes after itself including the CRC. O2Ring (§2.5): request `AA cmd ~cmd block len
data CRC-8`, response `55 status ~status block len payload CRC-8`, CRC-8 poly 0x07 init 0.
Independent of gateway/.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from emulator.scenarios import Sample
from emulator.vendors.waveform import pleth_wave

__all__ = [
    "O2RING_READ_SENSORS",
    "O2RingRequest",
    "O2RingSensors",
    "crc8_maxim",
    "crc8_viatom",
    "encode_o2ring_request",
    "encode_o2ring_response",
    "encode_o2ring_sensors",
    "encode_pc60fw_battery",
    "encode_pc60fw_frame",
    "encode_pc60fw_vitals",
    "encode_pc60fw_waveform",
    "o2ring_sensors_for",
    "parse_o2ring_request",
    "pc60fw_waveform_for",
]

PC60FW_TOKEN_MEASUREMENT, PC60FW_TOKEN_DEVICE = 0x0F, 0xF0
PC60FW_VITALS, PC60FW_WAVEFORM, PC60FW_BATTERY = 0x01, 0x02, 0x03
PC60FW_WAVE_RATE_HZ = 60.0  # §2.6: func 0x02 ~12 frames/s × 5 samples
_PC60FW_STATUS = 0xC0  # byte 10 in every published capture; its meaning is UNCONFIRMED (§2.6)
O2RING_READ_SENSORS = 0x17
_O2_REQUEST_HEAD, _O2_RESPONSE_HEAD = 0xAA, 0x55


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM (Dallas): reflected poly 0x31 (0x8C), init 0 (§2.6)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def crc8_viatom(data: bytes) -> int:
    """CRC-8 poly 0x07, init 0, not reflected (§2.5)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


# -- PC-60FW ---------------------------------------------------------------------------------------
def encode_pc60fw_frame(token: int, func: int, data: bytes) -> bytes:
    body = bytes([0xAA, 0x55, token & 0xFF, len(data) + 2, func & 0xFF]) + data
    return body + bytes([crc8_maxim(body)])


def encode_pc60fw_vitals(spo2: int | None, pulse_rate: int | None, pi: float | None) -> bytes:
    """func 0x01: SpO2, PR (uint16 LE), PI × 10, 0, status. 0 = searching / no reading (§2.6)."""
    data = struct.pack("<BHBBB", spo2 or 0, pulse_rate or 0, round((pi or 0.0) * 10), 0, _PC60FW_STATUS)
    return encode_pc60fw_frame(PC60FW_TOKEN_MEASUREMENT, PC60FW_VITALS, data)


def encode_pc60fw_waveform(samples: list[int], beat_index: int | None = None) -> bytes:
    """func 0x02: 5 pleth samples, 7-bit amplitude; bit 7 marks the sample where a beat starts."""
    if len(samples) != 5:
        raise ValueError("a PC-60FW waveform frame carries 5 samples")
    data = bytes((s & 0x7F) | (0x80 if i == beat_index else 0) for i, s in enumerate(samples))
    return encode_pc60fw_frame(PC60FW_TOKEN_MEASUREMENT, PC60FW_WAVEFORM, data)


def encode_pc60fw_battery(level: int) -> bytes:
    """func 0x03 on the device token: battery level 0-3 (capture `AA 55 F0 03 03 03 F6`)."""
    return encode_pc60fw_frame(PC60FW_TOKEN_DEVICE, PC60FW_BATTERY, bytes([max(0, min(3, level))]))


def pc60fw_waveform_for(sample: Sample, frame_position: int) -> bytes:
    """Waveform frame number `frame_position` of the stream (5 samples each); zeros when no pulse."""
    first = frame_position * 5
    if sample.probe_off or sample.pulse_rate is None:
        return encode_pc60fw_waveform([0] * 5)
    points = [pleth_wave(first + i, sample.pulse_rate, PC60FW_WAVE_RATE_HZ) for i in range(5)]
    beat = next((i for i, (_, is_beat) in enumerate(points) if is_beat), None)
    return encode_pc60fw_waveform([value for value, _ in points], beat)


# -- O2Ring / Checkme O2 ---------------------------------------------------------------------------
def encode_o2ring_request(cmd: int, *, block: int = 0, data: bytes = b"") -> bytes:
    body = bytes([_O2_REQUEST_HEAD, cmd & 0xFF, cmd ^ 0xFF]) + struct.pack("<HH", block, len(data)) + data
    return body + bytes([crc8_viatom(body)])


def encode_o2ring_response(payload: bytes, *, status: int = 0, block: int = 0) -> bytes:
    body = bytes([_O2_RESPONSE_HEAD, status & 0xFF, status ^ 0xFF]) + struct.pack("<HH", block, len(payload))
    body += payload
    return body + bytes([crc8_viatom(body)])


@dataclass(frozen=True, slots=True)
class O2RingRequest:
    cmd: int
    block: int
    data: bytes


def parse_o2ring_request(buffer: bytes) -> tuple[O2RingRequest | None, int]:
    """(request, bytes consumed) from the start of `buffer`; (None, 0) when more bytes are needed.

    Bytes before a `AA` head and whole frames with a bad complement or CRC are consumed and
    dropped (request None, consumed > 0), so the caller's buffer resynchronises.
    """
    start = buffer.find(_O2_REQUEST_HEAD)
    if start < 0:
        return None, len(buffer)
    if start > 0:
        return None, start
    if len(buffer) < 7:
        return None, 0
    cmd, complement = buffer[1], buffer[2]
    block, length = struct.unpack_from("<HH", buffer, 3)
    total = 8 + length
    if complement != cmd ^ 0xFF:
        return None, 1
    if len(buffer) < total:
        return None, 0
    if crc8_viatom(buffer[: total - 1]) != buffer[total - 1]:
        return None, total
    return O2RingRequest(cmd, block, bytes(buffer[7 : total - 1])), total


@dataclass(frozen=True, slots=True)
class O2RingSensors:
    """Read-sensors payload (13 bytes, §2.5); None = 0xFF "no finger"."""

    spo2: int | None
    pulse_rate: int | None
    battery_percent: int
    charging: int = 0
    motion: int = 0
    pi_or_signal_strength: int = 0
    finger_present: bool = True
    byte2: int | None = None  # unknown; 0xFF in the no-finger capture, 0 otherwise (default follows)


def encode_o2ring_sensors(sensors: O2RingSensors) -> bytes:
    """[0] SpO2 [1] HR [2..6] unknown [7] battery [8] charging [9] motion [10] strength [11] finger [12] 0."""
    no_finger = sensors.spo2 is None
    byte2 = sensors.byte2 if sensors.byte2 is not None else (0xFF if no_finger else 0)
    return bytes(
        [
            0xFF if sensors.spo2 is None else sensors.spo2,
            0xFF if sensors.pulse_rate is None else sensors.pulse_rate,
            byte2,
            0,
            0,
            0,
            0,
            sensors.battery_percent,
            sensors.charging,
            sensors.motion,
            sensors.pi_or_signal_strength,
            1 if sensors.finger_present else 0,
            0,
        ]
    )


def o2ring_sensors_for(sample: Sample | None, *, battery_percent: int) -> O2RingSensors:
    """The ring's answer for its latest reading. Before the first reading, or while the reading is
    not ready, it reports 0 with the finger flag set ("calibrating", §2.5)."""
    if sample is not None and sample.probe_off:
        return O2RingSensors(None, None, battery_percent, finger_present=False)
    if sample is None or sample.spo2 is None or sample.pulse_rate is None:
        return O2RingSensors(0, 0, battery_percent)
    strength = min(255, round((sample.pai or 0.0) * 2))  # a PI-like value, scale unconfirmed (§2.5)
    return O2RingSensors(
        round(sample.spo2), round(sample.pulse_rate), battery_percent, pi_or_signal_strength=strength
    )
