"""Per-device frame decoding: notifications in, measurement samples and device facts out. Pure.

One decoder per connected device, chosen by its protocol profile (gateway/protocols/registry.py).
Stream protocols keep state between notifications (frames split across them, resync after
garbage), so a decoder lives as long as the device session and sees every notification in order.
A bad frame never raises: it comes back in `rejected` with its bytes and reason (dead-lettered).

Vendor flags reach the reading as PLX status bits (gateway/protocols/common.py); PLX frames keep
the device's own bits. Measurement Status bit 9 "data from measurement storage" marks a stored
record replayed through the Record Access Control Point (ble-protocols.md §1.6, §1.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from gateway.model import Frame, Mode
from gateway.protocols import berrymed, jumper, nonin, plx, registry, wellue, wellue_o2ring
from gateway.protocols.berrymed_stream import BerryMedStream
from gateway.protocols.common import ReadingFields
from gateway.protocols.errors import FrameError, ProtocolError
from gateway.protocols.registry import ProtocolProfile, normalize_uuid

MS_FROM_STORAGE: Final = 1 << 9  # ble-protocols.md §1.6
PC60_BATTERY_STEPS: Final = 3  # func 0x03 reports 0-3 (§2.6): a 4-step gauge, shown as 0/33/67/100 %


@dataclass(frozen=True, slots=True)
class Decoded:
    """One measurement frame: what it says, which frame it was, and how it may be used."""

    fields: ReadingFields
    protocol: str
    frame: bytes
    received_at: datetime
    mode: Mode  # as the device sent it
    stream: bool  # part of a raw stream (reduced to readings) rather than one measurement per frame
    device_time: datetime | None = None  # the device's own timestamp (naive, device clock)
    device_clock_not_set: bool = False
    from_storage: bool = False
    unconfirmed: bool = False


@dataclass(slots=True)
class DecodeResult:
    samples: list[Decoded] = field(default_factory=list)
    rejected: list[tuple[bytes, str]] = field(default_factory=list)  # (bytes, reason) to dead-letter
    battery_percent: int | None = None
    firmware: str | None = None

    def reject(self, error: ProtocolError, data: bytes) -> None:
        raw = bytes.fromhex(error.frame_hex) if isinstance(error, FrameError) else data
        self.rejected.append((raw, error.reason))


class FrameDecoder:
    """Base: subclasses decode one protocol family."""

    profile: ProtocolProfile

    def feed(self, frame: Frame) -> DecodeResult:
        raise NotImplementedError


class PlxDecoder(FrameDecoder):
    profile = registry.PLX

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        uuid = normalize_uuid(frame.characteristic_uuid)
        try:
            if uuid == plx.CONTINUOUS_UUID:
                cont = plx.decode_continuous(frame.data)
                fields = registry.reading_fields(cont)
                assert fields is not None
                out.samples.append(
                    Decoded(fields, plx.CONTINUOUS, frame.data, frame.received_at, "continuous", stream=False)
                )
            elif uuid == plx.SPOT_CHECK_UUID:
                spot = plx.decode_spot_check(frame.data)
                fields = registry.reading_fields(spot)
                assert fields is not None
                status = spot.measurement_status or 0
                out.samples.append(
                    Decoded(
                        fields, plx.SPOT_CHECK, frame.data, frame.received_at, "spot-check", stream=False,
                        device_time=spot.timestamp, device_clock_not_set=spot.device_clock_not_set,
                        from_storage=bool(status & MS_FROM_STORAGE),
                    )
                )  # fmt: skip
            else:
                raise FrameError("plx", f"characteristic {uuid} carries no PLX measurement", frame.data.hex())
        except ProtocolError as exc:
            out.reject(exc, frame.data)
        return out


def _stream_sample(fields: ReadingFields, protocol: str, raw: bytes, frame: Frame) -> Decoded:
    return Decoded(fields, protocol, raw, frame.received_at, "continuous", stream=True)


class BerryMedDecoder(FrameDecoder):
    profile = registry.BERRYMED

    def __init__(self) -> None:
        self.stream = BerryMedStream("auto")
        self._version = ""  # a BCI software version arrives as up to three 4-character packets (§2.2)

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        parsed = self.stream.feed(frame.data)
        for error in parsed.rejected:
            out.reject(error, frame.data)
        in_version = False
        for packet in parsed.frames:
            if isinstance(packet, berrymed.BciVersionPacket | berrymed.BerryVersion):
                if packet.kind == "software_version":
                    text = packet.text if isinstance(packet, berrymed.BciVersionPacket) else packet.version
                    self._version = self._version + text if in_version else text
                    out.firmware, in_version = self._version, True
                continue
            in_version = False
            fields = registry.reading_fields(packet)
            if fields is None:
                continue
            protocol = berrymed.BERRY if isinstance(packet, berrymed.BerryMeasurement) else berrymed.BCI
            out.samples.append(_stream_sample(fields, protocol, packet.raw, frame))
            if isinstance(packet, berrymed.BerryMeasurement) and packet.battery_percent is not None:
                out.battery_percent = packet.battery_percent
        return out


class NoninDecoder(FrameDecoder):
    profile = registry.NONIN

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        try:
            packet = nonin.decode_continuous(frame.data)
        except ProtocolError as exc:
            out.reject(exc, frame.data)
            return out
        out.samples.append(_stream_sample(nonin.to_reading_fields(packet), nonin.PROTOCOL, packet.raw, frame))
        return out


class Pc60Decoder(FrameDecoder):
    profile = registry.PC60FW

    def __init__(self) -> None:
        self.stream = wellue.Pc60Stream()

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        parsed = self.stream.feed(frame.data)
        for error in parsed.rejected:
            out.reject(error, frame.data)
        for packet in parsed.frames:
            if isinstance(packet, wellue.Pc60Battery):
                out.battery_percent = round(packet.level * 100 / PC60_BATTERY_STEPS)
            fields = wellue.to_reading_fields(packet)
            if fields is not None:
                out.samples.append(_stream_sample(fields, wellue.PROTOCOL, packet.raw, frame))
        return out


class O2RingDecoder(FrameDecoder):
    """Responses to the read-sensors polls the link sends; other answers are ignored."""

    profile = registry.O2RING

    def __init__(self) -> None:
        self.stream = wellue_o2ring.O2ResponseStream()

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        parsed = self.stream.feed(frame.data)
        for error in parsed.rejected:
            out.reject(error, frame.data)
        for response in parsed.frames:
            if len(response.payload) != wellue_o2ring.SENSORS_LENGTH:
                continue  # an answer to another request (info, ping): not a measurement
            try:
                sensors = wellue_o2ring.decode_sensors(response)
            except ProtocolError as exc:
                out.reject(exc, response.raw)
                continue
            if sensors.battery_percent is not None:
                out.battery_percent = sensors.battery_percent
            fields = wellue_o2ring.to_reading_fields(sensors)
            out.samples.append(_stream_sample(fields, wellue_o2ring.RESPONSE, response.raw, frame))
        return out


class JumperDecoder(FrameDecoder):
    """EXPERIMENTAL, UNCONFIRMED (ble-protocols.md §2.7): every reading says so."""

    profile = registry.JUMPER

    def feed(self, frame: Frame) -> DecodeResult:
        out = DecodeResult()
        try:
            packet = jumper.decode_frame(frame.data)
        except ProtocolError as exc:
            out.reject(exc, frame.data)
            return out
        fields = jumper.to_reading_fields(packet)
        if fields is not None:
            out.samples.append(
                Decoded(
                    fields, jumper.PROTOCOL, packet.raw, frame.received_at, "continuous", stream=True,
                    unconfirmed=True,
                )
            )  # fmt: skip
        return out


_DECODERS: Final[dict[str, type[FrameDecoder]]] = {
    d.profile.key: d
    for d in (PlxDecoder, BerryMedDecoder, NoninDecoder, Pc60Decoder, O2RingDecoder, JumperDecoder)
}


def decoder_for(profile: ProtocolProfile) -> FrameDecoder:
    """A fresh decoder for one device session."""
    return _DECODERS[profile.key]()
