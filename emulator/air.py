"""The shared virtual air of one BleWorld: the bumble LocalLink plus the centrals bleak backends use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from bumble.link import LocalLink

from emulator.radio import Radio, address_str

__all__ = ["Air", "VirtualDeviceDetails"]


@dataclass(frozen=True, slots=True)
class VirtualDeviceDetails:
    """`BLEDevice.details` for emulated devices. Not a dict on purpose: bleak-retry-connector reads a
    dict with a "path" key as a BlueZ device and would go looking for D-Bus."""

    address: str
    link: str = "bumble-local-link"


@dataclass
class Air:
    link: LocalLink
    # How long a connect looks for the peripheral's advertisement before reporting "not found".
    not_found_wait: float = 2.0
    _next_central: int = 0
    _live: set[Radio] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def central_address(self) -> str:
        """A fresh static random address for a central (top bits 11, distinct from oximeters)."""
        self._next_central += 1
        n = self._next_central
        return f"C0:0B:1E:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"

    async def new_central(self, address: str, role: str) -> Radio:
        radio = Radio.create(self.link, address, f"bleak-{role}-{address}")
        self._live.add(radio)
        await radio.device.power_on()
        return radio

    async def retire(self, radio: Radio) -> None:
        self._live.discard(radio)
        await radio.close()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run clean-up started from a (synchronous) bumble event; close() waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for radio in list(self._live):
            await self.retire(radio)

    async def sees(self, radio: Radio, address: str, wait: float) -> bool:
        """Scan until `address` advertises connectably, for at most `wait` seconds."""
        found: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        wanted = address.upper()

        def on_advertisement(advertisement: Any) -> None:
            if found.done() or not advertisement.is_connectable:
                return
            if address_str(advertisement.address) == wanted:
                found.set_result(True)

        radio.device.on("advertisement", on_advertisement)
        try:
            await radio.device.start_scanning(filter_duplicates=False)
            async with asyncio.timeout(wait):
                return await found
        except TimeoutError:
            return False
        finally:
            radio.device.remove_listener("advertisement", on_advertisement)
            with contextlib.suppress(Exception):
                await radio.device.stop_scanning()
