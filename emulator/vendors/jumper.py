"""Emulated Jumper JPD-500F / "Medical" / "My Oximeter" (CDEACB80) — EXPERIMENTAL, UNCONFIRMED.

ble-protocols.md §2.7: service CDEACB80-..., notify CDEACB81-...; the service UUID IS advertised,
so scanning by service works. One `0x81` value frame per tick. Not emulated (unknown layouts):
0x80 waveform frames, the 0x2D "idle" frames and the 6C1CEF07 keep-alive write.
"""

from __future__ import annotations

from collections.abc import Iterable

from bumble.gatt import Characteristic, Service
from bumble.link import LocalLink

from emulator.peripheral import EmulatedPeripheral
from emulator.scenarios import Sample
from emulator.vendors.encode_jumper import jumper_values_for
from emulator.vendors.gatt import VendorFrame, advertising_data, device_information, notify_characteristic

__all__ = ["JUMPER_NOTIFY", "JUMPER_SERVICE", "EmulatedJumper"]

JUMPER_SERVICE = "cdeacb80-5235-4c07-8846-93a37ee6b86d"
JUMPER_NOTIFY = "cdeacb81-5235-4c07-8846-93a37ee6b86d"
_KEY = "values"


class EmulatedJumper(EmulatedPeripheral[VendorFrame]):
    kind = "jumper"

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        interval: float = 1.0,
        model: str = "JPD-500F",
        firmware: str = "1.0",
        advertising_interval_ms: float = 20.0,
        history: int = 1000,
    ) -> None:
        super().__init__(
            link,
            address,
            name,
            scenario,
            interval=interval,
            advertising_interval_ms=advertising_interval_ms,
            history=history,
        )
        self._model, self._firmware = model, firmware
        self._notify: Characteristic[bytes] | None = None

    def _services(self) -> list[Service]:
        self._notify = notify_characteristic(JUMPER_NOTIFY)
        self._watch(self._notify, _KEY)
        return [
            Service(JUMPER_SERVICE, [self._notify]),
            device_information("Jumper", self._model, self._firmware),
        ]

    def _advertising_data(self) -> bytes:
        # 3 + 18 bytes of flags and 128-bit UUID leave 8 characters for the name
        return advertising_data(self.name, uuids128=[JUMPER_SERVICE])

    async def _emit(self, tick: int, sample: Sample) -> bool:
        char = self._notify
        if char is None or not self._notify_subs[_KEY]:
            return False
        out = await self._notify_paced(
            char,
            _KEY,
            [jumper_values_for(sample)],
            lambda data: self.sent.append(VendorFrame(tick, sample, JUMPER_NOTIFY, data)),
        )
        return bool(out)
