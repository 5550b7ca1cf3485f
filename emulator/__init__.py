"""Emulated BLE pulse oximeters on bumble, and a bleak backend that reaches them."""

from __future__ import annotations

from emulator.air import VirtualDeviceDetails
from emulator.bleak_backend import BumbleBleakClient, BumbleBleakScanner
from emulator.frames import FEATURES, continuous_frame, spot_check_frame
from emulator.oximeter import EmulatedOximeter, Mode, SentFrame
from emulator.plx_gatt import PLX_CONTINUOUS, PLX_FEATURES, PLX_SERVICE, PLX_SPOT_CHECK
from emulator.scenarios import PROBE_OFF, SCENARIOS, Sample, Scenario, scenario
from emulator.world import BleWorld

__all__ = [
    "FEATURES",
    "PLX_CONTINUOUS",
    "PLX_FEATURES",
    "PLX_SERVICE",
    "PLX_SPOT_CHECK",
    "PROBE_OFF",
    "SCENARIOS",
    "BleWorld",
    "BumbleBleakClient",
    "BumbleBleakScanner",
    "EmulatedOximeter",
    "Mode",
    "Sample",
    "Scenario",
    "SentFrame",
    "VirtualDeviceDetails",
    "continuous_frame",
    "scenario",
    "spot_check_frame",
]
