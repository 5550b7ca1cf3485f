"""A ward-limited principal never sees another ward's data: not through lists, filters, pagination
cursors or search. Principals are real (admin API); data is real (ingest store + worker)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis

from api.fhir import codes
from api.main import create_app
from api.security.roles import ROLE_SCOPES, Role, Scope
from tests.api.rest_support import AUTH, data_keys, running, settings
from tests.api.security_support import WARD_A, WARD_B, Seeded, api_key, bearer, key_token, seed_two_wards

#: Query parameters through which a caller could name another ward's patient or ward.
TARGETING = {"ward", "ward_id", "patient", "patient_id", "subject", "_id", "id", "identifier"}
MAX_PAGES = 5


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


def _b_markers(seeded: Seeded) -> list[str]:
    return [seeded.b, seeded.b_device, WARD_B, seeded.b_alert, seeded.b_gateway]


async def test_lists_and_queue_show_only_granted_wards(client: httpx.AsyncClient, redis_url: str) -> None:
    seeded = await seed_two_wards(client, redis_url)
    clinician = bearer((await api_key(client, "clinician", [WARD_A]))["api_key"])
    wards = await client.get("/v1/wards", headers=clinician)
    all_wards = await client.get("/v1/wards", headers=AUTH)
    queue_a = await client.get(f"/v1/wards/{WARD_A}/queue", headers=clinician)
    queue_b = await client.get(f"/v1/wards/{WARD_B}/queue", headers=clinician)
    assert [w["ward_id"] for w in wards.json()["items"]] == [WARD_A]
    assert wards.json()["wards"] == [WARD_A]
    assert [w["ward_id"] for w in all_wards.json()["items"]] == [WARD_A, WARD_B]
    assert queue_a.status_code == 200
    assert [i["patient_id"] for i in queue_a.json()["items"]] == [seeded.a]
    assert queue_b.status_code == 403
    for marker in _b_markers(seeded):
        assert marker not in queue_a.text
        assert marker not in wards.text


async def test_a_cursor_minted_for_ward_a_is_refused_on_ward_b(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    clinician = bearer(await key_token(client, (await api_key(client, "clinician", [WARD_A]))["api_key"]))
    first = await client.get(f"/v1/patients/{seeded.a}/readings", params={"limit": 1}, headers=clinician)
    cursor = first.json()["next_cursor"]
    assert first.status_code == 200
    assert cursor
    replayed = await client.get(
        f"/v1/patients/{seeded.b}/readings", params={"limit": 1, "cursor": cursor}, headers=clinician
    )
    assert replayed.status_code == 403
    for marker in _b_markers(seeded):
        assert marker not in replayed.json()["detail"]
    # The cursor is only a position: for someone granted ward B it pages B's own readings.
    admin_view = await client.get(
        f"/v1/patients/{seeded.b}/readings", params={"limit": 1, "cursor": cursor}, headers=AUTH
    )
    assert admin_view.status_code == 200
    assert {item["source"]["device_address"] for item in admin_view.json()["items"]} <= {seeded.b_device}


async def test_grants_apply_to_the_next_request(client: httpx.AsyncClient, redis_url: str) -> None:
    seeded = await seed_two_wards(client, redis_url)
    key = await api_key(client, "clinician", [WARD_A])
    token = bearer(await key_token(client, key["api_key"]))
    pid = key["principal_id"]
    url = f"/v1/patients/{seeded.b}"
    assert (await client.get(url, headers=token)).status_code == 403
    granted = await client.put(f"/v1/admin/principals/{pid}/wards/{WARD_B}", headers=AUTH)
    assert granted.json()["wards"] == [WARD_A, WARD_B]
    assert (await client.get(url, headers=token)).status_code == 200
    await client.delete(f"/v1/admin/principals/{pid}/wards/{WARD_B}", headers=AUTH)
    assert (await client.get(url, headers=token)).status_code == 403


async def test_refused_writes_change_nothing(client: httpx.AsyncClient, redis_url: str) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ward_admin = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    clinician = bearer((await api_key(client, "clinician", [WARD_A]))["api_key"])
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        before = {k: r.dump(k) for k in data_keys(r)}
        enrol = await client.post(f"/v1/wards/{WARD_B}/patients", json={"ref": "Bed 9"}, headers=ward_admin)
        device = await client.put(f"/v1/patients/{seeded.b}/devices/C0:FF:EE:0B:00:09", headers=ward_admin)
        ack = await client.post(
            f"/v1/patients/{seeded.b}/alerts/{seeded.b_alert}/acknowledge",
            json={"by": "x"},
            headers=clinician,
        )
        # Ward B's patient admitted to ward A (answered as unknown), ward B's gateway rotated.
        admission = {"patient_id": seeded.b, "ward_id": WARD_A, "ref": "Bed 9"}
        admit = await client.post("/v1/enrolments", json=admission, headers=ward_admin)
        rotate = await client.post(f"/v1/gateways/{seeded.b_gateway}/credentials", headers=ward_admin)
        after = {k: r.dump(k) for k in data_keys(r)}
    finally:
        r.close()
    assert (enrol.status_code, device.status_code, ack.status_code) == (403, 403, 403)
    assert (admit.status_code, rotate.status_code) == (404, 403)
    assert after == before


def _list_operations(schema: dict[str, Any]) -> list[tuple[str, set[str], str]]:
    """GET /v1 operations a ward-limited role can call, with their query parameters and scope."""
    limited = {s for role, scopes in ROLE_SCOPES.items() if role is not Role.ADMINISTRATOR for s in scopes}
    found = []
    for path, ops in schema["paths"].items():
        op = ops.get("get")
        if not path.startswith(("/v1/", "/fhir/")) or op is None or not op.get("security"):
            continue
        scopes = op["security"][0].get("OAuth2", [])
        if scopes and Scope(scopes[0]) in limited:
            query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            found.append((path, query, scopes[0]))
    return found


def _role_for(scope: str) -> str:
    return next(r.value for r, s in ROLE_SCOPES.items() if r is not Role.ADMINISTRATOR and Scope(scope) in s)


async def test_no_read_operation_leaks_ward_b_through_filters_or_pages(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """Every GET (/v1 and FHIR) a ward-limited role can call, on ward A's ids, with every targeting
    filter set to ward B's ids, following the pages: ward B's ids never appear in an answer."""
    seeded = await seed_two_wards(client, redis_url)
    schema = (await client.get("/openapi.json")).json()
    operations = _list_operations(schema)
    assert len(operations) >= 5
    assert any(path.startswith("/fhir/") for path, _, _ in operations)
    values_a = {
        "ward_id": WARD_A,
        "patient_id": seeded.a,
        "alert_id": seeded.a_alert,
        "address": seeded.a_device,
        "gateway_id": seeded.a_gateway,
        "Patient": codes.patient_fhir_id(seeded.a),
        "Device": codes.device_fhir_id(seeded.a_device),
    }
    b_values = {"ward": WARD_B, "ward_id": WARD_B, "identifier": f"{codes.NHS_NUMBER}|9434765919"}
    tokens: dict[str, dict[str, str]] = {}
    leaks, examined = [], 0
    for path, query, scope in operations:
        if scope not in tokens:
            tokens[scope] = bearer((await api_key(client, _role_for(scope), [WARD_A]))["api_key"])
        start = _fill(path, values_a)
        variants: list[dict[str, str]] = [{}] + [
            {q: b_values.get(q, seeded.b)} for q in sorted(query & TARGETING)
        ]
        for params in variants:
            url, page_params = start, dict(params)
            for _ in range(MAX_PAGES):
                response = await client.get(url, params=page_params, headers=tokens[scope])
                examined += 1
                if response.status_code == 200:
                    answer = _without_echo(response)
                    leaks += [f"GET {path} {params}: {m}" for m in _b_markers(seeded) if m in answer]
                following = _next_page(response)
                if following is None:
                    break
                url, page_params = following(url, params)
    assert examined >= len(operations)
    assert not leaks, "\n".join(leaks)


def _without_echo(response: httpx.Response) -> str:
    """The answer without the parts that repeat the caller's own request (a Bundle's links)."""
    if "json" not in response.headers.get("content-type", ""):
        return response.text
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("link", "instance")}
    return json.dumps(body)


def _fill(path: str, values: dict[str, str]) -> str:
    """The path with its parameters set; `{fhir_id}` by the resource before it (/fhir/R4/<R>/{fhir_id})."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        return values.get(path.split("/")[-2] if name == "fhir_id" else name, "x1")

    return re.sub(r"\{(\w+)\}", value, path)


def _next_page(response: httpx.Response) -> Any:
    """How to ask for the next page (`next_cursor`, or a FHIR Bundle's `next` link), or None."""
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return None
    body = response.json()
    cursor = body.get("next_cursor")
    if isinstance(cursor, str):
        return lambda url, params: (url, {**params, "cursor": cursor})
    links = [link["url"] for link in body.get("link", []) if link.get("relation") == "next"]
    if links:
        return lambda url, params: (links[0], {})
    return None
