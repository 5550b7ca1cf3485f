"""Rate limits (429 + Retry-After, per principal), body size limits (413) and request ids."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import redis

from api import keys
from tests.api.rest_support import AUTH, api_client, data_keys
from tests.api.security_support import WARD_A, api_key, bearer, key_token


async def test_each_principal_has_its_own_bucket(redis_url: str) -> None:
    async with api_client(redis_url, rate_limit_per_s=0.01, rate_limit_burst=3) as client:
        # The bootstrap token spends 2 of its 3 on creating the keys.
        first = await api_key(client, "clinician", [WARD_A])
        second = await api_key(client, "clinician", [WARD_A])
        one, two = bearer(first["api_key"]), bearer(second["api_key"])
        statuses = [(await client.get("/v1/wards", headers=one)).status_code for _ in range(4)]
        limited = await client.get("/v1/wards", headers=one)
        other = await client.get("/v1/wards", headers=two)
        admin = [(await client.get("/v1/wards", headers=AUTH)).status_code for _ in range(2)]
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert "retry after" in limited.json()["detail"]
    assert other.status_code == 200  # another key is not affected
    assert admin == [200, 429]  # bootstrap tokens are limited too


async def test_a_jwt_shares_its_principals_bucket(redis_url: str) -> None:
    async with api_client(
        redis_url, rate_limit_per_s=0.01, rate_limit_burst=2, auth_rate_limit_burst=10
    ) as client:
        key = await api_key(client, "clinician", [WARD_A])
        token = await key_token(client, key["api_key"])
        by_key = await client.get("/v1/wards", headers=bearer(key["api_key"]))
        by_jwt = await client.get("/v1/wards", headers=bearer(token))
        spent = await client.get("/v1/wards", headers=bearer(token))
    assert (by_key.status_code, by_jwt.status_code, spent.status_code) == (200, 200, 429)


async def test_the_bucket_refills(redis_url: str) -> None:
    async with api_client(redis_url, rate_limit_per_s=50, rate_limit_burst=1) as client:
        assert (await client.get("/v1/wards", headers=AUTH)).status_code == 200
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            bucket = next(k for k in r.keys("ox:rl:*"))
            # Refill is computed from Redis's clock; age the bucket instead of sleeping.
            r.hset(bucket, "ts", int(r.hget(bucket, "ts") or 0) - 1000)
        finally:
            r.close()
        assert (await client.get("/v1/wards", headers=AUTH)).status_code == 200


async def test_oversized_bodies_are_refused_before_anything_is_done(redis_url: str) -> None:
    body = {"ref": "Bed 1", "patient_id": "p-big", "devices": [], "pad": "x" * 5000}
    async with api_client(redis_url, max_body_bytes=2048) as client:
        declared = await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1024

        streamed = await client.post(
            "/v1/wards/w1/patients", content=stream(), headers={**AUTH, "content-type": "application/json"}
        )
        small = await client.post("/v1/wards/w1/patients", json={"ref": "Bed 1"}, headers=AUTH)
        anonymous = await client.post("/v1/wards/w1/patients", json=body)
    for response in (declared, streamed, anonymous):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "2048 bytes" in response.json()["detail"]
    assert small.status_code == 201
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert r.hgetall(keys.patient("p-big")) == {}
        assert [k for k in data_keys(r) if "p-big" in k] == []
        assert "p-big" not in str([r.dump(k) for k in data_keys(r)])
    finally:
        r.close()


async def test_request_ids_are_echoed_or_made(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        given = await client.get("/v1/wards", headers={**AUTH, "X-Request-ID": "epr-7f3a.42"})
        made = await client.get("/v1/wards", headers=AUTH)
        hostile = await client.get("/v1/wards", headers={**AUTH, "X-Request-ID": "a b\tc" + "x" * 80})
        refused = await client.get("/v1/wards", headers={"X-Request-ID": "epr-refused-1"})
        probe = await client.get("/healthz")
    assert given.headers["x-request-id"] == "epr-7f3a.42"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == "epr-refused-1"
    assert probe.headers["x-request-id"]
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = r.xrange(keys.AUDIT) or []
    finally:
        r.close()
    ids = {str(fields["request_id"]) for _, fields in entries if fields is not None}
    assert {"epr-7f3a.42", "epr-refused-1", made.headers["x-request-id"]} <= ids
