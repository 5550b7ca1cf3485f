"""Gateway domain model: one pulse-oximeter reading, independent of wire and library types."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

Mode = Literal["spot-check", "continuous"]
# How measured_at was obtained (wire-contract.md `clock.source`): the gateway's receive time, the device's
# timestamp corrected by the observed device-gateway offset, or the device's timestamp taken as UTC
# because no offset has been observed yet.
TimeSource = Literal["gateway", "device-corrected", "device-uncorrected"]
MODES: Final = ("spot-check", "continuous")
DeviceState = Literal["connected", "away", "searching"]
DEVICE_STATES: Final = ("connected", "away", "searching")

# docs/wire-contract.md: the reading_id inputs are joined with the ASCII unit separator.
_ID_SEPARATOR: Final = "\x1f"
_ID_HEX_DIGITS: Final = 32  # first 16 bytes of SHA-256, as lowercase hex


def format_utc(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds truncated), the contract's timestamp format."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware (UTC), got naive {moment.isoformat()}")
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """Parse a contract timestamp (`...Z`) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp must end in Z or carry an offset, got {text!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Frame:
    """One notification or indication as received: bytes copied, receive time stamped at once."""

    characteristic_uuid: str
    data: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Derivation:
    """How a reading's values were chosen from a stream (wire-contract.md `derivation`)."""

    method: str  # e.g. gateway.reduce.NHS_METHOD, "sampled"
    detail: str  # one plain sentence a clinician can read
    samples: int | None = None  # stream samples the choice was made from
    window_start: datetime | None = None  # first sample of the window (gateway clock)
    window_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement as the gateway publishes it (wire contract v1).

    spo2 / pulse / perfusion_index are None when the device sent a "no reading" marker
    (an SFLOAT special) or, for the perfusion index, did not report one.
    """

    measured_at: datetime
    received_at: datetime
    mode: Mode
    spo2: float | None
    pulse: float | None
    perfusion_index: float | None
    measurement_status: int | None
    device_sensor_status: int | None
    device_clock_not_set: bool
    gateway_id: str
    device_address: str
    protocol: str
    model: str | None
    frame: bytes
    # Optional wire-contract v1 additions (docs/wire-contract.md): left out of the payload when unset.
    from_storage: bool = False  # replayed from the device's measurement storage (RACP), not live
    time_source: TimeSource | None = None
    device_offset_s: float | None = None  # device clock minus gateway clock, as used for measured_at
    derivation: Derivation | None = None
    unconfirmed: bool = False  # decoded by a protocol marked UNCONFIRMED (experimental)

    def __post_init__(self) -> None:
        for name in ("measured_at", "received_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"Reading.{name} must be timezone-aware (UTC), got {moment.isoformat()}")
        if self.mode not in MODES:
            raise ValueError(f"Reading.mode must be one of {MODES}, got {self.mode!r}")

    @property
    def reading_id(self) -> str:
        """Deterministic id: the same measurement re-sent always carries the same id (wire-contract.md)."""
        material = _ID_SEPARATOR.join(
            (self.device_address, self.protocol, format_utc(self.measured_at), self.frame.hex())
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:_ID_HEX_DIGITS]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One device as reported in the gateway's status message (status.v1 `devices[]`).

    The optional fields are left out of the payload when None.
    """

    address: str
    state: DeviceState
    protocol: str | None = None
    model: str | None = None
    label: str | None = None  # the name the household knows it by ("Bedroom"); never a patient name
    since: datetime | None = None  # when `state` last changed
    firmware: str | None = None
    battery_percent: int | None = None
    rssi: int | None = None  # dBm of the latest advertisement seen
    last_reading_at: datetime | None = None
    stores_readings: bool | None = None  # keeps readings taken while away (PLX measurement storage)

    def __post_init__(self) -> None:
        if self.state not in DEVICE_STATES:
            raise ValueError(f"DeviceStatus.state must be one of {DEVICE_STATES}, got {self.state!r}")
