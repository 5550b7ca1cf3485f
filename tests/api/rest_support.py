"""Shared helpers for the REST tests: settings, a running app with an httpx client, data writers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
from fastapi import FastAPI

from api.contract import validate_reading
from api.deps import utc_now
from api.main import create_app
from api.settings import ApiSettings
from api.store import Checked, Outcome, ReadingStore
from api.worker import EvaluationWorker
from tests.api import factories
from tests.services import free_port

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RETENTION_MS = 14 * 24 * 3600 * 1000


def settings(redis_url: str, mqtt_url: str | None = None, **overrides: Any) -> ApiSettings:
    """REST-only settings; the broker URL points at a closed port unless given."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mqtt_url": mqtt_url or f"mqtt://127.0.0.1:{free_port()}",
        "api_tokens": TOKEN,
        "run_ingest": False,
        "run_worker": False,
        # Webhook receivers in the tests listen on 127.0.0.1 (and example hosts do not resolve):
        # allowed here explicitly; tests of the refusal set it back to False.
        "webhook_allow_private": True,
    }
    values.update(overrides)
    return ApiSettings(**values)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered, and a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@asynccontextmanager
async def api_client(redis_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings(redis_url, **overrides))) as client:
        yield client


@asynccontextmanager
async def clocked_client(redis_url: str, now: datetime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose clock (api.deps.utc_now) says `now`: ages and times it answers are exact."""
    app = create_app(settings(redis_url))
    app.dependency_overrides[utc_now] = lambda: now
    async with running(app) as client:
        yield client


def store_readings(redis_url: str, payloads: list[dict[str, Any]]) -> None:
    """Store readings through the ingest path's own store (api/store.py), as MQTT ingest would."""
    client = redis.Redis.from_url(redis_url)
    try:
        store = ReadingStore(client, retention_ms=RETENTION_MS)
        batch = []
        for p in payloads:
            raw = factories.encode(p)
            value = validate_reading(factories.TOPIC, raw)
            batch.append(Checked(factories.TOPIC, raw, value))
        outcomes = store.store_batch(batch)
        assert outcomes == [Outcome.STORED] * len(payloads), outcomes
    finally:
        client.close()


def evaluate(redis_url: str, at: datetime | None = None) -> int:
    """Run the evaluation worker once over everything queued (alerts raised at `at`)."""
    clock: Callable[[], datetime] = (lambda: at) if at is not None else (lambda: datetime.now(UTC))
    client = redis.Redis.from_url(redis_url)
    try:
        worker = EvaluationWorker(settings(redis_url), client=client, clock=clock)
        return worker.run_once()
    finally:
        client.close()


def data_keys(r: redis.Redis) -> list[str]:
    """Every key but the security layer's own (audit stream, rate-limit buckets), which every
    authenticated request writes; for tests that check what a request did to the data."""
    found = [k.decode() if isinstance(k, bytes) else str(k) for k in r.keys("*")]
    return [k for k in found if k != "ox:audit" and not k.startswith("ox:rl:")]


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, including those of included routers."""
    import fastapi.routing

    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x
    routes: Any = iter_contexts(app.routes) if iter_contexts is not None else app.routes
    found = []
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None) or set()
        if path is None:
            continue
        found += [(m, path) for m in sorted(methods - {"HEAD"})]
    return found
