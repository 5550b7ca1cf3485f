"""A PLX oximeter with measurement storage drops mid-stream, comes back and hands over what it kept.

Emulated device (bumble, RACP per ble-protocols.md §1.9) → real Gateway (bleak) → Mosquitto. Its clock
runs an hour ahead (a device set to summer time): the gateway learns the offset from live frames and
corrects the stored records' timestamps with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator import BleWorld, scenario, stored_record_frame
from gateway.model import parse_utc
from tests.gateway.gateway_harness import running, settings_for, until
from tests.services import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

OXI = "C0:FF:EE:00:00:51"
AHEAD = timedelta(hours=1)
MS_FROM_STORAGE = 1 << 9


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _device_clock() -> datetime:
    return datetime.now(UTC) + AHEAD


async def test_stored_records_arrive_after_a_reconnect_flagged_and_time_corrected(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    oxi = world.add_oximeter(
        OXI, "PLX-51", scenario("stable"), interval=0.1, mode="spot-check", storage=True, clock=_device_clock
    )
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[OXI])
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(OXI)) >= 5, message="live spot-checks")
        session = gw.gateway.sessions[0]
        await until(lambda: session.clock.offset_s is not None, message="offset observed")
        await until(lambda: len(oxi.records) == 0, message="what it kept before we met is handed over")
        await oxi.go_away()  # mid-stream: out of range, link dropped by the device's side
        gone_at = datetime.now(UTC)
        await until(lambda: session.state == "away", message="gateway sees it away")
        await until(lambda: len(oxi.records) >= 5, message="the device stores what nobody takes")
        old = oxi.store(oxi.records.snapshot()[0].sample, timestamp=_device_clock() - timedelta(minutes=30))
        assert oxi.racp is not None
        before = oxi.racp.records_reported  # records of the first connection
        kept = {stored_record_frame(r).hex() for r in oxi.records.snapshot()}
        await oxi.come_back()
        await until(lambda: len(oxi.records) == 0, message="records deleted once saved")
        reported = oxi.racp.records_reported
        await until(
            lambda: sum(r["status"].get("from_storage", False) for r in gw.readings(OXI)) >= reported,
            message="stored records at the broker",
        )
        away = gw.device_status(OXI)
    assert reported - before >= len(kept)  # all it kept (and what it stored while reconnecting)
    assert [r[:2] for r in oxi.racp.requests[-3:]] == [b"\x04\x01", b"\x01\x01", b"\x02\x01"]
    readings = gw.readings(OXI)
    stored = [r for r in readings if r["status"].get("from_storage")]
    live = [r for r in readings if not r["status"].get("from_storage")]
    assert kept <= {r["frame"] for r in stored}
    # One id per distinct record (identical frames, e.g. two equal readings in one second of the
    # device's 1 s-resolution clock, are one measurement to the service).
    assert len({r["reading_id"] for r in stored}) == len({r["frame"] for r in stored})
    assert len(stored) >= reported
    assert all(r["status"]["measurement"] & MS_FROM_STORAGE for r in stored)
    assert all(r["clock"]["source"] == "device-corrected" for r in readings)
    assert all(abs(r["clock"]["device_offset_s"] - 3600) < 2 for r in readings)
    for reading in live:  # a live frame was measured just now, by the gateway's clock
        delta = parse_utc(reading["received_at"]) - parse_utc(reading["measured_at"])
        assert timedelta(0) <= delta < timedelta(seconds=2)
    by_frame = {r["frame"]: r for r in stored}
    hand = by_frame[stored_record_frame(old).hex()]
    measured, received = parse_utc(hand["measured_at"]), parse_utc(hand["received_at"])
    assert timedelta(minutes=29) < received - measured < timedelta(minutes=31)  # late, and shown so
    after_drop = [r for r in stored if r is not hand and parse_utc(r["received_at"]) > gone_at]
    assert len(after_drop) == reported - before - 1
    for reading in after_drop:  # measured while away, placed in the gateway's time by the offset
        assert gone_at - timedelta(seconds=2) <= parse_utc(reading["measured_at"]) <= datetime.now(UTC)
    assert away is not None
    assert away["stores_readings"] is True
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("gateway")]
    assert any(
        m == f"Oximeter {OXI} is switched off or out of reach. "
        "Readings taken while it is away are kept on the oximeter."
        for m in messages
    )
    sending = f"Oximeter {OXI} is sending {reported - before} readings it kept while it was out of reach."
    assert sending in messages


async def test_a_second_download_of_the_same_records_gives_the_same_ids(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    """If the device does not clear its storage, a re-download is stored once by the service."""
    oxi = world.add_oximeter(
        OXI, "PLX-51", scenario("stable"), interval=0.1, mode="spot-check", storage=True, clock=_device_clock
    )
    await world.start()
    settings = settings_for(mosquitto, tmp_path, devices=[OXI])
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(OXI)) >= 3, message="live spot-checks (offset learned)")
        await until(lambda: len(oxi.records) == 0, message="what it kept before we met is handed over")
        await oxi.go_away()
        await until(lambda: len(oxi.records) >= 3, message="records while away")
        kept = oxi.records.snapshot()
        frames = {stored_record_frame(r).hex() for r in kept}

        def copies() -> list[dict[str, Any]]:
            return [r for r in gw.readings(OXI) if r["status"].get("from_storage") and r["frame"] in frames]

        await oxi.come_back()
        await until(lambda: len(copies()) >= len(frames), message="first download")
        for record in kept:  # the device "forgot" to delete: the same records are offered again
            oxi.records.add(record)
        await oxi.disconnect_all()
        await until(lambda: len(copies()) >= 2 * len(frames), message="second copies at the broker")
    ids: dict[str, set[str]] = {}
    for reading in copies():
        ids.setdefault(reading["frame"], set()).add(reading["reading_id"])
    assert set(ids) == frames
    detail = [(r["frame"], r["measured_at"], r["clock"]) for r in copies() if len(ids[r["frame"]]) > 1]
    assert all(len(same) == 1 for same in ids.values()), detail  # each record kept its id: stored once
