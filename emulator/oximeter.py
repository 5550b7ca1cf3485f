"""An emulated Bluetooth SIG PLX pulse oximeter (service 0x1822) on bumble's virtual link.

Behaves like a real unbonded device (see emulator.peripheral): advertises 0x1822 and its name while
nobody is connected, one central at a time, CCCD state per connection, re-advertises after a
disconnect. The sensor ticks on whether or not anyone listens: a tick with no subscriber is counted
in `ticks_unheard` and its sample is not sent later — unless the device has measurement storage
(`storage=True`, §1.8 bit 2): then each spot-check measurement no central confirmed is stored and
can be downloaded through the Record Access Control Point (emulator.racp, §1.9).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Unpack

from bumble.gatt import Service
from bumble.link import LocalLink

from emulator.frames import FEATURES, continuous_frame, spot_check_frame
from emulator.peripheral import EmulatedPeripheral, PeripheralOptions
from emulator.plx_gatt import PLX_CONTINUOUS, PLX_SERVICE, PLX_SPOT_CHECK, PlxGatt, build_plx_gatt
from emulator.racp import FEATURES_WITH_STORAGE, RacpServer, RecordStore, StoredRecord
from emulator.radio import build_advertising_data
from emulator.scenarios import Sample

__all__ = ["EmulatedOximeter", "Mode", "SentFrame"]

_LOG = logging.getLogger(__name__)
_SPOT, _CONT, _RACP = "spot-check", "continuous", "racp"

Mode = Literal["continuous", "spot-check", "both"]


@dataclass(frozen=True, slots=True)
class SentFrame:
    """A frame that went out to at least one subscribed central (an indication is listed whether
    or not the central then confirmed it; `frames_indicated` counts confirmed ones)."""

    tick: int
    sample: Sample
    characteristic: int  # 16-bit UUID: PLX_CONTINUOUS or PLX_SPOT_CHECK
    data: bytes


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmulatedOximeter(EmulatedPeripheral[SentFrame]):
    """One emulated patient device. Create via `BleWorld.add_oximeter`, then `await start()`."""

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        mode: Mode = "continuous",
        model: str = "Oxiward PLX emulator",
        manufacturer: str = "Oxiward",
        clock: Callable[[], datetime] = _utc_now,
        storage: bool = False,
        storage_capacity: int = 500,
        record_delay: float = 0.0,
        **options: Unpack[PeripheralOptions],
    ) -> None:
        if mode not in ("continuous", "spot-check", "both"):
            raise ValueError(f"mode must be continuous, spot-check or both, not {mode!r}")
        if storage and mode == "continuous":
            raise ValueError(
                "measurement storage is for spot-check measurements: use mode spot-check or both"
            )
        super().__init__(link, address, name, scenario, **options)
        self.mode: Mode = mode
        self._clock = clock
        self.frames_notified = 0
        self.frames_indicated = 0
        self._manufacturer, self._model = manufacturer, model
        self._gatt: PlxGatt | None = None
        self._pending: dict[asyncio.Future[Any], int | None] = {}
        self.records = RecordStore(storage_capacity)
        self.racp: RacpServer | None = None
        if storage:
            self.racp = RacpServer(
                self.records,
                indicate_record=self._indicate_record,
                indicate_response=self._indicate_response,
                record_delay=record_delay,
            )

    # -- state -----------------------------------------------------------------------------------
    @property
    def has_storage(self) -> bool:
        return self.racp is not None

    @property
    def notify_subscribed(self) -> bool:
        return bool(self._notify_subs[_CONT])

    @property
    def indicate_subscribed(self) -> bool:
        return bool(self._indicate_subs[_SPOT])

    def store(self, sample: Sample, timestamp: datetime | None = None) -> StoredRecord:
        """Put a measurement in storage as if taken with nobody listening (tick -1 = put by hand)."""
        if self.racp is None:
            raise RuntimeError(f"oximeter {self.address} has no measurement storage")
        record = StoredRecord(-1, sample, timestamp or self._clock())
        self.records.add(record)
        return record

    async def stop(self) -> None:
        if self.racp is not None:
            await self.racp.close()
        await super().stop()
        self._gatt = None

    # -- GATT ------------------------------------------------------------------------------------
    def _services(self) -> list[Service]:
        gatt = build_plx_gatt(
            self._manufacturer,
            self._model,
            features=FEATURES_WITH_STORAGE if self.has_storage else FEATURES,
            on_racp_write=self._on_racp_write if self.has_storage else None,
        )
        self._watch(gatt.continuous, _CONT)
        self._watch(gatt.spot_check, _SPOT)
        if gatt.racp is not None:
            self._watch(gatt.racp, _RACP)
        self._gatt = gatt
        return gatt.services

    def _advertising_data(self) -> bytes:
        return build_advertising_data(self.name, [PLX_SERVICE])

    def _on_racp_write(self, connection: Any, value: bytes) -> None:
        assert self.racp is not None
        handle = connection.handle
        self.racp.on_write(
            connection,
            value,
            racp_indications=handle in self._indicate_subs[_RACP],
            record_indications=handle in self._indicate_subs[_SPOT],
        )

    def _on_disconnected(self, handle: int) -> None:
        for future, waits_on in list(self._pending.items()):
            if waits_on == handle or (waits_on is None and not self._indicate_subs[_SPOT]):
                future.cancel()
        if self.racp is not None:
            self.racp.connection_lost(handle)

    # -- the sensor ------------------------------------------------------------------------------
    async def _emit(self, tick: int, sample: Sample) -> bool:
        radio, gatt = self.radio, self._gatt
        heard = False
        if radio is None or gatt is None:
            return False
        if self.mode in ("continuous", "both") and self._notify_subs[_CONT]:
            data = continuous_frame(sample)
            receivers = len(self._notify_subs[_CONT])
            # recorded before sending: the central may hold the frame before this coroutine resumes
            self.sent.append(SentFrame(tick, sample, PLX_CONTINUOUS, data))
            await radio.device.notify_subscribers(gatt.continuous, data)
            self.frames_notified += receivers
            heard = True
        # a spot-check device only reports a finished measurement, never "finger out"
        if self.mode in ("spot-check", "both") and not sample.probe_off:
            timestamp = self._clock()
            data = spot_check_frame(sample, timestamp)
            receivers = len(self._indicate_subs[_SPOT])
            if receivers:
                self.sent.append(SentFrame(tick, sample, PLX_SPOT_CHECK, data))
            if receivers and await self._confirmed(
                radio.device.indicate_subscribers(gatt.spot_check, data), None
            ):
                self.frames_indicated += receivers
                heard = True
            elif self.has_storage:
                # nobody took it (or the link dropped before the confirmation): keep it for RACP
                self.records.add(StoredRecord(tick, sample, timestamp))
        return heard

    async def _indicate_record(self, connection: Any, data: bytes) -> bool:
        radio, gatt = self.radio, self._gatt
        if radio is None or gatt is None:
            return False
        return await self._confirmed(
            radio.device.indicate_subscriber(connection, gatt.spot_check, data), connection.handle
        )

    async def _indicate_response(self, connection: Any, data: bytes) -> bool:
        radio, gatt = self.radio, self._gatt
        if radio is None or gatt is None or gatt.racp is None:
            return False
        return await self._confirmed(
            radio.device.indicate_subscriber(connection, gatt.racp, data), connection.handle
        )

    async def _confirmed(self, indication: Awaitable[None], handle: int | None) -> bool:
        """Indicate and wait for the confirmation. bumble would wait out its 30 s ATT timeout for a
        central that has gone, so a disconnect cancels the wait (see _on_disconnected), and a
        central that is merely slow gets max(5 s, 5 ticks) before the frame counts as not sent.
        `handle` None = to every subscriber of the spot-check characteristic."""
        future = asyncio.ensure_future(indication)
        self._pending[future] = handle
        try:
            done, _ = await asyncio.wait({future}, timeout=max(5.0, 5 * self.interval))
        finally:
            self._pending.pop(future, None)
            if not future.done():
                future.cancel()
        if not done or future.cancelled():
            return False
        if (error := future.exception()) is not None:
            _LOG.warning("oximeter %s: indication failed: %r", self.address, error)
            return False
        return True
