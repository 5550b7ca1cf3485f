"""`GET /v1/patients/{id}`: the whole patient (demographics and current enrolment) to a caller
allowed to read it, the same record the patient list shows; nothing to anyone else."""

from __future__ import annotations

from tests.api.integration_support import NHS, admit, api_key, register
from tests.api.rest_support import AUTH, api_client

CONTACT = {"phone": "+44 7700 900123", "email": "pat@example.org", "preferred": "sms"}


async def test_a_patient_read_shows_demographics_and_the_current_enrolment(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        registered = await register(client, NHS[0], contact=CONTACT)
        pid = registered["patient_id"]
        enrolment = await admit(client, "north-1", "Bed 3", patient_id=pid, devices=["C0:FF:EE:00:00:03"])
        clinician = await api_key(client, "clinician", ["north-1"])
        read = await client.get(f"/v1/patients/{pid}", headers=clinician)
        listed = await client.get("/v1/patients", params={"ward_id": "north-1"}, headers=clinician)
    assert read.status_code == 200, read.text
    patient = read.json()
    assert patient == listed.json()["items"][0]
    assert patient["nhs_number"] == NHS[0]
    assert patient["date_of_birth"] == "1950-03-14"
    assert patient["contact"] == CONTACT
    assert patient["status"] == "admitted"
    assert (patient["ward_id"], patient["ref"]) == ("north-1", "Bed 3")
    assert patient["enrolment_id"] == enrolment["enrolment_id"]
    assert patient["devices"] == ["C0:FF:EE:00:00:03"]
    assert patient["discharged_at"] is None


async def test_only_callers_who_may_read_the_patient_see_it(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        on_north = await admit(client, "north-1", "Bed 1")
        waiting = await register(client, NHS[1])  # registered, not admitted: no ward yet
        south_clinician = await api_key(client, "clinician", ["south-2"])
        north_clinician = await api_key(client, "clinician", ["north-1"])
        north_ward_admin = await api_key(client, "ward-administrator", ["north-1"])
        other_ward = await client.get(f"/v1/patients/{on_north['patient_id']}", headers=south_clinician)
        unknown = await client.get("/v1/patients/p-nobody", headers=north_clinician)
        waiting_to_reader = await client.get(f"/v1/patients/{waiting['patient_id']}", headers=north_clinician)
        waiting_to_admitter = await client.get(
            f"/v1/patients/{waiting['patient_id']}", headers=north_ward_admin
        )
        waiting_to_admin = await client.get(f"/v1/patients/{waiting['patient_id']}", headers=AUTH)
    assert other_ward.status_code == 403
    assert other_ward.headers["content-type"] == "application/problem+json"
    assert "north-1" not in other_ward.text
    assert unknown.status_code == 404
    assert waiting_to_reader.status_code == 403
    assert NHS[1] not in waiting_to_reader.text
    assert waiting_to_admitter.status_code == 200
    assert waiting_to_admin.json()["status"] == "registered"
    assert waiting_to_admin.json()["nhs_number"] == NHS[1]
    assert waiting_to_admin.json()["ward_id"] is None


async def test_a_patient_read_is_audited_with_the_patient(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = (await admit(client, "north-1", "Bed 1"))["patient_id"]
        south_clinician = await api_key(client, "clinician", ["south-2"])
        await client.get(f"/v1/patients/{pid}", headers=AUTH)
        await client.get(f"/v1/patients/{pid}", headers=south_clinician)
        entries = (await client.get("/v1/audit", params={"patient": pid}, headers=AUTH)).json()["items"]
    reads = [(e["status"], e["outcome"]) for e in entries if e["route"] == "/v1/patients/{patient_id}"]
    assert reads == [(200, "ok"), (403, "denied")]
