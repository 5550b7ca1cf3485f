"""Emulated PLX oximeters reached through bleak's public API only (backend=world.*_backend)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from emulator import BleWorld, EmulatedOximeter, continuous_frame, scenario, spot_check_frame
from emulator.frames import FEATURES
from emulator.radio import Radio, build_advertising_data

PLX_SERVICE = "00001822-0000-1000-8000-00805f9b34fb"
SPOT_CHECK = "00002a5e-0000-1000-8000-00805f9b34fb"
CONTINUOUS = "00002a5f-0000-1000-8000-00805f9b34fb"
FEATURES_UUID = "00002a60-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"
CLIENT_SUPPORTED_FEATURES = "00002b29-0000-1000-8000-00805f9b34fb"  # the GATT service's writable one
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
ADDR_1, ADDR_2 = "F0:0D:00:00:00:01", "F0:0D:00:00:00:02"
TICK = 0.03
WAIT = 20.0  # generous: several suites share two cores

pytestmark = pytest.mark.timeout(60)


async def until(condition: Callable[[], bool], what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


async def find(world: BleWorld, address: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(address, timeout=WAIT, backend=world.scanner_backend)
    assert device is not None, f"{address} not found"
    return device


def connected(client: BleakClient) -> bool:
    """A call, not a property read, so type narrowing does not outlive a connect()."""
    return client.is_connected


class Inbox:
    """A notification callback that keeps what it got."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.senders: set[str] = set()

    def __call__(self, sender: BleakGATTCharacteristic, data: bytearray) -> None:
        assert isinstance(data, bytearray)
        self.senders.add(sender.uuid)
        self.frames.append(bytes(data))


async def test_discover_by_service_uuid_finds_both_oximeters_with_names(world: BleWorld) -> None:
    world.add_oximeter(ADDR_1, "PLX-Bed-1", scenario("stable"), interval=TICK)
    world.add_oximeter(ADDR_2, "PLX-Bed-2", scenario("stable"), interval=TICK)
    await world.start()
    # a non-PLX neighbour that the service filter must leave out
    other = Radio.create(world.link, "F0:0D:00:00:00:99", "heart-rate")
    await other.device.power_on()
    await other.device.start_advertising(
        advertising_data=build_advertising_data("HRM", [0x180D]),
        advertising_interval_min=20,
        advertising_interval_max=20,
    )
    try:
        found: dict[str, tuple[BLEDevice, object]] = {}
        deadline = time.monotonic() + WAIT
        while len(found) < 2 and time.monotonic() < deadline:
            found.update(
                await BleakScanner.discover(
                    0.5, return_adv=True, service_uuids=[PLX_SERVICE], backend=world.scanner_backend
                )
            )
        assert set(found) == {ADDR_1, ADDR_2}
        assert {found[a][0].name for a in found} == {"PLX-Bed-1", "PLX-Bed-2"}
        for _device, adv in found.values():
            assert PLX_SERVICE in adv.service_uuids  # type: ignore[attr-defined]
            assert adv.rssi < 0  # type: ignore[attr-defined]

        everything = await BleakScanner.discover(1.0, return_adv=True, backend=world.scanner_backend)
        assert "F0:0D:00:00:00:99" in everything  # no filter: the neighbour is there too
    finally:
        await other.close()


async def test_find_by_name(world: BleWorld) -> None:
    world.add_oximeter(ADDR_1, "PLX-Bed-7", scenario("stable"), interval=TICK)
    await world.start()
    device = await BleakScanner.find_device_by_name("PLX-Bed-7", timeout=WAIT, backend=world.scanner_backend)
    assert device is not None
    assert device.address == ADDR_1


async def test_connect_read_features_and_notifications_equal_encoder_output(world: BleWorld) -> None:
    plan = scenario("slow-desaturation", ticks=40, seed=11)
    oxi = world.add_oximeter(ADDR_1, "PLX-1", plan, interval=TICK)
    await world.start()
    async with BleakClient(await find(world, ADDR_1), backend=world.client_backend) as client:
        assert client.is_connected
        assert client.name == "PLX-1"
        assert client.mtu_size == 23
        assert bytes(await client.read_gatt_char(FEATURES_UUID)) == FEATURES
        assert bytes(await client.read_gatt_char(MODEL_NUMBER)) == b"Oxiward PLX emulator"
        continuous = client.services.get_characteristic(CONTINUOUS)
        assert continuous is not None
        assert continuous.properties == ["notify"]
        assert continuous.service_uuid == PLX_SERVICE
        assert [d.uuid[4:8] for d in continuous.descriptors] == ["2902"]

        inbox = Inbox()
        await client.start_notify(CONTINUOUS, inbox)
        await until(lambda: len(inbox.frames) >= 15, "15 notifications")
        await client.stop_notify(CONTINUOUS)

    first_tick = oxi.sent[0].tick
    expected = [continuous_frame(s) for s in plan.take(first_tick + len(inbox.frames) + 5)]
    # what arrived is an unbroken run of the encoder's frames for the scenario's samples
    assert inbox.frames == expected[first_tick : first_tick + len(inbox.frames)]
    assert inbox.senders == {CONTINUOUS}
    assert oxi.ticks_unheard >= first_tick  # ticks before the subscription were not sent


async def test_stop_notify_stops_frames(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    async with BleakClient(await find(world, ADDR_1), backend=world.client_backend) as client:
        cccd = client.services.get_characteristic(CONTINUOUS).get_descriptor(CCCD)  # type: ignore[union-attr]
        assert cccd is not None
        assert bytes(await client.read_gatt_descriptor(cccd.handle)) == b"\x00\x00"
        inbox = Inbox()
        await client.start_notify(CONTINUOUS, inbox)
        assert bytes(await client.read_gatt_descriptor(cccd.handle)) == b"\x01\x00"  # notify, not indicate
        await until(lambda: len(inbox.frames) >= 3, "notifications")
        await client.stop_notify(CONTINUOUS)
        assert bytes(await client.read_gatt_descriptor(cccd.handle)) == b"\x00\x00"
        await until(lambda: not oxi.notify_subscribed, "CCCD cleared")
        count, ticks = len(inbox.frames), oxi.ticks
        await until(lambda: oxi.ticks >= ticks + 10, "10 more ticks")
        assert len(inbox.frames) == count


async def test_writes_and_gatt_errors(world: BleWorld) -> None:
    world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    async with BleakClient(await find(world, ADDR_1), backend=world.client_backend) as client:
        await client.write_gatt_char(CLIENT_SUPPORTED_FEATURES, b"\x00", response=True)
        with pytest.raises(BleakError, match="write"):
            await client.write_gatt_char(FEATURES_UUID, b"\x00\x00", response=True)  # read-only
        with pytest.raises(BleakError, match="start_notify"):
            await client.start_notify(FEATURES_UUID, Inbox())  # no notify/indicate
    with pytest.raises(BleakError, match="Not connected"):
        await client.read_gatt_char(FEATURES_UUID)


async def test_spot_check_indications(world: BleWorld) -> None:
    when = datetime(2024, 11, 29, 23, 8, 57)
    plan = scenario("stable", seed=4)
    oxi = world.add_oximeter(ADDR_1, "PLX-S", plan, interval=TICK, mode="spot-check", clock=lambda: when)
    await world.start()
    async with BleakClient(await find(world, ADDR_1), backend=world.client_backend) as client:
        spot = client.services.get_characteristic(SPOT_CHECK)
        assert spot is not None
        assert spot.properties == ["indicate"]
        inbox = Inbox()
        await client.start_notify(SPOT_CHECK, inbox)
        await until(lambda: len(inbox.frames) >= 5, "5 indications")
        await client.stop_notify(SPOT_CHECK)
    first_tick = oxi.sent[0].tick
    samples = plan.take(first_tick + len(inbox.frames))
    assert inbox.frames == [spot_check_frame(s, when) for s in samples[first_tick:]]
    assert oxi.frames_indicated >= 5  # counted only after the central confirmed
    assert oxi.frames_notified == 0  # spot-check mode sends nothing continuous


async def test_establish_connection_from_bleak_retry_connector(world: BleWorld) -> None:
    world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    device = await find(world, ADDR_1)
    client = await establish_connection(
        BleakClientWithServiceCache, device, "PLX-1", backend=world.client_backend
    )
    try:
        assert client.is_connected
        assert bytes(await client.read_gatt_char(FEATURES_UUID)) == FEATURES
    finally:
        await client.disconnect()
    assert not client.is_connected


async def test_two_gateways_clients_run_side_by_side(world: BleWorld) -> None:
    world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    world.add_oximeter(ADDR_2, "PLX-2", scenario("sudden-drop", stable_ticks=0), interval=TICK)
    await world.start()
    devices = [await find(world, ADDR_1), await find(world, ADDR_2)]
    clients = [BleakClient(d, backend=world.client_backend) for d in devices]
    await asyncio.gather(*(c.connect() for c in clients))
    try:
        inboxes = [Inbox(), Inbox()]
        for client, inbox in zip(clients, inboxes, strict=True):
            await client.start_notify(CONTINUOUS, inbox)
        await until(lambda: all(len(i.frames) >= 5 for i in inboxes), "frames on both")
        assert all(f[1] in (96, 97, 98) for f in inboxes[0].frames)  # SpO2 mantissa byte, exponent 0
        assert all(f[1] in (85, 86, 87) for f in inboxes[1].frames)
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients))


async def _subscribed_client(
    world: BleWorld, oxi: EmulatedOximeter, on_disconnect: Callable[[BleakClient], None], inbox: Inbox
) -> BleakClient:
    client = BleakClient(
        await find(world, oxi.address), disconnected_callback=on_disconnect, backend=world.client_backend
    )
    await client.connect()
    await client.start_notify(CONTINUOUS, inbox)
    await until(lambda: len(inbox.frames) >= 3, "first notifications")
    return client


async def test_go_away_and_come_back(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    dropped: list[BleakClient] = []
    inbox = Inbox()
    client = await _subscribed_client(world, oxi, dropped.append, inbox)

    await oxi.go_away()
    await until(lambda: dropped == [client], "disconnected_callback")
    assert not connected(client)
    assert not oxi.is_present

    # while away: not seen by a scan, and a connect says "not found"
    seen = await BleakScanner.find_device_by_address(ADDR_1, timeout=0.5, backend=world.scanner_backend)
    assert seen is None
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect(timeout=5.0)

    await oxi.come_back()
    await find(world, ADDR_1)
    await client.connect(timeout=WAIT)
    assert connected(client)
    # a fresh connection has no subscription: nothing arrives until start_notify, like a real device
    count, ticks = len(inbox.frames), oxi.ticks
    await until(lambda: oxi.ticks >= ticks + 10, "10 ticks")
    assert len(inbox.frames) == count
    assert oxi.ticks_unheard >= 10
    await client.start_notify(CONTINUOUS, inbox)
    await until(lambda: len(inbox.frames) >= count + 3, "notifications after re-subscribing")
    await client.disconnect()
    assert len(dropped) == 2  # BlueZ-like: a disconnect we asked for is reported as well


async def test_readvertises_after_the_central_leaves(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    device = await find(world, ADDR_1)
    for _ in range(3):
        async with BleakClient(device, backend=world.client_backend) as client:
            assert client.is_connected
            # connected: the device stops advertising, so nobody else can find it
            assert oxi.is_connected
    assert oxi.connections_total == 3
    await find(world, ADDR_1)


async def test_connected_device_is_not_found_by_a_second_central(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    device = await find(world, ADDR_1)
    async with BleakClient(device, backend=world.client_backend):
        await until(lambda: oxi.is_connected, "peripheral sees the connection")
        with pytest.raises(BleakDeviceNotFoundError):
            await BleakClient(device, backend=world.client_backend, timeout=5.0).connect()


async def test_finite_scenario_finishes(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable", length=5), interval=TICK)
    await world.start()
    await asyncio.wait_for(oxi.finished.wait(), WAIT)
    assert oxi.ticks == 5


async def test_stopped_device_is_gone_and_can_be_started_again(world: BleWorld) -> None:
    oxi = world.add_oximeter(ADDR_1, "PLX-1", scenario("stable"), interval=TICK)
    await world.start()
    await find(world, ADDR_1)
    await oxi.stop()
    seen = await BleakScanner.find_device_by_address(ADDR_1, timeout=0.5, backend=world.scanner_backend)
    assert seen is None
    await oxi.start()
    async with BleakClient(await find(world, ADDR_1), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(CONTINUOUS, inbox)
        await until(lambda: len(inbox.frames) >= 3, "notifications after restart")
