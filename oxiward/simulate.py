"""`oxiward simulate`: N emulated patients in one process, each read by a real gateway.

One BleWorld (bumble LocalLink) carries N emulated PLX oximeters; N `Gateway`s, each with its
own id, outbox and MQTT session, reach them through the emulator's bleak backends, exactly as a
home gateway reaches a real oximeter, and publish to the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import tempfile
from pathlib import Path
from typing import Any

from oxiward.enrol import ApiClient, Enrolment, enrol
from oxiward.service import configure_logging, exit_cleanly
from oxiward.settings_errors import load
from oxiward.sim_settings import ENV_PREFIX, SimSettings

_LOG = logging.getLogger("oxiward.simulate")
_FLAGS = {
    "patients": "patients", "scenario": "scenarios", "mode": "mode", "interval": "interval",
    "mqtt_url": "mqtt_url", "enrol_url": "enrol_url", "ward": "ward", "state_dir": "state_dir",
}  # fmt: skip


def settings_from(args: argparse.Namespace) -> SimSettings:
    """Flags given on the command line override OXIWARD_SIM_* variables."""
    overrides: dict[str, Any] = {
        field: getattr(args, flag) for flag, field in _FLAGS.items() if getattr(args, flag, None) is not None
    }
    flags = {field: "--" + flag.replace("_", "-") for flag, field in _FLAGS.items()}
    flags["scenarios"] = "--scenario"
    return load(lambda: SimSettings(**overrides), SimSettings, ENV_PREFIX, flags)


def enrolments(settings: SimSettings) -> list[Enrolment]:
    return [
        Enrolment(
            patient_id=f"{settings.gateway_prefix}-p{i + 1:02d}",
            # A ward-local reference, as a clinician would see it; the scenario helps a demo audience.
            ref=f"Bed {i + 1} ({settings.scenario_of(i)})",
            device=settings.device_address(i),
        )
        for i in range(settings.patients)
    ]


def run_simulate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging()
    # Until the event loop takes over the signals, SIGTERM (e.g. during enrolment) is a clean exit.
    signal.signal(signal.SIGTERM, exit_cleanly)
    if settings.enrol_url:
        assert settings.api_token is not None  # SimSettings requires it with enrol_url
        client = ApiClient(settings.enrol_url, settings.api_token.get_secret_value())
        for patient in enrolments(settings):
            enrol(client, settings.ward, patient)
        _LOG.info("enrolled %d simulated patients on ward %s", settings.patients, settings.ward)
    with contextlib.ExitStack() as stack:
        state_dir = settings.state_dir
        if state_dir is None:
            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oxiward-sim-")))
        return asyncio.run(_simulate(settings, state_dir))


async def _simulate(settings: SimSettings, state_dir: Path) -> int:
    from emulator.scenarios import scenario
    from emulator.world import BleWorld
    from gateway.app import Gateway
    from gateway.settings import GatewaySettings

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    password = settings.mqtt_password
    async with BleWorld() as world:
        gateways = []
        for i in range(settings.patients):
            address = settings.device_address(i)
            # A different seed per patient: two "stable" patients do not move in lockstep.
            world.add_oximeter(
                address, f"OXI-SIM-{i + 1:02d}", scenario(settings.scenario_of(i), seed=i),
                interval=settings.interval, mode=settings.mode,
            )  # fmt: skip
            gateway_id = settings.gateway_id(i)
            gateway_dir = state_dir / gateway_id
            gateway_settings = GatewaySettings(
                gateway_id=gateway_id, mqtt_url=settings.mqtt_url, mqtt_username=gateway_id,
                mqtt_password=password, devices=[address], state_dir=gateway_dir,
                outbox_path=gateway_dir / "outbox.sqlite3",
            )  # fmt: skip
            gateways.append(
                Gateway(
                    gateway_settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend
                )
            )
        await world.start()
        # Signals are ours (handle_signals=False): one Ctrl-C stops every gateway, each storing
        # what it has received before it returns.
        tasks = [
            asyncio.create_task(g.run(handle_signals=False), name=settings.gateway_id(i))
            for i, g in enumerate(gateways)
        ]
        heartbeat = asyncio.create_task(_heartbeat(state_dir / "heartbeat", settings.interval))
        stopper = asyncio.create_task(stop.wait())
        _LOG.info("simulating %d patients through gateways %s..%s", settings.patients,
                  settings.gateway_id(0), settings.gateway_id(settings.patients - 1))  # fmt: skip
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper]
        for gateway in gateways:
            gateway.stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        heartbeat.cancel()
        stopper.cancel()
        await asyncio.gather(heartbeat, stopper, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            _LOG.error("gateway %s failed: %r", task.get_name(), result)
    if failed:
        _LOG.error("a simulated gateway stopped on its own; stopping the simulator")
        return 1
    return 0


async def _heartbeat(path: Path, interval: float) -> None:
    """Touched while the gateways run: the container healthcheck reads its age."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(min(interval, 5.0))
