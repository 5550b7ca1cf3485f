"""Which protocol a device speaks: chosen by the GATT services it offers, else by advertised name / OUI.

ble-protocols.md §2.1 and §2.7: pick the parser by the services discovered after connecting, not by name
("BM1000"-labelled and many "Medical"-named units speak BerryMed BCI on the ISSC service). Before
connecting — when scanning — only the advertisement is known, and some devices hide their service there
(BerryMed BM1000C advertises the name "BerryMed" without the service, §2.2; the vendor PDF gives the
BLE-module MAC prefix 00:A0:50), so the advertised name and address prefix give a candidate.

The Jumper/CDEACB80 protocol is UNCONFIRMED: it is only ever selected when `experimental=True`.
JKS50F and Contec (unconfirmed.py) are never selected: their services are generic serial ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from gateway.protocols import berrymed, jumper, nonin, plx, unconfirmed, wellue, wellue_o2ring
from gateway.protocols.common import DSS_SENSOR_DISCONNECTED, DSS_SENSOR_UNCONNECTED, ReadingFields
from gateway.protocols.sfloat import SfloatParts

_BASE_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"
# ChoiceMMed advertises this and also offers the Nordic UART Service; its frames are not PC-60FW's (§2.1).
CHOICEMMED_SERVICE_UUID: Final = "00000001-0000-6465-6d6d-65636c6f6843"


@dataclass(frozen=True, slots=True)
class ProtocolProfile:
    """How to talk to one family of devices; `protocols` are the decode() names its frames carry."""

    key: str
    protocols: tuple[str, ...]
    service_uuid: str
    notify_uuids: tuple[str, ...]
    write_uuid: str | None
    name_patterns: tuple[str, ...] = ()  # regexes matched against the advertised local name
    oui_prefixes: tuple[str, ...] = ()  # "00:A0:50"-style MAC prefixes
    needs_bonding: bool = False
    polled: bool = False  # the host must send requests; the device does not stream on its own
    experimental: bool = False
    confirmed: bool = True
    note: str = ""


PLX: Final = ProtocolProfile(
    key="plx",
    protocols=(plx.CONTINUOUS, plx.SPOT_CHECK),
    service_uuid=plx.SERVICE_UUID,
    notify_uuids=(plx.CONTINUOUS_UUID, plx.SPOT_CHECK_UUID),
    write_uuid=plx.RACP_UUID,
    note="Bluetooth SIG Pulse Oximeter Service; stored spot-checks via RACP",
)
NONIN: Final = ProtocolProfile(
    key="nonin",
    protocols=(nonin.PROTOCOL,),
    service_uuid=nonin.SERVICE_UUID,
    notify_uuids=(nonin.CONTINUOUS_UUID,),
    write_uuid=nonin.CONTROL_POINT_UUID,
    name_patterns=(r"^Nonin3230_",),
    needs_bonding=True,
    note="Nonin 3230 / WristOx2 3150; encryption required (pair first)",
)
BERRYMED: Final = ProtocolProfile(
    key="berrymed",
    protocols=(berrymed.BCI, berrymed.BERRY),
    service_uuid=berrymed.SERVICE_UUID,
    notify_uuids=(berrymed.NOTIFY_UUID,),
    write_uuid=berrymed.WRITE_UUID,
    name_patterns=(r"^BerryMed", r"^BM1000"),
    oui_prefixes=("00:A0:50",),
    note="BerryMed BCI (5-byte) or BERRY (20-byte) on the ISSC transparent UART service",
)
O2RING: Final = ProtocolProfile(
    key="wellue-o2ring",
    protocols=(wellue_o2ring.RESPONSE,),
    service_uuid=wellue_o2ring.SERVICE_UUID,
    notify_uuids=(wellue_o2ring.NOTIFY_UUID,),
    write_uuid=wellue_o2ring.WRITE_UUID,
    name_patterns=(r"^O2Ring", r"^Checkme O2", r"^SleepU", r"^O2M"),
    polled=True,
    note="Wellue/Viatom O2Ring, Checkme O2: poll read-sensors (AA 17 E8 ...)",
)
PC60FW: Final = ProtocolProfile(
    key="wellue-pc60fw",
    protocols=(wellue.PROTOCOL,),
    service_uuid=wellue.SERVICE_UUID,
    notify_uuids=(wellue.NOTIFY_UUID,),
    write_uuid=None,
    name_patterns=(r"^PC-60F",),
    note="Wellue/Viatom PC-60FW on the Nordic UART Service; powers off when the finger is removed",
)
JUMPER: Final = ProtocolProfile(
    key="jumper",
    protocols=(jumper.PROTOCOL,),
    service_uuid=jumper.SERVICE_UUID,
    notify_uuids=(jumper.NOTIFY_UUID,),
    write_uuid=None,
    # Not "Medical": many units of that name speak BerryMed BCI on the ISSC service (§2.7).
    name_patterns=(r"^My Oximeter", r"^JPD-500F"),
    experimental=True,
    confirmed=False,
    note="EXPERIMENTAL, UNCONFIRMED: Jumper JPD-500F / 'Medical' / 'My Oximeter' (CDEACB80)",
)
# Order = preference when a device offers several: the standard service first (a Nonin 3230 may offer
# PLX too, §2.4), generic transports (ISSC, Nordic UART) after the vendor-specific services.
PROFILES: Final = (PLX, NONIN, O2RING, BERRYMED, PC60FW, JUMPER)


def normalize_uuid(uuid: str) -> str:
    """Lower-case full 128-bit form; a 16-bit ("2a5f", "0x2A5F") or 32-bit UUID gets the SIG base."""
    text = uuid.strip().lower().removeprefix("0x")
    if re.fullmatch(r"[0-9a-f]{4}", text):
        return f"0000{text}{_BASE_SUFFIX}"
    if re.fullmatch(r"[0-9a-f]{8}", text):
        return f"{text}{_BASE_SUFFIX}"
    return text


def available_profiles(*, experimental: bool = False) -> tuple[ProtocolProfile, ...]:
    """The profiles the gateway may use; experimental ones only when enabled."""
    return tuple(p for p in PROFILES if experimental or not p.experimental)


def select_by_services(services: Iterable[str], *, experimental: bool = False) -> ProtocolProfile | None:
    """The profile for a connected device, from the service UUIDs its GATT database offers."""
    offered = {normalize_uuid(u) for u in services}
    for profile in available_profiles(experimental=experimental):
        if profile is PC60FW and CHOICEMMED_SERVICE_UUID in offered:
            continue  # Nordic UART, but ChoiceMMed framing (UNCONFIRMED, not supported)
        if profile.service_uuid in offered:
            return profile
    return None


def _matches_name(profile: ProtocolProfile, name: str | None) -> bool:
    return name is not None and any(re.match(p, name.strip()) for p in profile.name_patterns)


def _matches_oui(profile: ProtocolProfile, address: str | None) -> bool:
    if address is None:
        return False
    mac = address.strip().upper().replace("-", ":")
    return any(mac.startswith(prefix) for prefix in profile.oui_prefixes)


def select_by_advertisement(
    *,
    name: str | None,
    address: str | None,
    service_uuids: Iterable[str] = (),
    experimental: bool = False,
) -> ProtocolProfile | None:
    """A candidate profile while scanning: advertised services first, then name, then MAC prefix (OUI).

    The choice is confirmed by `select_by_services` once connected (names are not trustworthy, §2.7).
    """
    by_service = select_by_services(service_uuids, experimental=experimental)
    if by_service is not None:
        return by_service
    profiles = available_profiles(experimental=experimental)
    for profile in profiles:
        if _matches_name(profile, name):
            return profile
    for profile in profiles:
        if _matches_oui(profile, address):
            return profile
    return None


def profile_for_protocol(protocol: str) -> ProtocolProfile:
    """The profile whose frames carry the decode() name `protocol`."""
    for profile in PROFILES:
        if protocol in profile.protocols:
            return profile
    raise KeyError(f"no device profile produces protocol {protocol!r}")


def _number(parts: SfloatParts | None) -> float | None:
    value = None if parts is None else parts.value
    return value if isinstance(value, float) else None


def _plx_fields(frame: plx.PlxContinuous | plx.PlxSpotCheck) -> ReadingFields:
    dss = frame.device_sensor_status
    return ReadingFields(
        spo2=_number(frame.spo2_sfloat),
        pulse=_number(frame.pulse_rate_sfloat),
        perfusion_index=_number(frame.pai_sfloat),
        measurement_status=frame.measurement_status,
        device_sensor_status=dss,
        probe_off=bool(dss is not None and dss & (DSS_SENSOR_UNCONNECTED | DSS_SENSOR_DISCONNECTED)),
    )


def reading_fields(frame: object) -> ReadingFields | None:
    """What any decoded frame gives a Reading; None for frames that carry no measurement.

    None for version replies, battery and pleth frames, and raw O2Ring responses (decode those with
    `wellue_o2ring.decode_sensors` first, as only the caller knows which request they answer).
    """
    if isinstance(frame, plx.PlxContinuous | plx.PlxSpotCheck):
        return _plx_fields(frame)
    if isinstance(frame, berrymed.BciFrame | berrymed.BerryMeasurement):
        return berrymed.to_reading_fields(frame)
    if isinstance(frame, nonin.NoninFrame):
        return nonin.to_reading_fields(frame)
    if isinstance(frame, wellue.Pc60Vitals):
        return wellue.to_reading_fields(frame)
    if isinstance(frame, wellue_o2ring.O2Sensors):
        return wellue_o2ring.to_reading_fields(frame)
    if isinstance(frame, jumper.JumperValues):
        return jumper.to_reading_fields(frame)
    if isinstance(frame, unconfirmed.Jks50fFrame):
        return unconfirmed.jks50f_reading_fields(frame)
    if isinstance(frame, unconfirmed.ContecFrame):
        return unconfirmed.contec_reading_fields(frame)
    return None


def protocol_of(frame: object) -> str:
    """The protocol name (ble-vectors.json / wire `source.protocol`) of a decoded frame."""
    names: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (plx.PlxContinuous, plx.CONTINUOUS),
        (plx.PlxSpotCheck, plx.SPOT_CHECK),
        ((berrymed.BciFrame, berrymed.BciVersionPacket), berrymed.BCI),
        ((berrymed.BerryMeasurement, berrymed.BerryVersion), berrymed.BERRY),
        (nonin.NoninFrame, nonin.PROTOCOL),
        ((wellue.Pc60Vitals, wellue.Pc60Pleth, wellue.Pc60Battery, wellue.Pc60Status), wellue.PROTOCOL),
        ((wellue_o2ring.O2Sensors, wellue_o2ring.O2Response), wellue_o2ring.RESPONSE),
        ((jumper.JumperValues, jumper.JumperWaveform), jumper.PROTOCOL),
        (unconfirmed.Jks50fFrame, unconfirmed.JKS50F),
        (unconfirmed.ContecFrame, unconfirmed.CONTEC),
    )
    for kinds, name in names:
        if isinstance(frame, kinds):
            return name
    raise TypeError(f"not a decoded frame: {type(frame).__name__}")
