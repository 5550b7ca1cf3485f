"""Thin typed helpers over bumble's virtual radio: devices on a LocalLink and advertising data."""

from __future__ import annotations

import contextlib
import logging
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from bleak.uuids import normalize_uuid_16, normalize_uuid_32
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["Advert", "Radio", "address_str", "build_advertising_data", "new_link", "parse_advertising_data"]

_LOG = logging.getLogger(__name__)

# AD types (Core Supplement Part A §1)
_AD_FLAGS = 0x01
_AD_UUID16 = (0x02, 0x03)
_AD_UUID32 = (0x04, 0x05)
_AD_UUID128 = (0x06, 0x07)
_AD_SHORT_NAME, _AD_COMPLETE_NAME = 0x08, 0x09
_AD_TX_POWER = 0x0A
_AD_SERVICE_DATA16 = 0x16
_AD_MANUFACTURER = 0xFF
_LE_GENERAL_DISCOVERABLE_BR_EDR_NOT_SUPPORTED = 0x06
_LEGACY_ADV_MAX = 31


def new_link() -> LocalLink:
    """A fresh virtual radio medium: controllers on it hear each other and nothing else."""
    return LocalLink()  # type: ignore[no-untyped-call]


@dataclass(eq=False)  # identity semantics: a Radio is a physical thing
class Radio:
    """One bumble Controller + Host + Device attached to a LocalLink."""

    link: LocalLink
    controller: Controller
    device: Device
    address: str

    @classmethod
    def create(cls, link: LocalLink, address: str, name: str) -> Radio:
        controller = Controller(name, link=link)
        device = Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))
        return cls(link, controller, device, address.upper())

    async def close(self) -> None:
        """Power off and unplug from the link, so a gone device costs the link nothing."""
        with contextlib.suppress(Exception):
            await self.device.power_off()
        with contextlib.suppress(KeyError):
            self.link.remove_controller(self.controller)


def address_str(address: Any) -> str:
    """bumble Address → 'AA:BB:CC:DD:EE:FF' (no type suffix), as bleak reports addresses."""
    text: str = address.to_string(False)
    return text.upper()


def build_advertising_data(name: str, service_uuid16: list[int]) -> bytes:
    """Flags + complete 16-bit service list + complete local name, in one legacy PDU.

    bumble's LocalLink delivers no scan responses, so the name must fit in the advertisement itself.
    """
    data = bytes([2, _AD_FLAGS, _LE_GENERAL_DISCOVERABLE_BR_EDR_NOT_SUPPORTED])
    if service_uuid16:
        uuids = b"".join(struct.pack("<H", u) for u in service_uuid16)
        data += bytes([len(uuids) + 1, _AD_UUID16[1]]) + uuids
    encoded = name.encode()
    room = _LEGACY_ADV_MAX - len(data) - 2
    if len(encoded) > room:
        raise ValueError(f"name {name!r} is too long for one advertisement ({room} bytes left)")
    return data + bytes([len(encoded) + 1, _AD_COMPLETE_NAME]) + encoded


@dataclass
class Advert:
    """Advertising data decoded into the fields bleak's AdvertisementData carries."""

    local_name: str | None = None
    service_uuids: list[str] = field(default_factory=list)
    service_data: dict[str, bytes] = field(default_factory=dict)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    tx_power: int | None = None


def parse_advertising_data(data: bytes) -> Advert:
    """Decode length-type-value AD structures; a malformed tail is dropped, as scanners do."""
    advert = Advert()
    offset = 0
    while offset < len(data):
        length = data[offset]
        if length == 0 or offset + 1 + length > len(data):
            break
        ad_type, value = data[offset + 1], data[offset + 2 : offset + 1 + length]
        offset += 1 + length
        if ad_type in _AD_UUID16:
            advert.service_uuids += [normalize_uuid_16(u) for (u,) in struct.iter_unpack("<H", value)]
        elif ad_type in _AD_UUID32:
            advert.service_uuids += [normalize_uuid_32(u) for (u,) in struct.iter_unpack("<I", value)]
        elif ad_type in _AD_UUID128:
            advert.service_uuids += [
                str(uuid.UUID(bytes=value[i : i + 16][::-1])) for i in range(0, len(value) - 15, 16)
            ]
        elif ad_type in (_AD_SHORT_NAME, _AD_COMPLETE_NAME):
            advert.local_name = value.decode(errors="replace")
        elif ad_type == _AD_TX_POWER and value:
            advert.tx_power = struct.unpack("<b", value[:1])[0]
        elif ad_type == _AD_SERVICE_DATA16 and len(value) >= 2:
            advert.service_data[normalize_uuid_16(struct.unpack("<H", value[:2])[0])] = value[2:]
        elif ad_type == _AD_MANUFACTURER and len(value) >= 2:
            advert.manufacturer_data[struct.unpack("<H", value[:2])[0]] = value[2:]
    return advert
