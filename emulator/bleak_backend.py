"""bleak backends (client and scanner) over bumble's in-process virtual link.

Pass `world.client_backend` / `world.scanner_backend` as `backend=` to BleakClient, BleakScanner or
bleak_retry_connector.establish_connection; the calling code stays unchanged bleak code.

Behaviour copied from the Linux (BlueZ) backend, because that is where the gateway runs:
- `disconnected_callback` fires on every disconnect, including one the client asked for;
- a device that is not advertising raises BleakDeviceNotFoundError after `Air.not_found_wait` s;
  one that advertises but never accepts times out with TimeoutError;
- notifications stop with the connection: after a reconnect, call start_notify again;
- MTU stays at the ATT default of 23 (no exchange), so a 20-byte PLX frame fits exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble.device import Peer
from bumble.hci import Address

from emulator.air import Air, VirtualDeviceDetails
from emulator.radio import Radio, address_str, parse_advertising_data

__all__ = ["BumbleBleakClient", "BumbleBleakScanner", "make_client_backend", "make_scanner_backend"]

_LOG = logging.getLogger(__name__)
_DEVICE_NAME = "00002a00-0000-1000-8000-00805f9b34fb"


def _bleak_uuid(bumble_uuid: Any) -> str:
    """bumble UUID (little-endian bytes) → bleak's lower-case 128-bit string."""
    raw: bytes = bumble_uuid.to_bytes(force_128=True)
    return str(uuid.UUID(bytes=raw[::-1]))


@contextlib.asynccontextmanager
async def _gatt_errors(operation: str) -> AsyncIterator[None]:
    """bumble's ATT/protocol errors surface as BleakError, as other backends' do."""
    try:
        yield
    except (BleakError, TimeoutError, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise BleakError(f"{operation} failed: {exc!r}") from exc


class BumbleBleakClient(BaseBleakClient):
    """bleak client backend: each instance uses its own bumble central on the world's link."""

    air: ClassVar[Air]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        **kwargs: Any,  # bluez=, winrt=, _is_retry_client=... are for other backends
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self.address = self.address.upper()
        self._name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._service_filter = services
        self._central_address = self.air.central_address()
        self._radio: Radio | None = None
        self._connection: Any = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name or self.address

    @property
    def mtu_size(self) -> int:
        mtu: int = self._connection.att_mtu if self._connection is not None else 23
        return mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self.is_connected:
            return
        timeout: float = kwargs.get("timeout", self._timeout)
        radio = await self.air.new_central(self._central_address, "client")
        try:
            async with asyncio.timeout(timeout):
                if not await self.air.sees(radio, self.address, min(self.air.not_found_wait, timeout)):
                    raise BleakDeviceNotFoundError(
                        self.address, f"Device with address {self.address} was not found."
                    )
                async with _gatt_errors("connect"):
                    connection = await radio.device.connect(Address(self.address), timeout=None)
                    peer = Peer(connection)
                    self.services = await self._discover(peer)
        except BaseException:
            self.services = None
            await self.air.retire(radio)
            raise
        self._radio, self._connection, self._peer = radio, connection, peer
        connection.on("disconnection", self._on_disconnection)
        if self._name is None:
            await self._read_gap_name()

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service_proxy in await peer.discover_services():
            service_uuid = _bleak_uuid(service_proxy.uuid)
            if self._service_filter is not None and service_uuid not in self._service_filter:
                continue
            service = BleakGATTService(service_proxy, service_proxy.handle, service_uuid)
            collection.add_service(service)
            for char_proxy in await peer.discover_characteristics(service=service_proxy):
                properties = [
                    name for bit, name in CHARACTERISTIC_PROPERTIES.items() if char_proxy.properties & bit
                ]
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    _bleak_uuid(char_proxy.uuid),
                    properties,
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in await peer.discover_descriptors(characteristic=char_proxy):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy,
                            descriptor_proxy.handle,
                            _bleak_uuid(descriptor_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    async def _read_gap_name(self) -> None:
        characteristic = self.services.get_characteristic(_DEVICE_NAME) if self.services else None
        if characteristic is not None:
            with contextlib.suppress(BleakError):
                self._name = (await self.read_gatt_char(characteristic)).decode(errors="replace")

    def _on_disconnection(self, _reason: int) -> None:
        radio = self._radio
        self._connection = self._peer = self._radio = None
        self._subscribers.clear()
        if radio is not None:
            self.air.spawn(self.air.retire(radio))
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        connection, radio = self._connection, self._radio
        if connection is None:
            return
        with contextlib.suppress(Exception):  # already gone is fine: the goal is "not connected"
            await connection.disconnect()
        if radio is not None:
            await self.air.retire(radio)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        _LOG.debug("%s: pairing is not emulated; PLX devices work unbonded", self.address)

    async def unpair(self) -> None:
        _LOG.debug("%s: unpair is a no-op on the emulated link", self.address)

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        async with _gatt_errors(f"read {characteristic.uuid}"):
            return bytearray(await peer.read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        async with _gatt_errors(f"read descriptor {descriptor.handle}"):
            return bytearray(await peer.read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        async with _gatt_errors(f"write {characteristic.uuid}"):
            await peer.write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        peer = self._require_peer()
        async with _gatt_errors(f"write descriptor {descriptor.handle}"):
            await peer.write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Notify if the characteristic has it, else indicate (bumble confirms indications)."""
        peer = self._require_peer()
        if not {"notify", "indicate"} & set(characteristic.properties):
            # bumble would only log a warning; real stacks refuse
            raise BleakError(f"start_notify {characteristic.uuid}: neither notify nor indicate is supported")

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        async with _gatt_errors(f"start_notify {characteristic.uuid}"):
            previous = self._subscribers.pop(characteristic.handle, None)
            if previous is not None:
                await peer.unsubscribe(characteristic.obj, previous)
            await peer.subscribe(characteristic.obj, on_value, prefer_notify=True)
        self._subscribers[characteristic.handle] = on_value

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        async with _gatt_errors(f"stop_notify {characteristic.uuid}"):
            await peer.unsubscribe(characteristic.obj, subscriber)


class BumbleBleakScanner(BaseBleakScanner):
    """bleak scanner backend: a bumble central scanning the world's link."""

    air: ClassVar[Air]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,  # bluez=, cb= are for other backends
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode != "passive"
        self._radio: Radio | None = None

    async def start(self) -> None:
        if self._radio is not None:
            return
        self.seen_devices = {}
        radio = await self.air.new_central(self.air.central_address(), "scanner")
        radio.device.on("advertisement", self._on_advertisement)
        try:
            await radio.device.start_scanning(active=self._active, filter_duplicates=False)
        except BaseException:
            await self.air.retire(radio)
            raise
        self._radio = radio

    async def stop(self) -> None:
        radio, self._radio = self._radio, None
        if radio is not None:
            radio.device.remove_listener("advertisement", self._on_advertisement)
            with contextlib.suppress(Exception):
                await radio.device.stop_scanning()
            await self.air.retire(radio)

    def _on_advertisement(self, advertisement: Any) -> None:
        fields = parse_advertising_data(advertisement.data_bytes)
        if not self.is_allowed_uuid(fields.service_uuids):
            return
        address = address_str(advertisement.address)
        data = AdvertisementData(
            local_name=fields.local_name,
            manufacturer_data=fields.manufacturer_data,
            service_data=fields.service_data,
            service_uuids=fields.service_uuids,
            tx_power=fields.tx_power,
            rssi=int(advertisement.rssi),
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(
            address, address, fields.local_name, VirtualDeviceDetails(address), data
        )
        self.call_detection_callbacks(device, data)


def make_client_backend(air: Air) -> type[BumbleBleakClient]:
    """A client backend class bound to one world's air (bleak instantiates backends itself)."""
    return type("BumbleBleakClient", (BumbleBleakClient,), {"air": air, "__module__": __name__})


def make_scanner_backend(air: Air) -> type[BumbleBleakScanner]:
    return type("BumbleBleakScanner", (BumbleBleakScanner,), {"air": air, "__module__": __name__})
