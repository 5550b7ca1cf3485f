"""Emulated BerryMed BM1000C: BCI (5-byte, 100/s) or BERRY (20-byte) on the ISSC transparent UART.

As ble-protocols.md §2.2/§2.3 describe the real unit: advertises the name "BerryMed" WITHOUT its
service UUID (match on name or the 00:A0:50 MAC prefix); notifies on "Send" 49535343-1E4D-...;
takes 1-byte host commands on "Receive" 49535343-8841-...: 0xFF/0xFE version, 0xE0/0xE1 switch to
BCI/BERRY, 0xF0-0xF3 BERRY rate 50/100/200/1 Hz, 0xF4/0xF5 raw/filtered ADC, 0xF6 stop.

BCI frames form a byte stream cut into notifications of `chunk_size` bytes (default 20 = 4 frames,
as the BM1000C sends); a size that is not a multiple of 5 makes frames straddle notifications.
Bytes left over wait for the next tick, as in a UART. Nothing is queued while nobody listens.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Unpack

from bumble.gatt import Service
from bumble.link import LocalLink

from emulator.peripheral import PeripheralOptions
from emulator.radio import Radio
from emulator.scenarios import Sample
from emulator.vendors.device import VendorPeripheral
from emulator.vendors.encode_berrymed import (
    BCI_RATE_HZ,
    bci_frame_for,
    berry_packet_for,
    encode_bci_frame,
    encode_bci_version,
    encode_berry_packet,
    encode_berry_version,
)
from emulator.vendors.gatt import (
    advertising_data,
    battery_service,
    read_characteristic,
    write_characteristic,
)
from emulator.vendors.waveform import frames_in_tick

__all__ = ["BERRYMED_NOTIFY", "BERRYMED_SERVICE", "BERRYMED_WRITE", "EmulatedBerryMed", "Protocol"]

BERRYMED_SERVICE = "49535343-fe7d-4ae5-8fa9-9fafd205e455"
BERRYMED_NOTIFY = "49535343-1e4d-4bd9-ba61-23c647249616"
BERRYMED_WRITE = "49535343-8841-43f4-a8d4-ecbe34729bb3"
_RENAME = "00005343-0000-1000-8000-00805f9b34fb"
_MAC = "00005344-0000-1000-8000-00805f9b34fb"
_BERRY_RATES = {0xF0: 50, 0xF1: 100, 0xF2: 200, 0xF3: 1}  # §2.3

Protocol = Literal["bci", "berry"]


class EmulatedBerryMed(VendorPeripheral):
    kind = "berrymed"
    manufacturer = "BerryMed"
    default_model = "BM1000C"
    default_firmware = "V1.04.00.36"  # the software version; the version commands answer it too
    notify_uuid = BERRYMED_NOTIFY

    def __init__(
        self,
        link: LocalLink,
        address: str,
        name: str,
        scenario: Iterable[Sample],
        *,
        protocol: Protocol = "bci",
        chunk_size: int = 20,
        berry_rate_hz: int = 100,
        battery_percent: int = 80,
        battery_service: bool = False,
        software_version: str | None = None,
        hardware_version: str = "V2.0",
        model: str | None = None,
        **options: Unpack[PeripheralOptions],
    ) -> None:
        if protocol not in ("bci", "berry"):
            raise ValueError(f"protocol must be bci or berry, not {protocol!r}")
        if not 1 <= chunk_size <= 20:  # default ATT MTU 23 → 20 bytes per notification
            raise ValueError("chunk_size must be 1..20 bytes")
        if berry_rate_hz not in _BERRY_RATES.values():
            raise ValueError(f"berry_rate_hz must be one of {sorted(_BERRY_RATES.values())}")
        super().__init__(link, address, name, scenario, model=model, firmware=software_version, **options)
        self.protocol: Protocol = protocol
        self.chunk_size = chunk_size
        self.berry_rate_hz = berry_rate_hz
        self.battery_percent = battery_percent
        self.streaming = True  # 0xF6 stops it
        self.filtered_adc = True
        self.commands: list[int] = []  # every command byte received, in order
        self._battery_service = battery_service
        self._versions = (self._firmware, hardware_version)
        self._tx = bytearray()
        self._epoch = 0  # bumped by every command that changes the stream

    def inject(self, data: bytes) -> None:
        """Put raw bytes into the outgoing stream (line noise, a stray byte) before the next frames."""
        self._tx += data

    # -- GATT and advertising --------------------------------------------------------------------
    def _services(self) -> list[Service]:
        uart = Service(
            BERRYMED_SERVICE,
            [
                self._notifier(),
                write_characteristic(BERRYMED_WRITE, self._on_command),
                write_characteristic(_RENAME, self._on_rename),
                read_characteristic(_MAC, self._mac_reversed),  # §2.2: the MAC, byte-reversed
            ],
        )
        services = [uart, self._device_information()]
        if self._battery_service:  # newer units only (§2.2)
            services.append(battery_service(lambda: self.battery_percent))
        return services

    def _after_services(self, radio: Radio) -> None:
        self._tx.clear()

    def _advertising_data(self) -> bytes:
        return advertising_data(self.name)  # §2.2: name only, the service UUID is not advertised

    def _mac_reversed(self) -> bytes:
        return bytes.fromhex(self.address.replace(":", ""))[::-1]

    def _on_rename(self, _connection: Any, value: bytes) -> None:
        self.name = bytes(value).decode(errors="replace")  # advertised from the next advertisement on

    # -- host commands ---------------------------------------------------------------------------
    def _on_command(self, connection: Any, value: bytes) -> None:
        for command in bytes(value):
            self.commands.append(command)
            answer = self._apply(command)
            if answer:
                self.spawn(self._answer(connection, answer), f"berrymed-answer-{self.address}")

    def _apply(self, command: int) -> list[bytes]:
        software, hardware = self._versions
        if command == 0xFF:
            return (
                encode_bci_version(software)
                if self.protocol == "bci"
                else [encode_berry_version("S", software)]
            )
        if command == 0xFE:
            return (
                encode_bci_version(hardware, head=0xFE, packets=1)
                if self.protocol == "bci"
                else [encode_berry_version("H", hardware)]
            )
        if command in (0xE0, 0xE1, 0xF6, *_BERRY_RATES):
            self._epoch += 1  # what the current tick still had to send is not sent any more
        if command in (0xE0, 0xE1):
            self.protocol = "bci" if command == 0xE0 else "berry"
            self._tx.clear()
            self.streaming = True
        elif command in _BERRY_RATES:
            self.berry_rate_hz = _BERRY_RATES[command]
            self.streaming = True
        elif command in (0xF4, 0xF5):
            self.filtered_adc = command == 0xF5
        elif command == 0xF6:
            self.streaming = False
        return []

    async def _answer(self, connection: Any, packets: list[bytes]) -> None:
        if self._reaches(connection):
            # BCI: up to three 5-byte packets in one notification
            await self._notify_connection(connection, self.ticks, None, [b"".join(packets)])

    # -- the sensor ------------------------------------------------------------------------------
    def packets_for_tick(self, tick: int, sample: Sample) -> list[bytes]:
        """The frames this tick adds to the stream (pure given protocol and rate)."""
        if self.protocol == "bci":
            return [
                encode_bci_frame(bci_frame_for(sample, p))
                for p in frames_in_tick(tick, BCI_RATE_HZ, self.interval)
            ]
        rate = self.berry_rate_hz
        return [
            encode_berry_packet(
                berry_packet_for(sample, p, rate_hz=rate, battery_percent=self.battery_percent)
            )
            for p in frames_in_tick(tick, rate, self.interval)
        ]

    async def _emit(self, tick: int, sample: Sample) -> bool:
        if self._notify is None or not self.listened_to or not self.streaming:
            self._tx.clear()  # a UART module drops what nobody reads
            return False
        frames = self.packets_for_tick(tick, sample)
        if self.protocol == "berry":
            packets = frames  # one 20-byte packet per notification
        else:
            self._tx += b"".join(frames)
            size = self.chunk_size
            count = len(self._tx) // size
            packets = [bytes(self._tx[i * size : (i + 1) * size]) for i in range(count)]
            del self._tx[: count * size]
        epoch = self._epoch
        out = await self._stream(tick, sample, packets, keep_going=lambda: self._epoch == epoch)
        if len(out) < len(packets):
            self._tx.clear()
        return bool(out)
