"""Shared shapes for the proprietary-protocol decoders: what a frame offers a Reading, and stream results.

Vendor protocols report "finger out", "no signal" or "searching" as their own flags. So that the
service's signal-quality rules (alerting/quality.py, clinical-rules.md §6.2) treat every device alike,
`ReadingFields.device_sensor_status` carries those flags as the Bluetooth PLX Device and Sensor Status
bits (ble-protocols.md §1.7). The mapping is ours, and it is documented in WIRE_FORMAT.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from gateway.protocols.errors import FrameError

# ble-protocols.md §1.7 bit numbers used by the vendor mapping.
DSS_INADEQUATE_SIGNAL: Final = 1 << 3
DSS_POOR_SIGNAL: Final = 1 << 4
DSS_SIGNAL_ANALYSIS_ONGOING: Final = 1 << 9
DSS_SENSOR_UNCONNECTED: Final = 1 << 11  # "sensor unconnected to user": finger out / probe off
DSS_SENSOR_DISCONNECTED: Final = 1 << 15  # probe unplugged from the device

F = TypeVar("F")
MAX_ERROR_BYTES: Final = 64  # a resync error keeps the first bytes it skipped, enough to recognise them


@dataclass(frozen=True, slots=True)
class ReadingFields:
    """What one decoded frame contributes to a gateway Reading (gateway/model.py).

    spo2 / pulse / perfusion_index are None when the device sent its "no reading" marker or does not
    report the value. measurement_status / device_sensor_status use the PLX bit tables (§1.6/§1.7);
    None when the protocol carries no such information at all.
    """

    spo2: float | None
    pulse: float | None
    perfusion_index: float | None
    measurement_status: int | None = None
    device_sensor_status: int | None = None
    probe_off: bool = False
    searching: bool = False

    @property
    def has_value(self) -> bool:
        return self.spo2 is not None or self.pulse is not None


def device_sensor_bits(
    *,
    probe_unplugged: bool = False,
    no_finger: bool = False,
    no_signal: bool = False,
    weak_signal: bool = False,
    searching: bool = False,
) -> int:
    """Vendor flags as PLX Device and Sensor Status bits (our mapping, WIRE_FORMAT.md)."""
    bits = 0
    if probe_unplugged:
        bits |= DSS_SENSOR_DISCONNECTED
    if no_finger:
        bits |= DSS_SENSOR_UNCONNECTED
    if no_signal:
        bits |= DSS_INADEQUATE_SIGNAL
    if weak_signal:
        bits |= DSS_POOR_SIGNAL
    if searching:
        bits |= DSS_SIGNAL_ANALYSIS_ONGOING
    return bits


def no_reading_if_zero(value: int | None) -> float | None:
    """Cheap oximeters send 0 for SpO2 / pulse while they have no reading yet; that is not a value."""
    return None if value is None or value == 0 else float(value)


@dataclass(slots=True)
class StreamStats:
    """Counters a stream parser keeps for the gateway's status and logs."""

    frames: int = 0
    garbage_bytes: int = 0
    rejected_frames: int = 0


@dataclass(frozen=True, slots=True)
class Parsed(Generic[F]):
    """What one `feed()` produced: whole frames, and one FrameError per run of bytes it had to skip."""

    frames: tuple[F, ...] = ()
    rejected: tuple[FrameError, ...] = field(default=())


class SkipRun:
    """Gathers consecutive skipped bytes into one FrameError: one log line per resync, with the hex."""

    def __init__(self, protocol: str) -> None:
        self._protocol = protocol
        self._count = 0
        self._head = bytearray()
        self._reason = ""

    def add(self, data: bytes | bytearray, reason: str) -> None:
        if not self._count:
            self._reason = reason
        self._count += len(data)
        self._head += data[: MAX_ERROR_BYTES - len(self._head)]

    def flush(self, errors: list[FrameError], stats: StreamStats) -> None:
        if not self._count:
            return
        stats.garbage_bytes += self._count
        errors.append(
            FrameError(
                self._protocol,
                f"skipped {self._count} byte(s) to regain sync ({self._reason})",
                self._head.hex(),
            )
        )
        self._count, self._head, self._reason = 0, bytearray(), ""


def check_exact_length(protocol: str, data: bytes, expected: int, what: str) -> None:
    if len(data) != expected:
        raise FrameError(protocol, f"{what} is {expected} bytes, got {len(data)}", data.hex())
