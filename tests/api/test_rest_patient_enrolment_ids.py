"""A patient admitted on a ward's path (POST /v1/wards/{ward}/patients) shows one enrolment id in the
patient list, on the patient and in the enrolment list, whichever of them is asked first (issue 5):
the list showed `enrolment_id: null` until something else had made the enrolment record. Patients
admitted that way before the record was made at admission (written here through api/registry.py,
as that route did) are given it by whichever read comes first."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import redis.asyncio

from api import registry
from tests.api.rest_support import AUTH, api_client

WARD = "north-ids"


async def _same_id_everywhere(client: httpx.AsyncClient, pid: str, first: str) -> None:
    """Each read shows the patient's one enrolment id, `first` asked first."""
    reads = {
        "list": lambda: client.get("/v1/patients", params={"ward_id": WARD}, headers=AUTH),
        "patient": lambda: client.get(f"/v1/patients/{pid}", headers=AUTH),
        "enrolments": lambda: client.get("/v1/enrolments", params={"patient_id": pid}, headers=AUTH),
    }
    shown: dict[str, str | None] = {}
    for name in [first, *(n for n in reads if n != first)]:
        response = await reads[name]()
        assert response.status_code == 200, response.text
        body = response.json()
        items = body.get("items", [body])
        [item] = [i for i in items if i["patient_id"] == pid]
        shown[name] = item["enrolment_id"]
    assert None not in shown.values(), (first, shown)
    assert len(set(shown.values())) == 1, (first, shown)


async def test_an_admission_on_the_ward_path_has_its_enrolment_id_everywhere_at_once(redis_url: str) -> None:
    for first in ("list", "patient", "enrolments"):
        async with api_client(redis_url) as client:
            admitted = await client.post(f"/v1/wards/{WARD}/patients", json={"ref": "Bed 1"}, headers=AUTH)
            assert admitted.status_code == 201, admitted.text
            await _same_id_everywhere(client, admitted.json()["patient_id"], first)


async def test_an_earlier_admission_is_given_its_enrolment_by_whichever_read_comes_first(
    redis_url: str,
) -> None:
    for first in ("list", "patient", "enrolments"):
        r = redis.asyncio.Redis.from_url(redis_url)
        await r.flushall()
        record = await registry.enrol(r, WARD, "Bed 2", [], datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
        await r.aclose()
        async with api_client(redis_url) as client:
            await _same_id_everywhere(client, record.patient_id, first)
