"""Running the real Gateway against emulated oximeters (bumble, via bleak) and a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry, Resource

from emulator import BleWorld
from gateway.app import Gateway
from gateway.payload import reading_topic, status_topic
from gateway.settings import GatewaySettings
from tests.gateway.mqtt_helpers import Subscriber
from tests.services import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
READING_SCHEMA = json.loads((ROOT / "docs" / "contract" / "reading.v1.schema.json").read_text())
STATUS_SCHEMA = json.loads((ROOT / "docs" / "contract" / "status.v1.schema.json").read_text())
READINGS = jsonschema.Draft202012Validator(READING_SCHEMA)
STATUSES = jsonschema.Draft202012Validator(
    STATUS_SCHEMA,
    registry=Registry().with_resource(READING_SCHEMA["$id"], Resource.from_contents(READING_SCHEMA)),
)


async def until(condition: Callable[[], bool], within: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {message}")
        await asyncio.sleep(0.02)


def settings_for(broker: MosquittoBroker, tmp_path: Path, **kw: Any) -> GatewaySettings:
    gid = kw.pop("gateway_id", f"gw-{uuid.uuid4().hex[:10]}")
    kw.setdefault("scan_timeout_s", 0.5)
    kw.setdefault("reconnect_min_s", 0.05)
    kw.setdefault("reconnect_max_s", 0.3)
    kw.setdefault("heartbeat_s", 1.0)
    return GatewaySettings(gateway_id=gid, mqtt_url=broker.url, outbox_path=tmp_path / f"{gid}.sqlite3", **kw)


class Running:
    """A started Gateway plus subscribers to its reading and status topics."""

    def __init__(self, gateway: Gateway, readings: Subscriber, statuses: Subscriber) -> None:
        self.gateway, self.readings_sub, self.statuses_sub = gateway, readings, statuses

    def readings(self, address: str | None = None) -> list[dict[str, Any]]:
        out = [p for p in self.readings_sub.json_payloads() if isinstance(p, dict)]
        return [p for p in out if address is None or p["source"]["device_address"] == address]

    def statuses(self) -> list[dict[str, Any]]:
        return [p for p in self.statuses_sub.json_payloads() if isinstance(p, dict)]

    def device_status(self, address: str) -> dict[str, Any] | None:
        for status in reversed(self.statuses()):
            for device in status.get("devices", []):
                if device["address"] == address:
                    return dict(device)
        return None


@contextlib.asynccontextmanager
async def running(
    settings: GatewaySettings, world: BleWorld, broker: MosquittoBroker, *, gateway: Gateway | None = None
) -> AsyncIterator[Running]:
    """The gateway (by default on the world's backends) running, with subscribers; every payload it
    published is checked against the contract schemas at the end."""
    readings = Subscriber(broker.port, reading_topic(settings.gateway_id))
    statuses = Subscriber(broker.port, status_topic(settings.gateway_id))
    if gateway is None:
        gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
    task = asyncio.create_task(gateway.run(handle_signals=False))
    try:
        await until(lambda: gateway.ready.is_set() or task.done(), message="gateway started")
        yield Running(gateway, readings, statuses)
    finally:
        gateway.stop()
        await asyncio.wait_for(task, 30)
        readings.close()
        statuses.close()
    for payload in [p for p in readings.json_payloads() if isinstance(p, dict)]:
        READINGS.validate(payload)
    for status in [p for p in statuses.json_payloads() if isinstance(p, dict)]:
        STATUSES.validate(status)
