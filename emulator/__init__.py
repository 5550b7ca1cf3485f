"""Emulated BLE pulse oximeters on bumble, and a bleak backend that reaches them.

PLX (Bluetooth SIG, with optional RACP storage) here; the proprietary protocols in emulator.vendors.
"""

from __future__ import annotations

from emulator.air import VirtualDeviceDetails
from emulator.bleak_backend import BumbleBleakClient, BumbleBleakScanner
from emulator.frames import FEATURES, continuous_frame, spot_check_frame
from emulator.oximeter import EmulatedOximeter, Mode, SentFrame
from emulator.pairing import PairingBumbleBleakClient
from emulator.peripheral import EmulatedPeripheral
from emulator.plx_gatt import PLX_CONTINUOUS, PLX_FEATURES, PLX_RACP, PLX_SERVICE, PLX_SPOT_CHECK
from emulator.racp import FEATURES_WITH_STORAGE, StoredRecord, stored_record_frame
from emulator.scenarios import PROBE_OFF, SCENARIOS, Sample, Scenario, scenario
from emulator.vendors import (
    VENDOR_KINDS,
    EmulatedBerryMed,
    EmulatedJumper,
    EmulatedNonin,
    EmulatedO2Ring,
    EmulatedPc60fw,
    VendorFrame,
)
from emulator.world import BleWorld

__all__ = [
    "FEATURES",
    "FEATURES_WITH_STORAGE",
    "PLX_CONTINUOUS",
    "PLX_FEATURES",
    "PLX_RACP",
    "PLX_SERVICE",
    "PLX_SPOT_CHECK",
    "PROBE_OFF",
    "SCENARIOS",
    "VENDOR_KINDS",
    "BleWorld",
    "BumbleBleakClient",
    "BumbleBleakScanner",
    "EmulatedBerryMed",
    "EmulatedJumper",
    "EmulatedNonin",
    "EmulatedO2Ring",
    "EmulatedOximeter",
    "EmulatedPc60fw",
    "EmulatedPeripheral",
    "Mode",
    "PairingBumbleBleakClient",
    "Sample",
    "Scenario",
    "SentFrame",
    "StoredRecord",
    "VendorFrame",
    "VirtualDeviceDetails",
    "continuous_frame",
    "scenario",
    "spot_check_frame",
    "stored_record_frame",
]
