"""Every error under /fhir is a FHIR OperationOutcome (application/fhir+json) that validates with
fhir.resources, whatever refused the request: authentication (401), scope or ward (403),
validation (422), rate limit (429), an unknown path (404) or method (405). /v1 keeps problem details."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

from api.fhir import codes
from tests.api.integration_support import NHS, admit, register
from tests.api.rest_support import AUTH, api_client
from tests.api.security_support import api_key, bearer


def _outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body: dict[str, Any] = response.json()
    get_fhir_model_class("OperationOutcome").model_validate(body)
    [issue] = body["issue"]
    assert (issue["severity"], issue["code"]) == ("error", code)
    assert issue["diagnostics"]
    return body


async def test_every_fhir_error_is_an_operation_outcome(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = (await register(client, NHS[0]))["patient_id"]
        await admit(client, "south-2", "Bed 1", pid)
        clinician = bearer((await api_key(client, "clinician", ["north-1"]))["api_key"])
        gateway = bearer((await api_key(client, "gateway", ["north-1"]))["api_key"])
        patient = f"/fhir/R4/Patient/{codes.patient_fhir_id(pid)}"
        no_token = await client.get(patient)
        other_ward = await client.get(patient, headers=clinician)
        no_scope = await client.get("/fhir/R4/metadata", headers=gateway)
        invalid = await client.get("/fhir/R4/Patient", params={"_cursor": "c" * 201}, headers=AUTH)
        unknown_path = await client.get("/fhir/R4/Encounter", headers=AUTH)
        wrong_method = await client.post("/fhir/R4/Patient", json={}, headers=AUTH)
        v1_refusal = await client.get(f"/v1/patients/{pid}", headers=clinician)
    _outcome(no_token, 401, "login")
    assert no_token.headers["www-authenticate"].startswith('Bearer realm="oxiward"')
    assert "ward" in _outcome(other_ward, 403, "forbidden")["issue"][0]["diagnostics"]
    assert "south-2" not in other_ward.text
    assert "ward:read" in _outcome(no_scope, 403, "forbidden")["issue"][0]["diagnostics"]
    assert "query._cursor" in _outcome(invalid, 422, "invalid")["issue"][0]["diagnostics"]
    _outcome(unknown_path, 404, "not-found")
    _outcome(wrong_method, 405, "not-supported")
    assert v1_refusal.status_code == 403
    assert v1_refusal.headers["content-type"] == "application/problem+json"


async def test_a_rate_limited_fhir_request_gets_an_operation_outcome(redis_url: str) -> None:
    async with api_client(redis_url, rate_limit_per_s=0.01, rate_limit_burst=1) as client:
        first = await client.get("/fhir/R4/metadata", headers=AUTH)
        limited = await client.get("/fhir/R4/metadata", headers=AUTH)
    assert first.status_code == 200
    _outcome(limited, 429, "throttled")
    assert int(limited.headers["retry-after"]) >= 1
