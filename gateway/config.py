"""Which oximeters this gateway reads: the device bindings (docs/gateway.md "Configuration").

Two sources, merged: the comma-separated address list OXIWARD_GATEWAY_DEVICES (addresses only), and
the file named by OXIWARD_GATEWAY_CONFIG, TOML (`.toml`) or JSON (anything else):

    [[devices]]
    address = "00:A0:50:12:34:56"   # required: the BLE address (`oxiward gateway scan` shows it)
    label = "Bedroom"               # optional: what the household calls it; said in the logs
    mode = "spot-check"             # optional: auto (default), continuous or spot-check
    protocol = "berrymed"           # optional: skip detection (a profile key from `gateway scan`)

The service maps a device address to its patient (wire-contract.md); the gateway only needs to
know which devices are its own. A label is read out over the phone: never put a patient's name,
NHS number or other identifier in it. Any oximeter not listed is ignored.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

ReduceMode = Literal["auto", "continuous", "spot-check"]
MODES: Final = ("auto", "continuous", "spot-check")
# A BLE MAC (Linux/BlueZ) or a CoreBluetooth UUID (macOS), which is what bleak reports as `address`.
_MAC: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_CB_UUID: Final = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
_LABEL: Final = re.compile(r"^[\w .'()/-]{1,40}$")
_KEYS: Final = frozenset({"address", "label", "mode", "protocol"})


class ConfigError(ValueError):
    """The configuration file or an address is wrong; the message says where and what to fix."""


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One oximeter this gateway reads.

    mode: how a stream becomes readings. "auto": as the device reports (PLX continuous and
    spot-check measurements one for one; vendor streams reduced to continuous readings);
    "continuous": streams reduced to the continuous rate; "spot-check": one reading per time the
    finger is in, by the NHS method (gateway/reduce.py).
    """

    address: str
    label: str | None = None
    mode: ReduceMode = "auto"
    protocol: str | None = None

    @property
    def name(self) -> str:
        """How logs and operator messages name the device."""
        return f"'{self.label}'" if self.label else self.address


def normalize_address(raw: str) -> str:
    address = raw.strip().upper().replace("-", ":")
    if not (_MAC.fullmatch(address) or _CB_UUID.fullmatch(address)):
        raise ConfigError(f"{raw!r} is not a BLE address like C0:FF:EE:00:00:01")
    return address


def _device(entry: Any, where: str, protocols: Iterable[str]) -> DeviceConfig:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each device is a table with at least `address`")
    unknown = set(entry) - _KEYS
    if unknown:
        keys = ", ".join(sorted(_KEYS))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {keys}")
    if "address" not in entry:
        raise ConfigError(f"{where}: `address` is missing")
    try:
        address = normalize_address(str(entry["address"]))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    label = entry.get("label")
    if label is not None and not (isinstance(label, str) and _LABEL.fullmatch(label)):
        raise ConfigError(
            f'{where}: label must be 1-40 letters, digits, spaces or . \' ( ) / - (e.g. "Bedroom")'
        )
    mode = entry.get("mode", "auto")
    if mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    protocol = entry.get("protocol")
    known = sorted(protocols)
    if protocol is not None and protocol not in known:
        raise ConfigError(f"{where}: protocol must be one of {', '.join(known)}, got {protocol!r}")
    return DeviceConfig(address=address, label=label, mode=mode, protocol=protocol)


def parse_config(text: str, *, toml: bool, protocols: Iterable[str]) -> list[DeviceConfig]:
    """The device bindings in a configuration file's text."""
    try:
        document: Any = tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("devices"), list):
        raise ConfigError("needs a `devices` list ([[devices]] tables in TOML)")
    names = tuple(protocols)
    devices = [_device(entry, f"device {i + 1}", names) for i, entry in enumerate(document["devices"])]
    seen: set[str] = set()
    for device in devices:
        if device.address in seen:
            raise ConfigError(f"device {device.address} is listed twice")
        seen.add(device.address)
    return devices


def load_config(path: Path, *, protocols: Iterable[str]) -> list[DeviceConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_config(text, toml=path.suffix.lower() == ".toml", protocols=protocols)


def merge_devices(from_env: Iterable[str], from_file: Iterable[DeviceConfig]) -> list[DeviceConfig]:
    """The file's entries, then addresses only in the environment list (with defaults)."""
    merged = {device.address: device for device in from_file}
    for raw in from_env:
        address = normalize_address(raw)
        merged.setdefault(address, DeviceConfig(address))
    return list(merged.values())
