"""Helpers for the integrator-API tests: register, admit, ward-limited API keys."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.rest_support import AUTH

NHS = ["9434765919", "4010232137", "9990548609"]


async def register(client: httpx.AsyncClient, nhs: str, **extra: Any) -> dict[str, Any]:
    body = {"nhs_number": nhs, "date_of_birth": "1950-03-14", **extra}
    response = await client.post("/v1/patients", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def admit(
    client: httpx.AsyncClient,
    ward: str,
    ref: str,
    patient_id: str | None = None,
    devices: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"ward_id": ward, "ref": ref, "devices": devices or []}
    if patient_id is not None:
        body["patient_id"] = patient_id
    response = await client.post("/v1/enrolments", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def admit_on_plan(
    client: httpx.AsyncClient, ward: str, device: str, plan: dict[str, Any] | None
) -> dict[str, Any]:
    """Admit a patient wearing `device` (ref "Bed <last two>") and set `plan` as their care plan
    (None: the default plan); returns the enrolment."""
    enrolment = await admit(client, ward, f"Bed {device[-2:]}", devices=[device])
    if plan is not None:
        body = {"plan": plan, "by": "dr-ak", "reason": "NEWS2 monitoring"}
        put = await client.put(f"/v1/patients/{enrolment['patient_id']}/care-plan", json=body, headers=AUTH)
        assert put.status_code == 200, put.text
    return enrolment


async def api_key(client: httpx.AsyncClient, role: str, wards: list[str]) -> dict[str, str]:
    """Headers of a new API key with the role, limited to the wards."""
    body = {"name": f"{role} key", "role": role, "wards": wards}
    response = await client.post("/v1/admin/api-keys", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['api_key']}"}
