"""Wards, patients (NHS number, demographics) and enrolments (admit, discharge), against a real Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import redis

from api import keys
from tests.api import factories
from tests.api.integration_support import NHS, admit, api_key, register
from tests.api.rest_support import AUTH, api_client, evaluate, store_readings


async def test_register_validates_the_nhs_number_and_keeps_one_patient_per_number(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        created = await register(client, "943 476 5919", contact={"phone": "+44 7700 900123"})
        wrong = await client.post(
            "/v1/patients", json={"nhs_number": "9434765918", "date_of_birth": "1950-03-14"}, headers=AUTH
        )
        short = await client.post(
            "/v1/patients", json={"nhs_number": "943476591 ", "date_of_birth": "1950-03-14"}, headers=AUTH
        )
        again = await client.post(
            "/v1/patients", json={"nhs_number": "9434765919", "date_of_birth": "1961-01-01"}, headers=AUTH
        )
        found = await client.get("/v1/patients", params={"nhs_number": "943-476-5919"}, headers=AUTH)
    assert created["nhs_number"] == "9434765919"
    assert created["status"] == "registered"
    assert created["ward_id"] is None
    assert created["contact"] == {"phone": "+44 7700 900123", "email": None, "preferred": None}
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "Modulus 11" in wrong.json()["detail"]
    assert "9434765918" not in wrong.text
    assert short.status_code == 422
    assert again.status_code == 409
    assert [p["patient_id"] for p in found.json()["items"]] == [created["patient_id"]]


async def test_an_impossible_date_of_birth_is_refused_saying_why(redis_url: str) -> None:
    today = datetime.now(UTC).date()
    cases = {
        "2999-03-14": "must not be in the future",
        (today + timedelta(days=3)).isoformat(): "must not be in the future",
        "0001-01-01": "gives an age over 130 years",
        date(today.year - 131, 1, 1).isoformat(): "gives an age over 130 years",
        "0": "must be a calendar date written YYYY-MM-DD",
        "1950-02-30": "date_of_birth",
    }
    async with api_client(redis_url) as client:
        refused = {
            dob: await client.post(
                "/v1/patients", json={"nhs_number": NHS[0], "date_of_birth": dob}, headers=AUTH
            )
            for dob in cases
        }
        created = await register(client, NHS[0], date_of_birth=today.isoformat())
        patched = await client.patch(
            f"/v1/patients/{created['patient_id']}", json={"date_of_birth": "2999-03-14"}, headers=AUTH
        )
        oldest = await client.patch(
            f"/v1/patients/{created['patient_id']}",
            json={"date_of_birth": date(today.year - 129, 12, 31).isoformat()},
            headers=AUTH,
        )
    for dob, says in cases.items():
        assert refused[dob].status_code == 422, (dob, refused[dob].text)
        assert refused[dob].headers["content-type"] == "application/problem+json"
        assert "date_of_birth" in refused[dob].json()["detail"]
        assert says in refused[dob].json()["detail"], dob
    assert created["date_of_birth"] == today.isoformat()  # born today is fine
    assert patched.status_code == 422
    assert "must not be in the future" in patched.json()["detail"]
    assert oldest.status_code == 200


async def test_update_changes_demographics_and_moves_the_nhs_claim(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        p = await register(client, NHS[0])
        pid = p["patient_id"]
        changed = await client.patch(
            f"/v1/patients/{pid}",
            json={"nhs_number": NHS[1], "contact": {"email": "pat@example.org", "preferred": "email"}},
            headers=AUTH,
        )
        by_old = await client.get("/v1/patients", params={"nhs_number": NHS[0]}, headers=AUTH)
        reuse_old = await register(client, NHS[0])
        bad = await client.patch(f"/v1/patients/{pid}", json={"nhs_number": "1234567890"}, headers=AUTH)
        missing = await client.patch(
            "/v1/patients/p-nobody", json={"date_of_birth": "1950-01-01"}, headers=AUTH
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["nhs_number"] == NHS[1]
    assert changed.json()["contact"]["email"] == "pat@example.org"
    assert by_old.json()["items"] == []
    assert reuse_old["patient_id"] != pid
    assert bad.status_code == 422
    assert missing.status_code == 404


async def test_admit_discharge_and_readmit(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    async with api_client(redis_url) as client:
        pid = (await register(client, NHS[0]))["patient_id"]
        first = await admit(client, "north-1", "Bed 3", pid)
        twice = await client.post(
            "/v1/enrolments", json={"patient_id": pid, "ward_id": "south-2", "ref": "Bed 1"}, headers=AUTH
        )
        queue_before = (await client.get("/v1/wards/north-1/queue", headers=AUTH)).json()
        out = await client.post(
            f"/v1/enrolments/{first['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "dr-ak", "note": "stable"},
            headers=AUTH,
        )
        again = await client.post(
            f"/v1/enrolments/{first['enrolment_id']}/discharge",
            json={"reason": "other", "by": "x"},
            headers=AUTH,
        )
        queue_after = (await client.get("/v1/wards/north-1/queue", headers=AUTH)).json()
        detail = (await client.get("/v1/patients", params={"status": "discharged"}, headers=AUTH)).json()
        second = await admit(client, "south-2", "Bed 7", pid)
        history = (await client.get(f"/v1/patients/{pid}/enrolments", headers=AUTH)).json()
        missing = await client.post(
            "/v1/enrolments", json={"patient_id": "p-nobody", "ward_id": "w", "ref": "Bed 1"}, headers=AUTH
        )
    assert first["status"] == "active"
    assert first["ward_id"] == "north-1"
    assert twice.status_code == 409
    assert [i["patient_id"] for i in queue_before["items"]] == [pid]
    assert out.status_code == 200, out.text
    assert out.json()["status"] == "discharged"
    assert out.json()["discharge_reason"] == "recovered"
    assert again.status_code == 409
    assert queue_after["items"] == []
    assert [p["patient_id"] for p in detail["items"]] == [pid]
    assert detail["items"][0]["discharged_at"] is not None
    assert second["ward_id"] == "south-2"
    assert [e["enrolment_id"] for e in history["items"]] == [first["enrolment_id"], second["enrolment_id"]]
    assert r.hget(keys.patient(pid), "discharged_at") is None  # readmitted: active again
    assert r.hget(keys.patient(pid), "enrolment") == second["enrolment_id"]
    assert missing.status_code == 404
    r.close()


async def test_discharge_waits_for_open_alerts_and_keeps_later_readings(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        enrolment = await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE])
        pid = enrolment["patient_id"]
        store_readings(redis_url, [factories.payload(spo2=88.0, seq=1)])
        assert evaluate(redis_url) == 1
        alerts = (await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)).json()["items"]
        refused = await client.post(
            f"/v1/enrolments/{enrolment['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "a"},
            headers=AUTH,
        )
        resolved = await client.post(
            f"/v1/patients/{pid}/alerts/{alerts[0]['alert_id']}/resolve",
            json={"by": "dr-ak", "outcome": "phoned"},
            headers=AUTH,
        )
        done = await client.post(
            f"/v1/enrolments/{enrolment['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "a"},
            headers=AUTH,
        )
        # The device is still at home: what it sends is stored, never lost.
        store_readings(redis_url, [factories.payload(spo2=95.0, seq=2)])
        readings = (await client.get(f"/v1/patients/{pid}/readings", headers=AUTH)).json()["items"]
    assert refused.status_code == 409
    assert "unresolved alerts" in refused.json()["detail"]
    assert resolved.status_code == 200
    assert done.status_code == 200
    assert [x["spo2"] for x in readings] == [88.0, 95.0]


async def test_a_discharged_patients_readings_raise_no_alert(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        enrolment = await admit(client, "north-1", "Bed 1", devices=[factories.DEVICE])
        await client.post(
            f"/v1/enrolments/{enrolment['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "a"},
            headers=AUTH,
        )
        store_readings(redis_url, [factories.payload(spo2=85.0, seq=3)])
        evaluate(redis_url)
        alerts = (await client.get(f"/v1/patients/{enrolment['patient_id']}/alerts", headers=AUTH)).json()
    assert alerts["items"] == []


async def test_patient_list_pages_and_filters_and_adopts_older_enrolments(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        legacy = await client.post(
            "/v1/wards/east-3/patients", json={"patient_id": "p-legacy", "ref": "Bed 9"}, headers=AUTH
        )
        for i in range(6):
            await admit(client, "north-1" if i % 2 else "south-2", f"Bed {i}")
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/v1/patients", params=params, headers=AUTH)).json()
            seen += [p["patient_id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        north = (await client.get("/v1/patients", params={"ward_id": "north-1"}, headers=AUTH)).json()
        enrolments = (await client.get("/v1/enrolments", params={"ward_id": "east-3"}, headers=AUTH)).json()
        bad_cursor = await client.get("/v1/patients", params={"cursor": "bm9wZQ"}, headers=AUTH)
    assert legacy.status_code == 201
    assert len(seen) == 7
    assert len(set(seen)) == 7
    assert seen == sorted(seen)
    assert {p["ward_id"] for p in north["items"]} == {"north-1"}
    assert len(north["items"]) == 3
    assert [e["patient_id"] for e in enrolments["items"]] == ["p-legacy"]
    assert bad_cursor.status_code == 400


async def test_ward_limited_callers_see_only_their_wards(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        mine = await admit(client, "north-1", "Bed 1")
        other = await admit(client, "south-2", "Bed 2")
        await register(client, NHS[2])  # registered, no ward yet
        integrator = await api_key(client, "integrator", ["north-1"])
        patients = (await client.get("/v1/patients", headers=integrator)).json()
        enrolments = (await client.get("/v1/enrolments", headers=integrator)).json()
        forbidden_filter = await client.get("/v1/patients", params={"ward_id": "south-2"}, headers=integrator)
        forbidden_read = await client.get(f"/v1/enrolments/{other['enrolment_id']}", headers=integrator)
        cant_admit = await client.post(
            "/v1/enrolments", json={"ward_id": "north-1", "ref": "x"}, headers=integrator
        )
    assert [p["patient_id"] for p in patients["items"]] == [mine["patient_id"]]
    assert [e["enrolment_id"] for e in enrolments["items"]] == [mine["enrolment_id"]]
    assert forbidden_filter.status_code == 403
    assert forbidden_read.status_code == 403
    assert cant_admit.status_code == 403


async def test_wards_are_created_renamed_and_counted(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        created = await client.post(
            "/v1/wards", json={"ward_id": "north-1", "name": "North VW"}, headers=AUTH
        )
        dup = await client.post("/v1/wards", json={"ward_id": "north-1", "name": "Again"}, headers=AUTH)
        await admit(client, "north-1", "Bed 1")
        renamed = await client.patch(
            "/v1/wards/north-1", json={"description": "COVID step-down"}, headers=AUTH
        )
        implicit = await admit(client, "south-2", "Bed 1")
        south = await client.get("/v1/wards/south-2", headers=AUTH)
        unknown = await client.get("/v1/wards/nowhere", headers=AUTH)
        listed = await client.get("/v1/wards", headers=AUTH)
    assert created.status_code == 201
    assert created.json()["patients"] == 0
    assert dup.status_code == 409
    assert renamed.json() | {"created_at": None} == {
        "ward_id": "north-1", "name": "North VW", "description": "COVID step-down",
        "created_at": None, "patients": 1,
    }  # fmt: skip
    assert implicit["ward_id"] == "south-2"
    assert south.json()["name"] is None
    assert south.json()["patients"] == 1
    assert unknown.status_code == 404
    assert [w["ward_id"] for w in listed.json()["items"]] == ["north-1", "south-2"]
    created_at = datetime.fromisoformat(created.json()["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=5)
