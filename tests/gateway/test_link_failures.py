"""Home failures of the Bluetooth side: the gateway keeps going, says what is wrong in plain words,
and the ward sees a device that stays away.

BlueZ cannot run here, so the failures it raises are injected at the third-party edge: bleak backend
classes (the emulator's, subclassed) that raise exactly what bleak raises on Linux. Everything of
ours — Gateway, DeviceLink, bleak-retry-connector, the MQTT side — is the real thing.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason

from emulator import BleWorld, scenario
from gateway.app import Gateway
from gateway.model import parse_utc
from tests.gateway.gateway_harness import running, settings_for, until
from tests.services import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

OXI = "C0:FF:EE:00:00:61"
# Exception text must never reach a carer's log: class names, D-Bus names, errno text, tracebacks.
TECHNICAL = re.compile(r"\b\w+(Error|Exception)\b|org\.(bluez|freedesktop)|Errno|Traceback|errno")


@pytest.fixture
async def world() -> AsyncIterator[BleWorld]:
    async with BleWorld(not_found_wait=0.5) as w:
        yield w


def _failing(base: type, method: str) -> type:
    """`base` whose `method` raises the class attribute `failure` while it is set."""

    class Failing(base):  # type: ignore[misc, valid-type]
        failure: ClassVar[BaseException | None] = None

        async def _call(self, *args: Any, **kwargs: Any) -> Any:
            if type(self).failure is not None:
                raise type(self).failure
            return await getattr(super(), method)(*args, **kwargs)

    setattr(Failing, method, Failing._call)
    return Failing


def _plain(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        if record.levelno >= logging.INFO and record.name.startswith("gateway"):
            message = record.getMessage()
            assert record.exc_info is None, message
            assert not TECHNICAL.search(message), message


async def test_adapter_switched_off_then_on(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    world.add_oximeter(OXI, "PLX-61", scenario("stable"), interval=0.05)
    await world.start()
    scanner = _failing(world.scanner_backend, "start")
    scanner.failure = BleakBluetoothNotAvailableError(  # what bleak's BlueZ manager raises
        "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.POWERED_OFF
    )
    settings = settings_for(mosquitto, tmp_path, devices=[OXI])
    readings_before_fix = 0
    gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=scanner)
    async with running(settings, world, mosquitto, gateway=gateway) as gw:
        await until(lambda: (gw.device_status(OXI) or {}).get("state") == "away", message="away on status")
        session = gw.gateway.sessions[0]
        await until(lambda: session.link.failed_attempts >= 5, message="several retries")
        readings_before_fix = len(gw.readings())
        status = gw.device_status(OXI)
        assert status is not None
        since = parse_utc(status["since"])
        assert since <= datetime.now(UTC)
        scanner.failure = None  # someone ran `bluetoothctl power on`
        await until(lambda: len(gw.readings(OXI)) >= 3, message="readings once Bluetooth is on")
        await until(lambda: (gw.device_status(OXI) or {}).get("state") == "connected", message="connected")
    assert readings_before_fix == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Bluetooth is switched off on the gateway, so no oximeter can be read. Technician: run "
        "`bluetoothctl power on` (and `rfkill unblock bluetooth` if it is blocked)."
    ]
    assert "The gateway's Bluetooth is working again." in caplog.messages
    _plain(caplog)


@pytest.mark.parametrize(
    ("failure", "said", "debug"),
    [
        (
            OSError(errno.EIO, "Input/output error"),
            "The gateway had Bluetooth trouble talking to oximeter",
            "OSError: [Errno 5] Input/output error",
        ),
        # bleak-retry-connector retries this one, then wraps it in its BleakConnectionError
        (
            BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            ),
            "The gateway has no working Bluetooth adapter",
            "No Bluetooth adapters found.",
        ),
    ],
)
async def test_connect_failures_are_said_once_and_retried(
    mosquitto: MosquittoBroker,
    world: BleWorld,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failure: BaseException,
    said: str,
    debug: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    world.add_oximeter(OXI, "PLX-61", scenario("stable"), interval=0.05)
    await world.start()
    client = _failing(world.client_backend, "connect")
    client.failure = failure
    settings = settings_for(mosquitto, tmp_path, devices=[OXI])
    gateway = Gateway(settings, ble_backend=client, scanner_backend=world.scanner_backend)
    async with running(settings, world, mosquitto, gateway=gateway) as gw:
        session = gw.gateway.sessions[0]
        await until(lambda: session.link.failed_attempts >= 4, message="several failed connects")
        assert not gw.gateway.sessions[0].link.connections
        client.failure = None
        await until(lambda: len(gw.readings(OXI)) >= 3, message="readings after the fault clears")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(said)
    assert any(debug in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    _plain(caplog)


async def test_a_device_that_disappears_is_away_with_since_on_the_status_and_comes_back(
    mosquitto: MosquittoBroker, world: BleWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    oxi = world.add_oximeter(OXI, "PLX-61", scenario("stable"), interval=0.05, mode="both", storage=True)
    await world.start()
    config = tmp_path / "gateway.toml"
    config.write_text(f'[[devices]]\naddress = "{OXI}"\nlabel = "Bedroom"\n')
    settings = settings_for(mosquitto, tmp_path, config=config)
    async with running(settings, world, mosquitto) as gw:
        await until(lambda: len(gw.readings(OXI)) >= 3, message="readings")
        connected = gw.device_status(OXI)
        assert connected is not None
        assert connected["label"] == "Bedroom"
        await oxi.go_away()
        await until(lambda: (gw.device_status(OXI) or {}).get("state") == "away", message="away on status")
        away = gw.device_status(OXI)
        assert away is not None
        assert parse_utc(away["since"]) > parse_utc(connected["since"])
        heartbeats = len(gw.statuses())
        await until(lambda: len(gw.statuses()) >= heartbeats + 2, message="heartbeats while away")
        assert all(d["state"] == "away" for d in gw.statuses()[-1]["devices"])  # still raised, not a blip
        await oxi.come_back()
        await until(lambda: (gw.device_status(OXI) or {}).get("state") == "connected", message="back")
    said = [r.getMessage() for r in caplog.records if r.name == "gateway.device_session"]
    assert said[:3] == [
        "Oximeter 'Bedroom' is connected and being read (Oxiward PLX emulator).",
        "Oximeter 'Bedroom' is switched off or out of reach. "
        "Readings taken while it is away are kept on the oximeter.",
        "Oximeter 'Bedroom' is back and being read again.",
    ]
    _plain(caplog)
