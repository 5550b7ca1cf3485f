"""Probes, the in-process ingest/worker lifecycle, OpenAPI and the ward page."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import redis
from fastapi.routing import _IncludedRouter  # what api/main.py `_build_routes` builds at startup

from api.main import create_app
from api.worker import heartbeat_key
from tests.api.rest_support import AUTH, TOKEN, api_client, running, settings
from tests.services import MosquittoBroker, RedisServer, free_port


async def _poll(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_liveness_is_open_and_needs_no_dependency(redis_url: str) -> None:
    async with api_client("redis://127.0.0.1:1/0") as client:  # nothing listens there
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_every_route_is_built_at_startup_not_by_the_first_request(redis_url: str) -> None:
    # FastAPI builds an included router's routes (parameter and response models) lazily, on the
    # first request matched against them: without api/main.py `_build_routes` the first request
    # after each start waits ~100 ms for all of them (docs/performance.md, the cold chart).
    app = create_app(settings(redis_url))
    included = [route for route in app.router.routes if isinstance(route, _IncludedRouter)]
    assert included, "FastAPI no longer builds routes lazily: _build_routes may go"
    assert all(route._effective_candidates_version is None for route in included)
    async with running(app):
        assert all(route._effective_candidates_version is not None for route in included)


async def test_ready_when_redis_and_broker_are_reachable(redis_url: str, mosquitto: MosquittoBroker) -> None:
    async with api_client(redis_url, mqtt_url=mosquitto.url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"redis", "broker"}  # no worker check: the worker is not enabled here
    assert all(c["ok"] for c in body["checks"].values())


async def test_unready_when_redis_is_down_and_ready_again_when_back(
    own_redis: RedisServer, mosquitto: MosquittoBroker
) -> None:
    async with api_client(own_redis.url, mqtt_url=mosquitto.url) as client:
        assert (await client.get("/readyz")).status_code == 200
        own_redis.stop()
        down = await client.get("/readyz")
        data = await client.get("/v1/wards", headers=AUTH)
        own_redis.start()

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await _poll(ready)
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert checks["redis"]["detail"]
    assert checks["broker"]["ok"] is True
    assert data.status_code == 503  # a data call while Redis is away: a clear problem, not a 500
    assert data.headers["content-type"] == "application/problem+json"


async def test_unready_when_the_broker_is_unreachable(redis_url: str) -> None:
    async with api_client(redis_url) as client:  # the default test broker URL is a closed port
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True


async def test_in_process_ingest_and_worker_start_report_ready_and_stop(
    redis_url: str, mosquitto: MosquittoBroker
) -> None:
    app = create_app(settings(redis_url, mqtt_url=mosquitto.url, run_ingest=True, run_worker=True))
    async with running(app) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await _poll(ready)
        checks = (await client.get("/readyz")).json()["checks"]
        ingest = app.state.ingest
        assert ingest is not None
        assert ingest.connected
    assert checks["broker"]["detail"] == "ingest connected to the broker"
    assert checks["worker"]["ok"] is True
    assert not ingest.connected  # stopped with the lifespan


async def test_unready_when_the_worker_heartbeat_is_stale(redis_url: str, mosquitto: MosquittoBroker) -> None:
    app = create_app(settings(redis_url, mqtt_url=mosquitto.url, run_worker=True, worker_name="w-probe"))
    async with running(app) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await _poll(ready)
        await asyncio.to_thread(app.state.worker.stop)  # as if its thread had died
        sync = redis.Redis.from_url(redis_url)
        try:
            sync.delete(heartbeat_key("w-probe"))  # what the key's TTL does a few seconds later
        finally:
            sync.close()
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "detail": "no fresh heartbeat from the evaluation worker",
    }


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OXIWARD_")}
    env.update({f"OXIWARD_API_{k.upper()}": v for k, v in values.items()})
    return env


async def test_python_m_api_serves_and_logs_no_token_or_patient_id(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        redis_url=redis_url,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",
        api_tokens=TOKEN,
        run_ingest="false",
        run_worker="false",
        port=str(port),
    )
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant; waiting is done off the loop
        [sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def up() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, (tmp_path / "api.log").read_text()
                    return False

            await _poll(up)
            body = {"patient_id": "p-never-logged", "ref": "Bed 1"}
            created = await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)
            fetched = await client.get("/v1/patients/p-never-logged", headers=AUTH)
            refused = await client.get(
                "/v1/patients/p-never-logged", headers={"Authorization": "Bearer nope"}
            )
    finally:
        proc.terminate()
        code = await asyncio.to_thread(proc.wait, 15)
        log.close()
    assert created.status_code == 201
    assert fetched.status_code == 200
    assert refused.status_code == 401
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM).
    assert code in (0, -signal.SIGTERM)
    output = (tmp_path / "api.log").read_text()
    assert "Application shutdown complete" in output
    # one access line per request, naming the route template (JSON logs, api/logs.py)
    assert "GET /v1/patients/{patient_id} 200" in output
    assert "p-never-logged" not in output
    assert TOKEN not in output
    assert "nope" not in output


def test_python_m_api_refuses_to_start_with_missing_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api"], env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "OXIWARD_API_REDIS_URL" in result.stderr
    assert "OXIWARD_API_API_TOKENS" in result.stderr
