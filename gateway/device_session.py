"""One oximeter's coordinator: BLE link → pipeline (decode, reduce, time) → durable outbox → publisher.

Logs are for the person beside the patient, who may read them out over the phone (docs/gateway.md):
plain sentences at INFO/WARNING, each said once per change (style.md practice 5), technical detail at
DEBUG. A frame that does not decode is kept in the outbox's dead-letter table with its reason and
counted; the first per connection is logged at WARNING with its hex (frames carry measurements only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.ble import Backoff, BleAdapter, DeviceLink
from gateway.clock import DeviceClock
from gateway.config import DeviceConfig
from gateway.model import DeviceState, DeviceStatus, Frame, format_utc
from gateway.outbox import Outbox
from gateway.payload import encode_reading, reading_topic
from gateway.pipeline import DevicePipeline, Output
from gateway.plans import PlanOptions
from gateway.protocols.registry import ProtocolProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Start:
    profile: ProtocolProfile


@dataclass(frozen=True, slots=True)
class _End:
    at: datetime


_Item = Frame | _Start | _End | asyncio.Future[None] | None  # None: the link stopped; drain and return


class DeviceSession:
    """Runs one device's link and stores every reading it yields, until `stop()`."""

    def __init__(
        self,
        device: DeviceConfig,
        *,
        gateway_id: str,
        outbox: Outbox,
        adapter: BleAdapter,
        backoff: Backoff,
        on_stored: Callable[[], None],
        on_change: Callable[[], None],
        client_backend: type | None = None,
        model: str | None = None,
        continuous_rate_hz: float = 1.0,
        experimental: bool = False,
        options: PlanOptions | None = None,
    ) -> None:
        self.device = device
        self.address = device.address
        self.gateway_id = gateway_id
        self.outbox = outbox
        self.topic = reading_topic(gateway_id)
        self.model_override = model
        self.rate_hz = continuous_rate_hz
        self._on_stored = on_stored
        self._on_change = on_change
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.link = DeviceLink(
            device, adapter=adapter, on_frame=self._queue.put_nowait, on_state=self._state_changed,
            backoff=backoff, flushed=self.flushed, clock_known=self.clock_known,
            client_backend=client_backend, experimental=experimental, options=options,
        )  # fmt: skip
        self.link.on_session = self._session_changed
        offset_ms = outbox.recall(self._offset_key)
        self.clock = DeviceClock(None if offset_ms is None else offset_ms / 1000)
        self._clock_ready = asyncio.Event()
        if self.clock.offset_s is not None:
            self._clock_ready.set()
        self.pipeline: DevicePipeline | None = None
        self.readings_stored = 0
        self.frames_rejected = 0
        self.last_reading_at: datetime | None = None
        self._away = False
        self._switched_off = False
        self._ever_connected = False
        self._warned_this_connection = False
        self._link_task: asyncio.Task[None] | None = None

    @property
    def _offset_key(self) -> str:
        return f"clock_offset_ms:{self.address}"

    @property
    def state(self) -> DeviceState:
        return self.link.state

    def status(self) -> DeviceStatus:
        info = self.link.info
        return DeviceStatus(
            self.address, info.state, info.protocol, self._model(), label=self.device.label,
            since=info.since, firmware=info.firmware, battery_percent=info.battery_percent,
            rssi=info.rssi, last_reading_at=self.last_reading_at, stores_readings=info.stores_readings,
        )  # fmt: skip

    def _model(self) -> str | None:
        return self.model_override or self.link.info.model

    # -- availability, in plain words --------------------------------------------------------
    def _state_changed(self, state: DeviceState) -> None:
        name, info = self.device.name, self.link.info
        if state == "away" and not self._away:
            self._away = True
            if not self._switched_off:
                kept = (
                    "Readings taken while it is away are kept on the oximeter."
                    if info.stores_readings
                    else "No readings reach the ward until it is back within reach of the gateway."
                )
                log.info("Oximeter %s is switched off or out of reach. %s", name, kept)
        elif state == "searching" and info.powers_off_when_idle and self._ever_connected:
            self._switched_off = True
            log.info("Oximeter %s switched itself off after the finger was taken out. This is normal.", name)
        elif state == "connected":
            self._warned_this_connection = False
            if not self._ever_connected:
                model = self._model() or "model unknown"
                log.info("Oximeter %s is connected and being read (%s).", name, model)
            elif self._away or self._switched_off:
                log.info("Oximeter %s is back and being read again.", name)
            else:
                log.debug("Oximeter %s reconnected", name)
            self._away = self._switched_off = False
            self._ever_connected = True
        self._on_change()

    def _session_changed(self, profile: ProtocolProfile | None) -> None:
        self._queue.put_nowait(_Start(profile) if profile is not None else _End(datetime.now(UTC)))

    # -- running -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until stop(); what was already received is stored before this returns."""
        self._link_task = asyncio.create_task(self.link.run(), name=f"ble-link-{self.address}")
        self._link_task.add_done_callback(lambda _task: self._queue.put_nowait(None))
        try:
            await self._consume()
        finally:
            self._link_task.cancel()
        if not self._link_task.cancelled() and (error := self._link_task.exception()) is not None:
            raise error

    def stop(self) -> None:
        if self._link_task is not None:
            self._link_task.cancel()

    async def flushed(self) -> None:
        """Wait until everything queued before this call is in the outbox (or dead-lettered)."""
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(marker)
        await marker

    async def clock_known(self, timeout_s: float) -> bool:
        """Wait until a live timestamped frame told us the device's clock offset (or time runs out)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._clock_ready.wait()
        except TimeoutError:
            return False
        return True

    async def _consume(self) -> None:
        finished = False
        while not finished:
            batch = [await self._queue.get()]
            while not self._queue.empty():  # store what has queued up in one transaction
                batch.append(self._queue.get_nowait())
            finished = None in batch
            out, markers = self._process(batch)
            if out.readings or out.rejected or out.offset_changed:
                # In a worker thread (an fsync must not stall the loop), and shielded: a cancelled
                # run() must not abandon a batch on its way to the disk.
                await asyncio.shield(asyncio.to_thread(self._store, out))
            for marker in markers:
                if not marker.done():
                    marker.set_result(None)
            if out.readings:
                self.readings_stored += len(out.readings)
                self.last_reading_at = out.readings[-1].received_at
                self._on_stored()
            self._update_info(out)
            if self.clock.offset_s is not None:
                self._clock_ready.set()

    def _process(self, batch: list[_Item]) -> tuple[Output, list[asyncio.Future[None]]]:
        out, markers, frames = Output(), [], []
        for item in batch:
            if isinstance(item, Frame):
                frames.append(item)
                continue
            self._merge(out, frames)
            frames = []
            if isinstance(item, _Start):
                self.clock.new_connection()
                self.pipeline = DevicePipeline(
                    item.profile, gateway_id=self.gateway_id, address=self.address, mode=self.device.mode,
                    continuous_rate_hz=self.rate_hz, clock=self.clock,
                )  # fmt: skip
            elif isinstance(item, _End) and self.pipeline is not None:
                self._add(out, self.pipeline.finish(item.at, model=self._model()))
            elif isinstance(item, asyncio.Future):
                markers.append(item)
        self._merge(out, frames)
        return out, markers

    def _merge(self, out: Output, frames: list[Frame]) -> None:
        if frames and self.pipeline is not None:
            self._add(out, self.pipeline.feed(frames, model=self._model()))

    def _add(self, out: Output, more: Output) -> None:
        out.readings += more.readings
        out.rejected += more.rejected
        out.offset_changed |= more.offset_changed
        if more.battery_percent is not None:
            out.battery_percent = more.battery_percent
        out.firmware = more.firmware or out.firmware
        for outcome in more.no_result:
            log.info("A spot check on oximeter %s gave no reading: %s.", self.device.name, outcome.reason)
        for frame, data, reason in more.rejected:
            self._reject(frame, data, reason)

    def _update_info(self, out: Output) -> None:
        info, changed = self.link.info, False
        if out.battery_percent is not None and out.battery_percent != info.battery_percent:
            info.battery_percent, changed = out.battery_percent, True
        if out.firmware and out.firmware != info.firmware:
            info.firmware, changed = out.firmware, True
        if out.readings and out.readings[-1].protocol != info.protocol:
            info.protocol, changed = out.readings[-1].protocol, True
        if changed:
            self._on_change()

    def _store(self, out: Output) -> None:
        for frame, data, reason in out.rejected:
            self.outbox.dead_letter(
                device_address=self.address, characteristic=frame.characteristic_uuid, frame=data,
                reason=reason, received_at=format_utc(frame.received_at),
            )  # fmt: skip
        self.outbox.put_many([(r.reading_id, self.topic, encode_reading(r)) for r in out.readings])
        if out.offset_changed and self.clock.offset_s is not None:
            self.outbox.remember(self._offset_key, round(self.clock.offset_s * 1000))

    def _reject(self, frame: Frame, data: bytes, reason: str) -> None:
        self.frames_rejected += 1
        level = logging.DEBUG if self._warned_this_connection else logging.WARNING
        self._warned_this_connection = True
        log.log(
            level,
            "Oximeter %s sent data the gateway could not read; it is kept for the technician "
            "(frame %s: %s; %d so far).",
            self.device.name, data.hex() or "<empty>", reason, self.frames_rejected,
        )  # fmt: skip
