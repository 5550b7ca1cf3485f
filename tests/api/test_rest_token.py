"""Access tokens and API keys over REST: issuing, checking, narrowing, revoking, against a real Redis."""

from __future__ import annotations

import base64
import time

import jwt

from api.security.tokens import derive_key
from tests.api.rest_support import AUTH, TOKEN, api_client
from tests.api.security_support import PASSWORD, WARD_A, api_key, bearer, key_token, password_token, user

KEY = derive_key(frozenset({TOKEN}))  # what the app signs with when no jwt_secret is set


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, KEY, algorithms=["HS256"], audience="oxiward-api", issuer="oxiward"))


async def test_password_grant_issues_a_short_lived_scoped_jwt(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        created = await user(client, "nurse.jb", "clinician", [WARD_A])
        response = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": "nurse.jb", "password": PASSWORD}
        )
        me = await client.get("/v1/auth/me", headers=bearer(response.json()["access_token"]))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900
    assert body["scope"] == "alerts:write clinical:write ward:read"
    claims = _claims(body["access_token"])
    assert claims["sub"] == created["principal_id"]
    assert float(str(claims["exp"])) - time.time() <= 900
    assert claims["jti"]
    assert me.status_code == 200, me.text
    assert me.json()["principal_id"] == created["principal_id"]
    assert me.json()["role"] == "clinician"
    assert me.json()["wards"] == [WARD_A]
    assert me.json()["token_expires_at"] is not None
    assert "password" not in created
    assert "secret" not in created


async def test_json_body_and_narrowed_scope(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await user(client, "dr.ak", "clinician", [WARD_A])
        response = await client.post(
            "/v1/auth/token",
            json={"grant_type": "password", "username": "dr.ak", "password": PASSWORD, "scope": "ward:read"},
        )
        token = response.json()["access_token"]
        read = await client.get("/v1/wards", headers=bearer(token))
        ack = await client.post(
            "/v1/patients/p-x/alerts/a1/acknowledge", json={"by": "dr.ak"}, headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "ward:read"
    assert read.status_code == 200
    assert ack.status_code == 403
    assert "alerts:write" in ack.json()["detail"]


async def test_client_credentials_with_api_key_as_secret_or_basic(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        key = await api_key(client, "integrator", [WARD_A])
        form = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials", "client_secret": key["api_key"]}
        )
        basic = base64.b64encode(f"{key['principal_id']}:{key['api_key']}".encode()).decode()
        via_basic = await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        wrong_id = await client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_secret": key["api_key"],
                "client_id": "k-0000000000000000",
            },
        )
        as_bearer = await client.get("/v1/auth/me", headers=bearer(key["api_key"]))
    assert form.status_code == 200, form.text
    assert form.json()["scope"] == "ward:read webhooks:manage"
    assert _claims(form.json()["access_token"])["sub"] == key["principal_id"]
    assert via_basic.status_code == 200, via_basic.text
    assert wrong_id.status_code == 401
    assert wrong_id.json()["error"] == "invalid_client"
    # A system may also send its key as the bearer directly.
    assert as_bearer.status_code == 200
    assert as_bearer.json() | {"token_expires_at": None} == {
        "principal_id": key["principal_id"],
        "kind": "api-key",
        "role": "integrator",
        "scopes": ["ward:read", "webhooks:manage"],
        "wards": [WARD_A],
        "token_expires_at": None,
    }


_TOKEN_ERRORS = dict(
    zip(
        [
            "wrong-password",
            "unknown-user",
            "no-password",
            "unsupported-grant",
            "no-grant",
            "scope-beyond-role",
            "unknown-scope",
            "no-secret",
            "unknown-key",
            "malformed-key",
        ],
        [
            (
                {"grant_type": "password", "username": "nurse.jb", "password": "wrong password!"},
                400,
                "invalid_grant",
            ),
            ({"grant_type": "password", "username": "nobody", "password": PASSWORD}, 400, "invalid_grant"),
            ({"grant_type": "password", "username": "nurse.jb"}, 400, "invalid_request"),
            ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
            ({"username": "nurse.jb"}, 400, "invalid_request"),
            (
                {"grant_type": "password", "username": "nurse.jb", "password": PASSWORD, "scope": "admin"},
                400,
                "invalid_scope",
            ),
            (
                {"grant_type": "password", "username": "nurse.jb", "password": PASSWORD, "scope": "fly"},
                400,
                "invalid_scope",
            ),
            ({"grant_type": "client_credentials"}, 401, "invalid_client"),
            (
                {"grant_type": "client_credentials", "client_secret": "oxw_0123456789abcdef_" + "a" * 43},
                401,
                "invalid_client",
            ),
            ({"grant_type": "client_credentials", "client_secret": "not-a-key"}, 401, "invalid_client"),
        ],
        strict=True,
    )
)


async def test_token_errors_are_oauth_problems(redis_url: str) -> None:
    """Each refusal carries the RFC 6749 error code; one user (scrypt is slow) for every case."""
    async with api_client(redis_url) as client:
        await user(client, "nurse.jb", "clinician", [WARD_A])
        for name, (form, status, error) in _TOKEN_ERRORS.items():
            response = await client.post("/v1/auth/token", data=form)
            assert response.status_code == status, (name, response.text)
            assert response.headers["content-type"] == "application/problem+json", name
            assert response.json()["error"] == error, name
            assert response.json()["detail"], name
            assert PASSWORD not in response.text, name


async def test_unknown_user_and_wrong_password_are_indistinguishable(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await user(client, "nurse.jb", "clinician", [WARD_A])
        wrong = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": "nurse.jb", "password": "x" * 20}
        )
        unknown = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": "ghost", "password": "x" * 20}
        )
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.status_code == unknown.status_code == 400


async def test_token_body_is_validated_strictly(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        extra = await client.post(
            "/v1/auth/token", json={"grant_type": "password", "username": "a", "password": "b", "x": 1}
        )
        wrong_type = await client.post(
            "/v1/auth/token", content=b"grant_type=password", headers={"content-type": "text/plain"}
        )
        not_json = await client.post(
            "/v1/auth/token", content=b"{", headers={"content-type": "application/json"}
        )
    assert extra.status_code == 422
    assert "x" in extra.json()["detail"]
    assert wrong_type.status_code == 400
    assert not_json.status_code == 400


async def test_forged_expired_and_foreign_tokens_are_refused(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        created = await user(client, "nurse.jb", "clinician", [WARD_A])
        good = await password_token(client, "nurse.jb")
        now = int(time.time())
        base = {
            "iss": "oxiward",
            "aud": "oxiward-api",
            "sub": created["principal_id"],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": "j1",
            "scope": "ward:read",
        }
        forged = {
            "expired": jwt.encode(
                base | {"exp": now - 60, "iat": now - 960, "nbf": now - 960}, KEY, algorithm="HS256"
            ),
            "other-key": jwt.encode(base, b"k" * 32, algorithm="HS256"),
            "other-audience": jwt.encode(base | {"aud": "someone-else"}, KEY, algorithm="HS256"),
            "other-issuer": jwt.encode(base | {"iss": "evil"}, KEY, algorithm="HS256"),
            "alg-none": jwt.encode(base, "", algorithm="none"),
            "no-jti": jwt.encode({k: v for k, v in base.items() if k != "jti"}, KEY, algorithm="HS256"),
            "unknown-subject": jwt.encode(base | {"sub": "u-0000000000000000"}, KEY, algorithm="HS256"),
            "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        }
        results = {name: await client.get("/v1/wards", headers=bearer(t)) for name, t in forged.items()}
        still_good = await client.get("/v1/wards", headers=bearer(good))
    assert still_good.status_code == 200
    for name, response in results.items():
        assert response.status_code == 401, name
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name
    assert "expired" in results["expired"].json()["detail"]


async def test_revoking_tokens_keys_roles_and_users_takes_effect_at_once(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        nurse = await user(client, "nurse.jb", "clinician", [WARD_A])
        first = await password_token(client, "nurse.jb")
        # 1. the holder logs out: that token dies, a new one works
        assert (await client.post("/v1/auth/revoke", headers=bearer(first))).status_code == 204
        assert (await client.get("/v1/wards", headers=bearer(first))).status_code == 401
        second = await password_token(client, "nurse.jb")
        assert (await client.get("/v1/wards", headers=bearer(second))).status_code == 200
        # 2. an administrator revokes every token of the user ("not before")
        pid = nurse["principal_id"]
        revoked = await client.post(f"/v1/admin/principals/{pid}/revoke-tokens", headers=AUTH)
        assert revoked.status_code == 200
        assert revoked.json()["tokens_not_before"]
        assert (await client.get("/v1/wards", headers=bearer(second))).status_code == 401
        third = await password_token(client, "nurse.jb")  # issued after: accepted
        assert (await client.get("/v1/wards", headers=bearer(third))).status_code == 200
        # 3. a role change applies to tokens already issued
        await client.patch(f"/v1/admin/principals/{pid}", json={"role": "gateway"}, headers=AUTH)
        assert (await client.get("/v1/wards", headers=bearer(third))).status_code == 403
        await client.patch(
            f"/v1/admin/principals/{pid}", json={"role": "clinician", "disabled": True}, headers=AUTH
        )
        assert (await client.get("/v1/wards", headers=bearer(third))).status_code == 401
        disabled_login = await client.post(
            "/v1/auth/token", data={"grant_type": "password", "username": "nurse.jb", "password": PASSWORD}
        )
        assert disabled_login.status_code == 400
        # 4. an API key deleted: the key and the JWT it was exchanged for stop working
        key = await api_key(client, "integrator", [WARD_A])
        key_jwt = await key_token(client, key["api_key"])
        assert (
            await client.delete(f"/v1/admin/principals/{key['principal_id']}", headers=AUTH)
        ).status_code == 204
        assert (await client.get("/v1/wards", headers=bearer(key["api_key"]))).status_code == 401
        assert (await client.get("/v1/wards", headers=bearer(key_jwt))).status_code == 401
        # API keys and bootstrap tokens are not revoked through /auth/revoke
        assert (await client.post("/v1/auth/revoke", headers=AUTH)).status_code == 400


async def test_token_endpoint_is_rate_limited_per_client(redis_url: str) -> None:
    async with api_client(redis_url, auth_rate_limit_per_s=0.01, auth_rate_limit_burst=3) as client:
        statuses = []
        for _ in range(4):
            response = await client.post("/v1/auth/token", data={"grant_type": "client_credentials"})
            statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429]
    assert int(response.headers["retry-after"]) >= 1


async def test_api_key_with_a_wrong_secret_is_refused(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        key = await api_key(client, "integrator", [WARD_A])
        prefix, key_id, secret = key["api_key"].split("_", 2)
        flipped = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
        wrong = await client.get("/v1/wards", headers=bearer(flipped))
        right = await client.get("/v1/wards", headers=bearer(key["api_key"]))
    assert wrong.status_code == 401
    assert right.status_code == 200
