"""Browser sign-in without a browser: the session cookie's attributes, CSRF, ward scoping, sign-out
and revocation, caching, and the audit trail (the service in-process on the real test Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api.rest_support import AUTH, running, settings
from tests.web.support import PASSWORD

pytestmark = pytest.mark.integration

WARD, OTHER = "ward-a", "ward-b"


@asynccontextmanager
async def app_client(redis_url: str, scheme: str = "http") -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings(redis_url))) as client:
        client.base_url = httpx.URL(f"{scheme}://testserver")
        yield client


async def setup(client: httpx.AsyncClient) -> str:
    """A clinician of WARD, a patient on each ward; returns the clinician's username."""
    for ward, pid in ((WARD, "p-a"), (OTHER, "p-b")):
        r = await client.post(
            f"/v1/wards/{ward}/patients", json={"patient_id": pid, "ref": "Bed 1"}, headers=AUTH
        )
        assert r.status_code == 201, r.text
    body = {"username": "nurse.web", "password": PASSWORD, "role": "clinician", "wards": [WARD]}
    r = await client.post("/v1/admin/users", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return "nurse.web"


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await client.post("/v1/web/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def observation(by: str) -> dict[str, Any]:
    measured = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {"parameter": "respiration_rate", "value": 18, "measured_at": measured, "by": by}


async def test_sign_in_sets_a_locked_down_cookie_and_the_cookie_reads_only_its_wards(redis_url: str) -> None:
    async with app_client(redis_url) as client:
        name = await setup(client)
        wrong = await client.post("/v1/web/session", json={"username": name, "password": "not it at all!"})
        assert wrong.status_code == 401
        assert "oxiward_session" not in wrong.headers.get("set-cookie", "")
        r = await client.post("/v1/web/session", json={"username": name.upper(), "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("oxiward_session=")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        assert "secure" not in cookie.lower()  # plain http (tests); see the https test below
        assert r.headers["cache-control"] == "no-store"
        session = r.json()
        assert session["username"] == name
        assert session["wards"] == [WARD]
        assert len(session["csrf_token"]) >= 32
        assert session["csrf_token"] not in cookie

        mine = await client.get(f"/v1/wards/{WARD}/board")
        assert mine.status_code == 200, mine.text
        assert mine.headers["cache-control"] == "no-store"  # patient data: never kept by the browser
        assert [i["patient_id"] for i in mine.json()["items"]] == ["p-a"]
        assert (await client.get(f"/v1/wards/{OTHER}/board")).status_code == 403
        assert (await client.get(f"/v1/wards/{OTHER}/events")).status_code == 403
        assert (await client.get("/v1/patients/p-b")).status_code == 403
        assert (await client.get("/v1/web/session")).json()["username"] == name
        client.cookies.clear()
        assert (await client.get(f"/v1/wards/{WARD}/board")).status_code == 401


async def test_the_cookie_is_secure_over_https(redis_url: str) -> None:
    async with app_client(redis_url, scheme="https") as client:
        name = await setup(client)
        r = await client.post("/v1/web/session", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert "secure" in r.headers["set-cookie"].lower()


async def test_state_changing_requests_need_the_csrf_token_and_the_same_origin(redis_url: str) -> None:
    async with app_client(redis_url) as client:
        name = await setup(client)
        token = (await sign_in(client, name))["csrf_token"]
        path = "/v1/patients/p-a/observations"
        refused = [
            await client.post(path, json=observation(name)),
            await client.post(path, json=observation(name), headers={"X-CSRF-Token": "x" * 43}),
            await client.post(
                path,
                json=observation(name),
                headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
            ),
            await client.post(
                path, json=observation(name), headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}
            ),
        ]
        assert [r.status_code for r in refused] == [403] * 4
        assert "CSRF" in refused[0].json()["detail"]
        listed = await client.get(path)
        assert listed.json()["items"] == []  # nothing was recorded by a refused request
        ok = await client.post(
            path, json=observation(name), headers={"X-CSRF-Token": token, "Origin": "http://testserver"}
        )
        assert ok.status_code == 201, ok.text
        # Sign-in itself refuses another site's page (there is no CSRF token before a session).
        other = await client.post(
            "/v1/web/session",
            json={"username": name, "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert other.status_code == 403
        # A form post from another site cannot even be parsed as a sign-in.
        form = await client.post("/v1/web/session", data={"username": name, "password": PASSWORD})
        assert form.status_code == 422


async def test_sign_out_and_revocation_end_the_session(redis_url: str) -> None:
    async with app_client(redis_url) as client:
        name = await setup(client)
        token = (await sign_in(client, name))["csrf_token"]
        cookie = client.cookies["oxiward_session"]
        assert (await client.delete("/v1/web/session")).status_code == 403  # no CSRF token
        out = await client.delete("/v1/web/session", headers={"X-CSRF-Token": token})
        assert out.status_code == 204
        assert 'oxiward_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
        client.cookies.set("oxiward_session", cookie)  # a copy kept by an attacker is worthless
        assert (await client.get(f"/v1/wards/{WARD}/board")).status_code == 401

        client.cookies.clear()
        await sign_in(client, name)
        assert (await client.get(f"/v1/wards/{WARD}/board")).status_code == 200
        me = (await client.get("/v1/auth/me")).json()["principal_id"]
        revoked = await client.post(f"/v1/admin/principals/{me}/revoke-tokens", headers=AUTH)
        assert revoked.status_code == 200, revoked.text
        assert (await client.get(f"/v1/wards/{WARD}/board")).status_code == 401

        await sign_in(client, name)
        grant = await client.delete(f"/v1/admin/principals/{me}/wards/{WARD}", headers=AUTH)
        assert grant.status_code == 200, grant.text
        assert (await client.get(f"/v1/wards/{WARD}/board")).status_code == 403  # grants apply at once


async def test_a_bearer_token_still_works_beside_the_cookie_and_sign_in_is_audited(redis_url: str) -> None:
    async with app_client(redis_url) as client:
        name = await setup(client)
        await sign_in(client, name)
        # An explicit Authorization header wins: API clients never need a CSRF token.
        r = await client.post("/v1/patients/p-b/observations", json=observation("admin"), headers=AUTH)
        assert r.status_code == 201, r.text
        me = (await client.get("/v1/auth/me")).json()["principal_id"]
        audit = (await client.get("/v1/audit", params={"actor": me}, headers=AUTH)).json()["items"]
        routes = [(e["method"], e["route"], e["outcome"]) for e in audit]
        assert ("POST", "/v1/web/session", "ok") in routes
        assert ("GET", "/v1/auth/me", "ok") in routes
