"""Wellue/Viatom O2Ring, Checkme O2, SleepU, O2M: polled request/response protocol (ble-protocols.md §2.5).

Sources (as cited there): MackeyStingray/o2r (o2r/o2pkt.py framing and CRC, o2state.py payload, defines.py
command codes), viatom_o2ring_ble tests (request vector `aa17e8000000001b`), O2Monitor OximeterProtocol.kt.

Request:  `AA` | cmd | cmd ^ 0xFF | block u16 LE | length u16 LE | data | CRC-8 (poly 0x07) — written in
≤ 20-byte chunks. Response: `55` | status (0 = OK) | status ^ 0xFF | block u16 LE | length u16 LE | payload |
CRC-8; 8 + length bytes in all, possibly over several notifications. The device never streams on its own.
Read-sensors payload: SpO2, HR, battery, charging, motion, finger pinned; bytes 2-6, 10 and 12 partly
UNCONFIRMED (byte 10 is "PI or signal strength").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from gateway.protocols.common import Parsed, ReadingFields, SkipRun, StreamStats, device_sensor_bits
from gateway.protocols.crc import crc8_poly07
from gateway.protocols.errors import FrameError

REQUEST: Final = "viatom-o2ring-request"
RESPONSE: Final = "viatom-o2ring-response"
SERVICE_UUID: Final = "14839ac4-7d7e-415c-9a42-167340cf2339"
NOTIFY_UUID: Final = "0734594a-a8e7-4b1a-a6b1-cd5243059a57"
WRITE_UUID: Final = "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"

REQUEST_SYNC: Final = 0xAA
RESPONSE_SYNC: Final = 0x55
HEADER_LENGTH: Final = 7
WRITE_CHUNK: Final = 20
# Command codes (o2r defines.py; 0x1B from o2r PR #3, UNCONFIRMED).
COMMANDS: Final = MappingProxyType(
    {
        0x03: "CMD_FILE_OPEN",
        0x04: "CMD_FILE_READ",
        0x05: "CMD_FILE_CLOSE",
        0x14: "CMD_INFO",
        0x15: "CMD_PING",
        0x16: "CMD_CONFIG",
        0x17: "CMD_READ_SENSORS",
        0x18: "CMD_FACTORY_DEFAULT",
        0x1B: "CMD_REALTIME_DATA",
    }
)
CMD_READ_SENSORS: Final = 0x17
SENSORS_LENGTH: Final = 13
# The info reply is ~264 bytes; nothing documented is longer than a file block. A longer declared
# length is taken as a corrupt header rather than waited for.
MAX_PAYLOAD: Final = 4096


@dataclass(frozen=True, slots=True)
class O2Request:
    cmd: int
    block: int
    data: bytes
    crc8: int

    @property
    def meaning(self) -> str:
        return COMMANDS[self.cmd]


@dataclass(frozen=True, slots=True)
class O2Response:
    status: int  # 0 = OK
    block: int
    payload: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class O2Sensors:
    """The 13-byte read-sensors payload. SpO2 / HR None for 0xFF (no finger) or 0 (no reading yet)."""

    spo2: int | None
    pulse_rate: int | None
    battery_percent: int | None
    charging: int  # 0 no, 1 charging, 2 charged
    motion: int
    pi_or_signal_strength: int  # UNCONFIRMED which of the two
    finger_present: bool
    payload: bytes


def build_request(cmd: int, block: int = 0, data: bytes = b"") -> bytes:
    """A request frame; the caller writes it in WRITE_CHUNK-byte pieces (see `chunks`)."""
    if cmd not in COMMANDS:
        raise ValueError(f"unknown O2Ring command 0x{cmd:02x}; known: {sorted(COMMANDS)}")
    if not 0 <= block <= 0xFFFF or len(data) > 0xFFFF:
        raise ValueError("block and data length must each fit a uint16")
    head = (
        bytes([REQUEST_SYNC, cmd, cmd ^ 0xFF]) + block.to_bytes(2, "little") + len(data).to_bytes(2, "little")
    )
    body = head + bytes(data)
    return body + bytes([crc8_poly07(body)])


def read_sensors_request() -> bytes:
    """`AA 17 E8 00 00 00 00 1B` (vector viatom-01)."""
    return build_request(CMD_READ_SENSORS)


def chunks(frame: bytes, size: int = WRITE_CHUNK) -> list[bytes]:
    """Split a request into ≤ `size`-byte writes (§2.5)."""
    return [frame[i : i + size] for i in range(0, len(frame), size)]


def _check_frame(protocol: str, data: bytes, sync: int) -> tuple[int, int, bytes]:
    """(code, block, body) of a request or response frame, after every structural check."""
    if len(data) < HEADER_LENGTH + 1:
        raise FrameError(
            protocol, f"a frame is at least {HEADER_LENGTH + 1} bytes, got {len(data)}", data.hex()
        )
    if data[0] != sync:
        raise FrameError(protocol, f"frame does not start with 0x{sync:02x}", data.hex())
    if data[2] != data[1] ^ 0xFF:
        raise FrameError(protocol, f"byte 2 (0x{data[2]:02x}) is not byte 1 XOR 0xFF", data.hex())
    length = int.from_bytes(data[5:7], "little")
    if len(data) != HEADER_LENGTH + length + 1:
        raise FrameError(
            protocol, f"length {length} declares {length + 8} bytes, got {len(data)}", data.hex()
        )
    expected_crc = crc8_poly07(data[:-1])
    if data[-1] != expected_crc:
        raise FrameError(protocol, f"CRC-8 0x{data[-1]:02x} != 0x{expected_crc:02x}", data.hex())
    return data[1], int.from_bytes(data[3:5], "little"), data[HEADER_LENGTH:-1]


def decode_request(data: bytes) -> O2Request:
    data = bytes(data)
    cmd, block, body = _check_frame(REQUEST, data, REQUEST_SYNC)
    if cmd not in COMMANDS:
        raise FrameError(REQUEST, f"command 0x{cmd:02x} is unknown", data.hex())
    return O2Request(cmd=cmd, block=block, data=body, crc8=data[-1])


def decode_response(data: bytes) -> O2Response:
    data = bytes(data)
    status, block, payload = _check_frame(RESPONSE, data, RESPONSE_SYNC)
    return O2Response(status=status, block=block, payload=payload, raw=data)


def decode_sensors(response: O2Response) -> O2Sensors:
    """The read-sensors payload of an OK response (§2.5)."""
    payload = response.payload
    if response.status != 0:
        raise FrameError(RESPONSE, f"device answered status {response.status}, not OK", response.raw.hex())
    if len(payload) != SENSORS_LENGTH:
        raise FrameError(
            RESPONSE, f"read-sensors payload is 13 bytes, got {len(payload)}", response.raw.hex()
        )
    spo2, pulse = payload[0], payload[1]
    if 100 < spo2 < 0xFF:
        raise FrameError(RESPONSE, f"SpO2 {spo2} is out of range (1-100, 0/255 = none)", response.raw.hex())
    return O2Sensors(
        spo2=None if spo2 in (0, 0xFF) else spo2,
        pulse_rate=None if pulse in (0, 0xFF) else pulse,
        battery_percent=payload[7] if payload[7] <= 100 else None,
        charging=payload[8],
        motion=payload[9],
        pi_or_signal_strength=payload[10],
        finger_present=payload[11] != 0,
        payload=payload,
    )


class O2ResponseStream:
    """Reassembles responses from notifications. `feed()` never raises; `reset()` before a new request."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = StreamStats()

    @property
    def buffered(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    def reset(self) -> int:
        """Drop a partial response (e.g. after a request timed out); returns how many bytes were dropped."""
        dropped = len(self._buf)
        self.stats.garbage_bytes += dropped
        self._buf.clear()
        return dropped

    def feed(self, data: bytes) -> Parsed[O2Response]:
        self._buf += data
        buf = self._buf
        frames: list[O2Response] = []
        errors: list[FrameError] = []
        skip = SkipRun(RESPONSE)
        i = 0
        while i < len(buf):
            if buf[i] != RESPONSE_SYNC:
                skip.add(buf[i : i + 1], "no 0x55 sync")
                i += 1
                continue
            if len(buf) - i < HEADER_LENGTH:
                break
            length = int.from_bytes(buf[i + 5 : i + 7], "little")
            if buf[i + 2] != buf[i + 1] ^ 0xFF or length > MAX_PAYLOAD:
                skip.add(buf[i : i + 1], "implausible response header")
                i += 1
                continue
            total = HEADER_LENGTH + length + 1
            if len(buf) - i < total:
                break
            try:
                frames.append(decode_response(bytes(buf[i : i + total])))
            except FrameError as err:
                self.stats.rejected_frames += 1
                skip.add(buf[i : i + 1], err.reason)
                i += 1
                continue
            skip.flush(errors, self.stats)
            i += total
        del buf[:i]
        skip.flush(errors, self.stats)
        self.stats.frames += len(frames)
        return Parsed(tuple(frames), tuple(errors))


def to_reading_fields(sensors: O2Sensors) -> ReadingFields:
    """Finger out → probe-off; finger in but no value yet → searching (the ring is calibrating)."""
    searching = sensors.finger_present and sensors.spo2 is None
    return ReadingFields(
        spo2=None if sensors.spo2 is None else float(sensors.spo2),
        pulse=None if sensors.pulse_rate is None else float(sensors.pulse_rate),
        perfusion_index=None,  # byte 10 may be a signal strength, not a PI: never report it as one
        device_sensor_status=device_sensor_bits(no_finger=not sensors.finger_present, searching=searching),
        probe_off=not sensors.finger_present,
        searching=searching,
    )


def request_dict(request: O2Request) -> dict[str, Any]:
    return {
        "sync": REQUEST_SYNC,
        "cmd": request.cmd,
        "cmd_complement": request.cmd ^ 0xFF,
        "block": request.block,
        "length": len(request.data),
        "crc8": request.crc8,
        "meaning": request.meaning,
    }


def response_dict(response: O2Response) -> dict[str, Any]:
    """Read-sensors responses with the field names of ble-vectors.json; any other response as hex."""
    out: dict[str, Any] = {"status": response.status, "payload_len": len(response.payload)}
    if response.status != 0 or len(response.payload) != SENSORS_LENGTH:
        out["payload_hex"] = response.payload.hex()
        return out
    s = decode_sensors(response)
    out.update(
        spo2=s.spo2,
        pulse_rate=s.pulse_rate,
        battery_percent=s.battery_percent,
        charging=s.charging,
        motion=s.motion,
        pi_or_signal_strength=s.pi_or_signal_strength,
        finger_present=s.finger_present,
    )
    return out
