"""Emulated Nonin 3230: encrypted link required, real SMP pairing through bleak's public API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from emulator import BleWorld, EmulatedNonin, scenario
from emulator.scenarios import Scenario
from emulator.vendors.encode_nonin import NoninStatus, encode_nonin_frame, nonin_frame_for
from emulator.vendors.nonin import NONIN_CONTINUOUS, NONIN_CONTROL_POINT, NONIN_SERVICE
from tests.emulator.support import WAIT, Inbox, contiguous_run, find, until

ADDR = "F0:0D:00:00:03:01"
TICK = 0.05
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MODEL = "00002a24-0000-1000-8000-00805f9b34fb"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def nonin(world: BleWorld, plan: Scenario) -> EmulatedNonin:
    device = world.add_device("nonin", ADDR, plan, interval=TICK)
    assert isinstance(device, EmulatedNonin)
    return device


def expected(plan: Scenario, ticks: int) -> list[bytes]:
    """The emulator's encoder for the scenario, as sent over an encrypted link (counter = tick)."""
    return [
        encode_nonin_frame(nonin_frame_for(s, tick, battery_v=2.9, encrypted=True))
        for tick, s in enumerate(plan.take(ticks))
    ]


async def test_unpaired_central_cannot_subscribe(world: BleWorld) -> None:
    device = nonin(world, scenario("stable"))
    await world.start()
    found = await BleakScanner.find_device_by_name(device.name, timeout=WAIT, backend=world.scanner_backend)
    assert found is not None
    assert device.name.startswith("Nonin3230_")
    async with BleakClient(found, backend=world.client_backend) as client:
        assert client.services.get_service(NONIN_SERVICE) is not None
        with pytest.raises(BleakError, match="start_notify"):
            await client.start_notify(NONIN_CONTINUOUS, Inbox())  # ATT Insufficient Encryption
        with pytest.raises(BleakError, match="write"):
            await client.write_gatt_char(NONIN_CONTROL_POINT, b"\x01", response=True)
        assert bytes(await client.read_gatt_char(MODEL)) == b"3230"  # Device Information is open
        ticks = device.ticks
        await until(lambda: device.ticks >= ticks + 3, "3 ticks")
    assert not device.sent  # nothing went out
    assert device.ticks_unheard == device.ticks


async def test_paired_link_streams_the_encoders_frames(world: BleWorld) -> None:
    plan = scenario("slow-desaturation", ticks=30, seed=4)
    device = nonin(world, plan)
    await world.start()
    async with BleakClient(await find(world, ADDR), pair=True, backend=world.client_backend) as client:
        assert device.encrypted_links == 1
        inbox = Inbox()
        await client.start_notify(NONIN_CONTINUOUS, inbox)
        await until(lambda: len(inbox.frames) >= 12, "12 frames")
        assert bytes(await client.read_gatt_char(BATTERY_LEVEL)) == bytes([62])  # 2.9 V on 2.4-3.2 V
        await client.write_gatt_char(NONIN_CONTROL_POINT, b"\x01", response=True)
    assert device.control_writes == [b"\x01"]
    contiguous_run(inbox.frames, expected(plan, device.ticks + 2))
    assert all(f[1] & NoninStatus.ENCRYPTED and f[0] == 10 for f in inbox.frames)


async def test_pair_after_connect_and_bond_is_remembered(world: BleWorld) -> None:
    plan = scenario("probe-off", valid_ticks=3, off_ticks=400, seed=1)
    device = nonin(world, plan)
    await world.start()
    ble_device = await find(world, ADDR)
    async with BleakClient(ble_device, backend=world.client_backend) as client:
        assert device.encrypted_links == 0
        await client.pair()
        await until(lambda: device.encrypted_links == 1, "encrypted link")
    # a later connection without pair=True is encrypted again: the world's "adapter" holds the bond
    await find(world, ADDR)
    client = BleakClient(ble_device, backend=world.client_backend)
    await client.connect()
    try:
        inbox = Inbox()
        await client.start_notify(NONIN_CONTINUOUS, inbox)
        await until(lambda: len(inbox.frames) >= 3, "frames on the bonded reconnection")
        await client.unpair()  # forgets the bond and disconnects
    finally:
        await client.disconnect()
    assert not client.is_connected
    # finger out: sensor not attached, SpO2 127 and PR 511 "missing" (§2.4)
    assert all(
        f[7:] == bytes.fromhex("7f01ff") and not f[1] & NoninStatus.SENSOR_ATTACHED for f in inbox.frames
    )
    await find(world, ADDR)
    async with BleakClient(ble_device, backend=world.client_backend) as again:
        with pytest.raises(BleakError):
            await again.start_notify(NONIN_CONTINUOUS, Inbox())


async def test_establish_connection_with_pairing(world: BleWorld) -> None:
    plan = scenario("stable", seed=8)
    device = nonin(world, plan)
    await world.start()
    client = await establish_connection(
        BleakClientWithServiceCache,
        await find(world, ADDR),
        device.name,
        pair=True,
        backend=world.client_backend,
    )
    try:
        inbox = Inbox()
        await client.start_notify(NONIN_CONTINUOUS, inbox)
        await until(lambda: len(inbox.frames) >= 3, "frames")
    finally:
        await client.disconnect()
    contiguous_run(inbox.frames, expected(plan, device.ticks + 2))
