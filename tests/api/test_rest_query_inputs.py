"""Odd query values never break the service: every GET operation of the published document, given
out-of-range times, numbers and forged cursors, answers a 4xx problem (or a FHIR OperationOutcome)
saying what is wrong, or a 200 - never a 5xx."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from api.main import create_app
from tests.api.rest_support import AUTH, settings
from tests.api.security_support import WARD_A, seed_two_wards

#: Values that once reached Redis or `datetime` arithmetic unchecked, and their cousins.
ODD = [
    "0",
    "-1",
    "",
    "1e999",
    "99999999999999999999999",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2025-13-45",
    "x" * 300,
]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


#: Cursors in the form this API issues, with stream ids Redis would refuse.
FORGED_CURSORS = [
    _cursor("r1:99999999999999999999-0"),
    _cursor("r1:18446744073709551615-18446744073709551615"),
    _cursor("a1:99999999999999999999-0"),
    _cursor("a1:0-0"),
    _cursor("alerts:zzz|"),
    _cursor("patients:"),
]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=1_000_000, auth_rate_limit_burst=1_000_000))
    async with app.router.lifespan_context(app):
        # A server error must come back as a 500 to be counted, not raised into the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _explained(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    if "application/problem+json" in kind:
        return bool(response.json().get("detail"))
    return "application/fhir+json" in kind and response.json().get("resourceType") == "OperationOutcome"


async def test_no_query_value_gives_a_server_error(client: httpx.AsyncClient, redis_url: str) -> None:
    seeded = await seed_two_wards(client, redis_url)
    hook = await client.post(
        "/v1/webhooks", json={"url": "https://epr.example/x", "events": ["alert.raised"]}, headers=AUTH
    )
    assert hook.status_code == 201, hook.text
    values = {
        "ward_id": WARD_A,
        "patient_id": seeded.a,
        "address": seeded.a_device,
        "alert_id": seeded.a_alert,
    }
    values["subscription_id"] = hook.json()["subscription_id"]
    schema = (await client.get("/openapi.json")).json()
    failures, asked = [], 0
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x1"), path)
        for name in (p["name"] for p in op.get("parameters", []) if p["in"] == "query"):
            odd = ODD + (FORGED_CURSORS if "cursor" in name else [])
            for value in odd:
                response = await client.get(url, params={name: value}, headers=AUTH)
                asked += 1
                if response.status_code >= 500 or (response.status_code >= 400 and not _explained(response)):
                    failures.append(
                        f"GET {path}?{name}={value[:30]}: {response.status_code} {response.text[:120]}"
                    )
    assert asked > 300
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"to": "1970-01-01T00:00:00Z"}, 200, None),  # the epoch: nothing before it, an empty page
        ({"to": "0"}, 422, "query.to: Value error, must be an ISO 8601 date and time with a UTC offset"),
        ({"to": "0.5"}, 422, "query.to: Value error, must be an ISO 8601"),
        ({"to": "-1"}, 422, "query.to"),
        ({"from": "0001-01-01T00:00:00Z"}, 422, "query.from: Value error, must be from 1970-01-01"),
        ({"to": "2025-01-01T00:00:00"}, 422, "query.to: Value error, must be an ISO 8601 date and time with"),
        ({"cursor": _cursor("a1:99999999999999999999-0")}, 400, "cursor is not one this API issued"),
        ({"limit": "0"}, 422, "query.limit"),
    ],
)
async def test_audit_query_values_are_checked(
    client: httpx.AsyncClient, params: dict[str, str], status: int, says: str | None
) -> None:
    response = await client.get("/v1/audit", params=params, headers=AUTH)
    assert response.status_code == status, response.text
    if says is None:
        assert response.json()["next_cursor"] is None
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert says in response.json()["detail"]


#: Not ISO 8601 with a UTC offset, though pydantic alone reads each as a time.
NOT_ISO_TIMES = ["0", "0.5", "1736850000", "2025-01-14", "2025-01-14T09:30:00", "2025-01-14 09:30:00Z"]


async def test_every_query_time_is_iso_8601_with_an_offset(client: httpx.AsyncClient, redis_url: str) -> None:
    """Every time a /v1 query takes (found in the published document) refuses Unix seconds, dates and
    times without an offset with a 422 naming the parameter, and accepts ISO 8601 with `Z` or an offset."""
    seeded = await seed_two_wards(client, redis_url)
    values = {"ward_id": WARD_A, "patient_id": seeded.a}
    recent = datetime.now(UTC) - timedelta(hours=1)  # a range from it stays within retention
    accepted = [
        recent.strftime("%Y-%m-%dT%H:%M:%SZ"),
        recent.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="milliseconds"),
    ]
    schema = (await client.get("/openapi.json")).json()
    failures, asked = [], 0
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None or not path.startswith("/v1/"):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x1"), path)
        for p in op.get("parameters", []):
            if p["in"] != "query" or "date-time" not in str(p["schema"]):
                continue
            for value in NOT_ISO_TIMES:
                response = await client.get(url, params={p["name"]: value}, headers=AUTH)
                asked += 1
                if response.status_code != 422 or f"query.{p['name']}" not in response.json()["detail"]:
                    failures.append(f"GET {path}?{p['name']}={value}: {response.status_code}")
            for value in accepted:
                response = await client.get(url, params={p["name"]: value}, headers=AUTH)
                if response.status_code != 200:
                    failures.append(f"GET {path}?{p['name']}={value}: {response.status_code} {response.text}")
    assert asked >= 7 * 2 * len(NOT_ISO_TIMES)  # from and to of readings, series, exports, audit…
    assert not failures, "\n".join(failures)


async def test_a_dead_letter_cursor_redis_would_refuse_is_a_400(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/webhooks", json={"url": "https://epr.example/x", "events": ["alert.raised"]}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    url = f"/v1/webhooks/{created.json()['subscription_id']}/dead-letters"
    fine = await client.get(url, params={"cursor": "1736850000000-0"}, headers=AUTH)
    refused = await client.get(url, params={"cursor": "0-0"}, headers=AUTH)
    assert fine.status_code == 200
    assert refused.status_code == 400
    assert "cursor" in refused.json()["detail"]
