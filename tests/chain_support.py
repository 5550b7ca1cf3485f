"""The running chain for the end-to-end (tests/e2e) and browser (tests/web) tests: the service as
its own process, a gateway reading emulated oximeters, and waiting for what they should bring about."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from emulator import BleWorld
from gateway.app import Gateway
from gateway.settings import GatewaySettings
from tests.services import MosquittoBroker, free_port, wait_for_port


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Service:
    """`python -m api` (REST, ingest, worker) on a fixed port, accepting `token`; stoppable and
    restartable. Its output is appended to `workdir`/api.log."""

    redis_url: str
    mqtt_url: str
    workdir: Path
    token: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OXIWARD_")}
        env.update(
            OXIWARD_API_REDIS_URL=self.redis_url,
            OXIWARD_API_MQTT_URL=self.mqtt_url,
            OXIWARD_API_API_TOKENS=self.token,
            OXIWARD_API_PORT=str(self.port),
            OXIWARD_API_MQTT_CLIENT_ID=f"test-ingest-{uuid.uuid4().hex[:8]}",
            OXIWARD_API_LOG_FORMAT="text",
        )
        with (self.workdir / "api.log").open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, timeout=60)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@asynccontextmanager
async def gateway_reading(
    world: BleWorld, broker: MosquittoBroker, tmp_path: Path, *addresses: str
) -> AsyncIterator[Gateway]:
    """A gateway (fast scan and reconnect) reading the emulated oximeters at `addresses`."""
    gid = f"gw-{uuid.uuid4().hex[:8]}"
    settings = GatewaySettings(
        gateway_id=gid,
        devices=list(addresses),
        mqtt_url=broker.url,
        outbox_path=tmp_path / f"{gid}.sqlite3",
        scan_timeout_s=1.0,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )
    gateway = Gateway(settings, ble_backend=world.client_backend, scanner_backend=world.scanner_backend)
    task = asyncio.create_task(gateway.run(handle_signals=False))
    try:
        yield gateway
    finally:
        gateway.stop()
        await asyncio.wait_for(task, timeout=30)
