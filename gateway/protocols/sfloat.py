"""IEEE 11073-20601 16-bit SFLOAT ("medfloat16"), as used by the Bluetooth SIG PLX service.

Layout (docs: /work/shared/docs/ble-protocols.md §1.2): uint16 little-endian; upper 4 bits a
signed exponent (-8..+7), lower 12 bits a signed mantissa (-2048..+2047); value = mantissa x 10^exponent.
Five raw values are special and are checked before generic decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.protocols.errors import FrameError

PROTOCOL: Final = "ieee11073-sfloat"


class SfloatSpecial(StrEnum):
    """The SFLOAT special values; the string values are the names used in ble-vectors.json."""

    NAN = "NaN"
    NRES = "NRes"
    POSITIVE_INFINITY = "+INF"
    NEGATIVE_INFINITY = "-INF"
    RFU = "RFU"


# ble-protocols.md §1.2 table: all specials have exponent nibble 0.
SPECIALS: Final = MappingProxyType(
    {
        0x07FF: SfloatSpecial.NAN,
        0x0800: SfloatSpecial.NRES,
        0x07FE: SfloatSpecial.POSITIVE_INFINITY,
        0x0802: SfloatSpecial.NEGATIVE_INFINITY,
        0x0801: SfloatSpecial.RFU,
    }
)


@dataclass(frozen=True, slots=True)
class SfloatParts:
    """One decoded SFLOAT: the raw uint16, its mantissa and exponent, and the special meaning if any."""

    raw: int
    mantissa: int
    exponent: int
    special: SfloatSpecial | None

    @property
    def value(self) -> float | SfloatSpecial:
        """The number, or the special marker the device sent instead of one."""
        if self.special is not None:
            return self.special
        return sfloat_value(self.mantissa, self.exponent)


def sfloat_value(mantissa: int, exponent: int) -> float:
    """mantissa x 10^exponent, dividing for negative exponents so 890e-2 is exactly the float 8.9."""
    if exponent < 0:
        # One correctly rounded division; multiplying by an inexact 10**-1 turns 87e-1 into 8.700000000000001.
        divisor: int = 10**-exponent
        return mantissa / divisor
    return float(mantissa * 10**exponent)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def decode_sfloat_parts(raw: int | bytes) -> SfloatParts:
    """Decode an SFLOAT given as its uint16 value or as its 2 little-endian bytes."""
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        if len(data) != 2:
            raise FrameError(PROTOCOL, f"an SFLOAT is 2 bytes, got {len(data)}", data.hex())
        raw = int.from_bytes(data, "little")
    elif not 0 <= raw <= 0xFFFF:
        raise ValueError(f"SFLOAT raw value must be a uint16 (0..65535), got {raw}")
    mantissa = _signed(raw & 0x0FFF, 12)
    exponent = _signed(raw >> 12, 4)
    return SfloatParts(raw=raw, mantissa=mantissa, exponent=exponent, special=SPECIALS.get(raw))


def decode_sfloat(raw: int | bytes) -> float | SfloatSpecial:
    """Decode an SFLOAT to its value, or to the special marker (NaN, NRes, +INF, -INF, RFU)."""
    return decode_sfloat_parts(raw).value
