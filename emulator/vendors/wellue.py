"""Emulated Wellue/Viatom PC-60FW (streams on the Nordic UART Service, powers off without a finger).

ble-protocols.md §2.6: subscribe to 6E400003 (TX); every tick (~1 s) one vitals frame (func 0x01),
about 12 waveform frames per second (func 0x02, 5 pleth samples each) and, every `battery_every`
ticks, a battery frame (func 0x03, token 0xF0). While searching or with the finger out SpO2/PR go as
0. The device powers off — disconnects and stops advertising — `power_off_after` seconds after the
finger is removed (§2.6, §3.3 pitfall 7: "disconnect is the normal end of a session") and powers on
again, advertising, when a finger is back. The UNCONFIRMED func 0x21 status frames are not sent.
Advertises its name only ("PC-60F_SN..."); the 128-bit UUID and that name do not fit together in a
legacy advertisement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Unpack

from bumble.gatt import Service
from bumble.link import LocalLink

from emulator.scenarios import Sample
from emulator.vendors.device import VendorOptions, VendorPeripheral
from emulator.vendors.encode_wellue import (
    PC60FW_WAVE_RATE_HZ,
    encode_pc60fw_battery,
    encode_pc60fw_vitals,
    pc60fw_waveform_for,
)
from emulator.vendors.gatt import advertising_data, write_characteristic
from emulator.vendors.waveform import frames_in_tick

__all__ = ["NUS_RX", "NUS_SERVICE", "NUS_TX", "EmulatedPc60fw"]

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host → device (not needed by the host, §2.1)
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # device → host, notify


class EmulatedPc60fw(VendorPeripheral):
    kind = "wellue-pc60fw"
    manufacturer = "Viatom"
    default_model = "PC-60FW"
    default_firmware = "1.0.0"
    notify_uuid = NUS_TX

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        power_off_after: float = 3.0,
        battery_level: int = 3,
        battery_every: int = 10,
        **options: Unpack[VendorOptions],
    ) -> None:
        if power_off_after <= 0 or battery_every < 1:
            raise ValueError("power_off_after must be > 0 s and battery_every >= 1 tick")
        super().__init__(link, address, name, scenario, **options)
        self.battery_level = battery_level
        self.battery_every = battery_every
        self.power_off_ticks = max(1, math.ceil(power_off_after / self.interval))
        self.powered = True
        self.power_offs = 0
        self.rx_writes: list[bytes] = []
        self._off_ticks = 0

    def _services(self) -> list[Service]:
        return [
            Service(NUS_SERVICE, [write_characteristic(NUS_RX, self._on_rx), self._notifier()]),
            self._device_information(),
        ]

    def _advertising_data(self) -> bytes:
        return advertising_data(self.name)

    def _on_rx(self, _connection: Any, value: bytes) -> None:
        self.rx_writes.append(bytes(value))

    def packets_for_tick(self, tick: int, sample: Sample) -> list[bytes]:
        """Vitals, then this tick's waveform frames, then (every battery_every ticks) battery."""
        searching = sample.probe_off or sample.spo2 is None or sample.pulse_rate is None
        vitals = encode_pc60fw_vitals(
            None if searching or sample.spo2 is None else round(sample.spo2),
            None if searching or sample.pulse_rate is None else round(sample.pulse_rate),
            None if searching else sample.pai,
        )
        waves = [
            pc60fw_waveform_for(sample, p)
            for p in frames_in_tick(tick, PC60FW_WAVE_RATE_HZ / 5, self.interval)
        ]
        battery = [encode_pc60fw_battery(self.battery_level)] if tick % self.battery_every == 0 else []
        return [vitals, *waves, *battery]

    async def _power(self, sample: Sample) -> None:
        """Finger out for power_off_ticks ticks → off; finger back → on (a fingertip unit wakes up)."""
        self._off_ticks = self._off_ticks + 1 if sample.probe_off else 0
        if self.powered and self._off_ticks > self.power_off_ticks:
            self.powered = False
            self.power_offs += 1
            await self.go_away()
        elif not self.powered and not sample.probe_off:
            self.powered = True
            await self.come_back()

    async def _emit(self, tick: int, sample: Sample) -> bool:
        await self._power(sample)
        if not self.powered or not self.listened_to:
            return False
        return bool(await self._stream(tick, sample, self.packets_for_tick(tick, sample)))
