"""The life every emulated BLE oximeter shares, whatever protocol it speaks.

A peripheral on bumble's virtual link that behaves like a real unbonded device: advertises while
nobody is connected, accepts one central at a time, keeps CCCD state per connection (a reconnecting
central must subscribe again), re-advertises after a disconnect, and can go out of range and come
back. Its sensor ticks through a scenario whether or not anyone listens; subclasses turn each tick's
sample into their own protocol's bytes (`_emit`) and declare their GATT database and advertisement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Generic, TypedDict, TypeVar

from bumble.gatt import Characteristic, Service
from bumble.link import LocalLink

from emulator.radio import Radio
from emulator.scenarios import Sample

__all__ = ["REMOTE_USER_TERMINATED", "EmulatedPeripheral", "PeripheralOptions"]

_LOG = logging.getLogger(__name__)
REMOTE_USER_TERMINATED = 0x13  # HCI reason a peripheral gives when it ends the link itself
_STOP_GRACE_S = 5.0  # how long stop() lets a frame being sent finish

FrameT = TypeVar("FrameT")


class PeripheralOptions(TypedDict, total=False):
    """The options every emulated device takes; subclasses pass them on (defaults: __init__ below)."""

    interval: float
    advertising_interval_ms: float
    history: int


class EmulatedPeripheral(Generic[FrameT]):
    """One emulated device. Subclasses implement `_services`, `_advertising_data` and `_emit`."""

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        interval: float = 1.0,
        advertising_interval_ms: float = 20.0,
        history: int = 1000,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0 seconds")
        self.address = address.upper()
        self.name = name
        self.interval = interval
        self._link = link
        # services.md: ~20 ms advertising keeps scan/connect at tens of ms instead of ~1 s
        self._adv_interval_ms = advertising_interval_ms
        self._samples: Iterator[Sample] = iter(scenario)
        self.ticks = 0
        self.ticks_unheard = 0
        self.connections_total = 0
        self.sent: deque[FrameT] = deque(maxlen=history)
        self.finished = asyncio.Event()  # set when a finite scenario runs out
        self._radio: Radio | None = None
        self._present = False
        self._connections: dict[int, Any] = {}
        self._notify_subs: defaultdict[str, set[int]] = defaultdict(set)
        self._indicate_subs: defaultdict[str, set[int]] = defaultdict(set)
        self._tick_task: asyncio.Task[None] | None = None
        self._stop_ticking = False
        self._emitting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._adv_lock = asyncio.Lock()
        self._go_away_at: set[int] = set()
        self._come_back_at: set[int] = set()

    # -- what a subclass provides ----------------------------------------------------------------
    def _services(self) -> list[Service]:
        """A fresh GATT database (handles belong to one server, so build anew on every start)."""
        raise NotImplementedError

    def _advertising_data(self) -> bytes:
        raise NotImplementedError

    async def _emit(self, tick: int, sample: Sample) -> bool:
        """Send what this tick's sample makes; True if any central received something."""
        raise NotImplementedError

    def _after_services(self, radio: Radio) -> None:
        """Hook: the GATT database is in place (handles assigned), before power-on."""

    def _on_connected(self, connection: Any) -> None:
        """Hook: a central connected."""

    def _on_disconnected(self, handle: int) -> None:
        """Hook: a central's link ended (its subscriptions are already forgotten)."""

    # -- state -----------------------------------------------------------------------------------
    @property
    def is_present(self) -> bool:
        """In range (advertising or connected), as opposed to gone away, powered off or stopped."""
        return self._present

    @property
    def is_connected(self) -> bool:
        return bool(self._connections)

    @property
    def radio(self) -> Radio | None:
        return self._radio

    def advertisement(self) -> bytes:
        """The advertising data the device sends while nobody is connected."""
        return self._advertising_data()

    def subscribed(self, key: str) -> bool:
        """Some central has notifications or indications on for the characteristic `key`."""
        return bool(self._notify_subs[key] or self._indicate_subs[key])

    def set_scenario(self, scenario: Iterable[Sample]) -> None:
        """Switch what the sensor measures from the next tick on."""
        self._samples = iter(scenario)
        self.finished.clear()

    def schedule_dropout(self, at_tick: int, ticks_away: int) -> None:
        """Go out of range just before tick `at_tick` and come back just before `at_tick + ticks_away`.

        Driven by the sensor's own ticks, so a test or demo gets the same drop wherever the
        scheduler happens to be. The sensor keeps measuring while away.
        """
        if at_tick < 0 or ticks_away < 1:
            raise ValueError("at_tick must be >= 0 and ticks_away >= 1")
        self._go_away_at.add(at_tick)
        self._come_back_at.add(at_tick + ticks_away)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Power on, start the sensor ticking and advertise. Also restarts a stopped device."""
        if self._radio is not None:
            return
        radio = Radio.create(self._link, self.address, self.name)
        radio.device.add_services(self._services())
        self._after_services(radio)
        radio.device.on("connection", self._on_connection)
        await radio.device.power_on()
        self._radio = radio
        self._tick_task = asyncio.create_task(self._tick_loop(), name=f"peripheral-{self.address}")
        await self.come_back()

    async def go_away(self) -> None:
        """Out of range: drop every connection and stop advertising (the device disappears)."""
        self._present = False
        radio = self._radio
        if radio is None:
            return
        async with self._adv_lock:
            await radio.device.stop_advertising()
        await self.disconnect_all()

    async def disconnect_all(self) -> None:
        """End every link from the device's side (reason 0x13), as a device does when it gives up."""
        for connection in list(self._connections.values()):
            with contextlib.suppress(Exception):  # it may already be gone
                await connection.disconnect(REMOTE_USER_TERMINATED)

    async def come_back(self) -> None:
        """Back in range: advertise again (unless a central is still connected)."""
        self._present = True
        if not self._connections:
            await self._advertise()

    async def stop(self) -> None:
        task = self._tick_task
        if task is not None:
            # A frame being sent is finished first: cancelled mid-send, it could reach the central
            # without being counted, and the counts are what tests compare the stored readings with.
            self._stop_ticking = True
            if not self._emitting:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=_STOP_GRACE_S)
            self._tick_task = None
            self._stop_ticking = False
        await self.go_away()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._radio is not None:
            await self._radio.close()
            self._radio = None

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run device-side work started from a (synchronous) bumble event; stop() cancels it."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- radio events ----------------------------------------------------------------------------
    async def _advertise(self) -> None:
        radio = self._radio
        if radio is None:
            return
        async with self._adv_lock:
            if not self._present or self._connections:
                return
            await radio.device.start_advertising(
                advertising_data=self._advertising_data(),
                advertising_interval_min=self._adv_interval_ms,
                advertising_interval_max=self._adv_interval_ms,
            )

    def _on_connection(self, connection: Any) -> None:
        handle: int = connection.handle
        self._connections[handle] = connection
        self.connections_total += 1
        connection.on("disconnection", lambda _reason: self._on_disconnection(handle))
        self._on_connected(connection)

    def _on_disconnection(self, handle: int) -> None:
        self._connections.pop(handle, None)
        for subs in (*self._notify_subs.values(), *self._indicate_subs.values()):
            subs.discard(handle)
        self._on_disconnected(handle)
        if self._present and self._radio is not None:
            self.spawn(self._advertise(), f"advertise-{self.address}")

    def _watch(self, characteristic: Characteristic[Any], key: str) -> None:
        """Track which connections enabled notify / indicate on `characteristic`, under `key`."""

        def on_subscription(connection: Any, notify: bool, indicate: bool) -> None:
            handle: int = connection.handle
            (self._notify_subs[key].add if notify else self._notify_subs[key].discard)(handle)
            (self._indicate_subs[key].add if indicate else self._indicate_subs[key].discard)(handle)

        characteristic.on("subscription", on_subscription)

    # -- sending ---------------------------------------------------------------------------------
    async def _notify_paced(
        self,
        characteristic: Characteristic[bytes],
        key: str,
        packets: Sequence[bytes],
        record: Callable[[bytes], None],
        keep_going: Callable[[], bool] = lambda: True,
    ) -> list[bytes]:
        """Notify `packets` to every subscriber, spread evenly over one tick as a streaming device
        does; stops early when the last subscriber leaves or `keep_going()` turns false (a host
        command changed the stream). `record` gets each packet just before it goes out (a central
        may hold it before this coroutine resumes). Returns the packets that went out."""
        radio = self._radio
        out: list[bytes] = []
        gap = self.interval / len(packets) if packets else 0.0
        for index, data in enumerate(packets):
            if radio is None or not self._notify_subs[key] or not keep_going():
                break
            record(data)
            out.append(data)
            await radio.device.notify_subscribers(characteristic, data)
            if index < len(packets) - 1:
                await asyncio.sleep(gap)
        return out

    # -- the sensor ------------------------------------------------------------------------------
    def _stop_requested(self) -> bool:
        return self._stop_ticking  # read afresh: stop() sets it while a frame is being sent

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._stop_ticking:
            await self._apply_dropouts(self.ticks)
            sample = next(self._samples, None)
            if sample is None:
                self.finished.set()
                await asyncio.sleep(self.interval)
                next_at = loop.time()
                continue
            heard = False
            self._emitting = True
            try:
                heard = await self._emit(self.ticks, sample)
            except Exception:
                _LOG.exception("device %s: tick %d failed", self.address, self.ticks)
            finally:
                self._emitting = False
            if not heard:
                self.ticks_unheard += 1
            self.ticks += 1
            if self._stop_requested():
                return
            next_at += self.interval
            # fixed rate; if the loop fell behind by more than a tick, resynchronise instead of bursting
            next_at = max(next_at, loop.time() - self.interval)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _apply_dropouts(self, tick: int) -> None:
        if tick in self._go_away_at:
            await self.go_away()
        if tick in self._come_back_at:
            await self.come_back()
