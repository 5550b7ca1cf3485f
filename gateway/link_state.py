"""What is known about one oximeter's link: its state since when, and the facts read from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from gateway.model import DeviceState


class UnsupportedDeviceError(Exception):
    """A configured device offers no service (or characteristic) this gateway can read."""


class PairingError(Exception):
    """The device needs a bonded link and pairing failed."""


class LinkState:
    """Updated by the link (gateway/ble.py) and the session; read for the status topic."""

    def __init__(self, on_state: Callable[[DeviceState], None]) -> None:
        self._on_state = on_state
        self.state: DeviceState = "searching"
        self.since = datetime.now(UTC)
        self.protocol: str | None = None  # frame protocol name (ble-vectors.json), e.g. plx-continuous
        self.model: str | None = None
        self.firmware: str | None = None
        self.battery_percent: int | None = None
        self.rssi: int | None = None
        self.stores_readings: bool | None = None  # None until the device was seen once
        self.powers_off_when_idle = False

    def set_state(self, state: DeviceState) -> None:
        if state != self.state:
            self.state = state
            self.since = datetime.now(UTC)
            self._on_state(state)
