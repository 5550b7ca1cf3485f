"""A BLE world: one bumble LocalLink, emulated oximeters on it, and bleak backends that reach them."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from emulator.air import Air
from emulator.bleak_backend import (
    BumbleBleakClient,
    BumbleBleakScanner,
    make_client_backend,
    make_scanner_backend,
)
from emulator.oximeter import EmulatedOximeter, Mode
from emulator.radio import new_link
from emulator.scenarios import Sample

__all__ = ["BleWorld"]


class BleWorld:
    """Everything lives in the calling process and event loop; no adapter, BlueZ or D-Bus.

    Usage::

        async with BleWorld() as world:
            oxi = world.add_oximeter("F0:0D:00:00:00:01", "PLX-01", scenario("stable"), interval=1.0)
            await world.start()
            devices = await BleakScanner.discover(2.0, service_uuids=[PLX], backend=world.scanner_backend)
            async with BleakClient(devices[0], backend=world.client_backend) as client: ...
    """

    def __init__(self, *, not_found_wait: float = 2.0, advertising_interval_ms: float = 20.0) -> None:
        self.link = new_link()
        self.air = Air(self.link, not_found_wait=not_found_wait)
        self.advertising_interval_ms = advertising_interval_ms
        self.oximeters: dict[str, EmulatedOximeter] = {}
        self.client_backend: type[BumbleBleakClient] = make_client_backend(self.air)
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
        key = address.upper()
        if key in self.oximeters:
            raise ValueError(f"an oximeter with address {key} already exists")
        options.setdefault("advertising_interval_ms", self.advertising_interval_ms)
        oximeter = EmulatedOximeter(self.link, key, name, scenario, interval=interval, mode=mode, **options)
        self.oximeters[key] = oximeter
        return oximeter

    def oximeter(self, address: str) -> EmulatedOximeter:
        return self.oximeters[address.upper()]

    async def start(self) -> None:
        """Start every oximeter added so far (already started ones are left alone)."""
        for oximeter in self.oximeters.values():
            await oximeter.start()

    async def stop(self) -> None:
        """Stop the oximeters and retire any central still on the link."""
        for oximeter in self.oximeters.values():
            await oximeter.stop()
        await self.air.close()

    async def __aenter__(self) -> BleWorld:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
