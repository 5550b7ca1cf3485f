"""Helpers for the security tests: principals made through the admin API, and two seeded wards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api import factories
from tests.api.rest_support import AUTH, evaluate, store_readings

WARD_A = "ward-a"
WARD_B = "ward-b"
PASSWORD = "correct horse battery staple"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refusal(response: httpx.Response) -> tuple[int | None, str]:
    """The status and detail an error body states: problem details on /v1, an OperationOutcome
    (application/fhir+json, which carries no status: the response's own) under /fhir."""
    kind = response.headers.get("content-type", "")
    body = response.json() if "json" in kind else {}
    if kind == "application/problem+json":
        return body.get("status"), str(body.get("detail", ""))
    if kind == "application/fhir+json" and body.get("resourceType") == "OperationOutcome":
        return response.status_code, "; ".join(i.get("diagnostics", "") for i in body.get("issue", []))
    return None, ""


async def api_key(
    client: httpx.AsyncClient, role: str, wards: list[str], name: str = "test key"
) -> dict[str, Any]:
    """A new API key (response body of POST /v1/admin/api-keys, including `api_key`)."""
    response = await client.post(
        "/v1/admin/api-keys", json={"name": name, "role": role, "wards": wards}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def user(
    client: httpx.AsyncClient, username: str, role: str, wards: list[str], password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/v1/admin/users",
        json={"username": username, "password": password, "role": role, "wards": wards},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _token(client: httpx.AsyncClient, form: dict[str, str], scope: str | None) -> str:
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def password_token(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, scope: str | None = None
) -> str:
    return await _token(client, {"grant_type": "password", "username": username, "password": password}, scope)


async def key_token(client: httpx.AsyncClient, key: str, scope: str | None = None) -> str:
    return await _token(client, {"grant_type": "client_credentials", "client_secret": key}, scope)


@dataclass(frozen=True)
class Seeded:
    """Patient ids per ward; each patient has readings and at least one open alert; each ward a
    gateway."""

    a: str
    b: str
    a_device: str
    b_device: str
    a_alert: str
    b_alert: str
    a_gateway: str = "gw-alpha"
    b_gateway: str = "gw-bravo"


async def seed_two_wards(client: httpx.AsyncClient, redis_url: str) -> Seeded:
    """One patient on each ward, with red readings evaluated by the real worker (so an alert),
    and a gateway on each ward."""
    now = datetime.now(UTC).replace(microsecond=0)
    for ward, gateway in ((WARD_A, Seeded.a_gateway), (WARD_B, Seeded.b_gateway)):
        body = {"gateway_id": gateway, "ward_id": ward}
        registered = await client.post("/v1/gateways", json=body, headers=AUTH)
        assert registered.status_code == 201, registered.text
    patients = {WARD_A: ("p-alpha-1", "C0:FF:EE:0A:00:01"), WARD_B: ("p-bravo-1", "C0:FF:EE:0B:00:01")}
    for ward, (pid, device) in patients.items():
        body = {"patient_id": pid, "ref": f"Bed {ward[-1]}", "devices": [device]}
        created = await client.post(f"/v1/wards/{ward}/patients", json=body, headers=AUTH)
        assert created.status_code == 201, created.text
        store_readings(
            redis_url,
            [
                factories.payload(spo2=s, device=device, seq=i, measured_at=now - timedelta(minutes=5 - i))
                for i, s in enumerate((97.0, 96.0, 85.0))
            ],
        )
    evaluate(redis_url, at=now)
    alerts = {}
    for ward, (pid, _) in patients.items():
        listed = await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"], f"no alert raised for {ward}"
        alerts[ward] = listed.json()["items"][0]["alert_id"]
    a, b = patients[WARD_A], patients[WARD_B]
    return Seeded(a[0], b[0], a[1], b[1], alerts[WARD_A], alerts[WARD_B])
