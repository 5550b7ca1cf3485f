"""Administration of users and API keys: validation, conflicts, password changes, and that
credentials are only ever stored as hashes. Real Redis, principals made through the admin API."""

from __future__ import annotations

from typing import Any

import redis

from api import keys
from tests.api.rest_support import AUTH, TOKEN, api_client
from tests.api.security_support import PASSWORD, WARD_A, api_key, bearer, password_token, user


async def test_password_change_revokes_tokens_and_old_password(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        nurse = await user(client, "nurse.jb", "clinician", [WARD_A])
        token = await password_token(client, "nurse.jb")
        changed = await client.patch(
            f"/v1/admin/principals/{nurse['principal_id']}",
            json={"password": "a brand new passphrase"},
            headers=AUTH,
        )
        old = await client.get("/v1/wards", headers=bearer(token))
        old_login = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": "nurse.jb", "password": PASSWORD}
        )
        new = await password_token(client, "nurse.jb", "a brand new passphrase")
    assert changed.status_code == 200, changed.text
    assert old.status_code == 401
    assert old_login.status_code == 400
    assert new


def _value(r: redis.Redis, key: Any, kind: str) -> Any:
    if kind == "hash":
        return r.hgetall(key)
    if kind == "stream":
        return r.xrange(key)
    if kind == "set":
        return r.smembers(key)
    if kind == "zset":
        return r.zrange(key, 0, -1)
    return r.get(key)


def _everything(r: redis.Redis) -> str:
    """Every key name and value in Redis, as text (values read by type: DUMP may compress)."""
    out = []
    for k in r.keys("*"):
        out.append(f"{k!s} {_value(r, k, str(r.type(k)))!s}")
    return "\n".join(out)


async def test_credentials_are_stored_only_as_hashes(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        nurse = await user(client, "nurse.jb", "clinician", [WARD_A])
        key = await api_key(client, "gateway", [WARD_A])
        await password_token(client, "nurse.jb")
        await client.get("/v1/wards", headers=bearer(key["api_key"]))
        # credentials in the wrong fields of failed sign-ins are not kept either
        await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": PASSWORD, "password": "x"}
        )
        await client.post("/v1/auth/token", data={"grant_type": "client_credentials", "client_secret": TOKEN})
        listed = await client.get("/v1/admin/principals", headers=AUTH)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stored_user = r.hgetall(keys.principal(nurse["principal_id"]))
        stored_key = r.hgetall(keys.principal(key["principal_id"]))
        everything = _everything(r)
    finally:
        r.close()
    assert TOKEN[:16] not in everything
    assert nurse["principal_id"] in everything  # the scan does see what is there
    assert str(stored_user["secret"]).startswith("scrypt$15$8$1$")
    secret_part = key["api_key"].split("_", 2)[2]
    assert len(stored_key["secret"]) == 64
    assert secret_part not in stored_key["secret"]
    assert PASSWORD not in everything
    assert secret_part not in everything
    assert key["api_key"] not in listed.text
    assert "secret" not in listed.text
    assert {p["principal_id"] for p in listed.json()["items"]} == {nurse["principal_id"], key["principal_id"]}


async def test_admin_validation_and_conflicts(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await user(client, "nurse.jb", "clinician", [WARD_A])
        taken = await client.post(
            "/v1/admin/users",
            json={"username": "nurse.jb", "password": PASSWORD, "role": "clinician"},
            headers=AUTH,
        )
        short = await client.post(
            "/v1/admin/users",
            json={"username": "x.y", "password": "short", "role": "clinician"},
            headers=AUTH,
        )
        bad_role = await client.post(
            "/v1/admin/api-keys", json={"name": "n", "role": "superuser"}, headers=AUTH
        )
        bad_ward = await client.post(
            "/v1/admin/api-keys", json={"name": "n", "role": "integrator", "wards": ["a b"]}, headers=AUTH
        )
        missing = await client.get("/v1/admin/principals/u-0000000000000000", headers=AUTH)
        empty_patch = await client.patch("/v1/admin/principals/u-0000000000000000", json={}, headers=AUTH)
    assert taken.status_code == 409
    assert short.status_code == 422
    assert "password" in short.json()["detail"]
    assert bad_role.status_code == 422
    assert "role" in bad_role.json()["detail"]
    assert bad_ward.status_code == 422
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert empty_patch.status_code == 422
