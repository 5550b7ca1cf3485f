"""Every Bluetooth failure maps to a plain sentence and an instruction (gateway/advice.py)."""

from __future__ import annotations

import errno
import re

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)
from bleak_retry_connector import BleakNotFoundError, BleakOutOfConnectionSlotsError

from gateway.advice import UnsupportedDeviceError, classify, technical

NotAvailable = BleakBluetoothNotAvailableReason

CASES = [
    (BleakNotFoundError("C0:FF:EE:00:00:01 not found"), "away"),
    (BleakDeviceNotFoundError("C0:FF:EE:00:00:01", "gone"), "away"),
    (TimeoutError(), "away"),
    (BleakOutOfConnectionSlotsError("No backend with an available connection slot"), "no-slots"),
    (BleakError("Failed to connect: out of connection slots"), "no-slots"),
    (
        BleakBluetoothNotAvailableError("No Bluetooth adapters found.", NotAvailable.NO_BLUETOOTH),
        "adapter-missing",
    ),
    (BleakBluetoothNotAvailableError("No powered adapters", NotAvailable.POWERED_OFF), "adapter-off"),
    (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "adapter-off"),
    (OSError(errno.ENODEV, "No such device"), "adapter-missing"),
    (OSError(errno.ERFKILL, "Operation not possible due to RF-kill"), "adapter-off"),
    (FileNotFoundError(2, "No such file or directory"), "no-bluetooth-service"),
    (ConnectionRefusedError(111, "Connection refused"), "no-bluetooth-service"),
    (
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["org.bluez not provided"]),
        "no-bluetooth-service",
    ),
    (PermissionError(13, "Permission denied"), "permission"),
    (BleakDBusError("org.bluez.Error.AuthenticationFailed", []), "pairing"),
    (BleakError("start_notify failed: Insufficient Encryption"), "pairing"),
    (BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]), "busy"),
    (UnsupportedDeviceError("no known service"), "unsupported"),
    (OSError(errno.EIO, "Input/output error"), "bluetooth-error"),
    (BleakError("something odd"), "bluetooth-error"),
]


@pytest.mark.parametrize(("exc", "kind"), CASES, ids=[kind + "-" + type(e).__name__ for e, kind in CASES])
def test_classified(exc: BaseException, kind: str) -> None:
    assert classify(exc).kind == kind


@pytest.mark.parametrize(("exc", "kind"), CASES, ids=[kind + "-" + type(e).__name__ for e, kind in CASES])
def test_messages_are_plain_words(exc: BaseException, kind: str) -> None:
    said = classify(exc).message("'Bedroom'")
    assert said.endswith(".")
    assert not re.search(r"Error|Exception|org\.|errno|Traceback|\[", said)  # no exception text
    if "{name}" in classify(exc).said:
        assert "'Bedroom'" in said
    if kind not in ("away", "busy"):
        assert "Technician:" in said  # and what to do about it


def test_the_technical_line_is_for_debug_logs() -> None:
    assert technical(BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"])) == (
        "BleakDBusError: [org.bluez.Error.NotReady] Resource Not Ready"
    )
