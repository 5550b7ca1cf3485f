"""The two CRC-8 variants the Wellue/Viatom protocols use (ble-protocols.md §2.5, §2.6). Pure, table-driven.

- CRC-8/MAXIM (Dallas 1-Wire): reflected polynomial 0x31 (0x8C reversed), init 0, no final XOR.
  PC-60FW frames end in it; a frame's CRC over all its bytes including the CRC byte is 0.
- CRC-8 with polynomial 0x07, init 0, not reflected, no final XOR (CRC-8/SMBUS, "CRC-8-CCITT" in o2r):
  O2Ring / Checkme O2 requests and responses. Check: `AA 17 E8 00 00 00 00` → 0x1B (vector viatom-01).
"""

from __future__ import annotations

from typing import Final


def _maxim_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def _poly07_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_MAXIM: Final = _maxim_table()
_POLY07: Final = _poly07_table()


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM of `data` (reflected poly 0x31, init 0)."""
    crc = 0
    for byte in data:
        crc = _MAXIM[crc ^ byte]
    return crc


def crc8_poly07(data: bytes) -> int:
    """CRC-8 with polynomial 0x07, init 0, MSB first (CRC-8/SMBUS)."""
    crc = 0
    for byte in data:
        crc = _POLY07[crc ^ byte]
    return crc
