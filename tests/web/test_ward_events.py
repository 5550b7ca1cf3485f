"""The ward's live event stream (Server-Sent Events) over a real connection to the service process:
authenticated, scoped to the ward, and carrying a patient's new row and alert as they happen."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio

from api.ward_events import WardStream
from tests.web.support import PASSWORD, Service, make_ward, store_spot_checks

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MINE, THEIRS = "C0:FF:EE:E6:03:01", "C0:FF:EE:E6:03:02"


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event name, data) as the stream delivers them."""
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            yield name, json.loads(data)
            name, data = "", ""


async def test_the_stream_sends_new_rows_and_alerts_of_its_ward_only(
    service: Service, admin: httpx.AsyncClient
) -> None:
    ward = await make_ward(admin, ("p-mine", "Bed 1", MINE))
    other = await make_ward(admin, ("p-theirs", "Bed 1", THEIRS))
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as browser:
        url = f"/v1/wards/{ward.ward_id}/events"
        assert (await browser.get(url)).status_code == 401
        signed = await browser.post(
            "/v1/web/session", json={"username": ward.clinician, "password": PASSWORD}
        )
        assert signed.status_code == 200
        assert (await browser.get(f"/v1/wards/{other.ward_id}/events")).status_code == 403
        seen: list[tuple[str, Any]] = []
        async with browser.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            stream = events(response)
            assert (await anext(stream))[0] == "hello"
            store_spot_checks(service.redis_url, THEIRS, 85)  # another ward: never on this stream
            store_spot_checks(service.redis_url, MINE, 86)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(n == "alert" for n, _ in seen):
                seen.append(await asyncio.wait_for(anext(stream), timeout=30))
    rows = [item for n, d in seen if n == "rows" for item in d["items"]]
    alerts = [d for n, d in seen if n == "alert"]
    assert {r["patient_id"] for r in rows} == {"p-mine"}
    assert rows[-1]["latest"]["spo2"] == 86
    assert alerts[0]["event"] == "raised"
    assert alerts[0]["priority"] == "high"
    assert alerts[0]["ref"] == "Bed 1"
    assert alerts[0]["patient_id"] == "p-mine"


async def test_a_stream_ends_with_bye_when_its_time_is_up(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)

    async def allowed() -> bool:
        return True

    try:
        names = []
        async for chunk in WardStream(client, "w-none", lifetime_s=0.5, allowed=allowed).events():
            names.append(chunk.decode().split("\n")[0])
        assert names[0] == "retry: 2000"
        assert names[1] == "event: hello"
        assert names[-1] == "event: bye"
    finally:
        await client.aclose()
