"""FHIR R4 read API: every resource it produces validates with fhir.resources (R4B models, see
docs/api.md), UK Core vital-signs codes and units, data-absent reasons, search and paging, scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from fhir.resources.R4B import get_fhir_model_class

from tests.api import factories
from tests.api.integration_support import NHS, admit, api_key, register
from tests.api.rest_support import AUTH, api_client, store_readings

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
PROBE_OFF = 1 << 11  # Device and Sensor Status bit 11 (clinical-rules.md §6.1)
LOW_PERFUSION = 1 << 5
TEST_DATA = 1 << 11  # Measurement Status bit 11


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with the FHIR model of its type; also the rules fhir.resources does not check."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    if resource["resourceType"] == "Observation":
        assert resource["status"] in {"registered", "preliminary", "final", "amended"}
        # obs-6: dataAbsentReason only when there is no value.
        assert ("valueQuantity" in resource) != ("dataAbsentReason" in resource)
    if resource["resourceType"] == "Bundle":
        for entry in resource.get("entry", []):
            valid(entry["resource"])
    return resource


async def _setup(client: httpx.AsyncClient, redis_url: str) -> str:
    contact = {"phone": "+44 7700 900123", "preferred": "sms"}
    pid: str = (await register(client, NHS[0], contact=contact))["patient_id"]
    await admit(client, "north-1", "Bed 1", pid, devices=[factories.DEVICE])
    store_readings(
        redis_url,
        [
            factories.payload(measured_at=T0, spo2=96.0, pulse=72.0, seq=0),
            factories.payload(
                measured_at=T0 + timedelta(minutes=10), spo2=61.0, device_sensor=PROBE_OFF, seq=1
            ),
            factories.payload(measured_at=T0 + timedelta(minutes=20), spo2=None, pulse=80.0, seq=2),
            factories.payload(
                measured_at=T0 + timedelta(minutes=30), spo2=91.0, device_sensor=LOW_PERFUSION, seq=3
            ),
            factories.payload(
                measured_at=T0 + timedelta(minutes=40), spo2=97.0, measurement=TEST_DATA, seq=4
            ),
        ],
    )
    return pid


def _by_code(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if any(c["code"] == code for c in e["resource"]["code"]["coding"])
    ]


async def test_observations_follow_uk_core_vital_signs(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _setup(client, redis_url)
        response = await client.get("/fhir/R4/Observation", params={"patient": pid}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = valid(response.json())
    assert bundle["type"] == "searchset"
    assert len(bundle["entry"]) == 10
    spo2 = _by_code(bundle, "2708-6")
    pulse = _by_code(bundle, "8867-4")
    assert len(spo2) == len(pulse) == 5
    normal = spo2[0]
    assert {c["code"] for c in normal["code"]["coding"]} == {"2708-6", "59408-5", "150456"}
    assert normal["valueQuantity"] == {
        "value": 96.0,
        "unit": "percent",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert normal["category"][0]["coding"][0]["code"] == "vital-signs"
    assert normal["subject"] == {"reference": f"Patient/{pid}"}
    assert normal["device"] == {"reference": "Device/" + factories.DEVICE.replace(":", "-")}
    assert normal["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-OxygenSaturation"
    ]
    assert pulse[0]["valueQuantity"]["code"] == "/min"
    assert {c["code"] for c in pulse[0]["code"]["coding"]} == {"8867-4", "149530"}
    # Probe off: no value, data-absent reason "error" naming why; its pulse is unusable too.
    assert spo2[1]["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert "probe-off" in spo2[1]["dataAbsentReason"]["text"]
    assert "valueQuantity" not in pulse[1]
    # No SpO2 sent: "unknown"; the pulse of that reading is still a value.
    assert spo2[2]["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert pulse[2]["valueQuantity"]["value"] == 80.0
    # Questionable: the value stays, with the measurement-status interpretation.
    assert spo2[3]["valueQuantity"]["value"] == 91.0
    assert spo2[3]["interpretation"][0]["coding"][0]["code"] == "questionable"
    # Test data is labelled HTEST, and its value is unscorable (clinical-rules §6.2.2).
    assert spo2[4]["meta"]["security"][0]["code"] == "HTEST"
    assert spo2[4]["dataAbsentReason"]["coding"][0]["code"] == "error"
    # Interpretations use only codes the measurement-status code system defines (PoCD IG).
    defined = {"questionable", "calibration-ongoing", "validated-data", "early-indication", "msmt-ongoing"}
    used = {c["code"] for o in spo2 + pulse for i in o.get("interpretation", []) for c in i["coding"]}
    assert used
    assert used <= defined


async def test_search_by_date_and_code_and_follow_next_links(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _setup(client, redis_url)
        start = (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        end = (T0 + timedelta(minutes=35)).isoformat().replace("+00:00", "Z")
        ranged = (
            await client.get(
                "/fhir/R4/Observation",
                params=[("subject", f"Patient/{pid}"), ("date", f"ge{start}"), ("date", f"lt{end}"),
                        ("code", "http://loinc.org|2708-6")],
                headers=AUTH,
            )
        ).json()  # fmt: skip
        seen: list[str] = []
        url: str | None = f"/fhir/R4/Observation?patient={pid}&_count=4"
        pages = 0
        while url is not None and pages < 20:
            page = valid((await client.get(url, headers=AUTH)).json())
            seen += [e["resource"]["id"] for e in page["entry"]]
            links = {link["relation"]: link["url"] for link in page["link"]}
            nxt = links.get("next")
            url = None if nxt is None else f"{urlsplit(nxt).path}?{urlsplit(nxt).query}"
            pages += 1
        first_id = seen[0]
        one = await client.get(f"/fhir/R4/Observation/{first_id}", headers=AUTH)
        none = await client.get(f"/fhir/R4/Observation/{pid}.1-0.s", headers=AUTH)
    assert [
        e["resource"]["valueQuantity"]["value"] for e in ranged["entry"] if "valueQuantity" in e["resource"]
    ] == [91.0]
    assert len(ranged["entry"]) == 3  # minutes 10, 20, 30
    assert len(seen) == 10
    assert len(set(seen)) == 10
    assert pages > 2
    assert valid(one.json())["id"] == first_id
    assert none.status_code == 404
    assert valid(none.json())["resourceType"] == "OperationOutcome"


async def test_patient_and_device_resources(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _setup(client, redis_url)
        patient = (await client.get(f"/fhir/R4/Patient/{pid}", headers=AUTH)).json()
        by_nhs = (
            await client.get(
                "/fhir/R4/Patient",
                params={"identifier": f"https://fhir.nhs.uk/Id/nhs-number|{NHS[0]}"},
                headers=AUTH,
            )
        ).json()
        everyone = (await client.get("/fhir/R4/Patient", headers=AUTH)).json()
        device = (
            await client.get("/fhir/R4/Device/" + factories.DEVICE.replace(":", "-"), headers=AUTH)
        ).json()
        devices = (
            await client.get("/fhir/R4/Device", params={"patient": f"Patient/{pid}"}, headers=AUTH)
        ).json()
        meta = (await client.get("/fhir/R4/metadata", headers=AUTH)).json()
    assert valid(patient)["identifier"] == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS[0]}]
    assert patient["birthDate"] == "1950-03-14"
    assert patient["telecom"][0] == {
        "system": "phone",
        "value": "+44 7700 900123",
        "use": "mobile",
        "rank": 1,
    }
    assert [e["resource"]["id"] for e in valid(by_nhs)["entry"]] == [pid]
    assert [e["resource"]["id"] for e in valid(everyone)["entry"]] == [pid]
    assert valid(device)["identifier"][0]["system"] == "http://hl7.org/fhir/sid/eui-48/bluetooth"
    assert device["identifier"][0]["value"] == "C0-FF-EE-00-00-01"
    assert device["patient"] == {"reference": f"Patient/{pid}"}
    assert [e["resource"]["id"] for e in valid(devices)["entry"]] == ["C0-FF-EE-00-00-01"]
    assert valid(meta)["fhirVersion"] == "4.0.1"


async def test_search_errors_are_operation_outcomes(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _setup(client, redis_url)
        cases = [
            {"patient": pid, "date": "2025-13-01"},
            {"patient": pid, "date": "ge2025-01-14T10:00:00"},  # no offset
            {"patient": pid, "_count": "0"},
            {"date": "2025-01-14"},  # no patient
            {"patient": pid, "_cursor": "not-a-cursor"},
        ]
        responses = [await client.get("/fhir/R4/Observation", params=c, headers=AUTH) for c in cases]
        wrong_system = await client.get(
            "/fhir/R4/Patient", params={"identifier": "urn:other|1"}, headers=AUTH
        )
    for response in [*responses, wrong_system]:
        assert response.status_code == 400, response.text
        assert valid(response.json())["resourceType"] == "OperationOutcome"


async def test_fhir_search_never_shows_another_wards_patient(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _setup(client, redis_url)
        outsider = await api_key(client, "integrator", ["south-2"])
        obs = (await client.get("/fhir/R4/Observation", params={"patient": pid}, headers=outsider)).json()
        by_nhs = (
            await client.get("/fhir/R4/Patient", params={"identifier": NHS[0]}, headers=outsider)
        ).json()
        everyone = (await client.get("/fhir/R4/Patient", headers=outsider)).json()
        read = await client.get(f"/fhir/R4/Patient/{pid}", headers=outsider)
        one = await client.get(f"/fhir/R4/Observation/{pid}.1-0.s", headers=outsider)
        device = await client.get("/fhir/R4/Device/" + factories.DEVICE.replace(":", "-"), headers=outsider)
        no_token = await client.get("/fhir/R4/Observation", params={"patient": pid})
    assert valid(obs)["entry"] == []
    assert by_nhs["entry"] == []
    assert everyone["entry"] == []
    assert read.status_code == 403
    assert one.status_code == 403
    assert device.status_code == 403
    assert no_token.status_code == 401
    assert NHS[0] not in read.text + one.text + device.text
