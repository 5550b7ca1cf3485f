"""gateway.ble through real bleak + bleak-retry-connector, against bumble-emulated PLX oximeters."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable

import pytest

from emulator import BleWorld, scenario
from gateway.ble import Backoff, BleAdapter, DeviceLink, Frame
from gateway.config import DeviceConfig
from gateway.model import DeviceState
from gateway.protocols import plx

OXI_1 = "C0:FF:EE:00:00:01"
OXI_2 = "C0:FF:EE:00:00:02"
STRANGER = "C0:FF:EE:00:00:99"


async def until(condition: Callable[[], bool], within: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {message}")
        await asyncio.sleep(0.02)


class Probe:
    """Runs one DeviceLink and records what it delivers."""

    def __init__(self, address: str, adapter: BleAdapter, world: BleWorld | None) -> None:
        self.frames: list[Frame] = []
        self.states: list[DeviceState] = []
        self.link = DeviceLink(
            DeviceConfig(address),
            adapter=adapter,
            on_frame=self.frames.append,
            on_state=self.states.append,
            backoff=Backoff(0.05, 0.3, random.Random(1)),
            client_backend=world.client_backend if world else None,
        )
        self.task = asyncio.create_task(self.link.run())

    async def close(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _adapter(world: BleWorld, *addresses: str, scan_timeout_s: float = 1.0) -> BleAdapter:
    return BleAdapter(addresses, scan_timeout_s=scan_timeout_s, scanner_backend=world.scanner_backend)


async def test_connects_subscribes_to_both_measurements_and_reads_the_model(world: BleWorld) -> None:
    oxi = world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05, mode="both", model="Emu X1")
    await world.start()
    probe = Probe(OXI_1, _adapter(world, OXI_1), world)
    try:
        both = {plx.CONTINUOUS_UUID, plx.SPOT_CHECK_UUID}
        await until(lambda: {f.characteristic_uuid for f in probe.frames} == both, message="2A5F and 2A5E")
        assert probe.states[0] == "connected"
        assert probe.link.info.model == "Emu X1"
        assert probe.link.info.protocol == plx.CONTINUOUS
        assert probe.link.profile is not None
        assert probe.link.profile.key == "plx"
        assert oxi.notify_subscribed
        assert oxi.indicate_subscribed
        # Exactly the bytes the oximeter sent, in order, each with its own receive time.
        sent = {(f"0000{s.characteristic:04x}-0000-1000-8000-00805f9b34fb", s.data) for s in oxi.sent}
        assert {(f.characteristic_uuid, f.data) for f in probe.frames} <= sent
        continuous = [f for f in probe.frames if f.characteristic_uuid == plx.CONTINUOUS_UUID]
        assert all(a.received_at <= b.received_at for a, b in itertools.pairwise(continuous))
        assert all(isinstance(f.data, bytes) and f.received_at.tzinfo is not None for f in probe.frames)
    finally:
        await probe.close()
    await until(lambda: not oxi.is_connected, message="disconnect on cancel")


async def test_goes_away_comes_back_and_subscribes_again(world: BleWorld) -> None:
    oxi = world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05)
    await world.start()
    probe = Probe(OXI_1, _adapter(world, OXI_1, scan_timeout_s=0.5), world)
    try:
        await until(lambda: len(probe.frames) >= 3, message="first frames")
        await oxi.go_away()
        await until(lambda: probe.link.state == "away", message="link reports away")
        before = len(probe.frames)
        await oxi.come_back()
        await until(lambda: probe.link.state == "connected", message="reconnected")
        await until(lambda: len(probe.frames) >= before + 3, message="frames after the reconnect")
        assert probe.link.connections == 2
        assert oxi.notify_subscribed  # the CCCD was written again on the new connection
        assert probe.states[:2] == ["connected", "searching"]
        assert probe.states[-1] == "connected"
        assert "away" in probe.states
    finally:
        await probe.close()


async def test_only_allow_listed_oximeters_are_touched(world: BleWorld) -> None:
    mine = world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05)
    stranger = world.add_oximeter(STRANGER, "PLX-99", scenario("stable"), interval=0.05)
    await world.start()
    adapter = _adapter(world, OXI_1)
    assert await adapter.find(STRANGER) is None
    probe = Probe(OXI_1, adapter, world)
    try:
        await until(lambda: len(probe.frames) >= 3, message="frames from the allow-listed device")
        assert mine.connections_total == 1
        assert stranger.connections_total == 0
    finally:
        await probe.close()


async def test_two_devices_share_one_adapter(world: BleWorld) -> None:
    oxis = [
        world.add_oximeter(a, n, scenario("stable"), interval=0.05) for a, n in ((OXI_1, "A"), (OXI_2, "B"))
    ]
    await world.start()
    adapter = _adapter(world, OXI_1, OXI_2)
    probes = [Probe(OXI_1, adapter, world), Probe(OXI_2, adapter, world)]
    try:
        await until(lambda: all(len(p.frames) >= 3 for p in probes), message="frames from both devices")
        assert all(o.connections_total == 1 for o in oxis)
    finally:
        for p in probes:
            await p.close()


async def test_no_bluetooth_stack_is_reported_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    """On this machine the platform backend finds no D-Bus: a plain FileNotFoundError, not a BleakError."""
    adapter = BleAdapter([OXI_1], scan_timeout_s=0.5)  # default backends: the real platform ones
    probe = Probe(OXI_1, adapter, None)
    attempts: list[float] = []
    original = probe.link.backoff.next

    def counting_next() -> float:
        attempts.append(original())
        return attempts[-1]

    probe.link.backoff.next = counting_next  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.DEBUG, logger="gateway"):
            await until(lambda: len(attempts) >= 4, message="several retries")
        assert not probe.task.done()  # still going, never crashed
        assert probe.states == ["away"]
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # a problem of the whole gateway: said once, not per retry
        said = warnings[0].getMessage()
        assert "Bluetooth service is not running" in said
        assert "systemctl start dbus bluetooth" in said
        assert "Error" not in said
        assert "Traceback" not in caplog.text
        assert any(
            "FileNotFoundError" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG
        )
    finally:
        await probe.close()


def test_backoff_grows_to_a_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    nominal = [1, 2, 4, 8, 8, 8, 8, 8]
    for delay, cap in zip(delays, nominal, strict=True):
        assert cap / 2 <= delay <= cap
    assert len(set(delays[3:])) > 1  # jittered, not lock-step
    backoff.reset()
    assert 0.5 <= backoff.next() <= 1.0
