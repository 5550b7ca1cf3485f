"""A query parameter a /v1 operation does not take is refused (issue 5): `GET /v1/audit?patient_id=…`
(the filter is `patient`) answered the whole audit log unfiltered. Now a 400 problem names it and
the parameters the operation takes; every documented parameter, and every query the ward pages
send, is still accepted; the token endpoint ignores unknown parameters, as OAuth 2.0 requires."""

from __future__ import annotations

import re
from typing import Any

from api.main import create_app
from tests.api.integration_support import admit
from tests.api.rest_support import AUTH, api_client, settings

SPEC = create_app(settings("redis://127.0.0.1:1/0")).openapi()
UNKNOWN = re.compile(r"^unknown query parameters? ")


def _v1_operations() -> list[tuple[str, str, list[str]]]:
    """(method, path with dummy ids, documented query parameters) of every bearer /v1 operation."""
    found = []
    for path, ops in SPEC["paths"].items():
        if not path.startswith("/v1/") or path == "/v1/auth/token":
            continue
        for method, op in ops.items():
            if isinstance(op, dict) and "responses" in op:
                query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x-1", path), query))
    return found


def _unknown_refusal(response: Any) -> str | None:
    if response.status_code != 400 or "json" not in response.headers.get("content-type", ""):
        return None
    detail = response.json().get("detail", "")
    return detail if UNKNOWN.match(detail) else None


async def test_a_misspelt_filter_is_refused_naming_what_the_operation_takes(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await admit(client, "north-1", "Bed 1")
        misspelt = await client.get("/v1/audit", params={"patient_id": "p-1"}, headers=AUTH)
        spelt = await client.get("/v1/audit", params={"patient": "p-1"}, headers=AUTH)
        several = await client.get("/v1/wards", params={"limit": "5", "x": "1", "y": "2"}, headers=AUTH)
        none_taken = await client.get("/v1/patients", params={"ward_id": "north-1"}, headers=AUTH)
        patient = none_taken.json()["items"][0]["patient_id"]
        takes_none = await client.get(f"/v1/patients/{patient}", params={"expand": "1"}, headers=AUTH)
        unauthenticated = await client.get("/v1/audit", params={"patient_id": "p-1"})
        token = await client.post(
            "/v1/auth/token?client_hint=1", data={"grant_type": "client_credentials", "client_id": "x"}
        )
    assert misspelt.status_code == 400, misspelt.text
    assert misspelt.headers["content-type"] == "application/problem+json"
    assert misspelt.json()["detail"] == (
        "unknown query parameter patient_id; "
        "this operation takes actor, patient, ward, from, to, limit, cursor"
    )
    assert spelt.status_code == 200
    assert several.json()["detail"].startswith("unknown query parameters x, y; this operation takes name,")
    assert (
        takes_none.json()["detail"]
        == "unknown query parameter expand; this operation takes no query parameters"
    )
    assert unauthenticated.status_code == 401  # who asks is checked first
    assert _unknown_refusal(token) is None  # RFC 6749 §3.2: the token endpoint ignores them


async def test_every_v1_operation_refuses_an_unknown_parameter_and_takes_its_documented_ones(
    redis_url: str,
) -> None:
    operations = _v1_operations()
    assert len(operations) > 60
    refused, taken = {}, {}
    async with api_client(redis_url) as client:
        for method, path, query in operations:
            extra = await client.request(method, path, params={"no_such_parameter": "1"}, headers=AUTH)
            refused[(method, path)] = _unknown_refusal(extra)
            if query:
                documented = await client.request(
                    method, path, params=dict.fromkeys(query, "1"), headers=AUTH
                )
                taken[(method, path)] = _unknown_refusal(documented)
    assert [op for op, said in refused.items() if said is None] == []
    assert {said for said in taken.values()} == {None}


async def test_the_ward_pages_queries_are_accepted(redis_url: str) -> None:
    """The query strings api/web/*.js sends (common.js, patient.js)."""
    async with api_client(redis_url) as client:
        pid = (await admit(client, "north-1", "Bed 1"))["patient_id"]
        p = f"/v1/patients/{pid}"
        first = await client.get("/v1/wards", params={"limit": "100"}, headers=AUTH)
        answers = [
            first,
            await client.get("/v1/wards", params={"limit": "100", "cursor": "bm9uZQ"}, headers=AUTH),
            await client.get(
                f"{p}/readings/series",
                params={"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-02T00:00:00.000Z"},
                headers=AUTH,
            ),
            await client.get(f"{p}/alerts", params={"limit": "500"}, headers=AUTH),
            await client.get(f"{p}/recent-readings", params={"limit": "20"}, headers=AUTH),
            await client.get(
                f"{p}/observations",
                params={"from": "2026-01-01T00:00:00.000Z", "limit": "1000"},
                headers=AUTH,
            ),
            await client.get(f"{p}/care-plan/history", headers=AUTH),
            await client.get("/v1/wards/north-1/board", headers=AUTH),
        ]
    assert [_unknown_refusal(a) for a in answers] == [None] * len(answers)
    assert first.status_code == 200
