"""Helpers shared by the vendor and RACP emulator tests (bleak public API only on the client side)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from bleak import BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from emulator import BleWorld

WAIT = 20.0  # generous: several suites share two cores


async def until(condition: Callable[[], bool], what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def find(world: BleWorld, address: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(address, timeout=WAIT, backend=world.scanner_backend)
    assert device is not None, f"{address} not found"
    return device


class Inbox:
    """A notification callback that keeps what it got, per characteristic UUID."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.by_uuid: dict[str, list[bytes]] = {}

    def __call__(self, sender: BleakGATTCharacteristic, data: bytearray) -> None:
        assert isinstance(data, bytearray)
        self.frames.append(bytes(data))
        self.by_uuid.setdefault(sender.uuid, []).append(bytes(data))

    def on(self, uuid: str) -> list[bytes]:
        return self.by_uuid.get(uuid, [])


def contiguous_run(received: Sequence[bytes], expected: Sequence[bytes]) -> int:
    """Index in `expected` where `received` appears as an unbroken run; fails if it does not."""
    assert received, "nothing received"
    for start in range(len(expected) - len(received) + 1):
        if list(expected[start : start + len(received)]) == list(received):
            return start
    raise AssertionError(f"{len(received)} frames are not an unbroken run of the encoder's frames")
