"""Emulated Jumper / "Medical" CDEACB80 (experimental) through bleak: found by its advertised service."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest
from bleak import BleakClient, BleakScanner

from emulator import BleWorld, EmulatedJumper, scenario
from emulator.scenarios import Sample, Scenario
from emulator.vendors.encode_jumper import jumper_values_for
from emulator.vendors.jumper import JUMPER_NOTIFY, JUMPER_SERVICE
from tests.emulator.support import WAIT, Inbox, contiguous_run, until

ADDR = "F0:0D:00:00:81:01"
TICK = 0.05

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _probe_off_every_ten_ticks() -> Scenario:
    """Five valid ticks then five finger-out ticks, over and over: whenever the subscription
    starts (late on a loaded machine), fourteen consecutive frames hold a finger-out frame."""
    cycle = scenario("probe-off", valid_ticks=5, off_ticks=5, seed=12).take(10)

    def generate(_: random.Random) -> Iterator[Sample]:
        while True:
            yield from cycle

    return Scenario("probe-off-cycle", generate)


async def test_found_by_service_and_streams_value_frames(world: BleWorld) -> None:
    plan = _probe_off_every_ten_ticks()
    device = world.add_device("jumper", ADDR, plan, interval=TICK)
    assert isinstance(device, EmulatedJumper)
    world.add_device("berrymed", "00:A0:50:00:00:09", scenario("stable"), interval=TICK)  # not this service
    await world.start()
    found: dict[str, object] = {}
    for _ in range(20):
        found.update(
            await BleakScanner.discover(
                0.3, return_adv=True, service_uuids=[JUMPER_SERVICE], backend=world.scanner_backend
            )
        )
        if found:
            break
    assert set(found) == {ADDR}
    async with BleakClient(ADDR, backend=world.client_backend, timeout=WAIT) as client:
        assert client.name == "JPD-500F"
        inbox = Inbox()
        await client.start_notify(JUMPER_NOTIFY, inbox)
        await until(lambda: len(inbox.frames) >= 14, "14 value frames")
    expected = [jumper_values_for(s) for s in plan.take(device.ticks + 2)]
    contiguous_run(inbox.frames, expected)
    assert all(len(f) == 4 and f[0] == 0x81 for f in inbox.frames)
    assert bytes.fromhex("81ff7f00") in inbox.frames  # finger out (jumper-02 shape)


def test_long_names_do_not_fit_beside_the_service_uuid() -> None:
    world = BleWorld()
    with pytest.raises(ValueError, match="31"):
        world.add_device("jumper", ADDR, scenario("stable"), name="My Oximeter")
    assert world.devices == {}
