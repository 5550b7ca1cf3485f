"""The GATT database of the emulated oximeter: PLX service 0x1822 (§1.1) and Device Information.

With measurement storage the service also has the Record Access Control Point 0x2A52 (write +
indicate, §1.1/§1.9); its writes go to the caller's handler.

bumble's GATT server does not enforce permissions on writes, so every value here is wrapped to
answer like a real device: Write Not Permitted on read-only values, Read Not Permitted on the
notify/indicate-only measurement characteristics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bumble.att import ATT_READ_NOT_PERMITTED_ERROR, ATT_WRITE_NOT_PERMITTED_ERROR, ATT_Error
from bumble.core import UUID
from bumble.gatt import Characteristic, CharacteristicValue, Service

from emulator.frames import FEATURES

__all__ = [
    "PLX_CONTINUOUS",
    "PLX_FEATURES",
    "PLX_RACP",
    "PLX_SERVICE",
    "PLX_SPOT_CHECK",
    "PlxGatt",
    "build_plx_gatt",
]

PLX_SERVICE = 0x1822
PLX_SPOT_CHECK = 0x2A5E
PLX_CONTINUOUS = 0x2A5F
PLX_FEATURES = 0x2A60
PLX_RACP = 0x2A52
_DEVICE_INFORMATION, _MANUFACTURER_NAME, _MODEL_NUMBER = 0x180A, 0x2A29, 0x2A24


def _refuse(error_code: int) -> Any:
    def refuse(*_args: Any) -> Any:
        raise ATT_Error(error_code=error_code)

    return refuse


def _read_only(value: bytes) -> CharacteristicValue[bytes]:
    return CharacteristicValue(read=lambda _connection: value, write=_refuse(ATT_WRITE_NOT_PERMITTED_ERROR))


def _no_access() -> CharacteristicValue[bytes]:
    return CharacteristicValue(
        read=_refuse(ATT_READ_NOT_PERMITTED_ERROR), write=_refuse(ATT_WRITE_NOT_PERMITTED_ERROR)
    )


@dataclass(frozen=True)
class PlxGatt:
    services: list[Service]
    continuous: Characteristic[bytes]
    spot_check: Characteristic[bytes]
    racp: Characteristic[bytes] | None = None


def build_plx_gatt(
    manufacturer: str,
    model: str,
    *,
    features: bytes = FEATURES,
    on_racp_write: Callable[[Any, bytes], None] | None = None,
) -> PlxGatt:
    """The PLX + Device Information services; with `on_racp_write`, a RACP characteristic too."""
    props, readable = Characteristic.Properties, Characteristic.READABLE
    continuous: Characteristic[bytes] = Characteristic(
        UUID.from_16_bits(PLX_CONTINUOUS), props.NOTIFY, readable, _no_access()
    )
    spot_check: Characteristic[bytes] = Characteristic(
        UUID.from_16_bits(PLX_SPOT_CHECK), props.INDICATE, readable, _no_access()
    )
    features_char: Characteristic[bytes] = Characteristic(
        UUID.from_16_bits(PLX_FEATURES), props.READ, readable, _read_only(features)
    )
    characteristics = [spot_check, continuous, features_char]
    racp: Characteristic[bytes] | None = None
    if on_racp_write is not None:
        racp = Characteristic(
            UUID.from_16_bits(PLX_RACP),
            props.WRITE | props.INDICATE,
            Characteristic.WRITEABLE,
            CharacteristicValue(read=_refuse(ATT_READ_NOT_PERMITTED_ERROR), write=on_racp_write),
        )
        characteristics.append(racp)
    plx = Service(UUID.from_16_bits(PLX_SERVICE), characteristics)
    info = Service(
        UUID.from_16_bits(_DEVICE_INFORMATION),
        [
            Characteristic(UUID.from_16_bits(uuid16), props.READ, readable, _read_only(text.encode()))
            for uuid16, text in ((_MANUFACTURER_NAME, manufacturer), (_MODEL_NUMBER, model))
        ],
    )
    return PlxGatt([plx, info], continuous, spot_check, racp)
