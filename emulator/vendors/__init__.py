"""Emulated proprietary oximeters of issue 3, each on bumble and driven by the shared scenarios.

Kinds use the gateway's profile keys: berrymed (BCI or BERRY, option protocol=), nonin,
wellue-pc60fw, wellue-o2ring, jumper (experimental). Build them with `BleWorld.add_device(kind, ...)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bumble.link import LocalLink

from emulator.peripheral import EmulatedPeripheral
from emulator.scenarios import Sample
from emulator.vendors.berrymed import EmulatedBerryMed
from emulator.vendors.gatt import VendorFrame
from emulator.vendors.jumper import EmulatedJumper
from emulator.vendors.nonin import EmulatedNonin
from emulator.vendors.wellue import EmulatedPc60fw
from emulator.vendors.wellue_o2ring import EmulatedO2Ring

__all__ = [
    "VENDOR_KINDS",
    "EmulatedBerryMed",
    "EmulatedJumper",
    "EmulatedNonin",
    "EmulatedO2Ring",
    "EmulatedPc60fw",
    "VendorDevice",
    "VendorFrame",
    "create_vendor_device",
    "default_name",
]

VendorDevice = EmulatedPeripheral[VendorFrame]

VENDOR_KINDS: dict[str, type[VendorDevice]] = {
    "berrymed": EmulatedBerryMed,
    "nonin": EmulatedNonin,
    "wellue-pc60fw": EmulatedPc60fw,
    "wellue-o2ring": EmulatedO2Ring,
    "jumper": EmulatedJumper,
}


def default_name(kind: str, address: str) -> str:
    """The advertised name a real unit of that kind would use (ble-protocols.md §2)."""
    tail = address.replace(":", "").upper()
    if kind == "berrymed":
        return "BerryMed"  # §2.2
    if kind == "nonin":
        return f"Nonin3230_{int(tail[-6:], 16) % 10**9:09d}"  # §2.4 Nonin3230_<serial>
    if kind == "wellue-pc60fw":
        return f"PC-60F_SN{tail[-4:]}"  # §2.1 "PC-60F_SNxxxx"
    if kind == "wellue-o2ring":
        return f"O2Ring {tail[-4:]}"  # §2.5 "O2Ring xxxx"
    if kind == "jumper":
        return "JPD-500F"  # fits beside the advertised 128-bit service UUID
    raise ValueError(f"unknown device kind {kind!r}; choose one of {', '.join(sorted(VENDOR_KINDS))}")


def create_vendor_device(
    kind: str,
    link: LocalLink,
    address: str,
    scenario: Iterable[Sample],
    *,
    name: str | None = None,
    **options: Any,
) -> VendorDevice:
    """Build (not start) an emulated device of `kind`; options go to its class (interval, ...)."""
    try:
        factory = VENDOR_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown device kind {kind!r}; choose one of {', '.join(sorted(VENDOR_KINDS))}"
        ) from None
    device = factory(link, address, name or default_name(kind, address), scenario, **options)
    device.advertisement()  # a name too long for the advertisement fails here, not at start()
    return device
