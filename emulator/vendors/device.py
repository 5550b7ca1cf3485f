"""What every emulated vendor oximeter shares: one notify characteristic carries all it sends.

A subclass names its kind, manufacturer, default model and firmware and the notify UUID; builds its
GATT database around `_notifier()` and sends with `_stream` (to every subscriber, paced over a
tick) or `_notify_connection` (to one central: answers to host commands, per-link frames).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Unpack

from bumble.gatt import Characteristic, Service
from bumble.link import LocalLink

from emulator.peripheral import EmulatedPeripheral, PeripheralOptions
from emulator.scenarios import Sample
from emulator.vendors.gatt import VendorFrame, device_information, notify_characteristic

__all__ = ["VendorOptions", "VendorPeripheral"]

_KEY = "notify"


class VendorOptions(PeripheralOptions, total=False):
    """Options of every vendor device; model and firmware default to the class's own."""

    model: str
    firmware: str


class VendorPeripheral(EmulatedPeripheral[VendorFrame]):
    kind: ClassVar[str]
    manufacturer: ClassVar[str]
    default_model: ClassVar[str]
    default_firmware: ClassVar[str]
    notify_uuid: ClassVar[str]  # lower-case 128-bit UUID, as bleak names it

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        model: str | None = None,
        firmware: str | None = None,
        **options: Unpack[PeripheralOptions],
    ) -> None:
        super().__init__(link, address, name, scenario, **options)
        self._model = self.default_model if model is None else model
        self._firmware = self.default_firmware if firmware is None else firmware
        self._notify: Characteristic[bytes] | None = None

    @property
    def listened_to(self) -> bool:
        """Some central has notifications on."""
        return bool(self._notify_subs[_KEY])

    def _reaches(self, connection: Any) -> bool:
        """The device is on and `connection` has notifications on."""
        on = self.radio is not None and self._notify is not None
        return on and connection.handle in self._notify_subs[_KEY]

    def _subscribers(self) -> list[int]:
        """Handles of the connections with notifications on, in order (a copy: sending may change it)."""
        return sorted(self._notify_subs[_KEY])

    def _notifier(self) -> Characteristic[bytes]:
        """A fresh notify characteristic (handles belong to one GATT database), subscriptions watched."""
        self._notify = notify_characteristic(self.notify_uuid)
        self._watch(self._notify, _KEY)
        return self._notify

    def _device_information(self) -> Service:
        return device_information(self.manufacturer, self._model, self._firmware)

    async def _stream(
        self,
        tick: int,
        sample: Sample,
        packets: Sequence[bytes],
        keep_going: Callable[[], bool] = lambda: True,
    ) -> list[bytes]:
        """Notify `packets` to every subscriber, paced over the tick; returns those that went out."""
        char = self._notify
        if char is None:
            return []
        return await self._notify_paced(
            char,
            _KEY,
            packets,
            lambda data: self.sent.append(VendorFrame(tick, sample, self.notify_uuid, data)),
            keep_going,
        )

    async def _notify_connection(
        self, connection: Any, tick: int, sample: Sample | None, chunks: Iterable[bytes]
    ) -> bool:
        """Notify `chunks` to one central, each recorded just before it goes out (the central may
        hold it before this coroutine resumes). False if the device is off."""
        radio, char = self.radio, self._notify
        if radio is None or char is None:
            return False
        for chunk in chunks:
            self.sent.append(VendorFrame(tick, sample, self.notify_uuid, chunk))
            await radio.device.notify_subscriber(connection, char, chunk)
        return True
