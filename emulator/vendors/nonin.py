"""Emulated Nonin 3230 (NoninConnect): Nonin Oximetry Service, ~1 Hz frames, encryption required.

ble-protocols.md §2.4: service 46A970E0-..., Continuous Oximetry 0AAD7EA0-... (notify, one 10-byte
big-endian frame per reading), Control Point 1447AF80-...; name `Nonin3230_<serial>`; Device
Information and Battery services; the oximetry characteristic demands an encrypted link.

Emulated security: the oximetry value, its CCCD and the Control Point require encryption, so a
central must pair (bumble SMP, Just Works, bonding — see emulator.pairing) before it can subscribe;
an unpaired start_notify fails with ATT Insufficient Encryption. Frames report the link's real
encryption state in status bit 6. Not emulated: the 3150's "new bonds only within 2 minutes of
battery insertion" (security mode 2), passkeys, and the Control Point's commands (writes are
accepted and kept in `control_writes`). Advertises its name only: with a 19-character name the
128-bit service UUID does not fit a legacy advertisement (the doc does not say what real units put
there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Unpack

from bumble.gatt import Characteristic, Service
from bumble.link import LocalLink

from emulator.radio import Radio
from emulator.scenarios import Sample
from emulator.vendors.device import VendorOptions, VendorPeripheral
from emulator.vendors.encode_nonin import encode_nonin_frame, nonin_frame_for
from emulator.vendors.gatt import advertising_data, battery_service, require_encryption, write_characteristic

__all__ = ["NONIN_CONTINUOUS", "NONIN_CONTROL_POINT", "NONIN_SERVICE", "EmulatedNonin"]

NONIN_SERVICE = "46a970e0-0d5f-11e2-8b5e-0002a5d5c51b"
NONIN_CONTINUOUS = "0aad7ea0-0d60-11e2-8e3c-0002a5d5c51b"
NONIN_CONTROL_POINT = "1447af80-0d60-11e2-88b6-0002a5d5c51b"


class EmulatedNonin(VendorPeripheral):
    kind = "nonin"
    manufacturer = "Nonin Medical, Inc."
    default_model = "3230"
    default_firmware = "1.2.0"
    notify_uuid = NONIN_CONTINUOUS

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        battery_v: float = 2.9,
        **options: Unpack[VendorOptions],
    ) -> None:
        super().__init__(link, address, name, scenario, **options)
        self.battery_v = battery_v
        self.control_writes: list[bytes] = []
        self._control: Characteristic[bytes] | None = None

    @property
    def encrypted_links(self) -> int:
        """How many current connections are encrypted."""
        return sum(1 for c in self._connections.values() if c.encryption)

    def _services(self) -> list[Service]:
        self._control = write_characteristic(NONIN_CONTROL_POINT, self._on_control, without_response=False)
        return [
            Service(NONIN_SERVICE, [self._notifier(), self._control]),
            self._device_information(),
            battery_service(self._battery_percent),
        ]

    def _battery_percent(self) -> int:
        # linear over 2.4-3.2 V of two AA cells: the emulator's guess, good enough for a status topic
        return round(100 * (self.battery_v - 2.4) / 0.8)

    def _after_services(self, radio: Radio) -> None:
        assert self._notify is not None
        assert self._control is not None
        require_encryption(radio.device, self._notify)
        require_encryption(radio.device, self._control)

    def _advertising_data(self) -> bytes:
        return advertising_data(self.name)

    def _on_control(self, _connection: Any, value: bytes) -> None:
        self.control_writes.append(bytes(value))

    async def _emit(self, tick: int, sample: Sample) -> bool:
        heard = False
        for handle in self._subscribers():
            connection = self._connections.get(handle)
            if connection is None:
                continue
            # each link gets its own frame: status bit 6 reports that link's encryption
            frame = nonin_frame_for(
                sample, tick, battery_v=self.battery_v, encrypted=bool(connection.encryption)
            )
            if await self._notify_connection(connection, tick, sample, [encode_nonin_frame(frame)]):
                heard = True
        return heard
