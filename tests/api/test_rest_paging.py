"""Paging the devices, gateways, enrolments and webhooks lists a little at a time: following
`next_cursor` gives every item the caller may see exactly once (no gaps, no repeats), every page
keeps to the caller's wards (or own subscriptions) and the filters, and a cursor carries a position
only: replayed by someone else, or with another filter, it shows only what they may see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api.rest_support import AUTH, running, settings
from tests.api.security_support import WARD_A, WARD_B, api_key, bearer

PER_WARD = 4
LIMIT = 2
#: Items per list, keyed by their id field.
ID_OF = {
    "devices": "address",
    "gateways": "gateway_id",
    "enrolments": "enrolment_id",
    "webhooks": "subscription_id",
}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


def _address(i: int, ward: str) -> str:
    # Ward A's and ward B's devices alternate in address order, so pages mix both before filtering.
    return f"C0:FF:EE:00:{i:02X}:0{ward[-1].upper()}"


async def _seed(client: httpx.AsyncClient) -> None:
    """Per ward: patients admitted with a device each (admissions alternate wards) and gateways;
    plus unassigned devices (the pool) and a gateway without a ward."""
    for i in range(PER_WARD):
        for ward in (WARD_A, WARD_B):
            body = {"ward_id": ward, "ref": f"Bed {i}", "devices": [_address(i, ward)]}
            assert (await client.post("/v1/enrolments", json=body, headers=AUTH)).status_code == 201
            gateway = {"gateway_id": f"gw-{i}-{ward}", "ward_id": ward}
            assert (await client.post("/v1/gateways", json=gateway, headers=AUTH)).status_code == 201
        pool = {"address": _address(i, "c")}
        assert (await client.post("/v1/devices", json=pool, headers=AUTH)).status_code == 201
    legacy = await client.post("/v1/gateways", json={"gateway_id": "gw-legacy"}, headers=AUTH)
    assert legacy.status_code == 201


async def _walk(
    client: httpx.AsyncClient, kind: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item of the list, following `next_cursor` with `limit=LIMIT`; and the cursors seen."""
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor = None
    for _ in range(50):
        query = {**(params or {}), "limit": str(LIMIT)} | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/v1/{kind}", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= LIMIT
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, cursors
        cursors.append(cursor)
    raise AssertionError(f"/v1/{kind} did not end")


def _ids(kind: str, items: list[dict[str, Any]]) -> list[str]:
    return [item[ID_OF[kind]] for item in items]


async def _everything(client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/{kind}", params={"limit": "500"}, headers=AUTH)
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize("kind", ["devices", "gateways", "enrolments"])
async def test_ward_lists_page_without_gaps_or_repeats_within_the_callers_wards(
    client: httpx.AsyncClient, kind: str
) -> None:
    await _seed(client)
    role = "ward-administrator"  # holds devices:write (gateways) and ward:read
    ward_a = bearer((await api_key(client, role, [WARD_A]))["api_key"])
    everything = await _everything(client, kind)
    pool = {d["address"] for d in everything if d.get("ward_id") is None} if kind == "devices" else set()
    expected = {item[ID_OF[kind]] for item in everything if item.get("ward_id") == WARD_A} | pool

    as_admin, _ = await _walk(client, kind, AUTH)
    mine, cursors = await _walk(client, kind, ward_a)
    only_a, _ = await _walk(client, kind, ward_a, {"ward_id": WARD_A})

    assert _ids(kind, as_admin) == _ids(kind, everything)  # pages add up to the whole list, in order
    assert len(everything) >= 2 * PER_WARD
    assert len(cursors) >= 2
    assert sorted(_ids(kind, mine)) == sorted(expected)
    assert len(set(_ids(kind, mine))) == len(mine)
    assert {item.get("ward_id") for item in mine} <= {WARD_A, None}
    assert sorted(_ids(kind, only_a)) == sorted(expected - pool)
    # A cursor minted by an administrator, replayed by ward A: a position, never ward B's items.
    _, admin_cursors = await _walk(client, kind, AUTH)
    for cursor in admin_cursors:
        page = (await client.get(f"/v1/{kind}", params={"cursor": cursor}, headers=ward_a)).json()
        assert {item.get("ward_id") for item in page["items"]} <= {WARD_A, None}
    # Or bound to its list: another list's cursor is refused.
    other = "gateways" if kind != "gateways" else "devices"
    refused = await client.get(f"/v1/{other}", params={"cursor": cursors[0]}, headers=ward_a)
    assert refused.status_code == 400


async def test_webhook_subscriptions_page_within_their_owner(client: httpx.AsyncClient) -> None:
    owners = {}
    for name, count in (("first", 3), ("second", 2)):
        key = await api_key(client, "integrator", [WARD_A], name=name)
        owners[name] = bearer(key["api_key"])
        for i in range(count):
            body = {"url": f"https://epr.example/{name}/{i}", "events": ["alert.raised"]}
            created = await client.post("/v1/webhooks", json=body, headers=owners[name])
            assert created.status_code == 201, created.text
    first, first_cursors = await _walk(client, "webhooks", owners["first"])
    second, _ = await _walk(client, "webhooks", owners["second"])
    everyone, _ = await _walk(client, "webhooks", AUTH)
    replayed = [
        (await client.get("/v1/webhooks", params={"cursor": c}, headers=owners["second"])).json()
        for c in first_cursors
    ]
    assert len(first) == 3
    assert len(second) == 2
    assert {w["url"].split("/")[3] for w in first} == {"first"}
    assert {w["url"].split("/")[3] for w in second} == {"second"}
    assert sorted(_ids("webhooks", everyone)) == sorted(_ids("webhooks", first + second))
    assert len(set(_ids("webhooks", everyone))) == 5
    for page in replayed:
        assert {w["url"].split("/")[3] for w in page["items"]} <= {"second"}
