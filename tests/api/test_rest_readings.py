"""Reading history over REST: measured-time filtering and cursor paging, with readings stored
through the ingest path's own store (api/store.py) into a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio

from api.queries import readings_page
from tests.api import factories
from tests.api.rest_support import AUTH, api_client, store_readings

PID = "p-hist"
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=10)


async def _enrol(client: httpx.AsyncClient) -> None:
    body = {"patient_id": PID, "ref": "Bed 1", "devices": [factories.DEVICE]}
    response = await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)
    assert response.status_code == 201


def _minutes(n: int) -> list[dict[str, Any]]:
    """One reading per minute from T0; spo2 encodes the minute so items can be identified."""
    return [
        factories.payload(measured_at=T0 + timedelta(minutes=i), spo2=float(i % 100), seq=i) for i in range(n)
    ]


async def _all_pages(client: httpx.AsyncClient, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        query = dict(params) | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/v1/patients/{PID}/readings", params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= params.get("limit", 100)
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100, "paging does not terminate"


async def test_pages_cover_the_measured_range_without_gaps_or_repeats(redis_url: str) -> None:
    payloads = _minutes(250)
    async with api_client(redis_url) as client:
        await _enrol(client)
        store_readings(redis_url, payloads)
        start, end = T0 + timedelta(minutes=30), T0 + timedelta(minutes=200)
        items, pages = await _all_pages(
            client, {"from": start.isoformat(), "to": end.isoformat(), "limit": 40}
        )
    expected = [p["reading_id"] for p in payloads[30:200]]  # [from, to): 200 itself excluded
    assert [i["reading_id"] for i in items] == expected
    assert pages == 5  # 170 items at 40 a page
    first = items[0]
    assert first["measured_at"] == factories.iso_ms(start)
    assert first["spo2"] == 30.0
    assert first["source"]["device_address"] == factories.DEVICE
    assert first["late"] is True  # measured hours before it was stored


async def test_paging_everything_while_new_readings_arrive(redis_url: str) -> None:
    payloads = _minutes(120)
    async with api_client(redis_url) as client:
        await _enrol(client)
        store_readings(redis_url, payloads[:100])
        first = (await client.get(f"/v1/patients/{PID}/readings", params={"limit": 60}, headers=AUTH)).json()
        store_readings(redis_url, payloads[100:])  # arrive between two pages
        rest, _ = await _all_pages(client, {"limit": 60, "cursor": first["next_cursor"]})
    ids = [i["reading_id"] for i in first["items"] + rest]
    assert ids == [p["reading_id"] for p in payloads]


async def test_late_arrivals_inside_the_range_are_found_after_later_readings(redis_url: str) -> None:
    recent = [factories.payload(measured_at=NOW - timedelta(minutes=5 - i), seq=i) for i in range(3)]
    backfill = [factories.payload(measured_at=T0 + timedelta(minutes=i), seq=100 + i) for i in range(3)]
    async with api_client(redis_url) as client:
        await _enrol(client)
        store_readings(redis_url, recent)
        store_readings(redis_url, backfill)  # an outbox replayed after hours offline
        window = {
            "from": (T0 - timedelta(minutes=1)).isoformat(),
            "to": (T0 + timedelta(hours=1)).isoformat(),
        }
        in_window, _ = await _all_pages(client, window)
        everything, _ = await _all_pages(client, {})
    assert [i["reading_id"] for i in in_window] == [p["reading_id"] for p in backfill]
    # Stream (ingest) order, documented: the late ones come after those stored before them.
    assert [i["reading_id"] for i in everything] == [p["reading_id"] for p in recent + backfill]
    assert [i["late"] for i in everything] == [False] * 3 + [True] * 3


async def test_reading_measured_slightly_after_it_was_stored_is_not_missed(redis_url: str) -> None:
    """A gateway clock running two minutes fast: measured time after ingest time."""
    ahead = factories.payload(measured_at=datetime.now(UTC) + timedelta(minutes=2), seq=1)
    async with api_client(redis_url) as client:
        await _enrol(client)
        store_readings(redis_url, [ahead])
        start = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        items, _ = await _all_pages(client, {"from": start})
    assert [i["reading_id"] for i in items] == [ahead["reading_id"]]


async def test_scan_budget_gives_short_pages_but_loses_nothing(redis_url: str) -> None:
    payloads = _minutes(60)
    async with api_client(redis_url) as client:
        await _enrol(client)
    store_readings(redis_url, payloads)
    r = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        start, end = T0 + timedelta(minutes=50), T0 + timedelta(minutes=55)
        page = await readings_page(r, PID, start, end, limit=10, budget=7)
        collected, short_pages = list(page.items), 0
        while page.next_cursor is not None:
            short_pages += len(page.items) < 10
            page = await readings_page(r, PID, start, end, limit=10, cursor=page.next_cursor, budget=7)
            collected += page.items
    finally:
        await r.aclose()
    assert [i["reading_id"] for i in collected] == [p["reading_id"] for p in payloads[50:55]]
    assert short_pages >= 5  # pages with fewer than `limit` (often zero) items still had a cursor


async def test_errors_are_problem_details(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await _enrol(client)
        url = f"/v1/patients/{PID}/readings"
        bad_cursor = await client.get(url, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=AUTH)
        garbage_cursor = await client.get(url, params={"cursor": "%%%"}, headers=AUTH)
        too_many = await client.get(url, params={"limit": 1001}, headers=AUTH)
        naive = await client.get(url, params={"from": "2025-01-14T09:00:00"}, headers=AUTH)
        unknown = await client.get("/v1/patients/p-nobody/readings", headers=AUTH)
        empty = await client.get(url, headers=AUTH)
    for response, status in (
        (bad_cursor, 400),
        (garbage_cursor, 400),
        (too_many, 422),
        (naive, 422),
        (unknown, 404),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]
    assert empty.json() == {"items": [], "next_cursor": None}
