"""`GET /v1/wards`: paged by cursor and filtered like the other lists, limited to the caller's wards
before paging, so neither a page nor a cursor says anything about a ward not granted."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.api.integration_support import admit, api_key
from tests.api.rest_support import AUTH, api_client


async def _pages(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    pages, cursor = [], None
    for _ in range(20):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/wards", params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the ward cursor never ended")


async def _ward(client: httpx.AsyncClient, ward_id: str, name: str) -> None:
    created = await client.post("/v1/wards", json={"ward_id": ward_id, "name": name}, headers=AUTH)
    assert created.status_code == 201, created.text


async def test_wards_page_by_cursor_and_filter_by_name_and_patients(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        for i, name in enumerate(["North VW", "South VW", "North Respiratory", "East", "West VW"]):
            await _ward(client, f"w-{i}", name)
        await admit(client, "w-2", "Bed 1")
        await admit(client, "implicit-9", "Bed 2")  # exists through an enrolment, no name
        pages = await _pages(client, AUTH, limit=2)
        north = await _pages(client, AUTH, name="nORTH")
        busy = await _pages(client, AUTH, has_patients="true")
        idle = await _pages(client, AUTH, has_patients="false", limit=2)
        alien = base64.urlsafe_b64encode(b"patients:w-1").decode().rstrip("=")
        foreign = await client.get("/v1/wards", params={"cursor": alien}, headers=AUTH)
        too_big = await client.get("/v1/wards", params={"limit": 501}, headers=AUTH)
    seen = [w["ward_id"] for p in pages for w in p["items"]]
    assert seen == ["implicit-9", "w-0", "w-1", "w-2", "w-3", "w-4"]
    assert [len(p["items"]) for p in pages] == [2, 2, 2, 0]  # a full page may have an empty sequel
    assert all(p["wards"] == [w["ward_id"] for w in p["items"]] for p in pages)
    assert pages[0]["items"][0] == {
        "ward_id": "implicit-9", "name": None, "description": None, "created_at": None, "patients": 1,
    }  # fmt: skip
    assert [w["name"] for p in north for w in p["items"]] == ["North VW", "North Respiratory"]
    assert [w["ward_id"] for p in busy for w in p["items"]] == ["implicit-9", "w-2"]
    assert [w["ward_id"] for p in idle for w in p["items"]] == ["w-0", "w-1", "w-3", "w-4"]
    assert foreign.status_code == 400
    assert foreign.headers["content-type"] == "application/problem+json"
    assert too_big.status_code == 422


async def test_a_ward_limited_caller_pages_only_its_wards_and_cursors_name_only_them(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        for i in range(8):
            await _ward(client, f"w-{i}", f"Ward {i}")
        granted = ["w-1", "w-4", "w-6"]
        clinician = await api_key(client, "clinician", granted)
        pages = await _pages(client, clinician, limit=1)
        filtered = await _pages(client, clinician, name="Ward 5")
    assert [w["ward_id"] for p in pages for w in p["items"]] == granted
    cursors = [p["next_cursor"] for p in pages if p["next_cursor"]]
    decoded = [base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode() for c in cursors]
    assert decoded == ["wards:w-1", "wards:w-4", "wards:w-6"]  # positions among the caller's own wards
    assert [w for p in filtered for w in p["items"]] == []
    for page in pages + filtered:
        for hidden in ("w-0", "w-2", "w-3", "w-5", "w-7"):
            assert hidden not in str(page)
