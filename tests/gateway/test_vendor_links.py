"""Every proprietary protocol end to end: emulated device (bumble) → real Gateway (bleak) → Mosquitto.

The gateway's BLE code is unchanged bleak code; only the backend points at the virtual link.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator import BleWorld, EmulatedBerryMed, EmulatedNonin, EmulatedO2Ring, EmulatedPc60fw, scenario
from emulator.scenarios import probe_off
from tests.gateway.gateway_harness import running, settings_for, until
from tests.services import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

BERRY = "00:A0:50:00:00:01"  # BerryMed's BLE-module OUI (ble-protocols.md §2.2)
NONIN = "F0:0D:00:00:03:01"
PC60 = "F0:0D:00:00:06:01"
RING = "F0:0D:00:00:07:01"
JUMP = "F0:0D:00:00:08:01"


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _stream(device: object) -> bytes:
    return b"".join(f.data for f in device.sent)


async def test_berrymed_bci_stream_is_reduced_to_the_configured_rate(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    device = world.add_device("berrymed", BERRY, scenario("stable"), interval=0.2)
    assert isinstance(device, EmulatedBerryMed)
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[BERRY], continuous_rate_hz=10)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(BERRY)) >= 15, message="BCI readings")
        await until(lambda: (gw.device_status(BERRY) or {}).get("state") == "connected", message="status")
        session = gw.gateway.sessions[0]
        frames_seen = session.pipeline.decoder.stream.stats.frames if session.pipeline else 0  # type: ignore[attr-defined]
    readings = gw.readings(BERRY)
    sent = _stream(device)
    assert all(bytes.fromhex(r["frame"]) in sent for r in readings)  # whole frames the device sent
    assert {r["source"]["protocol"] for r in readings} == {"berrymed-bci"}
    assert all(r["mode"] == "continuous" and r["perfusion_index"] is None for r in readings)  # BCI: no PI
    assert all(r["derivation"]["method"] == "sampled" for r in readings)
    # ~100 frames/s in, 10 readings/s out: the rate is the setting's, not the stream's.
    assert frames_seen >= 5 * len(readings)
    status = gw.device_status(BERRY)
    assert status is not None
    assert status["model"] == "BM1000C"
    assert status["firmware"] == "V1.04.00.36"
    assert isinstance(status["rssi"], int)


async def test_berrymed_switched_to_berry_reports_pi_and_battery(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    device = world.add_device("berrymed", BERRY, scenario("stable"), interval=0.2, battery_percent=64)
    assert isinstance(device, EmulatedBerryMed)
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[BERRY], continuous_rate_hz=10, berrymed_berry=True)
    async with running(settings, world, mosquitto) as gw:
        await until(
            lambda: sum(r["source"]["protocol"] == "berrymed-berry" for r in gw.readings(BERRY)) >= 5,
            message="BERRY readings",
        )
        await until(lambda: (gw.device_status(BERRY) or {}).get("battery_percent") == 64, message="battery")
    assert 0xE1 in device.commands
    berry = [r for r in gw.readings(BERRY) if r["source"]["protocol"] == "berrymed-berry"]
    assert all(r["perfusion_index"] is not None and r["spo2"] is not None for r in berry)
    assert (gw.device_status(BERRY) or {})["protocol"] == "berrymed-berry"


async def test_nonin_is_paired_and_read_over_an_encrypted_link(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    device = world.add_device("nonin", NONIN, scenario("stable"), interval=0.1)
    assert isinstance(device, EmulatedNonin)
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[NONIN], continuous_rate_hz=100)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(NONIN)) >= 5, message="Nonin readings")
        assert device.encrypted_links == 1
        await until(lambda: (gw.device_status(NONIN) or {}).get("battery_percent") == 62, message="battery")
    readings = gw.readings(NONIN)
    sent = {f.data.hex() for f in device.sent}
    assert {r["frame"] for r in readings} <= sent
    assert {r["source"]["protocol"] for r in readings} == {"nonin-continuous"}
    assert all(r["spo2"] is not None and r["perfusion_index"] is not None for r in readings)
    status = gw.device_status(NONIN)
    assert status is not None
    assert status["model"] == "3230"
    assert status["firmware"] == "1.2.0"


async def test_pc60fw_powering_off_after_the_finger_is_out_is_normal(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    plan = probe_off(valid_ticks=15, off_ticks=12)
    device = world.add_device("wellue-pc60fw", PC60, plan, interval=0.1, power_off_after=0.3, battery_every=2)
    assert isinstance(device, EmulatedPc60fw)
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[PC60], continuous_rate_hz=100)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: device.power_offs >= 1, message="the oximeter switches itself off")
        await until(lambda: gw.gateway.sessions[0].link.connections >= 2, message="read again once back")
        await until(lambda: len(gw.readings(PC60)) >= 20, message="readings after it came back")
        await until(lambda: (gw.device_status(PC60) or {}).get("battery_percent") == 100, message="battery")
    readings = gw.readings(PC60)
    assert {r["source"]["protocol"] for r in readings} == {"pc60fw"}
    assert {r["frame"] for r in readings} <= {f.data.hex() for f in device.sent}
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not said, said  # a normal power-off is no warning
    infos = [r.getMessage() for r in caplog.records if "switched itself off" in r.getMessage()]
    assert infos == [f"Oximeter {PC60} switched itself off after the finger was taken out. This is normal."]


async def test_o2ring_is_polled_and_its_answers_become_readings(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    device = world.add_device("wellue-o2ring", RING, scenario("stable"), interval=0.1, battery_percent=88)
    assert isinstance(device, EmulatedO2Ring)
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[RING], o2ring_poll_s=0.2, continuous_rate_hz=100)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(RING)) >= 5, message="O2Ring readings")
        await until(lambda: (gw.device_status(RING) or {}).get("battery_percent") == 88, message="battery")
    assert len(device.requests) >= 5
    assert all(r.cmd == 0x17 for r in device.requests)  # read sensors, nothing else
    readings = gw.readings(RING)
    assert {r["frame"] for r in readings} <= {a.hex() for a in device.responses}
    assert {r["source"]["protocol"] for r in readings} == {"viatom-o2ring-response"}
    assert all(r["spo2"] is not None for r in readings)


async def test_jumper_is_read_only_when_experimental_protocols_are_on(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    device = world.add_device("jumper", JUMP, scenario("stable"), interval=0.1)
    await world.start()
    off = settings_for(mosquitto, tmp_path, devices=[JUMP])
    async with running(off, world, mosquitto) as gw:
        await until(lambda: "not a type this gateway can read" in caplog.text, message="operator message")
        assert not gw.readings()
    assert device.connections_total >= 1
    assert not device.sent
    on = settings_for(
        mosquitto, tmp_path, devices=[JUMP], experimental_protocols=True, continuous_rate_hz=100
    )
    async with running(on, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(JUMP)) >= 5, message="Jumper readings")
    readings = gw.readings(JUMP)
    assert all(r["source"]["unconfirmed"] is True for r in readings)
    assert {r["source"]["protocol"] for r in readings} == {"jumper-cdeacb"}


async def test_several_kinds_on_one_gateway_at_once(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    world.add_device("berrymed", BERRY, scenario("stable"), interval=0.2)
    world.add_device("nonin", NONIN, scenario("stable"), interval=0.1)
    world.add_device("wellue-o2ring", RING, scenario("stable"), interval=0.1)
    world.add_device("plx", "C0:FF:EE:00:00:77", scenario("stable"), interval=0.1)
    stranger = world.add_device("nonin", "F0:0D:00:00:03:99", scenario("stable"), interval=0.1)
    await world.start()
    mine = [BERRY, NONIN, RING, "C0:FF:EE:00:00:77"]
    settings = settings_for(mosquitto, tmp_path, devices=mine, continuous_rate_hz=5, o2ring_poll_s=0.2)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: all(len(gw.readings(a)) >= 3 for a in mine), message="readings from all four")
        await until(
            lambda: all((gw.device_status(a) or {}).get("state") == "connected" for a in mine),
            message="all four connected on the status topic",
        )
    protocols = {gw.readings(a)[0]["source"]["protocol"] for a in mine}
    assert protocols == {"berrymed-bci", "nonin-continuous", "viatom-o2ring-response", "plx-continuous"}
    assert stranger.connections_total == 0  # not this gateway's: never touched
