"""Gateways belong to a ward: a ward administrator registers them on a ward it is granted, lists
only its wards' gateways, and cannot read, rotate (getting a new password) or revoke another ward's,
nor one registered before gateways had wards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis

from api.main import create_app
from tests.api.rest_support import AUTH, data_keys, running, settings
from tests.api.security_support import WARD_A, WARD_B, api_key, bearer

LEGACY = "gw-legacy"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


async def _register(client: httpx.AsyncClient, gateway_id: str, ward: str | None) -> None:
    body = {"gateway_id": gateway_id} | ({"ward_id": ward} if ward else {})
    response = await client.post("/v1/gateways", json=body, headers=AUTH)
    assert response.status_code == 201, response.text


async def test_a_ward_administrator_registers_gateways_on_its_own_wards_only(
    client: httpx.AsyncClient,
) -> None:
    ward_a = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    no_ward = await client.post("/v1/gateways", json={"gateway_id": "gw-1"}, headers=ward_a)
    other = await client.post("/v1/gateways", json={"gateway_id": "gw-2", "ward_id": WARD_B}, headers=ward_a)
    own = await client.post("/v1/gateways", json={"gateway_id": "gw-3", "ward_id": WARD_A}, headers=ward_a)
    listed = (await client.get("/v1/gateways", headers=AUTH)).json()
    assert no_ward.status_code == 422
    assert "ward_id" in no_ward.json()["detail"]
    assert other.status_code == 403
    assert own.status_code == 201, own.text
    assert [(g["gateway_id"], g["ward_id"]) for g in listed["items"]] == [("gw-3", WARD_A)]


async def test_another_wards_gateway_is_neither_shown_nor_managed(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await _register(client, "gw-a", WARD_A)
    await _register(client, "gw-b", WARD_B)
    await _register(client, LEGACY, None)  # registered before gateways had wards
    ward_a = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        before = {k: r.dump(k) for k in data_keys(r)}
        listed = await client.get("/v1/gateways", headers=ward_a)
        filtered = await client.get("/v1/gateways", params={"ward_id": WARD_B}, headers=ward_a)
        refused = [
            await client.request(method, f"/v1/gateways/{gid}{suffix}", json=body, headers=ward_a)
            for gid in ("gw-b", LEGACY)
            for method, suffix, body in (
                ("GET", "", None),
                ("POST", "/credentials", None),
                ("POST", "/revoke", {"reason": "taken"}),
            )
        ]
        after = {k: r.dump(k) for k in data_keys(r)}
    finally:
        r.close()
    missing = await client.get("/v1/gateways/gw-nowhere", headers=ward_a)
    own = await client.post("/v1/gateways/gw-a/credentials", headers=ward_a)
    everyone = await client.get("/v1/gateways", headers=AUTH)
    assert [g["gateway_id"] for g in listed.json()["items"]] == ["gw-a"]
    assert filtered.status_code == 403
    for response in refused:
        assert response.status_code == 403, response.text
        assert "mqtt_password" not in response.text
        assert WARD_B not in response.json()["detail"]
    assert after == before  # no password rotated, nothing revoked
    assert missing.status_code == 404
    assert own.status_code == 200
    assert own.json()["mqtt_password"]
    assert [(g["gateway_id"], g["ward_id"]) for g in everyone.json()["items"]] == [
        ("gw-a", WARD_A),
        ("gw-b", WARD_B),
        (LEGACY, None),
    ]
