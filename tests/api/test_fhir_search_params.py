"""FHIR search parameters (issue 5): a search ignores a parameter it does not support, and its Bundle's
`self` link then lists only the parameters it applied (FHIR R4 search §3.1.1.2.4); under
`Prefer: handling=strict` such a parameter is a 400 OperationOutcome. `category` is applied: every
Observation here is a vital sign, so any other category matches none. Every bad `_count` is one
400 with one message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from api.fhir import codes
from tests.api import factories
from tests.api.integration_support import NHS, admit, register
from tests.api.rest_support import AUTH, api_client, store_readings

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
STRICT = {**AUTH, "Prefer": "return=representation, handling=strict"}


async def _patient(client: httpx.AsyncClient, redis_url: str) -> str:
    pid: str = (await register(client, NHS[0]))["patient_id"]
    await admit(client, "north-1", "Bed 1", pid, devices=[factories.DEVICE])
    readings = [factories.payload(measured_at=T0 + timedelta(minutes=i), seq=i) for i in range(3)]
    store_readings(redis_url, readings)
    return pid


def _links(bundle: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each link's query parameters."""
    return {link["relation"]: parse_qsl(urlsplit(link["url"]).query) for link in bundle["link"]}


def _searchset(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    return bundle


def _outcome(response: httpx.Response, code: str) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    [issue] = response.json()["issue"]
    assert issue["code"] == code
    diagnostics: str = issue["diagnostics"]
    return diagnostics


async def test_unsupported_parameters_are_left_out_of_the_self_link(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client, redis_url)
        url = "/fhir/R4/Observation"
        plain = await client.get(url, params={"patient": pid}, headers=AUTH)
        foo = await client.get(url, params=[("patient", pid), ("foo", "bar"), ("_count", "2")], headers=AUTH)
        patients = await client.get("/fhir/R4/Patient", params={"_id": pid, "given": "Ann"}, headers=AUTH)
        devices = await client.get("/fhir/R4/Device", params={"patient": pid, "type": "x"}, headers=AUTH)
    expected = len(_searchset(plain)["entry"])
    assert expected == 6  # SpO2 and pulse of three readings
    paged = _searchset(foo)
    assert len(paged["entry"]) == 2  # the unknown parameter is ignored, the known ones applied
    links = _links(paged)
    assert links["self"] == [("patient", pid), ("_count", "2")]
    assert [(k, v) for k, v in links["next"] if k != "_cursor"] == [("patient", pid), ("_count", "2")]
    assert _links(_searchset(patients))["self"] == [("_id", pid)]
    assert _links(_searchset(devices))["self"] == [("patient", pid)]


async def test_strict_handling_refuses_unsupported_parameters(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client, redis_url)
        refused = {
            "Observation": await client.get(
                "/fhir/R4/Observation", params={"patient": pid, "foo": "bar"}, headers=STRICT
            ),
            "Patient": await client.get("/fhir/R4/Patient", params={"given": "Ann"}, headers=STRICT),
            "Device": await client.get(
                "/fhir/R4/Device", params={"patient": pid, "type": "x"}, headers=STRICT
            ),
        }
        strict_and_known = await client.get(
            "/fhir/R4/Observation", params={"patient": pid, "category": "vital-signs"}, headers=STRICT
        )
    said = {name: _outcome(response, "not-supported") for name, response in refused.items()}
    assert said["Observation"].startswith("unknown query parameter foo; this operation takes patient,")
    assert "category" in said["Observation"]
    assert "given" in said["Patient"]
    assert "type" in said["Device"]
    assert len(_searchset(strict_and_known)["entry"]) == 6


async def test_category_is_applied(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client, redis_url)
        found = {}
        for category in (
            "vital-signs",
            f"{codes.OBSERVATION_CATEGORY}|vital-signs",
            "laboratory,vital-signs",
            "laboratory",
            "http://example.org/other|vital-signs",
        ):
            response = await client.get(
                "/fhir/R4/Observation", params={"patient": pid, "category": category}, headers=AUTH
            )
            bundle = _searchset(response)
            assert _links(bundle)["self"] == [("patient", pid), ("category", category)]
            found[category] = len(bundle["entry"])
        both = await client.get(
            "/fhir/R4/Observation",
            params=[("patient", pid), ("category", "vital-signs"), ("category", "laboratory")],
            headers=AUTH,
        )
        other_subject = await client.get(
            "/fhir/R4/Observation", params={"patient": pid, "subject": "Patient/someone-else"}, headers=AUTH
        )
        same_subject = await client.get(
            "/fhir/R4/Observation", params={"patient": pid, "subject": f"Patient/{pid}"}, headers=AUTH
        )
    assert found == {
        "vital-signs": 6,
        f"{codes.OBSERVATION_CATEGORY}|vital-signs": 6,
        "laboratory,vital-signs": 6,
        "laboratory": 0,
        "http://example.org/other|vital-signs": 0,
    }
    assert _searchset(both)["entry"] == []  # repeated: each must match
    assert _searchset(other_subject)["entry"] == []  # patient and subject: both must match
    assert len(_searchset(same_subject)["entry"]) == 6


async def test_every_bad_count_is_one_400(redis_url: str) -> None:
    bad = ["0", "501", "-1", "abc", "", "2.5", "²", "12345", "1" * 5000]
    async with api_client(redis_url) as client:
        pid = await _patient(client, redis_url)
        answers = [
            await client.get("/fhir/R4/Observation", params={"patient": pid, "_count": c}, headers=AUTH)
            for c in bad
        ]
        patients = await client.get("/fhir/R4/Patient", params={"_count": "99999"}, headers=AUTH)
        good = await client.get(
            "/fhir/R4/Observation", params={"patient": pid, "_count": "500"}, headers=AUTH
        )
    said = {_outcome(answer, "invalid") for answer in [*answers, patients]}
    assert said == {"_count must be a whole number from 1 to 500"}
    assert len(_searchset(good)["entry"]) == 6
