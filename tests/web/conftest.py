"""Fixtures of the browser tests: the service as its own process on the shared test Redis and
broker (tests/conftest.py), an administrator's REST client, and a headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.services import MosquittoBroker
from tests.web.support import AUTH, TOKEN, Service, launch

# Several suites share two loaded cores: give each on-page expectation time (it polls, so a fast
# machine still passes at once).
expect.set_options(timeout=15_000)


@pytest.fixture
def service(redis_url: str, mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[Service]:
    svc = Service(redis_url, mosquitto.url, tmp_path, TOKEN)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
async def admin(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await launch(pw)
        try:
            yield chromium
        finally:
            await chromium.close()
