"""Pairing for the bleak client backend over bumble: real SMP on the virtual link.

Devices that demand an encrypted link (Nonin 3230, ble-protocols.md §2.4 "encryption required")
refuse a CCCD write on an unencrypted link with ATT Insufficient Encryption. With
`BleakClient(..., pair=True)` or `await client.pair()` this backend runs bumble's Security Manager
(LE Secure Connections, Just Works, bonding) so the link is encrypted, as BlueZ does when pairing.

What is emulated and what is not:
- a bond is remembered per BleWorld ("per adapter"): a later connect to a bonded address encrypts
  the link again before returning, as BlueZ does for a bonded device. Each BleakClient uses its own
  central address on the virtual link, so this re-encryption runs pairing again rather than reusing
  the stored long-term key; the gateway cannot tell the difference;
- `unpair()` forgets the bond and disconnects (bleak's documented behaviour);
- BlueZ would also start pairing by itself when a read/write fails with Insufficient Encryption;
  this backend does not (it is stricter): the caller must ask for pairing.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from bleak.exc import BleakError

from emulator.air import Air
from emulator.bleak_backend import BumbleBleakClient

__all__ = ["PairingBumbleBleakClient", "make_pairing_client_backend"]

_LOG = logging.getLogger(__name__)


class PairingBumbleBleakClient(BumbleBleakClient):
    """BumbleBleakClient whose pair() / connect(pair=True) really pair over SMP."""

    bonds: ClassVar[set[str]]  # peripheral addresses this world's "adapter" is bonded with

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await super().connect(pair, **kwargs)
        if pair or self.address in self.bonds:
            try:
                await self._encrypt()
            except BaseException:
                await self.disconnect()
                raise

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (and bond) with the connected device; a no-op when the link is already encrypted."""
        if self._connection is None:
            raise BleakError("Not connected")
        await self._encrypt()

    async def unpair(self) -> None:
        self.bonds.discard(self.address)
        await self.disconnect()

    @property
    def is_encrypted(self) -> bool:
        return self._connection is not None and bool(self._connection.encryption)

    async def _encrypt(self) -> None:
        connection = self._connection
        if connection is None:
            raise BleakError("Not connected")
        if not connection.encryption:
            try:
                await connection.pair()
            except Exception as exc:
                raise BleakError(f"pairing with {self.address} failed: {exc!r}") from exc
        self.bonds.add(self.address)
        _LOG.debug("%s: link encrypted (bonded)", self.address)


def make_pairing_client_backend(air: Air) -> type[PairingBumbleBleakClient]:
    """A client backend class bound to one world's air, with that world's bond table."""
    return type(
        "BumbleBleakClient",
        (PairingBumbleBleakClient,),
        {"air": air, "bonds": set(), "__module__": __name__},
    )
