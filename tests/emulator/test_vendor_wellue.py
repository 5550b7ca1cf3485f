"""Emulated Wellue PC-60FW (streams, powers off without a finger) and O2Ring (polled), through bleak."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from bleak import BleakClient, BleakScanner

from emulator import BleWorld, EmulatedO2Ring, EmulatedPc60fw, scenario
from emulator.scenarios import Scenario
from emulator.vendors.encode_wellue import (
    PC60FW_WAVE_RATE_HZ,
    crc8_viatom,
    encode_o2ring_request,
    encode_o2ring_response,
    encode_o2ring_sensors,
    encode_pc60fw_battery,
    encode_pc60fw_vitals,
    o2ring_sensors_for,
    pc60fw_waveform_for,
)
from emulator.vendors.waveform import frames_in_tick
from emulator.vendors.wellue import NUS_SERVICE, NUS_TX
from emulator.vendors.wellue_o2ring import O2RING_NOTIFY, O2RING_SERVICE, O2RING_WRITE
from tests.conftest import load_ble_vectors
from tests.emulator.support import WAIT, Inbox, contiguous_run, find, until

PC60 = "F0:0D:00:00:60:01"
RING = "F0:0D:00:00:02:01"
TICK = 0.05
READ_SENSORS = bytes.fromhex(next(v["hex"] for v in load_ble_vectors("viatom-o2ring-request")))

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def pc60fw_frames(plan: Scenario, ticks: int, battery_every: int = 10) -> list[bytes]:
    """The emulator's encoders for the scenario: vitals, waveform frames, battery every N ticks."""
    out: list[bytes] = []
    for tick, s in enumerate(plan.take(ticks)):
        valid = not s.probe_off and s.spo2 is not None and s.pulse_rate is not None
        out.append(
            encode_pc60fw_vitals(
                round(s.spo2 or 0) if valid else None,
                round(s.pulse_rate or 0) if valid else None,
                s.pai if valid else None,
            )
        )
        out += [pc60fw_waveform_for(s, p) for p in frames_in_tick(tick, PC60FW_WAVE_RATE_HZ / 5, TICK)]
        if tick % battery_every == 0:
            out.append(encode_pc60fw_battery(3))
    return out


async def test_pc60fw_streams_vitals_waveform_and_battery(world: BleWorld) -> None:
    plan = scenario("stable", seed=6)
    device = world.add_device("wellue-pc60fw", PC60, plan, interval=TICK, battery_every=4)
    assert isinstance(device, EmulatedPc60fw)
    await world.start()
    found = await BleakScanner.find_device_by_name(device.name, timeout=WAIT, backend=world.scanner_backend)
    assert found is not None
    assert device.name.startswith("PC-60F_SN")
    async with BleakClient(found, backend=world.client_backend) as client:
        assert client.services.get_service(NUS_SERVICE) is not None
        inbox = Inbox()
        await client.start_notify(NUS_TX, inbox)
        await until(lambda: sum(f[4] == 0x01 for f in inbox.frames) >= 8, "8 vitals frames")
    contiguous_run(inbox.frames, pc60fw_frames(plan, device.ticks + 2, battery_every=4))
    funcs = {f[4] for f in inbox.frames}
    assert funcs == {0x01, 0x02, 0x03}
    assert all(f[:2] == b"\xaa\x55" for f in inbox.frames)


async def test_pc60fw_powers_off_after_the_finger_is_removed(world: BleWorld) -> None:
    plan = scenario("probe-off", valid_ticks=8, off_ticks=20, seed=3)
    device = world.add_device("wellue-pc60fw", PC60, plan, interval=TICK, power_off_after=0.2)
    assert isinstance(device, EmulatedPc60fw)
    await world.start()
    dropped: list[BleakClient] = []
    inbox = Inbox()
    client = BleakClient(
        await find(world, PC60), disconnected_callback=dropped.append, backend=world.client_backend
    )
    await client.connect()
    await client.start_notify(NUS_TX, inbox)
    await until(lambda: dropped == [client], "the device ends the link after the finger is out")
    assert device.power_offs == 1
    assert not device.is_present
    vitals = [f for f in inbox.frames if f[4] == 0x01]
    assert vitals[-1][5:8] == b"\x00\x00\x00"  # searching / finger out: SpO2 and PR 0 (§2.6)
    assert vitals[0][5] in (96, 97, 98)
    # powered off: not found while the finger is out
    gone = await BleakScanner.find_device_by_address(PC60, timeout=0.3, backend=world.scanner_backend)
    if not device.is_present:  # still off after the scan, so off throughout it
        assert gone is None
    # finger back: it powers on, advertises and streams valid values to a new connection
    await until(lambda: device.is_present, "power on with the finger back")
    await client.connect(timeout=WAIT)
    try:
        mark = len(inbox.frames)
        await client.start_notify(NUS_TX, inbox)
        await until(lambda: any(f[4] == 0x01 and f[5] > 0 for f in inbox.frames[mark:]), "valid vitals again")
    finally:
        await client.disconnect()


def answers_at_least(inbox: Inbox, count: int) -> Callable[[], bool]:
    return lambda: len(inbox.frames) >= count


async def test_o2ring_answers_polls_over_two_notifications(world: BleWorld) -> None:
    plan = scenario("sudden-drop", stable_ticks=10, seed=2)
    ring = world.add_device("wellue-o2ring", RING, plan, interval=TICK)
    assert isinstance(ring, EmulatedO2Ring)
    await world.start()
    found = await BleakScanner.find_device_by_name(ring.name, timeout=WAIT, backend=world.scanner_backend)
    assert found is not None
    assert ring.name.startswith("O2Ring ")
    async with BleakClient(found, backend=world.client_backend) as client:
        assert client.services.get_service(O2RING_SERVICE) is not None
        inbox = Inbox()
        await client.start_notify(O2RING_NOTIFY, inbox)
        ticks = ring.ticks
        await until(lambda: ring.ticks >= ticks + 3, "3 ticks")
        assert inbox.frames == []  # polled: nothing arrives unasked
        for poll in range(1, 4):
            await client.write_gatt_char(O2RING_WRITE, READ_SENSORS, response=False)
            await until(answers_at_least(inbox, 2 * poll), f"answer {poll}")
        # a request split over two writes, with junk and a corrupted request before it
        await client.write_gatt_char(O2RING_WRITE, b"\x00" + READ_SENSORS[:-1] + b"\x00", response=True)
        await client.write_gatt_char(O2RING_WRITE, READ_SENSORS[:4], response=True)
        await client.write_gatt_char(O2RING_WRITE, READ_SENSORS[4:], response=True)
        await until(lambda: len(inbox.frames) >= 8, "answer to the split request")
    assert [len(f) for f in inbox.frames] == [20, 1] * 4  # 21-byte answer at MTU 23
    answers = [inbox.frames[i] + inbox.frames[i + 1] for i in range(0, 8, 2)]
    assert answers == list(ring.responses)
    assert ring.requests_rejected == 2  # the junk byte, then the frame with the bad CRC
    for answer in answers:
        assert crc8_viatom(answer[:-1]) == answer[-1]
        assert answer[:7] == bytes.fromhex("5500ff00000d00")
    # each answer is the encoder's payload for the sample of the tick it was read at
    chunks = [f for f in ring.sent if len(f.data) == 20]
    for chunk, answer in zip(chunks, answers, strict=True):
        sensors = o2ring_sensors_for(chunk.sample, battery_percent=97)
        assert encode_o2ring_response(encode_o2ring_sensors(sensors)) == answer
        assert chunk.sample == plan.take(chunk.tick + 1)[chunk.tick]


async def test_o2ring_info_ping_and_finger_out(world: BleWorld) -> None:
    ring = world.add_device(
        "wellue-o2ring", RING, scenario("probe-off", valid_ticks=0, off_ticks=10**6), interval=TICK
    )
    assert isinstance(ring, EmulatedO2Ring)
    await world.start()
    async with BleakClient(await find(world, RING), backend=world.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(O2RING_NOTIFY, inbox)
        await until(lambda: ring.latest is not None, "a reading")
        await client.write_gatt_char(O2RING_WRITE, encode_o2ring_request(0x14), response=True)
        await until(lambda: len(ring.responses) == 1, "info answer")
        info_answer = ring.responses[0]
        await until(lambda: b"".join(inbox.frames) == info_answer, "all info notifications")
        assert len(inbox.frames) > 2  # a JSON answer spans several notifications
        info = json.loads(info_answer[7:-1])
        assert info["Model"] == "O2Ring"
        mark = len(inbox.frames)
        await client.write_gatt_char(O2RING_WRITE, encode_o2ring_request(0x15), response=True)
        await client.write_gatt_char(O2RING_WRITE, encode_o2ring_request(0x03), response=True)  # not answered
        await client.write_gatt_char(O2RING_WRITE, READ_SENSORS, response=True)
        await until(lambda: len(inbox.frames) >= mark + 3, "ping and sensors answers")
    assert inbox.frames[mark] == encode_o2ring_response(b"")
    sensors = inbox.frames[mark + 1] + inbox.frames[mark + 2]
    assert sensors[7:10] == b"\xff\xff\xff"  # no finger: SpO2/HR 0xFF (§2.5)
    assert sensors[7 + 11] == 0  # finger flag
    assert ring.requests_ignored == 1
