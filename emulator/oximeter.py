"""An emulated Bluetooth SIG PLX pulse oximeter (service 0x1822) on bumble's virtual link.

Behaves like a real unbonded device: advertises 0x1822 and its name while nobody is connected,
accepts one central at a time, keeps CCCD state per connection (a reconnecting central must
subscribe again), and re-advertises after a disconnect. The sensor ticks on whether or not anyone
listens: a tick with no subscriber is counted in `ticks_unheard` and its sample is not sent later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bumble.link import LocalLink

from emulator.frames import continuous_frame, spot_check_frame
from emulator.plx_gatt import PLX_CONTINUOUS, PLX_SERVICE, PLX_SPOT_CHECK, PlxGatt, build_plx_gatt
from emulator.radio import Radio, build_advertising_data
from emulator.scenarios import Sample

__all__ = ["EmulatedOximeter", "Mode", "SentFrame"]

_LOG = logging.getLogger(__name__)
_REMOTE_USER_TERMINATED = 0x13  # HCI reason a peripheral gives when it ends the link itself

Mode = Literal["continuous", "spot-check", "both"]


@dataclass(frozen=True, slots=True)
class SentFrame:
    """A frame that went out to at least one subscribed central."""

    tick: int
    sample: Sample
    characteristic: int  # 16-bit UUID: PLX_CONTINUOUS or PLX_SPOT_CHECK
    data: bytes


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmulatedOximeter:
    """One emulated patient device. Create via `BleWorld.add_oximeter`, then `await start()`."""

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        interval: float = 1.0,
        mode: Mode = "continuous",
        model: str = "Oxiward PLX emulator",
        manufacturer: str = "Oxiward",
        advertising_interval_ms: float = 20.0,
        clock: Callable[[], datetime] = _utc_now,
        history: int = 1000,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0 seconds")
        if mode not in ("continuous", "spot-check", "both"):
            raise ValueError(f"mode must be continuous, spot-check or both, not {mode!r}")
        self.address = address.upper()
        self.name = name
        self.interval = interval
        self.mode: Mode = mode
        self._link = link
        # services.md: ~20 ms advertising keeps scan/connect at tens of ms instead of ~1 s
        self._adv_interval_ms = advertising_interval_ms
        self._clock = clock
        self._samples: Iterator[Sample] = iter(scenario)
        self.ticks = 0
        self.ticks_unheard = 0
        self.frames_notified = 0
        self.frames_indicated = 0
        self.connections_total = 0
        self.sent: deque[SentFrame] = deque(maxlen=history)
        self.finished = asyncio.Event()  # set when a finite scenario runs out
        self._radio: Radio | None = None
        self._present = False
        self._connections: dict[int, Any] = {}
        self._notify_subs: set[int] = set()
        self._indicate_subs: set[int] = set()
        self._tick_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._indicating: asyncio.Future[Any] | None = None
        self._adv_lock = asyncio.Lock()
        self._manufacturer, self._model = manufacturer, model
        self._gatt: PlxGatt | None = None

    # -- state -----------------------------------------------------------------------------------
    @property
    def is_present(self) -> bool:
        """In range (advertising or connected), as opposed to gone away or stopped."""
        return self._present

    @property
    def is_connected(self) -> bool:
        return bool(self._connections)

    @property
    def notify_subscribed(self) -> bool:
        return bool(self._notify_subs)

    @property
    def indicate_subscribed(self) -> bool:
        return bool(self._indicate_subs)

    def set_scenario(self, scenario: Iterable[Sample]) -> None:
        """Switch what the sensor measures from the next tick on."""
        self._samples = iter(scenario)
        self.finished.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Power on, start the sensor ticking and advertise. Also restarts a stopped device."""
        if self._radio is not None:
            return
        radio = Radio.create(self._link, self.address, self.name)
        gatt = build_plx_gatt(self._manufacturer, self._model)  # fresh: handles belong to one server
        radio.device.add_services(gatt.services)
        gatt.continuous.on("subscription", self._on_continuous_subscription)
        gatt.spot_check.on("subscription", self._on_spot_subscription)
        radio.device.on("connection", self._on_connection)
        await radio.device.power_on()
        self._radio, self._gatt = radio, gatt
        self._tick_task = asyncio.create_task(self._tick_loop(), name=f"oximeter-{self.address}")
        await self.come_back()

    async def go_away(self) -> None:
        """Out of range: drop every connection and stop advertising (the device disappears)."""
        self._present = False
        radio = self._radio
        if radio is None:
            return
        async with self._adv_lock:
            await radio.device.stop_advertising()
        for connection in list(self._connections.values()):
            with contextlib.suppress(Exception):  # it may already be gone
                await connection.disconnect(_REMOTE_USER_TERMINATED)

    async def come_back(self) -> None:
        """Back in range: advertise again (unless a central is still connected)."""
        self._present = True
        if not self._connections:
            await self._advertise()

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        await self.go_away()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._radio is not None:
            await self._radio.close()
            self._radio = self._gatt = None

    # -- radio events ----------------------------------------------------------------------------
    async def _advertise(self) -> None:
        radio = self._radio
        if radio is None:
            return
        async with self._adv_lock:
            if not self._present or self._connections:
                return
            await radio.device.start_advertising(
                advertising_data=build_advertising_data(self.name, [PLX_SERVICE]),
                advertising_interval_min=self._adv_interval_ms,
                advertising_interval_max=self._adv_interval_ms,
            )

    def _on_connection(self, connection: Any) -> None:
        handle: int = connection.handle
        self._connections[handle] = connection
        self.connections_total += 1
        connection.on("disconnection", lambda _reason: self._on_disconnection(handle))

    def _on_disconnection(self, handle: int) -> None:
        self._connections.pop(handle, None)
        self._notify_subs.discard(handle)
        self._indicate_subs.discard(handle)
        if self._indicating is not None and not self._indicate_subs:
            self._indicating.cancel()
        if self._present and self._radio is not None:
            task = asyncio.create_task(self._advertise())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_continuous_subscription(self, connection: Any, notify: bool, _indicate: bool) -> None:
        (self._notify_subs.add if notify else self._notify_subs.discard)(connection.handle)

    def _on_spot_subscription(self, connection: Any, _notify: bool, indicate: bool) -> None:
        (self._indicate_subs.add if indicate else self._indicate_subs.discard)(connection.handle)

    # -- the sensor ------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            sample = next(self._samples, None)
            if sample is None:
                self.finished.set()
                await asyncio.sleep(self.interval)
                next_at = loop.time()
                continue
            try:
                await self._emit(self.ticks, sample)
            except Exception:
                _LOG.exception("oximeter %s: tick %d failed", self.address, self.ticks)
            self.ticks += 1
            next_at += self.interval
            # fixed rate; if the loop fell behind by more than a tick, resynchronise instead of bursting
            next_at = max(next_at, loop.time() - self.interval)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _emit(self, tick: int, sample: Sample) -> None:
        radio, gatt = self._radio, self._gatt
        heard = False
        if radio is None or gatt is None:
            return
        if self.mode in ("continuous", "both") and self._notify_subs:
            data = continuous_frame(sample)
            receivers = len(self._notify_subs)
            await radio.device.notify_subscribers(gatt.continuous, data)
            self.frames_notified += receivers
            self.sent.append(SentFrame(tick, sample, PLX_CONTINUOUS, data))
            heard = True
        # a spot-check device only reports a finished measurement, never "finger out"
        if self.mode in ("spot-check", "both") and self._indicate_subs and not sample.probe_off:
            data = spot_check_frame(sample, self._clock())
            receivers = len(self._indicate_subs)
            if await self._indicate(radio, gatt, data):
                self.frames_indicated += receivers
                self.sent.append(SentFrame(tick, sample, PLX_SPOT_CHECK, data))
                heard = True
        if not heard:
            self.ticks_unheard += 1

    async def _indicate(self, radio: Radio, gatt: PlxGatt, data: bytes) -> bool:
        """Indicate and wait for the confirmation. bumble would wait out its 30 s ATT timeout for a
        central that has gone, so a disconnect cancels the wait (see _on_disconnection), and a
        central that is merely slow gets max(5 s, 5 ticks) before the frame counts as not sent."""
        self._indicating = asyncio.ensure_future(radio.device.indicate_subscribers(gatt.spot_check, data))
        try:
            done, _ = await asyncio.wait({self._indicating}, timeout=max(5.0, 5 * self.interval))
        finally:
            indicating, self._indicating = self._indicating, None
            if not indicating.done():
                indicating.cancel()
        if not done or indicating.cancelled():
            return False
        if (error := indicating.exception()) is not None:
            _LOG.warning("oximeter %s: indication failed: %r", self.address, error)
            return False
        return True
