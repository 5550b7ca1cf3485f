"""BLE link to one oximeter: the gateway's only user of bleak's client and of bleak-retry-connector.

Find (gateway/ble_scan.py) → connect with back-off (bleak-retry-connector) → pair if the device needs
a bonded link → choose the protocol by the GATT services the device really offers → run that
protocol's plan (gateway/plans.py) → wait for the disconnect → repeat, for as long as `run()` runs.
Rules from ble-protocols.md §3.3: notifications stop with the connection, so every connect
subscribes again (pitfall 2) and callbacks from an earlier connection are dropped; no D-Bus is a
plain FileNotFoundError (services.md), so OSError is caught with BleakError. Callbacks only copy
the bytes, stamp the receive time and enqueue: nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from gateway.advice import classify, technical
from gateway.backoff import Backoff
from gateway.ble_scan import BleAdapter, Sighting
from gateway.config import DeviceConfig
from gateway.link_state import LinkState, PairingError, UnsupportedDeviceError
from gateway.model import DeviceState, Frame
from gateway.plans import LinkPlan, PlanOptions, plan_for
from gateway.protocols import registry
from gateway.protocols.errors import ProtocolError

log = logging.getLogger(__name__)

MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"  # Device Information: Model Number
FIRMWARE_UUID: Final = "00002a26-0000-1000-8000-00805f9b34fb"  # Device Information: Firmware Revision
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"  # Battery Service: Battery Level
DISCONNECT_TIMEOUT_S: Final = 5.0
# Every way a BLE attempt fails without it being our bug: bleak's errors, the OS's (no D-Bus is a
# FileNotFoundError), D-Bus socket loss (EOFError), timeouts (an OSError), and devices that turn
# out to be something else or will not pair.
LINK_ERRORS: Final = (BleakError, OSError, EOFError, ProtocolError, UnsupportedDeviceError, PairingError)

__all__ = ["LINK_ERRORS", "Backoff", "BleAdapter", "DeviceLink", "Frame"]


class BleakPort:
    """gateway.plans.Port over one connected BleakClient."""

    def __init__(self, link: DeviceLink, client: BleakClient, generation: int) -> None:
        self.name = link.device.name
        self._link, self._client, self._generation = link, client, generation

    def _char(self, uuid: str) -> BleakGATTCharacteristic | None:
        return self._client.services.get_characteristic(uuid)

    def has(self, uuid: str) -> bool:
        return self._char(uuid) is not None

    async def read(self, uuid: str) -> bytes:
        return bytes(await self._client.read_gatt_char(uuid))

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None:
        await self._client.write_gatt_char(uuid, data, response=response)

    async def subscribe(self, uuid: str) -> None:
        link, generation = self._link, self._generation

        def on_value(_characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
            if generation == link.generation:  # else a subscription left from an earlier connection
                link.on_frame(Frame(uuid, bytes(data), datetime.now(UTC)))

        # The same call enables indications (0x2A5E, RACP): ble-protocols.md §3.1.
        await self._client.start_notify(uuid, on_value)

    async def subscribe_raw(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        link, generation = self._link, self._generation

        def on_value(_characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
            if generation == link.generation:
                callback(bytes(data))

        await self._client.start_notify(uuid, on_value)

    async def flushed(self) -> None:
        await self._link.flushed()

    async def clock_known(self, timeout_s: float) -> bool:
        return await self._link.clock_known(timeout_s)

    async def read_text(self, uuid: str) -> str | None:
        if not self.has(uuid):
            return None
        with contextlib.suppress(BleakError):
            text = (await self.read(uuid)).decode("utf-8", errors="replace").strip("\x00 ").strip()
            return text[:80] or None  # reading.v1 schema: model maxLength 80
        return None


class DeviceLink:
    """Keeps one oximeter connected, subscribed and (if it needs it) polled, while `run()` runs."""

    def __init__(
        self,
        device: DeviceConfig,
        *,
        adapter: BleAdapter,
        on_frame: Callable[[Frame], None],
        on_state: Callable[[DeviceState], None],
        backoff: Backoff,
        flushed: Callable[[], Awaitable[None]] | None = None,
        clock_known: Callable[[float], Awaitable[bool]] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        experimental: bool = False,
        options: PlanOptions | None = None,
        connect_timeout_s: float = 60.0,
    ) -> None:
        self.device = device
        self.address = device.address
        self.adapter = adapter
        self.on_frame = on_frame
        self.backoff = backoff
        self.client_backend = client_backend
        self.experimental = experimental
        self.options = options or PlanOptions()
        self.connect_timeout_s = connect_timeout_s
        self.info = LinkState(on_state)
        self.plan: LinkPlan | None = None
        self.profile: registry.ProtocolProfile | None = None
        self.generation = 0
        self._started = False
        self.connections = 0
        self.failed_attempts = 0  # finds or connects that failed since the last good connection
        # Called with the chosen profile just before subscribing, and with None when that connection
        # is over: the session starts and ends its pipeline in step with the frames it queues.
        self.on_session: Callable[[registry.ProtocolProfile | None], None] = lambda _profile: None
        self._flushed = flushed
        self._clock_known = clock_known
        self._last_problem = ""

    @property
    def state(self) -> DeviceState:
        return self.info.state

    async def flushed(self) -> None:
        if self._flushed is not None:
            await self._flushed()

    async def clock_known(self, timeout_s: float) -> bool:
        return self._clock_known is not None and await self._clock_known(timeout_s)

    async def run(self) -> None:
        """Find, connect, run the plan, wait for the disconnect, repeat; never raises on BLE trouble."""
        while True:
            during = "scan"
            try:
                sighting = await self.adapter.find(self.address)
                if sighting is None:
                    self._failed()
                    await asyncio.sleep(self.backoff.next())
                    continue
                self.info.rssi = sighting.rssi
                during = "connect"
                await self._session(sighting)
                self.info.set_state("searching")
            except LINK_ERRORS as exc:
                self._report(exc, during)
                self._failed()
                await asyncio.sleep(self.backoff.next())

    def _failed(self) -> None:
        self.failed_attempts += 1
        self.info.set_state("away")

    def _report(self, exc: BaseException, during: str) -> None:
        problem = classify(exc)
        detail = technical(exc)
        if problem.gateway_wide:
            self.adapter.report(problem, detail, during=during)
            return
        log.debug("Oximeter %s: %s", self.address, detail)
        if problem.kind in ("away", "busy"):
            return  # the device is simply not there (availability is logged by the session)
        level = logging.DEBUG if problem.kind == self._last_problem else logging.WARNING
        self._last_problem = problem.kind
        log.log(level, "%s", problem.message(self.device.name))

    def _profile_hint(self, sighting: Sighting) -> registry.ProtocolProfile | None:
        if self.device.protocol is not None:
            return next(p for p in registry.PROFILES if p.key == self.device.protocol)
        return registry.select_by_advertisement(
            name=sighting.name, address=sighting.address, service_uuids=sighting.service_uuids,
            experimental=self.experimental,
        )  # fmt: skip

    async def _session(self, sighting: Sighting) -> None:
        disconnected = asyncio.Event()
        self.generation += 1
        generation = self.generation
        hint = self._profile_hint(sighting)
        pair = bool(hint and hint.needs_bonding)
        client: BleakClient | None = None
        self._started = False
        try:
            async with self.adapter.lock, asyncio.timeout(self.connect_timeout_s):
                client = await establish_connection(
                    BleakClient, sighting.device, self.address,
                    disconnected_callback=lambda _client: disconnected.set(),
                    pair=pair, backend=self.client_backend,
                )  # fmt: skip
            self.adapter.clear_problem("connect")
            port = BleakPort(self, client, generation)
            plan = await self._start(client, port, hint, paired=pair)
            self.connections += 1
            self.failed_attempts = 0
            self._last_problem = ""
            self.backoff.reset()
            self.info.set_state("connected")
            work = asyncio.ensure_future(plan.run(port))
            waiter = asyncio.ensure_future(disconnected.wait())
            try:
                await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (work, waiter):
                    task.cancel()
                await asyncio.gather(work, waiter, return_exceptions=True)
            if work.done() and not work.cancelled() and (error := work.exception()) is not None:
                # A write or read failed. If the link is going down anyway (the device left), that
                # is the ordinary end of a connection, not a fault: the callback may lag a moment.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DISCONNECT_TIMEOUT_S / 5):
                        await disconnected.wait()
                if not disconnected.is_set():
                    raise error
        finally:
            self.generation += 1  # late callbacks from this connection are ignored
            if self._started:
                self.on_session(None)
            if client is not None:
                await _disconnect_quietly(client)

    async def _start(
        self, client: BleakClient, port: BleakPort, hint: registry.ProtocolProfile | None, *, paired: bool
    ) -> LinkPlan:
        offered = [service.uuid for service in client.services]
        profile: registry.ProtocolProfile | None = hint
        if self.device.protocol is None:
            profile = registry.select_by_services(offered, experimental=self.experimental)
        if profile is not None and profile.experimental and not self.experimental:
            profile = None  # configured as an experimental type, but those are switched off
        if profile is None:
            raise UnsupportedDeviceError(f"{self.address} offers none of the supported services: {offered}")
        if profile.needs_bonding and not paired:
            try:
                await client.pair()
            except (BleakError, OSError) as exc:
                raise PairingError(technical(exc)) from exc
        self.profile = profile
        info = self.info
        info.model = await port.read_text(MODEL_NUMBER_UUID) or info.model
        info.firmware = await port.read_text(FIRMWARE_UUID) or info.firmware
        if port.has(BATTERY_LEVEL_UUID):
            with contextlib.suppress(BleakError):
                level = (await port.read(BATTERY_LEVEL_UUID))[:1]
                info.battery_percent = level[0] if level and level[0] <= 100 else info.battery_percent
        plan = plan_for(profile, self.options)
        self._started = True
        self.on_session(profile)
        await plan.setup(port)
        self.plan = plan
        info.protocol = plan.protocol
        info.stores_readings = plan.stores_readings
        info.powers_off_when_idle = plan.powers_off_when_idle
        return plan


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
