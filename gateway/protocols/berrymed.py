"""BerryMed BM1000-family oximeters: BCI 5-byte frames, BERRY 20-byte packets (ble-protocols.md §2.2-§2.3).

Sources (as cited there): vendor "BCI Protocol V1.2.pdf" (zh2x/BCI_Protocol), vendor "BCI & BERRY Protocol
V1.0.doc" (2024, zh2x/SpO2-BLE-for-Android), PyPI berry-oximeter tests. Both protocols arrive on the ISSC
"transparent UART" Send characteristic; the stream parser that separates them is in berrymed_stream.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from gateway.protocols.common import ReadingFields, check_exact_length, device_sensor_bits, no_reading_if_zero
from gateway.protocols.errors import FrameError

BCI: Final = "berrymed-bci"
BERRY: Final = "berrymed-berry"

# §2.1 / §2.2: Microchip ISSC transparent UART service.
SERVICE_UUID: Final = "49535343-fe7d-4ae5-8fa9-9fafd205e455"
NOTIFY_UUID: Final = "49535343-1e4d-4bd9-ba61-23c647249616"
WRITE_UUID: Final = "49535343-8841-43f4-a8d4-ecbe34729bb3"
# §2.2: single-byte host commands written to WRITE_UUID.
CMD_SOFTWARE_VERSION: Final = b"\xff"
CMD_HARDWARE_VERSION: Final = b"\xfe"
CMD_SWITCH_TO_BCI: Final = b"\xe0"
CMD_SWITCH_TO_BERRY: Final = b"\xe1"

BCI_LENGTH: Final = 5
BERRY_LENGTH: Final = 20
BERRY_HEAD: Final = b"\xff\xaa"
# §2.3 byte 3 status bits; bits 4-7 are undefined.
BERRY_STATUS_BITS: Final = {0: "sensor_off", 1: "no_finger", 2: "no_pulse_signal", 3: "pulse_beat"}
_BERRY_STATUS_RESERVED: Final = 0xF0

VersionKind = Literal["software_version", "hardware_version"]
_BCI_VERSION_HEADS: Final[dict[int, VersionKind]] = {0xFF: "software_version", 0xFE: "hardware_version"}
_BERRY_VERSION_KINDS: Final[dict[int, VersionKind]] = {0x53: "software_version", 0x48: "hardware_version"}


@dataclass(frozen=True, slots=True)
class BciFrame:
    """One BCI measurement frame (§2.2); None where the frame carries the invalid marker."""

    signal_strength: int | None  # 0-8; 0xF = invalid
    no_signal: bool
    probe_unplugged: bool
    pulse_beep: bool
    pleth: int | None  # 1-100; 0 = invalid
    bargraph: int | None  # 1-15; 0 = invalid
    no_finger: bool
    pulse_searching: bool
    pulse_rate: int | None  # 9 bits split over bytes 3 and 4; 255 = invalid
    spo2: int | None  # 127 = invalid
    raw: bytes


@dataclass(frozen=True, slots=True)
class BciVersionPacket:
    """A 5-byte reply to the 0xFF / 0xFE version commands: passes the BCI sync rule but is no measurement."""

    kind: VersionKind
    text: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class BerryMeasurement:
    """One BERRY measurement packet (§2.3); None where the packet carries the invalid marker."""

    packet_index: int
    status: int
    spo2: int | None
    spo2_realtime: int | None
    pulse_rate: int | None
    pulse_rate_realtime: int | None
    rr_interval_samples: int | None  # 5 ms per sample
    pi_per_mille: int | None
    pi_realtime_per_mille: int | None
    pleth: int | None
    adc_sample: int
    battery_percent: int | None
    packet_rate_hz: int
    raw: bytes

    @property
    def status_bits(self) -> tuple[str, ...]:
        return tuple(name for bit, name in BERRY_STATUS_BITS.items() if self.status >> bit & 1)

    @property
    def rr_interval_ms(self) -> int | None:
        return None if self.rr_interval_samples is None else self.rr_interval_samples * 5

    @property
    def pi_percent(self) -> float | None:
        return None if self.pi_per_mille is None else self.pi_per_mille / 10

    @property
    def pi_realtime_percent(self) -> float | None:
        return None if self.pi_realtime_per_mille is None else self.pi_realtime_per_mille / 10


@dataclass(frozen=True, slots=True)
class BerryVersion:
    """A BERRY version reply, `FF AA 53 ...` (software) or `FF AA 48 ...` (hardware)."""

    kind: VersionKind
    version: str
    raw: bytes


BerryMedPacket = BciFrame | BciVersionPacket | BerryMeasurement | BerryVersion


def _marker(value: int, invalid: int) -> int | None:
    return None if value == invalid else value


def _ascii(protocol: str, text_bytes: bytes, whole: bytes) -> str:
    text = text_bytes.rstrip(b"\x00")
    if not all(0x20 <= b < 0x7F for b in text):
        raise FrameError(protocol, "version reply is not printable ASCII", whole.hex())
    return text.decode("ascii")


def decode_bci_packet(data: bytes) -> BciFrame | BciVersionPacket:
    """Decode one 5-byte BCI packet: a measurement frame or a version reply."""
    data = bytes(data)
    check_exact_length(BCI, data, BCI_LENGTH, "a BCI frame")
    b1, b2, b3, b4, b5 = data
    if not b1 & 0x80:
        raise FrameError(BCI, "first byte lacks sync bit 7", data.hex())
    if any(b & 0x80 for b in data[1:]):
        raise FrameError(BCI, "a byte after the first has bit 7 set (sync rule)", data.hex())
    if b1 in _BCI_VERSION_HEADS:
        # 0xFF would be "signal invalid + no signal + unplugged + beep", 0xFE signal strength 14: neither is
        # a measurement; these are the answers to the version commands (§2.2, vector berrymed-bci-12).
        return BciVersionPacket(kind=_BCI_VERSION_HEADS[b1], text=_ascii(BCI, data[1:], data), raw=data)
    strength = b1 & 0x0F
    if 8 < strength < 0xF:
        raise FrameError(BCI, f"signal strength {strength} is reserved (0-8, 15 = invalid)", data.hex())
    if b2 > 100:
        raise FrameError(BCI, f"pleth {b2} is out of range (0-100)", data.hex())
    pulse_rate = (b3 & 0x40) << 1 | b4
    if 250 < pulse_rate < 255:
        raise FrameError(BCI, f"pulse rate {pulse_rate} is reserved (25-250, 255 = invalid)", data.hex())
    if 100 < b5 < 127:
        raise FrameError(BCI, f"SpO2 {b5} is reserved (35-100, 127 = invalid)", data.hex())
    return BciFrame(
        signal_strength=_marker(strength, 0xF),
        no_signal=bool(b1 & 0x10),
        probe_unplugged=bool(b1 & 0x20),
        pulse_beep=bool(b1 & 0x40),
        pleth=_marker(b2, 0),
        bargraph=_marker(b3 & 0x0F, 0),
        no_finger=bool(b3 & 0x10),
        pulse_searching=bool(b3 & 0x20),
        pulse_rate=_marker(pulse_rate, 255),
        spo2=_marker(b5, 127),
        raw=data,
    )


def decode_bci_frame(data: bytes) -> BciFrame:
    """Decode one BCI measurement frame; a version reply is rejected, it is not a measurement."""
    packet = decode_bci_packet(data)
    if isinstance(packet, BciVersionPacket):
        raise FrameError(BCI, f"{packet.kind} reply {packet.text!r}, not a measurement", packet.raw.hex())
    return packet


def decode_berry_packet(data: bytes) -> BerryMeasurement | BerryVersion:
    """Decode one 20-byte BERRY packet (head `FF AA`, checksum = sum of bytes 0-18 mod 256)."""
    data = bytes(data)
    check_exact_length(BERRY, data, BERRY_LENGTH, "a BERRY packet")
    if data[:2] != BERRY_HEAD:
        raise FrameError(BERRY, "packet does not start with FF AA", data.hex())
    if sum(data[:19]) & 0xFF != data[19]:
        raise FrameError(BERRY, f"checksum 0x{data[19]:02x} != 0x{sum(data[:19]) & 0xFF:02x}", data.hex())
    kind = _BERRY_VERSION_KINDS.get(data[2])
    status = data[3]
    if kind is not None and status & _BERRY_STATUS_RESERVED:
        # Byte 2 'S' or 'H'. A measurement never sets status bits 4-7; a version reply has ASCII there.
        return BerryVersion(kind=kind, version=_ascii(BERRY, data[3:19], data), raw=data)
    if status & _BERRY_STATUS_RESERVED:
        raise FrameError(BERRY, f"status 0x{status:02x} sets reserved bits 4-7", data.hex())
    for name, value in (("SpO2", data[4]), ("real-time SpO2", data[5])):
        if 100 < value != 127:
            raise FrameError(BERRY, f"{name} {value} is out of range (35-100, 127 = invalid)", data.hex())
    for name, value in (("pulse rate", data[6]), ("real-time pulse rate", data[7])):
        if 250 < value < 255:
            raise FrameError(BERRY, f"{name} {value} is reserved (25-250, 255 = invalid)", data.hex())
    if data[12] > 100:
        raise FrameError(BERRY, f"pleth {data[12]} is out of range (0-100)", data.hex())
    return BerryMeasurement(
        packet_index=data[2],
        status=status,
        spo2=_marker(data[4], 127),
        spo2_realtime=_marker(data[5], 127),
        pulse_rate=_marker(data[6], 255),
        pulse_rate_realtime=_marker(data[7], 255),
        rr_interval_samples=_marker(int.from_bytes(data[8:10], "little"), 0),
        pi_per_mille=_marker(data[10], 0),
        pi_realtime_per_mille=_marker(data[11], 0),
        pleth=_marker(data[12], 0),
        adc_sample=int.from_bytes(data[13:17], "little", signed=True),
        battery_percent=data[17] if data[17] <= 100 else None,
        packet_rate_hz=data[18],
        raw=data,
    )


def to_reading_fields(packet: BerryMedPacket) -> ReadingFields | None:
    """What a packet gives a Reading; None for version replies. BCI has no perfusion index (§2.2)."""
    if isinstance(packet, BciFrame):
        return ReadingFields(
            spo2=no_reading_if_zero(packet.spo2),
            pulse=no_reading_if_zero(packet.pulse_rate),
            perfusion_index=None,
            device_sensor_status=device_sensor_bits(
                probe_unplugged=packet.probe_unplugged,
                no_finger=packet.no_finger,
                no_signal=packet.no_signal,
                searching=packet.pulse_searching,
            ),
            probe_off=packet.probe_unplugged or packet.no_finger,
            searching=packet.pulse_searching,
        )
    if isinstance(packet, BerryMeasurement):
        sensor_off, no_finger = bool(packet.status & 0x01), bool(packet.status & 0x02)
        return ReadingFields(
            spo2=no_reading_if_zero(packet.spo2),
            pulse=no_reading_if_zero(packet.pulse_rate),
            perfusion_index=packet.pi_percent,
            device_sensor_status=device_sensor_bits(
                probe_unplugged=sensor_off, no_finger=no_finger, no_signal=bool(packet.status & 0x04)
            ),
            probe_off=sensor_off or no_finger,
            searching=False,
        )
    return None


def bci_dict(frame: BciFrame) -> dict[str, Any]:
    """A BCI frame with the field names of ble-vectors.json."""
    return {
        "signal_strength": frame.signal_strength,
        "no_signal": frame.no_signal,
        "probe_unplugged": frame.probe_unplugged,
        "pulse_beep": frame.pulse_beep,
        "pleth": frame.pleth,
        "bargraph": frame.bargraph,
        "no_finger": frame.no_finger,
        "pulse_searching": frame.pulse_searching,
        "pulse_rate": frame.pulse_rate,
        "spo2": frame.spo2,
    }


def berry_dict(packet: BerryMeasurement | BerryVersion) -> dict[str, Any]:
    """A BERRY packet with the field names of ble-vectors.json (a decoded packet's checksum is always ok)."""
    if isinstance(packet, BerryVersion):
        return {"kind": packet.kind, "version": packet.version, "checksum_ok": True}
    return {
        "kind": "measurement",
        "packet_index": packet.packet_index,
        "status": packet.status,
        "status_bits": list(packet.status_bits),
        "spo2": packet.spo2,
        "spo2_realtime": packet.spo2_realtime,
        "pulse_rate": packet.pulse_rate,
        "pulse_rate_realtime": packet.pulse_rate_realtime,
        "rr_interval_ms": packet.rr_interval_ms,
        "pi_percent": packet.pi_percent,
        "pleth": packet.pleth,
        "battery_percent": packet.battery_percent,
        "packet_rate_hz": packet.packet_rate_hz,
        "checksum_ok": True,
    }
