"""BLE link to PLX oximeters: the gateway's only user of bleak and bleak-retry-connector.

Rules from docs/shared ble-protocols.md §3.3 that shape this file:
- one scan at a time per gateway, and no scan while connecting (pitfall 3, `org.bluez.Error.InProgress`):
  all links share one `BleAdapter`, whose lock covers scanning and connecting;
- connect with the scanned `BLEDevice`, never a bare address (pitfall 4);
- notifications stop with the connection: subscribe again after every connect (pitfall 2), and
  drop callbacks from an earlier connection;
- no D-Bus raises a plain FileNotFoundError, not a BleakError (services.md): catch OSError too.
Callbacks only copy the bytes, stamp the receive time and enqueue; nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import BleakNotFoundError, establish_connection

from gateway.model import DeviceState
from gateway.protocols import plx

log = logging.getLogger(__name__)

MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"  # Device Information: Model Number
SEEN_FRESH_S: Final = 5.0  # an advertisement this recent is good enough to connect to
DISCONNECT_TIMEOUT_S: Final = 5.0
# Every way a BLE attempt fails without it being our bug: bleak's errors, the OS's (no D-Bus is a
# FileNotFoundError), D-Bus socket loss (EOFError) and timeouts (TimeoutError is an OSError).
LINK_ERRORS: Final = (BleakError, OSError, EOFError)


@dataclass(frozen=True, slots=True)
class Frame:
    """One notification or indication as received: bytes copied, receive time stamped at once."""

    characteristic_uuid: str
    data: bytes
    received_at: datetime


class Backoff:
    """Exponential back-off with a cap and "equal jitter" (half fixed, half random)."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s, self.max_s = min_s, max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._attempt = 0

    def next(self) -> float:
        delay = min(self.max_s, self.min_s * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def reset(self) -> None:
        self._attempt = 0


class BleAdapter:
    """The gateway's one radio: shared discovery (one scan serves every waiting link) and a lock that
    keeps scans and connection attempts apart."""

    def __init__(
        self,
        addresses: Iterable[str],
        *,
        scan_timeout_s: float,
        scanner_backend: type[BaseBleakScanner] | None = None,
    ) -> None:
        self.addresses = frozenset(a.upper() for a in addresses)
        self.scan_timeout_s = scan_timeout_s
        self.scanner_backend = scanner_backend
        self.lock = asyncio.Lock()
        self._seen: dict[str, tuple[BLEDevice, float]] = {}
        self._waiting: dict[str, int] = {}

    def _match(self, device: BLEDevice, _adv: AdvertisementData) -> bool:
        address = device.address.upper()
        if address not in self.addresses:
            return False  # an oximeter that is not on this gateway's allow-list
        self._seen[address] = (device, time.monotonic())
        return address in self._waiting  # end the scan early for any link that is waiting

    def _take_seen(self, address: str) -> BLEDevice | None:
        entry = self._seen.pop(address, None)
        if entry is not None and time.monotonic() - entry[1] <= SEEN_FRESH_S:
            return entry[0]
        return None

    async def _scan(self, seconds: float) -> None:
        # Filtered on the advertised PLX service; the allow-list is applied in _match.
        if self.scanner_backend is None:
            await BleakScanner.find_device_by_filter(
                self._match, timeout=seconds, service_uuids=[plx.SERVICE_UUID]
            )
        else:
            await BleakScanner.find_device_by_filter(
                self._match, timeout=seconds, service_uuids=[plx.SERVICE_UUID], backend=self.scanner_backend
            )

    async def find(self, address: str) -> BLEDevice | None:
        """The device's latest advertisement within scan_timeout_s, or None if it is not around."""
        address = address.upper()
        self._waiting[address] = self._waiting.get(address, 0) + 1
        deadline = time.monotonic() + self.scan_timeout_s
        try:
            while (device := self._take_seen(address)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                async with self.lock:
                    if (device := self._take_seen(address)) is not None:
                        return device
                    await self._scan(remaining)
            return device
        finally:
            self._waiting[address] -= 1
            if not self._waiting[address]:
                del self._waiting[address]


def advice(exc: BaseException) -> str:
    """What an operator should do about a BLE failure."""
    if isinstance(exc, FileNotFoundError):
        return (
            "no D-Bus system bus, so no BlueZ: install and start `dbus` and `bluetooth` "
            "(bluez), or give the gateway's container /run/dbus"
        )
    if isinstance(exc, BleakDBusError):
        return "BlueZ refused the request: check `systemctl status bluetooth` and `bluetoothctl power on`"
    if isinstance(exc, PermissionError):
        return "not allowed to use Bluetooth: run the gateway as a user in the `bluetooth` group"
    return "will retry; if it persists, power-cycle the oximeter or run `bluetoothctl remove <address>`"


class PlxLink:
    """Keeps one oximeter connected and subscribed, for as long as `run()` runs."""

    def __init__(
        self,
        address: str,
        *,
        adapter: BleAdapter,
        on_frame: Callable[[Frame], None],
        on_state: Callable[[DeviceState], None],
        backoff: Backoff,
        client_backend: type[BaseBleakClient] | None = None,
        connect_timeout_s: float = 60.0,
    ) -> None:
        self.address = address.upper()
        self.adapter = adapter
        self.on_frame = on_frame
        self.on_state = on_state
        self.backoff = backoff
        self.client_backend = client_backend
        self.connect_timeout_s = connect_timeout_s
        self.model: str | None = None
        self.protocol: str | None = None
        self.connections = 0
        self.failed_attempts = 0  # finds or connects that failed since the last good connection
        self.state: DeviceState = "searching"
        self._generation = 0
        self._last_problem = ""

    def _set_state(self, state: DeviceState) -> None:
        if state != self.state:
            self.state = state
            self.on_state(state)

    async def run(self) -> None:
        """Find, connect, subscribe, wait for the disconnect, repeat; never raises on BLE trouble."""
        while True:
            try:
                device = await self.adapter.find(self.address)
                if device is None:
                    self.failed_attempts += 1
                    self._set_state("away")
                    await asyncio.sleep(self.backoff.next())
                    continue
                await self._session(device)
                log.debug("%s disconnected; looking for it again", self.address)
                self._set_state("searching")
            except LINK_ERRORS as exc:
                self.failed_attempts += 1
                self._report(exc)
                self._set_state("away")
                await asyncio.sleep(self.backoff.next())

    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, BleakNotFoundError | BleakDeviceNotFoundError):
            log.debug("%s not found while connecting: %s", self.address, exc)
            return  # the device is simply away; the session reports availability
        problem = f"{type(exc).__name__}: {exc}"
        level = logging.DEBUG if problem == self._last_problem else logging.WARNING
        self._last_problem = problem
        log.log(level, "Bluetooth problem with oximeter %s (%s): %s", self.address, problem, advice(exc))

    async def _session(self, device: BLEDevice) -> None:
        disconnected = asyncio.Event()
        self._generation += 1
        generation = self._generation
        client: BleakClient | None = None
        try:
            async with self.adapter.lock, asyncio.timeout(self.connect_timeout_s):
                client = await establish_connection(
                    BleakClient,
                    device,
                    self.address,
                    disconnected_callback=lambda _client: disconnected.set(),
                    backend=self.client_backend,
                )
            await self._subscribe(client, generation)
            self.connections += 1
            self.failed_attempts = 0
            self._last_problem = ""
            self.backoff.reset()
            self._set_state("connected")
            await disconnected.wait()
        finally:
            self._generation += 1  # late callbacks from this connection are ignored
            if client is not None:
                await _disconnect_quietly(client)

    async def _subscribe(self, client: BleakClient, generation: int) -> None:
        services = client.services
        self.model = await _read_text(client, services.get_characteristic(MODEL_NUMBER_UUID)) or self.model
        features = services.get_characteristic(plx.FEATURES_UUID)
        if features is not None:
            value = await client.read_gatt_char(features)
            log.debug("%s PLX features: %s", self.address, bytes(value).hex())
        subscribed: list[str] = []
        for uuid, protocol in ((plx.SPOT_CHECK_UUID, plx.SPOT_CHECK), (plx.CONTINUOUS_UUID, plx.CONTINUOUS)):
            characteristic = services.get_characteristic(uuid)
            if characteristic is not None:
                # The same call enables indications for 0x2A5E (ble-protocols.md §3.1).
                await client.start_notify(characteristic, self._enqueue(uuid, generation))
                subscribed.append(protocol)
        if not subscribed:
            raise BleakError(f"{self.address} offers no PLX measurement characteristic (0x2A5E / 0x2A5F)")
        self.protocol = subscribed[-1]  # continuous when present: the stream the device mostly sends

    def _enqueue(self, uuid: str, generation: int) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        def on_value(_characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
            if generation != self._generation:
                return  # a subscription left over from an earlier connection (pitfall 2)
            self.on_frame(Frame(uuid, bytes(data), datetime.now(UTC)))

        return on_value


async def _read_text(client: BleakClient, characteristic: BleakGATTCharacteristic | None) -> str | None:
    if characteristic is None:
        return None
    raw = bytes(await client.read_gatt_char(characteristic))
    text = raw.decode("utf-8", errors="replace").strip("\x00 ").strip()
    return text[:80] or None  # reading.v1 schema: model maxLength 80


async def _disconnect_quietly(client: BleakClient) -> None:
    # The goal is "not connected"; a device that already left is fine. Shielded so that a
    # shutdown (cancellation) still releases the connection.
    async def disconnect() -> None:
        with contextlib.suppress(*LINK_ERRORS):
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await client.disconnect()

    task = asyncio.ensure_future(disconnect())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
