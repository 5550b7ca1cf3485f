"""The ward queue's JSON is written by hand for speed (api/queries.py): it must be exactly what the
WardQueue schema would write, for every kind of row, including the ones older data produces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from api import keys
from api.schemas import WardQueue
from tests.api import factories
from tests.api.rest_support import AUTH, clocked_client, evaluate, store_readings

NOW = datetime.now(UTC).replace(microsecond=0)
#: The API's clock, with sub-millisecond digits: the response shows milliseconds only.
API_NOW = NOW + timedelta(minutes=10, microseconds=123_456)
MEASURED = NOW - timedelta(minutes=2, microseconds=250_000)

# (patient, ref, spo2 of its one reading or None)
WARD = [
    ("p-red", "Bed 2", 85.0),
    ("p-acked", "Bed 10", 93.5),
    ("p-accent", 'Lit 2 – Zoë "à" \\ côté', 92.0),
    ("p-green", "Bed 1", 97.0),
    ("p-none", "Bed 4", None),
]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with clocked_client(redis_url, API_NOW) as c:
        yield c


async def _ward(client: httpx.AsyncClient, redis_url: str) -> None:
    for n, (pid, ref, _) in enumerate(WARD):
        body = {"patient_id": pid, "ref": ref, "devices": [f"C0:FF:EE:00:02:{n:02X}"]}
        assert (await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)).status_code == 201
    store_readings(
        redis_url,
        [
            factories.payload(spo2=spo2, measured_at=MEASURED, device=f"C0:FF:EE:00:02:{n:02X}")
            for n, (_, _, spo2) in enumerate(WARD)
            if spo2 is not None
        ],
    )
    assert evaluate(redis_url, at=NOW) == 4
    alerts = (await client.get("/v1/patients/p-acked/alerts", headers=AUTH)).json()["items"]
    ack = f"/v1/patients/p-acked/alerts/{alerts[0]['alert_id']}/acknowledge"
    assert (await client.post(ack, json={"by": "nurse-jb"}, headers=AUTH)).status_code == 200


def _make_summary_old(redis_url: str, pid: str) -> None:
    """Rewrite the patient's open-alert summary as written before it carried `open_count` and
    `acknowledged_by`: the queue completes both from the alert records."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        summaries = keys.open_alerts(keys.shard_of(pid))
        summary = json.loads(str(r.hget(summaries, pid)))
        del summary["open_count"], summary["acknowledged_by"]
        r.hset(summaries, pid, json.dumps(summary))
    finally:
        r.close()


def _half_enrolled(redis_url: str, pid: str) -> None:
    """A patient in the ward's set whose hash lacks `ward`: an enrolment still in progress."""
    r = redis.Redis.from_url(redis_url)
    try:
        r.sadd(keys.ward_patients("w1"), pid)
        r.hset(keys.patient(pid), "enrolled_at", factories.iso_ms(NOW))
    finally:
        r.close()


async def test_queue_json_is_exactly_what_the_schema_writes(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await _ward(client, redis_url)
    _make_summary_old(redis_url, "p-acked")
    _half_enrolled(redis_url, "p-half")

    response = await client.get("/v1/wards/w1/queue", headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.content.decode("utf-8")
    assert WardQueue.model_validate_json(body).model_dump_json() == body
    queue = json.loads(body)
    assert queue["generated_at"] == factories.iso_ms(API_NOW)
    assert [i["patient_id"] for i in queue["items"]] == ["p-red", "p-accent", "p-acked", "p-green", "p-none"]
    items = {i["patient_id"]: i for i in queue["items"]}
    assert items["p-accent"]["ref"] == 'Lit 2 – Zoë "à" \\ côté'
    assert items["p-red"]["latest"] == {
        "spo2": 85.0,
        "pulse": 72.0,
        "measured_at": factories.iso_ms(MEASURED),
        "age_seconds": 720.373,  # 12 min 0.250 s + 0.123456 s, to the millisecond
    }
    assert items["p-red"]["worst_alert"]["raised_at"] == factories.iso_ms(NOW)
    old = items["p-acked"]
    assert (old["worst_alert"]["state"], old["worst_alert"]["acknowledged_by"]) == (
        "acknowledged",
        "nurse-jb",
    )
    assert items["p-acked"]["open_alerts"] == 1
    assert (items["p-none"]["latest"], items["p-none"]["band"], items["p-none"]["worst_alert"]) == (
        None,
        "unknown",
        None,
    )


async def test_an_empty_queue_is_exactly_what_the_schema_writes(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/wards/nowhere/queue", headers=AUTH)).content.decode("utf-8")
    assert WardQueue.model_validate_json(body).model_dump_json() == body
    assert json.loads(body) == {"ward_id": "nowhere", "generated_at": factories.iso_ms(API_NOW), "items": []}
