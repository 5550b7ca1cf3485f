"""One oximeter's coordinator: BLE link → decode → durable outbox → wake the publisher; availability.

Availability is logged once at INFO when a device goes out of reach and once when it is back, not
on every retry (style.md practice 5). A frame that does not decode is kept in the outbox's
dead-letter table with its reason and counted; the first per connection is logged at WARNING with
its hex (frames carry measurements only, no patient identifier).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from gateway.ble import Backoff, BleAdapter, Frame, PlxLink
from gateway.model import DeviceState, DeviceStatus, format_utc
from gateway.outbox import Outbox
from gateway.payload import encode_reading, reading_from_plx, reading_topic
from gateway.protocols.errors import FrameError, ProtocolError

log = logging.getLogger(__name__)

_END: Final = None  # queued after the link stops: everything before it is stored, then run() returns


class DeviceSession:
    """Runs one device's link and stores every frame it delivers, until `stop()`."""

    def __init__(
        self,
        address: str,
        *,
        gateway_id: str,
        outbox: Outbox,
        adapter: BleAdapter,
        backoff: Backoff,
        on_stored: Callable[[], None],
        on_change: Callable[[], None],
        client_backend: type | None = None,
        model: str | None = None,
    ) -> None:
        self.address = address.upper()
        self.gateway_id = gateway_id
        self.outbox = outbox
        self.topic = reading_topic(gateway_id)
        self.model_override = model
        self._on_stored = on_stored
        self._on_change = on_change
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.link = PlxLink(
            self.address,
            adapter=adapter,
            on_frame=self._queue.put_nowait,
            on_state=self._state_changed,
            backoff=backoff,
            client_backend=client_backend,
        )
        self.readings_stored = 0
        self.frames_rejected = 0
        self._away = False
        self._ever_connected = False
        self._warned_this_connection = False
        self._link_task: asyncio.Task[None] | None = None

    @property
    def state(self) -> DeviceState:
        return self.link.state

    def status(self) -> DeviceStatus:
        return DeviceStatus(self.address, self.link.state, self.link.protocol, self._model())

    def _model(self) -> str | None:
        return self.model_override or self.link.model

    def _state_changed(self, state: DeviceState) -> None:
        if state == "away" and not self._away:
            self._away = True
            log.info("Oximeter %s is out of reach; will keep trying", self.address)
        elif state == "connected":
            self._warned_this_connection = False
            if self._away:
                log.info("Oximeter %s is back; reading again", self.address)
            elif not self._ever_connected:
                log.info("Oximeter %s connected (%s)", self.address, self._model() or "model unknown")
            else:
                log.debug("Oximeter %s reconnected", self.address)
            self._away = False
            self._ever_connected = True
        self._on_change()

    async def run(self) -> None:
        """Run until stop(); frames already received are stored before this returns."""
        self._link_task = asyncio.create_task(self.link.run(), name=f"ble-link-{self.address}")
        self._link_task.add_done_callback(lambda _task: self._queue.put_nowait(_END))
        try:
            await self._consume()
        finally:
            self._link_task.cancel()
        if not self._link_task.cancelled() and (error := self._link_task.exception()) is not None:
            raise error

    def stop(self) -> None:
        if self._link_task is not None:
            self._link_task.cancel()

    async def _consume(self) -> None:
        finished = False
        while not finished:
            batch = [await self._queue.get()]
            while not self._queue.empty():  # store what has queued up in one transaction
                batch.append(self._queue.get_nowait())
            frames = [f for f in batch if f is not None]
            finished = len(frames) != len(batch)
            items, rejected = self._decode(frames)
            if items or rejected:
                # In a worker thread (an fsync must not stall the loop), and shielded: a cancelled
                # run() must not abandon a batch on its way to the disk.
                await asyncio.shield(asyncio.to_thread(self._store, items, rejected))
            if items:
                self.readings_stored += len(items)
                self._on_stored()

    def _store(self, items: list[tuple[str, str, bytes]], rejected: list[tuple[Frame, str]]) -> None:
        for frame, reason in rejected:
            self.outbox.dead_letter(
                device_address=self.address,
                characteristic=frame.characteristic_uuid,
                frame=frame.data,
                reason=reason,
                received_at=format_utc(frame.received_at),
            )
        self.outbox.put_many(items)

    def _decode(self, frames: list[Frame]) -> tuple[list[tuple[str, str, bytes]], list[tuple[Frame, str]]]:
        items: list[tuple[str, str, bytes]] = []
        rejected: list[tuple[Frame, str]] = []
        for frame in frames:
            try:
                reading = reading_from_plx(
                    frame.data,
                    characteristic_uuid=frame.characteristic_uuid,
                    received_at=frame.received_at,
                    gateway_id=self.gateway_id,
                    device_address=self.address,
                    model=self._model(),
                )
            except ProtocolError as exc:
                rejected.append((frame, self._reject(frame, exc)))
                continue
            items.append((reading.reading_id, self.topic, encode_reading(reading)))
        return items, rejected

    def _reject(self, frame: Frame, exc: ProtocolError) -> str:
        self.frames_rejected += 1
        level = logging.DEBUG if self._warned_this_connection else logging.WARNING
        self._warned_this_connection = True
        reason = exc.reason if isinstance(exc, FrameError) else str(exc)
        log.log(
            level,
            "Oximeter %s sent a frame we cannot decode (%s): %s; kept as a dead letter (%d so far)",
            self.address, reason, frame.data.hex() or "<empty>", self.frames_rejected,
        )  # fmt: skip
        return reason
