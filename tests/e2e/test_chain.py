"""The whole chain, with nothing faked: emulated oximeter (bumble) → gateway (bleak, SQLite outbox,
paho) → real Mosquitto → the service as its own process (ingest, Redis, worker) → REST.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import BleWorld, EmulatedOximeter, scenario
from gateway.app import Gateway
from tests.chain_support import Service, gateway_reading, until
from tests.services import MosquittoBroker, RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TOKEN = "e2e-token-0123456789abcdef01"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TICK = 0.05  # emulated oximeter frame interval (s): 20 readings/s keeps the test short
WARD = "e2e-ward"


@pytest.fixture
def service(redis_url: str, own_mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[str]:
    """`python -m api` as a separate process, with ingest and the evaluation worker in it."""
    svc = Service(redis_url, own_mosquitto.url, tmp_path, TOKEN)
    svc.start()
    try:
        yield svc.url
    finally:
        svc.stop()


async def enrol(http: httpx.AsyncClient, patient_id: str, address: str) -> None:
    body = {"patient_id": patient_id, "ref": patient_id, "devices": [address]}
    r = await http.post(f"/v1/wards/{WARD}/patients", json=body)
    assert r.status_code == 201, r.text


async def history(http: httpx.AsyncClient, patient_id: str) -> list[dict[str, Any]]:
    """Every reading of the patient through the REST API, following the cursor to the end."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, "from": "2000-01-01T00:00:00Z"}
        if cursor:
            params["cursor"] = cursor
        r = await http.get(f"/v1/patients/{patient_id}/readings", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return out


async def settled(oxi: EmulatedOximeter, gateway: Gateway) -> None:
    """Stop the oximeter and wait until everything it sent has left the gateway's outbox."""
    await oxi.stop()
    outbox = gateway.outbox
    assert outbox is not None

    async def empty() -> bool:
        return outbox.depth() == 0

    await until(empty, 60, "the gateway outbox to drain")


def sent_frames(oxi: EmulatedOximeter) -> Counter[str]:
    return Counter(s.data.hex() for s in oxi.sent)


async def test_a_reading_reaches_rest_history_exactly_once(
    service: str, own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    address = "C0:FF:EE:E2:E0:01"
    async with (
        httpx.AsyncClient(base_url=service, headers=AUTH, timeout=10) as http,
        BleWorld(not_found_wait=0.5) as world,
    ):
        await enrol(http, "e2e-once", address)
        oxi = world.add_oximeter(address, "Oxi E2E 1", scenario("stable"), interval=TICK)
        await oxi.start()
        first_sent = time.monotonic()
        async with gateway_reading(world, own_mosquitto, tmp_path, address) as gateway:

            async def some() -> bool:
                return len(await history(http, "e2e-once")) > 0

            await until(some, 30, "the first reading in the REST history")
            first_seen = time.monotonic() - first_sent
            await asyncio.sleep(1.0)  # let a stream of readings build up behind the first
            await settled(oxi, gateway)

            async def complete() -> bool:
                return len(await history(http, "e2e-once")) >= oxi.frames_notified

            await until(complete, 60, "every notified frame to be stored")
        items = await history(http, "e2e-once")
    assert first_seen < 30
    assert oxi.frames_notified > 10
    ids = [i["reading_id"] for i in items]
    assert len(ids) == len(set(ids)), "a reading was stored twice"
    assert len(items) == oxi.frames_notified
    assert Counter(i["frame"] for i in items) == sent_frames(oxi)


async def test_a_red_patient_goes_to_the_top_of_the_ward_queue(
    service: str, own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    calm, red = "C0:FF:EE:E2:E0:11", "C0:FF:EE:E2:E0:12"
    async with (
        httpx.AsyncClient(base_url=service, headers=AUTH, timeout=10) as http,
        BleWorld(not_found_wait=0.5) as world,
    ):
        await enrol(http, "e2e-calm", calm)
        await enrol(http, "e2e-red", red)
        world.add_oximeter(calm, "Oxi calm", scenario("stable"), interval=TICK)
        drop = scenario("sudden-drop", stable_ticks=20, drop_to=86)
        world.add_oximeter(red, "Oxi red", drop, interval=TICK)
        await world.start()
        async with gateway_reading(world, own_mosquitto, tmp_path, calm, red):
            queue: list[dict[str, Any]] = []

            async def red_on_top() -> bool:
                nonlocal queue
                r = await http.get(f"/v1/wards/{WARD}/queue")
                assert r.status_code == 200, r.text
                queue = r.json()["items"]
                top = queue[0] if queue else {}
                worst = top.get("worst_alert") or {}
                return top.get("patient_id") == "e2e-red" and worst.get("priority") == "high"

            await until(red_on_top, 60, "the red patient at the top of the queue")
    by_id = {q["patient_id"]: q for q in queue}
    assert by_id["e2e-calm"]["worst_alert"] is None
    assert [q["patient_id"] for q in queue] == ["e2e-red", "e2e-calm"]


async def test_readings_taken_while_the_broker_is_down_arrive_once_it_is_back(
    service: str, own_mosquitto: MosquittoBroker, redis_server: RedisServer, tmp_path: Path
) -> None:
    address = "C0:FF:EE:E2:E0:21"
    async with (
        httpx.AsyncClient(base_url=service, headers=AUTH, timeout=10) as http,
        BleWorld(not_found_wait=0.5) as world,
    ):
        await enrol(http, "e2e-outage", address)
        oxi = world.add_oximeter(address, "Oxi outage", scenario("stable"), interval=TICK)
        await oxi.start()
        async with gateway_reading(world, own_mosquitto, tmp_path, address) as gateway:

            async def flowing() -> bool:
                return len(await history(http, "e2e-outage")) > 5

            await until(flowing, 30, "readings to flow before the outage")
            own_mosquitto.stop()
            during_start = oxi.frames_notified
            outbox = gateway.outbox
            assert outbox is not None

            async def backlog() -> bool:
                return outbox.depth() >= 40 and oxi.frames_notified - during_start >= 40

            await until(backlog, 30, "readings to pile up in the outbox while the broker is down")
            taken_during_outage = oxi.frames_notified - during_start
            own_mosquitto.start()
            await settled(oxi, gateway)

            async def complete() -> bool:
                n = len(await history(http, "e2e-outage"))
                return n >= oxi.frames_notified

            await until(complete, 90, "the backlog to arrive after the broker came back")
        items = await history(http, "e2e-outage")
    assert taken_during_outage >= 40
    ids = [i["reading_id"] for i in items]
    assert len(ids) == len(set(ids)), "a reading was stored twice"
    assert len(items) == oxi.frames_notified, "a reading was lost"
    assert Counter(i["frame"] for i in items) == sent_frames(oxi)
