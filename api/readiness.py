"""Readiness checks: can this process do its job right now? Each check answers within a short bound."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.settings import ApiSettings
from api.worker import heartbeat_key

#: A readiness probe must answer well inside a load balancer's / kubelet's probe timeout
#: (commonly 1-5 s), so each check gets at most this long.
CHECK_TIMEOUT_S = 2.0
#: Default broker ports (MQTT over TCP / over TLS, IANA registrations).
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class ConnectedProbe(Protocol):
    @property
    def connected(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


async def check_redis(r: Redis) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await r.ping()
    except TimeoutError:
        return Check(False, f"no answer to PING within {CHECK_TIMEOUT_S} s")
    except (RedisError, OSError) as err:
        return Check(False, f"PING failed: {type(err).__name__}")
    return Check(True, "PING answered")


async def check_broker(settings: ApiSettings, ingest: ConnectedProbe | None) -> Check:
    """In-process ingest: its MQTT session state. Otherwise: can we open a TCP connection?"""
    if ingest is not None:
        if ingest.connected:
            return Check(True, "ingest connected to the broker")
        return Check(False, "ingest is not connected to the broker")
    url = urlparse(settings.mqtt_url)
    host = url.hostname or "localhost"
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 1883)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Check(False, f"no TCP connection to the broker within {CHECK_TIMEOUT_S} s")
    except OSError as err:
        return Check(False, f"broker unreachable: {type(err).__name__}")
    writer.close()
    # The broker may reset a connection that never sent CONNECT: it was still reachable.
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Check(True, "broker accepts TCP connections")


async def check_worker(r: Redis, worker_name: str) -> Check:
    """The evaluation worker refreshes a heartbeat key with a TTL; an absent key means stale."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            alive = await r.exists(heartbeat_key(worker_name))
    except (TimeoutError, RedisError, OSError) as err:
        return Check(False, f"heartbeat unreadable: {type(err).__name__}")
    if alive:
        return Check(True, "heartbeat fresh")
    return Check(False, "no fresh heartbeat from the evaluation worker")


async def readiness(r: Redis, settings: ApiSettings, ingest: ConnectedProbe | None) -> dict[str, Check]:
    checks = {"redis": check_redis(r), "broker": check_broker(settings, ingest)}
    if settings.run_worker:
        checks["worker"] = check_worker(r, settings.worker_name)
    results = await asyncio.gather(*checks.values())
    return dict(zip(checks, results, strict=True))
