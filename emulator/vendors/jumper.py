"""Emulated Jumper JPD-500F / "Medical" / "My Oximeter" (CDEACB80) — EXPERIMENTAL, UNCONFIRMED.

ble-protocols.md §2.7: service CDEACB80-..., notify CDEACB81-...; the service UUID IS advertised,
so scanning by service works. One `0x81` value frame per tick. Not emulated (unknown layouts):
0x80 waveform frames, the 0x2D "idle" frames and the 6C1CEF07 keep-alive write.
"""

from __future__ import annotations

from bumble.gatt import Service

from emulator.scenarios import Sample
from emulator.vendors.device import VendorPeripheral
from emulator.vendors.encode_jumper import jumper_values_for
from emulator.vendors.gatt import advertising_data

__all__ = ["JUMPER_NOTIFY", "JUMPER_SERVICE", "EmulatedJumper"]

JUMPER_SERVICE = "cdeacb80-5235-4c07-8846-93a37ee6b86d"
JUMPER_NOTIFY = "cdeacb81-5235-4c07-8846-93a37ee6b86d"


class EmulatedJumper(VendorPeripheral):
    kind = "jumper"
    manufacturer = "Jumper"
    default_model = "JPD-500F"
    default_firmware = "1.0"
    notify_uuid = JUMPER_NOTIFY

    def _services(self) -> list[Service]:
        return [Service(JUMPER_SERVICE, [self._notifier()]), self._device_information()]

    def _advertising_data(self) -> bytes:
        # 3 + 18 bytes of flags and 128-bit UUID leave 8 characters for the name
        return advertising_data(self.name, uuids128=[JUMPER_SERVICE])

    async def _emit(self, tick: int, sample: Sample) -> bool:
        if not self.listened_to:
            return False
        return bool(await self._stream(tick, sample, [jumper_values_for(sample)]))
