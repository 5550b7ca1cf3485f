"""GATT and advertising building blocks shared by the vendor emulators.

bumble's GATT server does not enforce read/write properties by itself, so values here answer like a
real device: Read Not Permitted on notify-only data, Write Not Permitted on read-only values.
"""

from __future__ import annotations

import struct
import uuid as uuid_lib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bumble.att import ATT_READ_NOT_PERMITTED_ERROR, ATT_WRITE_NOT_PERMITTED_ERROR, ATT_Error, Attribute
from bumble.core import UUID
from bumble.device import Device
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    CharacteristicValue,
    Service,
)

from emulator.scenarios import Sample

__all__ = [
    "VendorFrame",
    "advertising_data",
    "device_information",
    "notify_characteristic",
    "read_characteristic",
    "require_encryption",
    "uuid",
    "write_characteristic",
]

_AD_FLAGS, _AD_UUID16, _AD_UUID128, _AD_NAME = 0x01, 0x03, 0x07, 0x09
_LE_GENERAL_DISCOVERABLE_BR_EDR_NOT_SUPPORTED = 0x06
_LEGACY_ADV_MAX = 31
_DEVICE_INFORMATION, _MANUFACTURER, _MODEL, _FIRMWARE = 0x180A, 0x2A29, 0x2A24, 0x2A26
_BATTERY_SERVICE, _BATTERY_LEVEL = 0x180F, 0x2A19


@dataclass(frozen=True, slots=True)
class VendorFrame:
    """One notification that went out to at least one subscribed central."""

    tick: int
    sample: Sample | None  # None for answers to host commands (version, O2Ring info...)
    characteristic: str  # lower-case 128-bit UUID, as bleak names it
    data: bytes


def uuid(text: str) -> UUID:
    return UUID(text)


def _refuse(error_code: int) -> Callable[..., Any]:
    def refuse(*_args: Any) -> Any:
        raise ATT_Error(error_code=error_code)

    return refuse


def notify_characteristic(uuid_text: str) -> Characteristic[bytes]:
    props = Characteristic.Properties
    return Characteristic(
        UUID(uuid_text),
        props.NOTIFY,
        Characteristic.READABLE,
        CharacteristicValue(
            read=_refuse(ATT_READ_NOT_PERMITTED_ERROR), write=_refuse(ATT_WRITE_NOT_PERMITTED_ERROR)
        ),
    )


def write_characteristic(
    uuid_text: str,
    on_write: Callable[[Any, bytes], None],
    *,
    with_response: bool = True,
    without_response: bool = True,
) -> Characteristic[bytes]:
    """A host → device command characteristic; `on_write(connection, value)` gets every write."""
    props = Characteristic.Properties
    flags = (props.WRITE if with_response else 0) | (props.WRITE_WITHOUT_RESPONSE if without_response else 0)
    return Characteristic(
        UUID(uuid_text),
        props(flags),
        Characteristic.WRITEABLE,
        CharacteristicValue(read=_refuse(ATT_READ_NOT_PERMITTED_ERROR), write=on_write),
    )


def read_characteristic(uuid_text: str, value: Callable[[], bytes]) -> Characteristic[bytes]:
    return Characteristic(
        UUID(uuid_text),
        Characteristic.Properties.READ,
        Characteristic.READABLE,
        CharacteristicValue(read=lambda _connection: value(), write=_refuse(ATT_WRITE_NOT_PERMITTED_ERROR)),
    )


def _constant(value: bytes) -> Callable[[], bytes]:
    return lambda: value


def _sig(uuid16: int) -> str:
    return f"0000{uuid16:04x}-0000-1000-8000-00805f9b34fb"


def device_information(manufacturer: str, model: str, firmware: str) -> Service:
    """Device Information (0x180A): what the gateway reports as model and firmware."""
    return Service(
        UUID.from_16_bits(_DEVICE_INFORMATION),
        [
            read_characteristic(_sig(uuid16), _constant(text.encode()))
            for uuid16, text in ((_MANUFACTURER, manufacturer), (_MODEL, model), (_FIRMWARE, firmware))
        ],
    )


def battery_service(level: Callable[[], int]) -> Service:
    """Battery Service (0x180F) with a readable Battery Level (0x2A19, percent)."""
    return Service(
        UUID.from_16_bits(_BATTERY_SERVICE),
        [read_characteristic(_sig(_BATTERY_LEVEL), lambda: bytes([max(0, min(100, level()))]))],
    )


def require_encryption(device: Device, characteristic: Characteristic[Any]) -> None:
    """Make the characteristic's value and its CCCD demand an encrypted link (after add_services):
    reads, writes and subscribing then fail with ATT Insufficient Encryption until the link is paired."""
    characteristic.permissions |= Attribute.READ_REQUIRES_ENCRYPTION | Attribute.WRITE_REQUIRES_ENCRYPTION
    for attribute in device.gatt_server.attributes:
        inside = characteristic.handle < attribute.handle <= characteristic.end_group_handle
        if inside and attribute.type == GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR:
            attribute.permissions |= Attribute.WRITE_REQUIRES_ENCRYPTION


def advertising_data(name: str, *, uuids16: Iterable[int] = (), uuids128: Iterable[str] = ()) -> bytes:
    """Flags, complete service UUID lists and complete local name in one legacy advertisement.

    bumble's LocalLink delivers no separate scan response, so everything must fit in 31 bytes: a
    128-bit UUID (18 bytes with its header) leaves room for a name of 8 characters at most.
    """
    data = bytes([2, _AD_FLAGS, _LE_GENERAL_DISCOVERABLE_BR_EDR_NOT_SUPPORTED])
    short = b"".join(struct.pack("<H", u) for u in uuids16)
    if short:
        data += bytes([len(short) + 1, _AD_UUID16]) + short
    long = b"".join(uuid_lib.UUID(u).bytes[::-1] for u in uuids128)
    if long:
        data += bytes([len(long) + 1, _AD_UUID128]) + long
    encoded = name.encode()
    data += bytes([len(encoded) + 1, _AD_NAME]) + encoded
    if len(data) > _LEGACY_ADV_MAX:
        raise ValueError(f"advertisement for {name!r} is {len(data)} bytes; legacy advertising holds 31")
    return data
