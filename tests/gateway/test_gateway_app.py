"""The whole gateway: emulated oximeters (bumble, via bleak) → Gateway → real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from emulator import BleWorld, scenario
from gateway.app import Gateway
from gateway.ble import Frame
from gateway.payload import reading_topic, status_topic
from gateway.protocols import plx
from gateway.settings import GatewaySettings, load_settings
from tests.gateway.mqtt_helpers import Subscriber
from tests.services import MosquittoBroker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READING_SCHEMA = json.loads((ROOT / "docs" / "contract" / "reading.v1.schema.json").read_text())
OXI_1 = "C0:FF:EE:00:00:01"
OXI_2 = "C0:FF:EE:00:00:02"
_UUID16 = {0x2A5F: plx.CONTINUOUS_UUID, 0x2A5E: plx.SPOT_CHECK_UUID}


async def until(condition: Callable[[], bool], within: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {message}")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OXIWARD_GATEWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _settings(broker: MosquittoBroker, tmp_path: Path, *devices: str, **kw: Any) -> GatewaySettings:
    gid = kw.pop("gateway_id", f"gw-{uuid.uuid4().hex[:10]}")
    return GatewaySettings(
        gateway_id=gid,
        devices=list(devices),
        mqtt_url=broker.url,
        outbox_path=tmp_path / f"{gid}.sqlite3",
        scan_timeout_s=0.5,
        reconnect_min_s=0.05,
        reconnect_max_s=0.3,
        **kw,
    )


def _frames_hex(sub: Subscriber, address: str) -> set[str]:
    return {p["frame"] for p in sub.json_payloads() if p["source"]["device_address"] == address}


async def test_two_oximeters_reach_the_broker_as_valid_readings(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    settings = _settings(mosquitto, tmp_path, OXI_1, OXI_2)
    readings = Subscriber(mosquitto.port, reading_topic(settings.gateway_id))
    statuses = Subscriber(mosquitto.port, status_topic(settings.gateway_id))
    cont = world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05, model="Emu Cont")
    spot = world.add_oximeter(OXI_2, "PLX-02", scenario("stable"), interval=0.05, mode="spot-check")
    await world.start()
    gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
    run = asyncio.create_task(gateway.run(handle_signals=False))
    try:
        await until(
            lambda: len(_frames_hex(readings, OXI_1)) >= 10 and len(_frames_hex(readings, OXI_2)) >= 5,
            message="readings from both oximeters",
        )
        # Everything the oximeters sent up to now reaches the broker: nothing lost on the way.
        sent = {o.address: {s.data.hex() for s in o.sent} for o in (cont, spot)}
        await until(
            lambda: all(sent[a] <= _frames_hex(readings, a) for a in sent), message="every sent frame"
        )
        await until(
            lambda: any(
                [d["state"] for d in s.get("devices", [])] == ["connected", "connected"]
                for s in statuses.json_payloads()
            ),
            message="online status with both devices connected",
        )
    finally:
        gateway.stop()
        await asyncio.wait_for(run, 30)
        readings.close()
        statuses.close()
    validator = jsonschema.Draft202012Validator(READING_SCHEMA)
    payloads = readings.json_payloads()
    for payload in payloads:
        validator.validate(payload)
        assert payload["source"]["gateway_id"] == settings.gateway_id
    by_device = {p["source"]["device_address"]: p for p in payloads}
    assert by_device[OXI_1]["mode"] == "continuous"
    assert by_device[OXI_1]["source"]["model"] == "Emu Cont"
    assert by_device[OXI_2]["mode"] == "spot-check"
    assert by_device[OXI_2]["source"]["protocol"] == plx.SPOT_CHECK
    assert all(m.qos == 1 for m in readings.snapshot())
    assert statuses.json_payloads()[-1]["state"] == "offline"  # clean stop
    assert statuses.json_payloads()[-1]["reason"] == "shutdown"
    assert not cont.is_connected
    assert not spot.is_connected


async def test_availability_is_logged_once_each_way_and_readings_resume(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    settings = _settings(mosquitto, tmp_path, OXI_1)
    readings = Subscriber(mosquitto.port, reading_topic(settings.gateway_id))
    statuses = Subscriber(mosquitto.port, status_topic(settings.gateway_id))
    oxi = world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05)
    await world.start()
    gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
    run = asyncio.create_task(gateway.run(handle_signals=False))
    try:
        await until(lambda: len(readings.snapshot()) >= 5, message="first readings")
        session = gateway.sessions[0]
        await oxi.go_away()
        await until(lambda: session.state == "away", message="device away")
        await until(lambda: session.link.failed_attempts >= 4, message="several retries while away")
        await until(
            lambda: any(
                [d["state"] for d in s.get("devices", [])] == ["away"] for s in statuses.json_payloads()
            ),
            message="status says away",
        )
        before = {m.payload for m in readings.snapshot()}
        await oxi.come_back()
        await until(lambda: session.state == "connected", message="device back")
        # Subscribed again: new readings flow.
        await until(lambda: len({m.payload for m in readings.snapshot()} - before) >= 5, message="resumed")
    finally:
        gateway.stop()
        await asyncio.wait_for(run, 30)
        readings.close()
        statuses.close()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("gateway.device_session")]
    assert [m for m in messages if "out of reach" in m] == [
        f"Oximeter {OXI_1} is switched off or out of reach. "
        "No readings reach the ward until it is back within reach of the gateway."
    ]
    assert [m for m in messages if "is back and" in m] == [f"Oximeter {OXI_1} is back and being read again."]
    assert all(r.levelno == logging.INFO for r in caplog.records if "out of reach" in r.getMessage())


async def test_undecodable_frame_is_dead_lettered_and_the_rest_goes_on(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(mosquitto, tmp_path, OXI_1)
    readings = Subscriber(mosquitto.port, reading_topic(settings.gateway_id))
    world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05)
    await world.start()
    gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
    run = asyncio.create_task(gateway.run(handle_signals=False))
    try:
        await until(lambda: len(readings.snapshot()) >= 3, message="first readings")
        session = gateway.sessions[0]
        # Through the same entry point the BLE notification callback uses.
        for bad in (b"\x1f\x00", b"\xff" * 3):
            session.link.on_frame(Frame(plx.CONTINUOUS_UUID, bad, datetime.now(UTC)))
        await until(lambda: session.frames_rejected == 2, message="both bad frames rejected")
        count = len(readings.snapshot())
        await until(lambda: len(readings.snapshot()) >= count + 3, message="readings carry on")
        assert gateway.outbox is not None
        dead = gateway.outbox.dead_letters()
        assert [(d[0], d[2]) for d in dead] == [(OXI_1, b"\xff" * 3), (OXI_1, b"\x1f\x00")]
        assert all(d[3] for d in dead)  # each has a reason
    finally:
        gateway.stop()
        await asyncio.wait_for(run, 30)
        readings.close()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "could not read" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "1f00" in warnings[0]


async def test_two_gateways_in_one_loop_stop_together_on_sigterm(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path
) -> None:
    one = _settings(mosquitto, tmp_path, OXI_1)
    two = _settings(mosquitto, tmp_path, OXI_2)
    subs = [Subscriber(mosquitto.port, reading_topic(s.gateway_id)) for s in (one, two)]
    world.add_oximeter(OXI_1, "PLX-01", scenario("stable"), interval=0.05)
    world.add_oximeter(OXI_2, "PLX-02", scenario("stable"), interval=0.05)
    await world.start()
    gateways = [
        Gateway(s, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
        for s in (one, two)
    ]
    runs = [asyncio.create_task(g.run()) for g in gateways]
    try:
        await until(lambda: all(len(s.snapshot()) >= 5 for s in subs), message="readings from both gateways")
        for sub, address in zip(subs, (OXI_1, OXI_2), strict=True):
            assert {p["source"]["device_address"] for p in sub.json_payloads()} == {address}
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the gateways' loop handler, not fatal
        await asyncio.wait_for(asyncio.gather(*runs), 30)
    finally:
        for g in gateways:
            g.stop()
        await asyncio.gather(*runs, return_exceptions=True)
        for sub in subs:
            sub.close()
    for g in gateways:  # each shut down cleanly: its outbox is closed
        assert g.outbox is not None
        with pytest.raises(RuntimeError, match="closed"):
            g.outbox.pending(1)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw-0001")
    monkeypatch.setenv("OXIWARD_GATEWAY_MQTT_URL", "mqtts://broker.example.org")
    monkeypatch.setenv("OXIWARD_GATEWAY_DEVICES", " c0:ff:ee:00:00:01, C0:FF:EE:00:00:02,c0:ff:ee:00:00:01 ")
    monkeypatch.setenv("OXIWARD_GATEWAY_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("OXIWARD_GATEWAY_MQTT_PASSWORD", "s3cret-value")
    settings = load_settings()
    assert settings.devices == [OXI_1, OXI_2]
    assert (settings.mqtt_host, settings.mqtt_port, settings.mqtt_tls) == ("broker.example.org", 8883, True)
    assert settings.resolved_outbox_path == tmp_path / "outbox.sqlite3"
    assert settings.outbox_max_rows >= 7 * 24 * 3600 * 2  # a week of 1 Hz from two oximeters
    assert "s3cret-value" not in repr(settings)


def test_wrong_settings_stop_with_what_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw/1")
    monkeypatch.setenv("OXIWARD_GATEWAY_MQTT_URL", "http://broker:1883")
    monkeypatch.setenv("OXIWARD_GATEWAY_MQTT_PASSWORD", "s3cret-value")
    with pytest.raises(SystemExit) as exit_info:
        load_settings()
    message = str(exit_info.value.code)
    assert "OXIWARD_GATEWAY_GATEWAY_ID: use 1-64 characters" in message
    assert "OXIWARD_GATEWAY_MQTT_URL: must start with mqtt:// or mqtts://" in message
    assert "s3cret-value" not in message
    monkeypatch.setenv("OXIWARD_GATEWAY_GATEWAY_ID", "gw-1")
    monkeypatch.setenv("OXIWARD_GATEWAY_MQTT_URL", "mqtt://broker:1883")
    with pytest.raises(SystemExit, match="no oximeters to read: set OXIWARD_GATEWAY_DEVICES"):
        load_settings()
    monkeypatch.setenv("OXIWARD_GATEWAY_DEVICES", "C0:FF:EE:00:00:01,not-an-address")
    with pytest.raises(SystemExit, match="OXIWARD_GATEWAY_DEVICES: 'not-an-address' is not a BLE address"):
        load_settings()
