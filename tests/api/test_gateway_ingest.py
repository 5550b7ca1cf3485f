"""HTTPS ingest for gateways (POST /v1/gateways/{gateway_id}/readings) against real Redis: every
golden wire-contract payload is stored, de-duplicated or dead-lettered exactly as MQTT ingest does,
answered per payload; a gateway key submits for its own gateway only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis

from api import keys
from api.contract import readings_topic
from tests.api import factories
from tests.api.integration_support import admit
from tests.api.rest_support import AUTH, api_client, store_readings
from tests.conftest import load_golden

WARD = "north-1"
GATEWAY = factories.GATEWAY  # the golden payloads' gateway
URL = f"/v1/gateways/{GATEWAY}/readings"
GOLDEN = load_golden("accept-") + load_golden("reject-")


def _item(g: dict[str, Any]) -> bytes:
    """The golden message as one batch item, byte for byte what MQTT would carry (text that is
    not JSON at all travels as a JSON string, which is just as malformed a reading)."""
    return json.dumps(g["raw"]).encode() if "raw" in g else json.dumps(g["payload"]).encode()


def _batch(items: list[bytes]) -> bytes:
    return b'{"readings": [' + b", ".join(items) + b"]}"


async def _register(client: httpx.AsyncClient, gateway: str, ward: str) -> None:
    response = await client.post("/v1/gateways", json={"gateway_id": gateway, "ward_id": ward}, headers=AUTH)
    assert response.status_code == 201, response.text


async def _key(client: httpx.AsyncClient, role: str, ward: str, **extra: str) -> dict[str, str]:
    body = {"name": "key", "role": role, "wards": [ward], **extra}
    response = await client.post("/v1/admin/api-keys", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    assert response.json().get("gateway_id") == extra.get("gateway_id")
    return {
        "Authorization": f"Bearer {response.json()['api_key']}",
        "principal": response.json()["principal_id"],
    }


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(redis_url) as c:
        await _register(c, GATEWAY, WARD)
        yield c


async def test_each_payload_is_stored_deduplicated_or_dead_lettered_as_over_mqtt(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    pid = (await admit(client, WARD, "Bed 1", devices=[factories.DEVICE]))["patient_id"]
    gateway = await _key(client, "gateway", WARD, gateway_id=GATEWAY)
    items = [_item(g) for _, g in GOLDEN]
    # One reading already stored by MQTT ingest's own store: the HTTPS copy is a duplicate.
    over_mqtt = factories.payload(seq=7)
    store_readings(redis_url, [over_mqtt])
    items.append(json.dumps(over_mqtt).encode())
    auth = {"Authorization": gateway["Authorization"]}
    first = await client.post(URL, content=_batch(items), headers=auth)
    again = await client.post(URL, content=_batch(items), headers=auth)
    readings = await client.get(f"/v1/patients/{pid}/readings", params={"limit": 100}, headers=AUTH)
    audit = await client.get("/v1/audit", params={"actor": gateway["principal"]}, headers=AUTH)
    assert first.status_code == 200, first.text
    expected = [
        ("stored", None) if g["expect"] == "accept" else ("dead-lettered", g["reason"]) for _, g in GOLDEN
    ] + [("duplicate", None)]
    assert [(i["outcome"], i["reason"]) for i in first.json()["items"]] == expected
    assert [i["index"] for i in first.json()["items"]] == list(range(len(items)))
    accepted = [g["payload"]["reading_id"] for _, g in GOLDEN if g["expect"] == "accept"]
    assert [i["reading_id"] for i in first.json()["items"][: len(accepted)]] == accepted
    assert all(i["detail"] for i in first.json()["items"] if i["outcome"] == "dead-lettered")
    rejected = len(GOLDEN) - len(accepted)
    assert (first.json()["stored"], first.json()["duplicates"], first.json()["dead_lettered"]) == (
        len(accepted),
        1,
        rejected,
    )
    # Sent again: every reading is a duplicate, every bad payload a dead letter again (as a QoS 1
    # redelivery would be).
    assert [i["outcome"] for i in again.json()["items"]] == [
        "duplicate" if o == "stored" else o for o, _ in expected
    ]
    stored_ids = {row["reading_id"] for row in readings.json()["items"]}
    assert stored_ids == {*accepted, over_mqtt["reading_id"]}
    r = redis.Redis.from_url(redis_url)
    try:
        letters = [fields for _, fields in r.xrange(keys.DEAD_LETTER)]
        queued = r.xlen(keys.eval_stream(keys.shard_of(pid)))
    finally:
        r.close()
    # The dead letters are MQTT's: the gateway's readings topic, the payload's exact bytes, the reason.
    assert len(letters) == 2 * rejected
    bad = [
        (item, g["reason"]) for item, (_, g) in zip(items, GOLDEN, strict=False) if g["expect"] == "reject"
    ]
    assert [(f[b"raw"], f[b"reason"].decode()) for f in letters[:rejected]] == bad
    assert {f[b"topic"].decode() for f in letters} == {readings_topic(GATEWAY)}
    assert queued == len(accepted) + 1  # each stored reading queued for evaluation once
    # The audit entry names the ward and the patient whose history was written.
    [entry, *_] = [e for e in audit.json()["items"] if e["route"] == "/v1/gateways/{gateway_id}/readings"]
    assert (entry["patients"], entry["wards"], entry["action"]) == ([pid], [WARD], "write")


async def test_a_gateway_key_submits_for_its_own_active_gateway_on_its_ward_only(
    client: httpx.AsyncClient,
) -> None:
    await _register(client, "gw-other", WARD)
    await _register(client, "gw-south", "south-2")
    body = _batch([json.dumps(factories.payload(seq=1)).encode()])

    async def post(path_gateway: str, headers: dict[str, str]) -> httpx.Response:
        auth = {"Authorization": headers["Authorization"]}
        return await client.post(f"/v1/gateways/{path_gateway}/readings", content=body, headers=auth)

    own = await _key(client, "gateway", WARD, gateway_id=GATEWAY)
    unbound = await _key(client, "gateway", WARD)
    south = await _key(client, "gateway", WARD, gateway_id="gw-south")  # bound, but not granted south-2
    clinician = await _key(client, "clinician", WARD)
    assert (await post(GATEWAY, own)).status_code == 200
    refused = await post("gw-other", own)
    assert refused.status_code == 403
    assert "its own gateway" in refused.json()["detail"]
    assert (await post(GATEWAY, unbound)).status_code == 403
    assert (await post("gw-south", south)).status_code == 403
    assert "readings:write" in (await post(GATEWAY, clinician)).json()["detail"]
    assert (await post("gw-unknown", {"Authorization": AUTH["Authorization"]})).status_code == 404
    revoked = await client.post(f"/v1/gateways/{GATEWAY}/revoke", json={"reason": "lost"}, headers=AUTH)
    assert revoked.status_code == 200, revoked.text
    gone = await post(GATEWAY, own)
    assert gone.status_code == 409
    assert "revoked" in gone.json()["detail"]
    # Only a gateway key may name a gateway.
    wrong = await client.post(
        "/v1/admin/api-keys",
        json={"name": "k", "role": "clinician", "wards": [WARD], "gateway_id": GATEWAY},
        headers=AUTH,
    )
    assert wrong.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 422),
        (b'{"readings": {}}', 422),
        (b'{"readings": []}', 422),
        (b'{"readings": [' + b", ".join([b"{}"] * 501) + b"]}", 422),
    ],
)
async def test_a_wrong_envelope_is_refused_whole_and_stores_nothing(
    client: httpx.AsyncClient, redis_url: str, body: bytes, status: int
) -> None:
    response = await client.post(URL, content=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    r = redis.Redis.from_url(redis_url)
    try:
        assert r.xlen(keys.DEAD_LETTER) == 0
    finally:
        r.close()
