"""The emulator's own encoder for BerryMed BCI (5-byte) and BERRY (20-byte) frames (pure).

Layouts from ble-protocols.md §2.2 (vendor "BCI Protocol V1.2.pdf") and §2.3 ("BCI & BERRY Protocol
V1.0.doc"). Independent of gateway/: a test tool must not share the decoder it exercises.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from emulator.scenarios import Sample
from emulator.vendors.waveform import pleth_wave

__all__ = [
    "BCI_FINGER_OUT",
    "BCI_RATE_HZ",
    "BciFrame",
    "BerryPacket",
    "BerryStatus",
    "bci_frame_for",
    "berry_packet_for",
    "encode_bci_frame",
    "encode_bci_version",
    "encode_berry_packet",
    "encode_berry_version",
]

BCI_RATE_HZ = 100.0  # §2.2: 100 frames/s
_SPO2_INVALID, _PR_INVALID = 0x7F, 0xFF  # §2.2 / §2.3 "invalid" markers
_BERRY_HEAD = b"\xff\xaa"


@dataclass(frozen=True, slots=True)
class BciFrame:
    """One BCI frame; field names as in ble-vectors.json. None = the protocol's invalid marker."""

    signal_strength: int = 0
    no_signal: bool = False
    probe_unplugged: bool = False
    pulse_beep: bool = False
    pleth: int | None = None
    bargraph: int | None = None
    no_finger: bool = False
    pulse_searching: bool = False
    pulse_rate: int | None = None
    spo2: int | None = None


# Finger out (vector berrymed-bci-08): no signal + no finger, every value invalid.
BCI_FINGER_OUT = BciFrame(no_signal=True, no_finger=True)


def encode_bci_frame(frame: BciFrame) -> bytes:
    """5 bytes; sync bit 7 set only in byte 1. Pulse rate bit 7 travels in byte 3 bit 6, so the
    invalid 255 goes out as byte3 bit6 = 1 and byte4 = 0x7F (§2.2)."""
    pulse = _PR_INVALID if frame.pulse_rate is None else frame.pulse_rate
    spo2 = _SPO2_INVALID if frame.spo2 is None else frame.spo2
    if not 0 <= pulse <= 0xFF or not 0 <= spo2 <= 0x7F:
        raise ValueError(f"pulse rate {pulse} or SpO2 {spo2} out of BCI range")
    byte1 = (
        0x80
        | (frame.signal_strength & 0x0F)
        | (0x10 if frame.no_signal else 0)
        | (0x20 if frame.probe_unplugged else 0)
        | (0x40 if frame.pulse_beep else 0)
    )
    byte3 = (
        ((frame.bargraph or 0) & 0x0F)
        | (0x10 if frame.no_finger else 0)
        | (0x20 if frame.pulse_searching else 0)
        | (0x40 if pulse & 0x80 else 0)
    )
    return bytes([byte1, (frame.pleth or 0) & 0x7F, byte3, pulse & 0x7F, spo2])


def bci_frame_for(sample: Sample, position: int, rate_hz: float = BCI_RATE_HZ) -> BciFrame:
    """What a BCI device sends at stream position `position` while measuring `sample`."""
    if sample.probe_off:
        return BCI_FINGER_OUT
    if sample.spo2 is None or sample.pulse_rate is None:
        return BciFrame(pulse_searching=True)
    wave, beat = pleth_wave(position, sample.pulse_rate, rate_hz)
    strength = max(1, min(8, round(sample.pai))) if sample.pai else 1
    return BciFrame(
        signal_strength=strength,
        pulse_beep=beat,
        pleth=wave,
        bargraph=max(1, round(wave * 15 / 100)),
        pulse_rate=round(sample.pulse_rate),
        spo2=round(sample.spo2),
    )


def encode_bci_version(text: str, *, head: int = 0xFF, packets: int = 3) -> list[bytes]:
    """Answer to host command 0xFF (software, three packets) or 0xFE (hardware, one packet):
    5-byte packets `head` + 4 ASCII bytes (§2.2, e.g. `FF 56 31 2E 30` = "V1.0"). Padding with NUL
    when the text is shorter is the emulator's choice (the doc does not say)."""
    raw = text.encode("ascii")[: 4 * packets].ljust(4 * packets, b"\x00")
    return [bytes([head]) + raw[i : i + 4] for i in range(0, len(raw), 4)]


class BerryStatus(enum.IntFlag):
    """BERRY byte 3 (§2.3)."""

    NONE = 0
    SENSOR_OFF = 0x01
    NO_FINGER = 0x02
    NO_PULSE_SIGNAL = 0x04
    PULSE_BEAT = 0x08


@dataclass(frozen=True, slots=True)
class BerryPacket:
    """One BERRY measurement packet; field names as in ble-vectors.json. None = invalid marker."""

    packet_index: int
    status: int = BerryStatus.NONE
    spo2: int | None = None
    spo2_realtime: int | None = None
    pulse_rate: int | None = None
    pulse_rate_realtime: int | None = None
    rr_interval_ms: int | None = None
    pi_percent: float | None = None
    pi_realtime_percent: float | None = None
    pleth: int | None = None
    adc: int = 0
    battery_percent: int = 100
    packet_rate_hz: int = 100


def _checksummed(body: bytes) -> bytes:
    return body + bytes([sum(body) & 0xFF])  # §2.3: sum(bytes 0..18) mod 256


def _pi(percent: float | None) -> int:
    return 0 if percent is None else max(1, min(200, round(percent * 10)))  # per-mille, 0 = invalid


def encode_berry_packet(packet: BerryPacket) -> bytes:
    """20 bytes `FF AA` index status SpO2 SpO2rt PR PRrt RR(LE, samples of 5 ms) PI PIrt pleth
    ADC(int32 LE) battery rate checksum (§2.3)."""
    rr_samples = 0 if packet.rr_interval_ms is None else round(packet.rr_interval_ms / 5)
    body = _BERRY_HEAD + struct.pack(
        "<BBBBBBHBBBiBB",
        packet.packet_index & 0xFF,
        packet.status & 0xFF,
        _SPO2_INVALID if packet.spo2 is None else packet.spo2,
        _SPO2_INVALID if packet.spo2_realtime is None else packet.spo2_realtime,
        _PR_INVALID if packet.pulse_rate is None else packet.pulse_rate,
        _PR_INVALID if packet.pulse_rate_realtime is None else packet.pulse_rate_realtime,
        rr_samples,
        _pi(packet.pi_percent),
        _pi(packet.pi_realtime_percent),
        packet.pleth or 0,
        packet.adc,
        packet.battery_percent,
        packet.packet_rate_hz,
    )
    return _checksummed(body)


def berry_packet_for(sample: Sample, position: int, *, rate_hz: int, battery_percent: int) -> BerryPacket:
    """What a BERRY device sends as packet number `position` of a `rate_hz` stream."""
    index = position & 0xFF
    if sample.probe_off or sample.spo2 is None or sample.pulse_rate is None:
        status = (
            BerryStatus.NO_FINGER | BerryStatus.NO_PULSE_SIGNAL
            if sample.probe_off
            else BerryStatus.NO_PULSE_SIGNAL
        )
        return BerryPacket(index, status, battery_percent=battery_percent, packet_rate_hz=rate_hz)
    wave, beat = pleth_wave(position, sample.pulse_rate, rate_hz)
    spo2, pulse = round(sample.spo2), round(sample.pulse_rate)
    return BerryPacket(
        index,
        BerryStatus.PULSE_BEAT if beat else BerryStatus.NONE,
        spo2,
        spo2,
        pulse,
        pulse,
        rr_interval_ms=round(60_000 / pulse),
        pi_percent=sample.pai,
        pi_realtime_percent=sample.pai,
        pleth=wave,
        adc=2_000_000 - 1_000 * wave,  # IR absorbance falls as the pulse fills the finger
        battery_percent=battery_percent,
        packet_rate_hz=rate_hz,
    )


def encode_berry_version(kind: str, text: str) -> bytes:
    """Version reply `FF AA 'S'|'H'` + ASCII padded with NUL to 16 bytes + checksum (§2.3,
    vectors berrymed-berry-01/02)."""
    if kind not in ("S", "H"):
        raise ValueError("kind is 'S' (software) or 'H' (hardware)")
    raw = text.encode("ascii")
    if len(raw) > 16:
        raise ValueError("version text holds at most 16 characters")
    return _checksummed(_BERRY_HEAD + kind.encode() + raw.ljust(16, b"\x00"))
