"""PLX measurement storage and the Record Access Control Point, through bleak's public API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from bleak import BleakClient
from bleak.exc import BleakError

from emulator import FEATURES_WITH_STORAGE, BleWorld, EmulatedOximeter, scenario, stored_record_frame
from emulator.plx_encode import MeasurementStatus, encode_plx_spot_check
from emulator.plx_gatt import PLX_SPOT_CHECK
from emulator.racp import RacpOpCode, StoredRecord, encode_racp_request, evaluate_request
from emulator.scenarios import Sample, Scenario
from tests.conftest import load_ble_vectors
from tests.emulator.support import WAIT, Inbox, find, until

ADDR = "F0:0D:00:00:52:01"
TICK = 0.05
SPOT = "00002a5e-0000-1000-8000-00805f9b34fb"
FEATURES = "00002a60-0000-1000-8000-00805f9b34fb"
RACP = "00002a52-0000-1000-8000-00805f9b34fb"
VECTORS = {v["id"]: v["hex"] for v in load_ble_vectors("racp")}
STORAGE_BIT = MeasurementStatus.DATA_FROM_MEASUREMENT_STORAGE

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def storing(world: BleWorld, plan: Scenario, **options: Any) -> EmulatedOximeter:
    return world.add_oximeter(
        ADDR, "PLX-Store", plan, interval=TICK, mode="spot-check", storage=True, **options
    )


def from_storage(frame: bytes) -> bool:
    """Measurement Status bit 9 of a spot-check frame (flags bit 1; after the 7-byte timestamp if any)."""
    if not frame[0] & 0x02:
        return False
    at = 5 + (7 if frame[0] & 0x01 else 0)
    return bool(int.from_bytes(frame[at : at + 2], "little") & STORAGE_BIT)


async def ask(client: BleakClient, inbox: Inbox, request: str) -> bytes:
    """Write a RACP request and wait for the next answer indicated on the RACP."""
    count = len(inbox.on(RACP))
    await client.write_gatt_char(RACP, bytes.fromhex(request), response=True)
    await until(lambda: len(inbox.on(RACP)) > count, f"RACP answer to {request}")
    return inbox.on(RACP)[count]


async def subscribed(world: BleWorld, inbox: Inbox) -> BleakClient:
    client = BleakClient(await find(world, ADDR), backend=world.client_backend, timeout=WAIT)
    await client.connect()
    await client.start_notify(SPOT, inbox)
    await client.start_notify(RACP, inbox)
    return client


def test_request_evaluation_and_vectors() -> None:
    assert evaluate_request(bytes.fromhex(VECTORS["racp-05"])) == RacpOpCode.REPORT_STORED_RECORDS
    assert evaluate_request(bytes.fromhex(VECTORS["racp-06"])) == RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS
    assert encode_racp_request(4, 1).hex() == VECTORS["racp-06"]
    assert evaluate_request(b"\x02\x02") == bytes.fromhex(
        VECTORS["racp-04"]
    )  # delete, operator not supported
    assert evaluate_request(b"\x03\x00") == RacpOpCode.ABORT_OPERATION
    assert evaluate_request(b"\x05") == bytes.fromhex("06000502")  # op code not supported
    record = StoredRecord(3, Sample(95.0, 75.0, None), datetime(2024, 11, 29, 23, 8, 57))
    frame = stored_record_frame(record)
    assert from_storage(frame)
    assert frame == encode_plx_spot_check(
        95, 75, timestamp=record.timestamp, measurement_status=STORAGE_BIT, device_sensor_status=0
    )


async def test_features_count_report_delete_and_none(world: BleWorld) -> None:
    oxi = storing(world, scenario("stable", length=6, seed=3))
    await world.start()
    await asyncio.wait_for(oxi.finished.wait(), WAIT)
    assert len(oxi.records) == 6  # nobody was subscribed: every measurement kept
    inbox = Inbox()
    client = await subscribed(world, inbox)
    try:
        features = bytes(await client.read_gatt_char(FEATURES))
        assert features == FEATURES_WITH_STORAGE
        assert int.from_bytes(features[:2], "little") & 0x04  # §1.8 bit 2: measurement storage
        racp = client.services.get_characteristic(RACP)
        assert racp is not None
        assert sorted(racp.properties) == ["indicate", "write"]

        assert await ask(client, inbox, "0401") == bytes.fromhex("05000600")
        assert (await ask(client, inbox, "0101")).hex() == VECTORS["racp-01"]
        stored = inbox.on(SPOT)
        assert stored == [stored_record_frame(r) for r in oxi.records]
        assert all(from_storage(f) for f in stored)
        assert inbox.frames.index(inbox.on(RACP)[-1]) > inbox.frames.index(
            stored[-1]
        )  # records, then response

        assert await ask(client, inbox, "0201") == bytes.fromhex("06000201")
        assert len(oxi.records) == 0
        assert await ask(client, inbox, "0401") == bytes.fromhex("05000000")
        assert (await ask(client, inbox, "0101")).hex() == VECTORS["racp-02"]  # no records found
        assert len(inbox.on(SPOT)) == 6
    finally:
        await client.disconnect()


async def test_refused_requests(world: BleWorld) -> None:
    oxi = storing(world, scenario("stable", length=2))
    await world.start()
    await asyncio.wait_for(oxi.finished.wait(), WAIT)
    inbox = Inbox()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        with pytest.raises(BleakError):  # RACP indications not enabled: CCCD improperly configured
            await client.write_gatt_char(RACP, b"\x04\x01", response=True)
        await client.start_notify(RACP, inbox)
        with pytest.raises(BleakError):  # report without 0x2A5E indications
            await client.write_gatt_char(RACP, b"\x01\x01", response=True)
        with pytest.raises(BleakError):  # empty write
            await client.write_gatt_char(RACP, b"", response=True)
        assert await ask(client, inbox, "0102") == bytes.fromhex("06000104")  # ≤: operator not supported
        assert (await ask(client, inbox, "0202")).hex() == VECTORS["racp-04"]
        assert await ask(client, inbox, "0100") == bytes.fromhex("06000103")  # null: invalid operator
        assert await ask(client, inbox, "0107") == bytes.fromhex("06000103")  # undefined operator
        assert await ask(client, inbox, "0301") == bytes.fromhex("06000303")  # abort needs the null operator
        assert await ask(client, inbox, "040100") == bytes.fromhex("06000409")  # operand not supported
        assert await ask(client, inbox, "0701") == bytes.fromhex("06000702")  # op code not supported
    assert len(oxi.records) == 2  # nothing was deleted or reported


async def test_abort_stops_a_report(world: BleWorld) -> None:
    oxi = storing(world, scenario("stable", length=0), record_delay=0.02)
    for i in range(100):
        oxi.store(Sample(90.0 + i % 8, 70.0, 3.0))
    await world.start()
    inbox = Inbox()
    client = await subscribed(world, inbox)
    try:
        await client.write_gatt_char(RACP, b"\x01\x01", response=True)
        await until(lambda: len(inbox.on(SPOT)) >= 3, "first stored records")
        with pytest.raises(BleakError):  # procedure already in progress
            await client.write_gatt_char(RACP, b"\x04\x01", response=True)
        assert await ask(client, inbox, "0300") == bytes.fromhex("06000301")
        sent = len(inbox.on(SPOT))
        await asyncio.sleep(0.3)  # 15 record delays: a report that was not stopped would show here
        assert len(inbox.on(SPOT)) == sent < 100
        assert bytes.fromhex("06000101") not in inbox.on(RACP)
        assert await ask(client, inbox, "0401") == bytes.fromhex("05006400")  # all 100 still stored
    finally:
        await client.disconnect()


async def test_drop_mid_stream_then_deliver_stored_records(world: BleWorld) -> None:
    plan = scenario("slow-desaturation", ticks=40, seed=21)
    oxi = storing(world, plan)
    await world.start()
    dropped: list[BleakClient] = []
    live = Inbox()
    client = BleakClient(
        await find(world, ADDR), disconnected_callback=dropped.append, backend=world.client_backend
    )
    await client.connect()
    await client.start_notify(SPOT, live)
    await until(lambda: len(live.frames) >= 5, "live spot-checks")
    oxi.schedule_dropout(at_tick=oxi.ticks + 2, ticks_away=12)  # out of range mid-stream for 12 ticks
    await until(lambda: dropped == [client], "the link drops")
    await until(lambda: oxi.is_present, "back in range")
    assert len(oxi.records) >= 10  # measured while away, kept

    inbox = Inbox()
    await find(world, ADDR)
    await client.connect(timeout=WAIT)
    try:
        await client.start_notify(SPOT, inbox)
        await client.start_notify(RACP, inbox)
        assert (await ask(client, inbox, "0101")).hex() == VECTORS["racp-01"]
        reported = oxi.records.snapshot()
        assert [f for f in inbox.on(SPOT) if from_storage(f)] == [stored_record_frame(r) for r in reported]
        assert await ask(client, inbox, "0201") == bytes.fromhex("06000201")
    finally:
        await client.disconnect()
    assert not any(from_storage(f) for f in live.frames)
    # nothing lost: every tick up to the last stored one arrived live or from storage (the ticks
    # before the first connection were stored too)
    live_ticks = {f.tick for f in oxi.sent if f.characteristic == PLX_SPOT_CHECK}
    stored_ticks = {r.tick for r in reported}
    assert set(range(max(stored_ticks) + 1)) <= live_ticks | stored_ticks
    assert len([t for t in stored_ticks if t > min(live_ticks)]) >= 10  # the ones measured while away
    for record in reported:
        assert record.sample == plan.take(record.tick + 1)[record.tick]
