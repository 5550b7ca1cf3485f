"""Bluetooth failures in plain words: what went wrong and what to do, for a carer on the phone.

The gateway runs beside someone who is unwell; the person reading its log out over the phone is a
relative or carer, and the person listening is a ward technician. So each message has a sentence
anyone can say ("Bluetooth is switched off on the gateway") and a short instruction for the
technician. Exception text (class names, D-Bus error names) goes to DEBUG only.

Error shapes (ble-protocols.md §3, services.md "BLE without hardware"): no D-Bus is a plain
FileNotFoundError; BlueZ errors are BleakDBusError with an `org.bluez.Error.*` name; bleak 3 raises
BleakBluetoothNotAvailableError with a reason for a missing or powered-off adapter;
bleak-retry-connector raises BleakNotFoundError / BleakOutOfConnectionSlotsError /
BleakConnectionError (recognised here by class name: gateway/ble.py alone imports that library);
some adapters surface errno values as OSError.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Final, Literal

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
)

from gateway.link_state import PairingError, UnsupportedDeviceError

ProblemKind = Literal[
    "away", "no-slots", "adapter-missing", "adapter-off", "no-bluetooth-service", "permission",
    "pairing", "busy", "unsupported", "bluetooth-error",
]  # fmt: skip
# Problems of the gateway's own Bluetooth: reported once for the whole gateway, not per oximeter.
GATEWAY_WIDE: Final = frozenset({"adapter-missing", "adapter-off", "no-bluetooth-service", "permission"})


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    said: str  # plain words; "{name}" is the oximeter's label or address
    todo: str  # what the technician should do

    def message(self, name: str) -> str:
        return f"{self.said.format(name=name)} {self.todo}".strip()

    @property
    def gateway_wide(self) -> bool:
        return self.kind in GATEWAY_WIDE


AWAY: Final = Problem("away", "Oximeter {name} is switched off or out of reach.", "")
NO_SLOTS: Final = Problem(
    "no-slots",
    "The gateway's Bluetooth is busy with too many devices to reach oximeter {name}; it keeps trying.",
    "Technician: disconnect other Bluetooth devices from the gateway, or add a second adapter.",
)
ADAPTER_MISSING: Final = Problem(
    "adapter-missing",
    "The gateway has no working Bluetooth adapter, so no oximeter can be read.",
    "Technician: plug the Bluetooth adapter in (check `bluetoothctl list`); the gateway picks it up itself.",
)
ADAPTER_OFF: Final = Problem(
    "adapter-off",
    "Bluetooth is switched off on the gateway, so no oximeter can be read.",
    "Technician: run `bluetoothctl power on` (and `rfkill unblock bluetooth` if it is blocked).",
)
NO_SERVICE: Final = Problem(
    "no-bluetooth-service",
    "The gateway's Bluetooth service is not running, so no oximeter can be read.",
    "Technician: start it with `systemctl start dbus bluetooth` (see docs/gateway.md).",
)
PERMISSION: Final = Problem(
    "permission",
    "The gateway is not allowed to use Bluetooth, so no oximeter can be read.",
    "Technician: the service user must be in the `bluetooth` group (see deploy/systemd).",
)
PAIRING: Final = Problem(
    "pairing",
    "Oximeter {name} would not pair with the gateway.",
    "Technician: take the batteries out and put them back, then pair within 2 minutes "
    "(`bluetoothctl remove <address>` first if it was paired before).",
)
BUSY: Final = Problem("busy", "The gateway's Bluetooth was busy; it tries again.", "")
UNSUPPORTED: Final = Problem(
    "unsupported",
    "Oximeter {name} is not a type this gateway can read.",
    "Technician: check the address in the gateway configuration (`oxiward gateway scan` shows each "
    "device's type; experimental types need OXIWARD_GATEWAY_EXPERIMENTAL_PROTOCOLS=true).",
)
BLUETOOTH_ERROR: Final = Problem(
    "bluetooth-error",
    "The gateway had Bluetooth trouble talking to oximeter {name}; it keeps trying.",
    "Technician: if this goes on, switch the oximeter off and on, or run `bluetoothctl remove <address>`.",
)

_ADAPTER_REASONS: Final = {
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: ADAPTER_MISSING,
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: ADAPTER_MISSING,
    BleakBluetoothNotAvailableReason.POWERED_OFF: ADAPTER_OFF,
    BleakBluetoothNotAvailableReason.DENIED_BY_USER: PERMISSION,
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: PERMISSION,
    BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN: PERMISSION,
}
_DBUS_NAMES: Final = {
    "org.bluez.Error.NotReady": ADAPTER_OFF,
    "org.bluez.Error.InProgress": BUSY,
    "org.bluez.Error.NotPermitted": PERMISSION,
    "org.freedesktop.DBus.Error.AccessDenied": PERMISSION,
    "org.freedesktop.DBus.Error.ServiceUnknown": NO_SERVICE,
    "org.freedesktop.DBus.Error.NoReply": BUSY,
    "org.bluez.Error.AuthenticationFailed": PAIRING,
    "org.bluez.Error.AuthenticationRejected": PAIRING,
    "org.bluez.Error.AuthenticationCanceled": PAIRING,
}
_ERRNOS: Final = {
    errno.ENODEV: ADAPTER_MISSING,
    errno.ENETDOWN: ADAPTER_OFF,
    errno.ERFKILL: ADAPTER_OFF,
    errno.EACCES: PERMISSION,
    errno.EPERM: PERMISSION,
    errno.EBUSY: BUSY,
    errno.EHOSTDOWN: AWAY,
    errno.EHOSTUNREACH: AWAY,
}
_TEXT: Final = (  # lower-case fragments of messages from bleak, BlueZ and bleak-retry-connector
    ("connection slot", NO_SLOTS),
    ("available connection", NO_SLOTS),
    ("no bluetooth adapters", ADAPTER_MISSING),
    ("no powered bluetooth adapters", ADAPTER_OFF),
    ("not ready", ADAPTER_OFF),
    ("insufficient encryption", PAIRING),
    ("insufficient authentication", PAIRING),
    ("pairing", PAIRING),
    ("inprogress", BUSY),
)


def _class_names(exc: BaseException) -> set[str]:
    return {kind.__name__ for kind in type(exc).__mro__}


def classify(exc: BaseException) -> Problem:
    """The plain-words problem behind a BLE failure."""
    names = _class_names(exc)
    if isinstance(exc, BleakDeviceNotFoundError | TimeoutError) or "BleakNotFoundError" in names:
        return AWAY
    if "BleakOutOfConnectionSlotsError" in names:
        return NO_SLOTS
    if isinstance(exc, UnsupportedDeviceError):
        return UNSUPPORTED
    if isinstance(exc, PairingError):
        return PAIRING
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return _ADAPTER_REASONS.get(exc.reason, ADAPTER_MISSING)
    if isinstance(exc, BleakDBusError) and exc.dbus_error in _DBUS_NAMES:
        return _DBUS_NAMES[exc.dbus_error]
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return NO_SERVICE  # no D-Bus system bus socket: dbus (and so bluetoothd) is not running
    if isinstance(exc, PermissionError):
        return PERMISSION
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _ERRNOS[exc.errno]
    text = str(exc).lower().replace(".", "")
    for fragment, problem in _TEXT:
        if fragment.replace(".", "") in text:
            return problem
    return BLUETOOTH_ERROR


def technical(exc: BaseException) -> str:
    """The exception as one line, for DEBUG logs only."""
    detail = str(exc).replace("\n", " ")[:300]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
