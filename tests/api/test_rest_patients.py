"""Enrolment, device assignment and patient lookup, against a real Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from api import keys
from api.resources import keys as rkeys
from tests.api.rest_support import AUTH, api_client, data_keys


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


async def test_enrol_writes_exactly_the_documented_keys(redis_url: str, r: redis.Redis) -> None:
    async with api_client(redis_url) as client:
        response = await client.post(
            "/v1/wards/north-1/patients",
            json={"patient_id": "p-1", "ref": "Bed 3", "devices": ["c0:ff:ee:00:00:03", "C0:FF:EE:00:00:04"]},
            headers=AUTH,
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["patient_id"] == "p-1"
    assert body["ward_id"] == "north-1"
    assert body["ref"] == "Bed 3"
    assert body["devices"] == ["C0:FF:EE:00:00:03", "C0:FF:EE:00:00:04"]
    enrolled = datetime.fromisoformat(body["enrolled_at"])
    assert enrolled.tzinfo is not None
    assert abs((datetime.now(UTC) - enrolled).total_seconds()) < 60

    # Besides the data: the request's audit entry and the caller's rate-limit bucket (api/security/).
    security_keys = {k for k in r.keys("*") if k == keys.AUDIT or k.startswith("ox:rl:")}
    assert keys.AUDIT in security_keys
    assert len(security_keys) == 2
    # The enrolment record, as POST /v1/enrolments writes it (api/resources/keys.py).
    enrolment = str(r.hget(keys.patient("p-1"), "enrolment"))
    assert sorted(set(r.keys("*")) - security_keys) == sorted(
        [
            keys.device("C0:FF:EE:00:00:03"),
            keys.device("C0:FF:EE:00:00:04"),
            keys.patient("p-1"),
            keys.ward_patients("north-1"),
            keys.wards(),
            rkeys.enrolments_of("p-1"),
            rkeys.enrolment(enrolment),
            rkeys.ENROLMENTS,
            rkeys.PATIENTS,
        ]
    )
    assert r.get(keys.device("C0:FF:EE:00:00:03")) == "p-1"
    assert r.get(keys.device("C0:FF:EE:00:00:04")) == "p-1"
    stored = r.hgetall(keys.patient("p-1"))
    assert stored["ward"] == "north-1"
    assert stored["ref"] == "Bed 3"
    assert stored["devices"] == "C0:FF:EE:00:00:03,C0:FF:EE:00:00:04"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(stored["enrolled_at"]))
    assert r.smembers(keys.ward_patients("north-1")) == {"p-1"}
    assert r.smembers(keys.wards()) == {"north-1"}


async def test_enrol_without_id_generates_one_and_get_returns_the_patient(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        created = await client.post("/v1/wards/w1/patients", json={"ref": "Bed 1"}, headers=AUTH)
        other = await client.post("/v1/wards/w1/patients", json={"ref": "Bed 2"}, headers=AUTH)
        pid = created.json()["patient_id"]
        fetched = await client.get(f"/v1/patients/{pid}", headers=AUTH)
        wards = await client.get("/v1/wards", headers=AUTH)
    assert created.status_code == 201
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", pid)
    assert pid != other.json()["patient_id"]
    assert fetched.status_code == 200
    # The read answers the whole patient: what enrolling answered, and the registration details.
    assert fetched.json().items() >= created.json().items()
    assert (fetched.json()["nhs_number"], fetched.json()["status"]) == (None, "admitted")
    assert fetched.json()["devices"] == []
    assert wards.json()["wards"] == ["w1"]


async def test_device_of_another_patient_is_refused_and_nothing_is_written(
    redis_url: str, r: redis.Redis
) -> None:
    async with api_client(redis_url) as client:
        first = await client.post(
            "/v1/wards/w1/patients",
            json={"patient_id": "p-1", "ref": "Bed 1", "devices": ["AA:BB:CC:DD:EE:01"]},
            headers=AUTH,
        )
        clash = await client.post(
            "/v1/wards/w2/patients",
            json={"patient_id": "p-2", "ref": "Bed 2", "devices": ["AA:BB:CC:DD:EE:02", "aa:bb:cc:dd:ee:01"]},
            headers=AUTH,
        )
        missing = await client.get("/v1/patients/p-2", headers=AUTH)
    assert first.status_code == 201
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    assert "AA:BB:CC:DD:EE:01" in clash.json()["detail"]
    assert missing.status_code == 404
    # The refused request left nothing: not its free device's claim, not the patient, not the ward.
    assert r.get(keys.device("AA:BB:CC:DD:EE:02")) is None
    assert r.get(keys.device("AA:BB:CC:DD:EE:01")) == "p-1"
    assert not r.exists(keys.patient("p-2"))
    assert not r.exists(keys.ward_patients("w2"))
    assert r.smembers(keys.wards()) == {"w1"}


async def test_enrolling_an_existing_patient_id_is_a_conflict(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await client.post("/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": "Bed 1"}, headers=AUTH)
        again = await client.post(
            "/v1/wards/w2/patients", json={"patient_id": "p-1", "ref": "Bed 9"}, headers=AUTH
        )
        fetched = await client.get("/v1/patients/p-1", headers=AUTH)
    assert again.status_code == 409
    assert fetched.json()["ward_id"] == "w1"
    assert fetched.json()["ref"] == "Bed 1"


async def test_assign_device_is_idempotent_and_refuses_another_patients_device(
    redis_url: str, r: redis.Redis
) -> None:
    uuid_address = "0f8fad5b-d9cb-469f-a165-70867728950e"
    async with api_client(redis_url) as client:
        for pid in ("p-1", "p-2"):
            await client.post("/v1/wards/w1/patients", json={"patient_id": pid, "ref": pid}, headers=AUTH)
        first = await client.put("/v1/patients/p-1/devices/aa:bb:cc:dd:ee:01", headers=AUTH)
        again = await client.put("/v1/patients/p-1/devices/AA:BB:CC:DD:EE:01", headers=AUTH)
        by_uuid = await client.put(f"/v1/patients/p-1/devices/{uuid_address}", headers=AUTH)
        stolen = await client.put("/v1/patients/p-2/devices/AA:BB:CC:DD:EE:01", headers=AUTH)
        nobody = await client.put("/v1/patients/p-404/devices/AA:BB:CC:DD:EE:09", headers=AUTH)
    assert first.status_code == 200
    assert first.json()["devices"] == ["AA:BB:CC:DD:EE:01"]
    assert again.status_code == 200
    assert again.json()["devices"] == ["AA:BB:CC:DD:EE:01"]
    assert by_uuid.json()["devices"] == ["AA:BB:CC:DD:EE:01", uuid_address.upper()]
    assert stolen.status_code == 409
    assert nobody.status_code == 404
    assert r.get(keys.device("AA:BB:CC:DD:EE:01")) == "p-1"
    assert r.get(keys.device("AA:BB:CC:DD:EE:09")) is None  # no claim left for a missing patient
    assert r.hget(keys.patient("p-2"), "devices") == ""


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/wards/bad%20ward/patients", {"ref": "Bed 1"}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed 1", "patient_id": "has/slash"}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed 1", "patient_id": "x" * 65}),
        ("POST", "/v1/wards/w1/patients", {"ref": ""}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed\n1"}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed 1", "devices": ["C0:FF:EE:00:00"]}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed 1", "devices": ["not-a-uuid-0000-0000-000000000000"]}),
        ("POST", "/v1/wards/w1/patients", {"ref": "Bed 1", "name": "Jane Doe"}),
        ("GET", "/v1/patients/p%201", None),
    ],
)
async def test_invalid_input_is_a_422_problem(
    redis_url: str, r: redis.Redis, method: str, path: str, body: object
) -> None:
    async with api_client(redis_url) as client:
        response = await client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["detail"]
    assert problem["errors"]
    assert data_keys(r) == []


async def test_malformed_device_address_is_a_422_problem(redis_url: str, r: redis.Redis) -> None:
    # The patient must exist: an unknown patient is a 404 first (the access check, which needs the
    # patient's ward, runs before the other path parameters are validated).
    async with api_client(redis_url) as client:
        created = await client.post(
            "/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": "Bed 1"}, headers=AUTH
        )
        before = r.hgetall(keys.patient("p-1"))
        response = await client.put("/v1/patients/p-1/devices/C0-FF-EE-00-00-01", headers=AUTH)
    assert created.status_code == 201
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert "address" in response.json()["detail"]
    assert r.hgetall(keys.patient("p-1")) == before
    assert r.get(keys.device("C0-FF-EE-00-00-01")) is None


async def test_unknown_patient_is_a_404_problem(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get("/v1/patients/p-unknown", headers=AUTH)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no patient p-unknown"
