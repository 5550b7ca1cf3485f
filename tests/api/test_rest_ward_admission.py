"""Writes that reach across wards: admitting another ward's patient, and the 409s that would tell a
ward-limited caller about another ward's patient or device. Principals are real (admin API);
data is real (ingest store + worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis

from api.main import create_app
from tests.api.integration_support import NHS
from tests.api.rest_support import AUTH, data_keys, running, settings
from tests.api.security_support import WARD_A, WARD_B, Seeded, api_key, bearer, seed_two_wards


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


async def _discharge_b(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """Ward B discharges its patient (an administrator resolves the open alert first)."""
    resolved = await client.post(
        f"/v1/patients/{seeded.b}/alerts/{seeded.b_alert}/resolve",
        json={"by": "dr-b", "outcome": "re-measured"},
        headers=AUTH,
    )
    assert resolved.status_code == 200, resolved.text
    [enrolment] = (await client.get(f"/v1/patients/{seeded.b}/enrolments", headers=AUTH)).json()["items"]
    discharged = await client.post(
        f"/v1/enrolments/{enrolment['enrolment_id']}/discharge",
        json={"reason": "recovered", "by": "dr-b"},
        headers=AUTH,
    )
    assert discharged.status_code == 200, discharged.text


def _admission(patient_id: str, **extra: Any) -> dict[str, Any]:
    return {"patient_id": patient_id, "ward_id": WARD_A, "ref": "Bed 7", **extra}


async def test_another_wards_patient_is_admitted_only_by_someone_granted_both(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ward_a = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    both = bearer((await api_key(client, "ward-administrator", [WARD_A, WARD_B]))["api_key"])
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        unknown = await client.post("/v1/enrolments", json=_admission("p-nobody"), headers=ward_a)
        before = {k: r.dump(k) for k in data_keys(r)}
        while_admitted = await client.post("/v1/enrolments", json=_admission(seeded.b), headers=ward_a)
        after = {k: r.dump(k) for k in data_keys(r)}
        await _discharge_b(client, seeded)
        discharged = {k: r.dump(k) for k in data_keys(r)}
        after_discharge = await client.post("/v1/enrolments", json=_admission(seeded.b), headers=ward_a)
        unchanged = {k: r.dump(k) for k in data_keys(r)}
        history = await client.get(f"/v1/patients/{seeded.b}/enrolments", headers=ward_a)
        transfer = await client.post("/v1/enrolments", json=_admission(seeded.b), headers=both)
        now_readable = await client.get(f"/v1/patients/{seeded.b}", headers=ward_a)
    finally:
        r.close()
    # Answered exactly as for a patient id nobody registered: nothing confirms the patient exists.
    assert unknown.status_code == 404
    for refused in (while_admitted, after_discharge):
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == unknown.json()["detail"].replace("p-nobody", seeded.b)
        assert "admitted" not in refused.text
    assert after == before
    assert unchanged == discharged
    assert history.status_code == 403
    # Someone granted both wards moves the patient; from then on ward A has them.
    assert transfer.status_code == 201, transfer.text
    assert transfer.json()["ward_id"] == WARD_A
    assert now_readable.status_code == 200
    assert now_readable.json()["ward_id"] == WARD_A


async def test_a_registered_patient_not_yet_admitted_is_admitted_by_any_ward(
    client: httpx.AsyncClient,
) -> None:
    ward_a = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    body = {"nhs_number": NHS[0], "date_of_birth": "1950-03-14"}
    registered = (await client.post("/v1/patients", json=body, headers=ward_a)).json()
    admitted = await client.post("/v1/enrolments", json=_admission(registered["patient_id"]), headers=ward_a)
    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["ward_id"] == WARD_A


async def test_conflicts_do_not_describe_another_wards_patient_or_device(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ward_a = bearer((await api_key(client, "ward-administrator", [WARD_A]))["api_key"])
    nhs_b = {"nhs_number": NHS[1], "date_of_birth": "1961-07-01"}
    on_b = (await client.post("/v1/patients", json=nhs_b, headers=AUTH)).json()["patient_id"]
    admitted_b = await client.post("/v1/enrolments", json=_admission(on_b, ward_id=WARD_B), headers=AUTH)
    assert admitted_b.status_code == 201, admitted_b.text
    enrolment_a = (await client.get(f"/v1/patients/{seeded.a}/enrolments", headers=AUTH)).json()["items"][0]

    nhs_clash = await client.post("/v1/patients", json=nhs_b, headers=ward_a)
    device = {"devices": [seeded.b_device]}
    new_patient = {"ward_id": WARD_A, "ref": "Bed 8", **device}
    by_admission = await client.post("/v1/enrolments", json=new_patient, headers=ward_a)
    by_ward_path = await client.post(
        f"/v1/wards/{WARD_A}/patients", json={"ref": "Bed 9", **device}, headers=ward_a
    )
    by_assignment = await client.put(
        f"/v1/devices/{seeded.b_device}/assignment",
        json={"enrolment_id": enrolment_a["enrolment_id"]},
        headers=ward_a,
    )
    by_patient_path = await client.put(f"/v1/patients/{seeded.a}/devices/{seeded.b_device}", headers=ward_a)
    as_admin = await client.post("/v1/enrolments", json=new_patient, headers=AUTH)

    assert nhs_clash.status_code == 409
    assert nhs_clash.json()["detail"] == "this NHS number is already registered; ask an administrator"
    neutral = f"device {seeded.b_device} is not available for assignment; ask an administrator"
    for refused in (by_admission, by_ward_path, by_assignment, by_patient_path):
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"] == neutral
    # Someone who may see ward B is told why.
    assert as_admin.status_code == 409
    assert as_admin.json()["detail"] == f"device {seeded.b_device} is assigned to another patient"
    for refused in (nhs_clash, by_admission, by_ward_path, by_assignment, by_patient_path):
        assert on_b not in refused.text
        assert seeded.b not in refused.text
        assert WARD_B not in refused.text


async def test_a_refused_enrolment_keeps_a_registered_patients_demographics(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """Enrolling a registered patient by the ward's path with a device someone else has is refused
    and undone - only the enrolment, never the patient's NHS number and date of birth."""
    seeded = await seed_two_wards(client, redis_url)
    body = {"nhs_number": NHS[2], "date_of_birth": "1970-01-02"}
    pid = (await client.post("/v1/patients", json=body, headers=AUTH)).json()["patient_id"]
    clash = {"patient_id": pid, "ref": "Bed 5", "devices": [seeded.a_device]}
    refused = await client.post(f"/v1/wards/{WARD_A}/patients", json=clash, headers=AUTH)
    patient = await client.get(f"/v1/patients/{pid}", headers=AUTH)
    assert refused.status_code == 409
    assert patient.status_code == 200, patient.text
    assert patient.json()["nhs_number"] == NHS[2]
    assert patient.json()["status"] == "registered"
