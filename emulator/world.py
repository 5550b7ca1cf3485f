"""A BLE world: one bumble LocalLink, emulated oximeters on it, and bleak backends that reach them."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from emulator.air import Air
from emulator.bleak_backend import BumbleBleakScanner, make_scanner_backend
from emulator.oximeter import EmulatedOximeter, Mode
from emulator.pairing import PairingBumbleBleakClient, make_pairing_client_backend
from emulator.peripheral import EmulatedPeripheral
from emulator.radio import new_link
from emulator.scenarios import Sample
from emulator.vendors import create_vendor_device

__all__ = ["BleWorld"]


class BleWorld:
    """Everything lives in the calling process and event loop; no adapter, BlueZ or D-Bus.

    Usage::

        async with BleWorld() as world:
            oxi = world.add_oximeter("F0:0D:00:00:00:01", "PLX-01", scenario("stable"), interval=1.0)
            await world.start()
            devices = await BleakScanner.discover(2.0, service_uuids=[PLX], backend=world.scanner_backend)
            async with BleakClient(devices[0], backend=world.client_backend) as client: ...

    Other protocols: `world.add_device("berrymed", "00:A0:50:00:00:01", scenario("stable"))` (kinds
    in emulator.vendors.VENDOR_KINDS, plus "plx"). The client backend pairs for real (bumble SMP)
    when asked, with bonds remembered per world (see emulator.pairing).
    """

    def __init__(self, *, not_found_wait: float = 2.0, advertising_interval_ms: float = 20.0) -> None:
        self.link = new_link()
        self.air = Air(self.link, not_found_wait=not_found_wait)
        self.advertising_interval_ms = advertising_interval_ms
        self.oximeters: dict[str, EmulatedOximeter] = {}  # the PLX ones
        self.devices: dict[str, EmulatedPeripheral[Any]] = {}  # every device, PLX or vendor
        self.client_backend: type[PairingBumbleBleakClient] = make_pairing_client_backend(self.air)
        self.scanner_backend: type[BumbleBleakScanner] = make_scanner_backend(self.air)

    def add_oximeter(
        self,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        interval: float = 1.0,
        mode: Mode = "continuous",
        **options: Any,
    ) -> EmulatedOximeter:
        """Create (not yet start) an emulated PLX oximeter; `await world.start()` or `oxi.start()`.

        options go to EmulatedOximeter: model, manufacturer, advertising_interval_ms, clock, history.
        """
        key = self._free(address)
        options.setdefault("advertising_interval_ms", self.advertising_interval_ms)
        oximeter = EmulatedOximeter(self.link, key, name, scenario, interval=interval, mode=mode, **options)
        self.oximeters[key] = self.devices[key] = oximeter
        return oximeter

    def add_device(
        self,
        kind: str,
        address: str,
        scenario: Iterable[Sample],
        *,
        name: str | None = None,
        interval: float = 1.0,
        **options: Any,
    ) -> EmulatedPeripheral[Any]:
        """Create (not yet start) an emulated device of any protocol.

        kind "plx" → add_oximeter (name defaults to "PLX-<last 4 hex>"); the vendor kinds of
        emulator.vendors.VENDOR_KINDS take their class's options and default to the name a real
        unit advertises ("BerryMed", "Nonin3230_<serial>", "PC-60F_SN<xxxx>", "O2Ring <xxxx>", ...).
        """
        if kind == "plx":
            default = "PLX-" + address.replace(":", "")[-4:].upper()
            return self.add_oximeter(address, name or default, scenario, interval=interval, **options)
        key = self._free(address)
        options.setdefault("advertising_interval_ms", self.advertising_interval_ms)
        device = create_vendor_device(kind, self.link, key, scenario, name=name, interval=interval, **options)
        self.devices[key] = device
        return device

    def _free(self, address: str) -> str:
        key = address.upper()
        if key in self.devices:
            raise ValueError(f"a device with address {key} already exists")
        return key

    def oximeter(self, address: str) -> EmulatedOximeter:
        return self.oximeters[address.upper()]

    def device(self, address: str) -> EmulatedPeripheral[Any]:
        return self.devices[address.upper()]

    async def start(self) -> None:
        """Start every device added so far (already started ones are left alone)."""
        for device in self.devices.values():
            await device.start()

    async def stop(self) -> None:
        """Stop the devices and retire any central still on the link."""
        for device in self.devices.values():
            await device.stop()
        await self.air.close()

    async def __aenter__(self) -> BleWorld:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
