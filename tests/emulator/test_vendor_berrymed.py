"""Emulated BerryMed (BCI and BERRY) reached through bleak's public API (backend=world.*_backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner

from emulator import BleWorld, EmulatedBerryMed, scenario
from emulator.scenarios import Sample, Scenario
from emulator.vendors.berrymed import BERRYMED_NOTIFY, BERRYMED_SERVICE, BERRYMED_WRITE
from emulator.vendors.encode_berrymed import (
    BCI_RATE_HZ,
    bci_frame_for,
    berry_packet_for,
    encode_bci_frame,
    encode_bci_version,
    encode_berry_packet,
)
from emulator.vendors.waveform import frames_in_tick
from tests.conftest import load_ble_vectors
from tests.emulator.support import WAIT, Inbox, find, until

ADDR = "00:A0:50:00:00:01"  # §2.2: BLE-module MAC prefix 00:A0:50
TICK = 0.05
VECTORS = {v["id"]: v["hex"] for v in load_ble_vectors("berrymed")}
MAC_CHAR = "00005344-0000-1000-8000-00805f9b34fb"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def berrymed(world: BleWorld, plan: Scenario, **options: Any) -> EmulatedBerryMed:
    device = world.add_device("berrymed", ADDR, plan, interval=TICK, **options)
    assert isinstance(device, EmulatedBerryMed)
    return device


def bci_stream(plan: Scenario, ticks: int) -> bytes:
    """What the emulator's encoder makes of the scenario: every BCI frame of the first `ticks` ticks."""
    return b"".join(
        encode_bci_frame(bci_frame_for(sample, position))
        for tick, sample in enumerate(plan.take(ticks))
        for position in frames_in_tick(tick, BCI_RATE_HZ, TICK)
    )


async def test_found_by_name_not_by_service_uuid(world: BleWorld) -> None:
    berrymed(world, scenario("stable"))
    await world.start()
    by_service = await BleakScanner.discover(
        0.5, service_uuids=[BERRYMED_SERVICE], backend=world.scanner_backend
    )
    assert by_service == []  # §2.2: the service UUID is not advertised
    device = await BleakScanner.find_device_by_name("BerryMed", timeout=WAIT, backend=world.scanner_backend)
    assert device is not None
    assert device.address == ADDR
    assert device.address.startswith("00:A0:50")
    seen = await BleakScanner.discover(0.5, return_adv=True, backend=world.scanner_backend)
    assert seen[ADDR][1].service_uuids == []


async def test_bci_stream_four_frames_per_notification(world: BleWorld) -> None:
    plan = scenario("sudden-drop", stable_ticks=20, seed=5)
    device = berrymed(world, plan)
    await world.start()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        assert client.services.get_service(BERRYMED_SERVICE) is not None
        inbox = Inbox()
        await client.start_notify(BERRYMED_NOTIFY, inbox)
        await until(lambda: len(inbox.frames) >= 30, "30 notifications")
        await client.stop_notify(BERRYMED_NOTIFY)
        assert bytes(await client.read_gatt_char(MAC_CHAR)) == bytes.fromhex("010000 50A000")  # MAC reversed
    assert all(len(f) == 20 for f in inbox.frames)  # 4 frames of 5 bytes (BM1000C)
    stream = bci_stream(plan, device.ticks + 2)
    received = b"".join(inbox.frames)
    start = stream.find(received)
    assert start >= 0, "notifications are not an unbroken run of the encoder's BCI stream"
    assert start % 5 == 0  # subscribing starts at a frame boundary
    assert received[0] & 0x80


async def test_bci_frames_split_across_notifications(world: BleWorld) -> None:
    plan = scenario("probe-off", valid_ticks=4, off_ticks=4, seed=2)
    device = berrymed(world, plan, chunk_size=7)
    await world.start()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(BERRYMED_NOTIFY, inbox)
        await until(lambda: len(inbox.frames) >= 60, "60 notifications")
    assert all(len(f) == 7 for f in inbox.frames)
    received = b"".join(inbox.frames)
    assert bci_stream(plan, device.ticks + 2).find(received) >= 0
    # 7-byte notifications: frames straddle them, so most notifications start mid-frame
    assert sum(1 for f in inbox.frames if not f[0] & 0x80) > len(inbox.frames) // 2


async def test_version_commands_and_switch_to_berry(world: BleWorld) -> None:
    plan = scenario("stable", seed=9)
    device = berrymed(world, plan)
    await world.start()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(BERRYMED_NOTIFY, inbox)
        await client.write_gatt_char(BERRYMED_WRITE, b"\xff", response=True)
        await client.write_gatt_char(BERRYMED_WRITE, b"\xfe", response=False)
        software = b"".join(encode_bci_version("V1.04.00.36"))
        hardware = b"".join(encode_bci_version("V2.0", head=0xFE, packets=1))
        await until(lambda: software in inbox.frames and hardware in inbox.frames, "BCI version answers")

        await client.write_gatt_char(BERRYMED_WRITE, b"\xe1", response=True)  # switch to BERRY
        await until(lambda: device.protocol == "berry", "BERRY mode")
        mark = len(inbox.frames)
        await until(
            lambda: sum(f[:2] == b"\xff\xaa" for f in inbox.frames[mark:]) >= 10, "100 Hz BERRY packets"
        )
        await client.write_gatt_char(BERRYMED_WRITE, b"\xff\xfe", response=True)  # two commands at once
        await until(lambda: sum(f[:3] == b"\xff\xaa\x48" for f in inbox.frames[mark:]) == 1, "BERRY versions")
        answers = [f for f in inbox.frames[mark:] if f[:3] in (b"\xff\xaa\x53", b"\xff\xaa\x48")]
        assert [a.hex() for a in answers] == [VECTORS["berrymed-berry-01"], VECTORS["berrymed-berry-02"]]

        await client.write_gatt_char(BERRYMED_WRITE, b"\xf3", response=True)  # 1 Hz
        await until(lambda: device.berry_rate_hz == 1, "rate command")
        mark = len(inbox.frames)
        await until(lambda: any(len(f) == 20 and f[18] == 1 for f in inbox.frames[mark:]), "a 1 Hz packet")
    assert device.commands == [0xFF, 0xFE, 0xE1, 0xFF, 0xFE, 0xF3]
    # every BERRY measurement packet that went out is the encoder's packet for its tick's sample
    measurements = [f for f in device.sent if f.sample is not None and f.data[:2] == b"\xff\xaa"]
    assert len(measurements) >= 10
    for frame in measurements:
        rate = frame.data[18]
        positions = [p for p in frames_in_tick(frame.tick, rate, TICK) if p & 0xFF == frame.data[2]]
        assert positions, f"no packet index {frame.data[2]} in tick {frame.tick} at {rate} Hz"
        assert sample_packet(frame.sample, positions[0], rate) == frame.data
    # BERRY measurement packets (the BCI stream before the switch and the version answers aside)
    received_packets = [f for f in inbox.frames if f[:2] == b"\xff\xaa" and f[2] not in (0x53, 0x48)]
    assert set(received_packets) <= {f.data for f in measurements}


def sample_packet(sample: Sample | None, position: int, rate: int) -> bytes:
    assert sample is not None
    return encode_berry_packet(berry_packet_for(sample, position, rate_hz=rate, battery_percent=80))


async def test_stop_command_and_back_to_bci(world: BleWorld) -> None:
    device = berrymed(world, scenario("stable"), protocol="berry", berry_rate_hz=50)
    await world.start()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(BERRYMED_NOTIFY, inbox)
        await until(lambda: len(inbox.frames) >= 5, "BERRY packets")
        assert all(f[:2] == b"\xff\xaa" and f[18] == 50 for f in inbox.frames)
        await client.write_gatt_char(BERRYMED_WRITE, b"\xf6", response=True)  # stop
        await until(lambda: not device.streaming, "stopped")
        count, ticks = len(inbox.frames), device.ticks
        await until(lambda: device.ticks >= ticks + 5, "5 ticks")
        assert len(inbox.frames) == count
        await client.write_gatt_char(BERRYMED_WRITE, b"\xe0", response=True)  # BCI again, streaming
        await until(lambda: len(inbox.frames) >= count + 5, "BCI after the switch")
    assert all(len(f) == 20 and f[0] & 0x80 and not f[1] & 0x80 for f in inbox.frames[count + 1 :])


async def test_garbage_in_the_stream_is_sent_as_is(world: BleWorld) -> None:
    device = berrymed(world, scenario("stable"))
    await world.start()
    async with BleakClient(await find(world, ADDR), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(BERRYMED_NOTIFY, inbox)
        await until(lambda: len(inbox.frames) >= 3, "stream")
        device.inject(b"\x01\x02\x03")
        await until(lambda: b"\x01\x02\x03" in b"".join(inbox.frames), "injected bytes")
