"""Ward queue and alert handling over REST, with alerts raised by the real evaluation worker from
readings stored through the ingest store, all in a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from alerting.model import Priority
from api.alert_store import Apply, Cause, SyncAlertStore, new_alert
from tests.api import factories
from tests.api.rest_support import AUTH, clocked_client, evaluate, store_readings

NOW = datetime.now(UTC).replace(microsecond=0)
#: The clock the API answers with (dependency override): ages are exact.
API_NOW = NOW + timedelta(minutes=10)


def device(n: int) -> str:
    return f"C0:FF:EE:00:01:{n:02X}"


# ward w1: (patient, ref, spo2 of its one reading or None, worker clock offset in s when evaluated)
W1 = [
    ("p-ack", "Bed 9", 94.0, 0),  # amber -> medium, raised first, then acknowledged
    ("p-amber", "Bed 1", 93.0, 60),  # amber -> medium
    ("p-red-old", "Bed 3", 92.0, 120),  # red -> high
    ("p-red-new", "Bed 2", 85.0, 300),  # red -> high, raised later
    ("p-green", "Bed 10", 97.0, 30),  # green: no alert
    ("p-none", "Bed 4", None, 0),  # enrolled, never measured
]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with clocked_client(redis_url, API_NOW) as c:
        yield c


async def _ward(client: httpx.AsyncClient, redis_url: str) -> None:
    """Enrol W1 (and one red patient on another ward), store readings, let the worker raise alerts."""
    everyone = [*W1, ("p-elsewhere", "Bed 1", 80.0, 0)]
    for n, (pid, ref, _, _) in enumerate(everyone):
        ward = "w2" if pid == "p-elsewhere" else "w1"
        body = {"patient_id": pid, "ref": ref, "devices": [device(n)]}
        assert (await client.post(f"/v1/wards/{ward}/patients", json=body, headers=AUTH)).status_code == 201
    for n, (_, _, spo2, offset) in sorted(enumerate(everyone), key=lambda e: e[1][3]):
        if spo2 is None:
            continue
        measured = NOW - timedelta(minutes=2) + timedelta(seconds=offset)
        store_readings(
            redis_url, [factories.payload(spo2=spo2, pulse=80.0 + n, measured_at=measured, device=device(n))]
        )
        assert evaluate(redis_url, at=NOW + timedelta(seconds=offset)) == 1


async def _alert_of(client: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    response = await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)
    assert response.status_code == 200
    (alert,) = response.json()["items"]
    assert isinstance(alert, dict)
    return alert


async def test_queue_orders_by_priority_then_waiting_time_then_ref(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await _ward(client, redis_url)
    ack = await _alert_of(client, "p-ack")
    done = await client.post(
        f"/v1/patients/p-ack/alerts/{ack['alert_id']}/acknowledge", json={"by": "nurse-jb"}, headers=AUTH
    )
    assert done.status_code == 200

    response = await client.get("/v1/wards/w1/queue", headers=AUTH)
    assert response.status_code == 200
    queue = response.json()
    assert queue["ward_id"] == "w1"
    items = {i["patient_id"]: i for i in queue["items"]}
    assert [i["patient_id"] for i in queue["items"]] == [
        "p-red-old",  # high, waiting longest
        "p-red-new",  # high
        "p-ack",  # medium, raised before p-amber (acknowledged: still on the queue until resolved)
        "p-amber",  # medium
        "p-none",  # no open alert: by ref, Bed 4 before Bed 10
        "p-green",
    ]
    red = items["p-red-old"]
    assert red["band"] == "red"
    assert red["latest"]["spo2"] == 92.0
    assert red["latest"]["measured_at"] == factories.iso_ms(
        NOW - timedelta(minutes=2) + timedelta(seconds=120)
    )
    assert red["latest"]["age_seconds"] == 600.0  # measured at NOW, the API's clock says NOW + 10 min
    assert red["worst_alert"]["priority"] == "high"
    assert red["worst_alert"]["rule"] == "o2home-band"
    assert red["worst_alert"]["state"] == "open"
    assert red["worst_alert"]["raised_at"] == factories.iso_ms(NOW + timedelta(seconds=120))
    assert red["open_alerts"] == 1
    assert items["p-ack"]["worst_alert"]["state"] == "acknowledged"
    assert items["p-ack"]["worst_alert"]["acknowledged_by"] == "nurse-jb"
    assert items["p-amber"]["band"] == "amber"
    assert items["p-amber"]["worst_alert"]["acknowledged_by"] is None
    assert items["p-green"]["band"] == "green"
    assert items["p-green"]["worst_alert"] is None
    assert items["p-green"]["open_alerts"] == 0
    assert items["p-none"]["latest"] is None
    assert items["p-none"]["band"] == "unknown"


async def test_queue_counts_every_open_alert_and_shows_the_worst(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await _ward(client, redis_url)
    # A second, technical alert for a red patient, through the worker's own store API.
    sync = redis.Redis.from_url(redis_url)
    try:
        cause = Cause(None, None, None, None, detail="ValueError")
        extra = new_alert(
            "f" * 32, "p-red-new", "evaluation-failed", Priority.LOW, cause, NOW - timedelta(hours=1)
        )
        assert SyncAlertStore(sync).apply_many(
            [Apply("p-red-new", "evaluation-failed", "", "", extra, "raised")]
        ) == ["ok"]
    finally:
        sync.close()
    queue = (await client.get("/v1/wards/w1/queue", headers=AUTH)).json()
    item = next(i for i in queue["items"] if i["patient_id"] == "p-red-new")
    assert item["open_alerts"] == 2
    assert item["worst_alert"]["priority"] == "high"  # the low one is older but less urgent
    assert [i["patient_id"] for i in queue["items"]][:2] == ["p-red-old", "p-red-new"]


async def test_acknowledge_and_resolve_lifecycle(client: httpx.AsyncClient, redis_url: str) -> None:
    await _ward(client, redis_url)
    alert = await _alert_of(client, "p-red-new")
    assert alert["state"] == "open"
    assert alert["priority"] == "high"
    assert alert["band"] == "red"
    assert alert["spo2"] == 85.0
    base = f"/v1/patients/p-red-new/alerts/{alert['alert_id']}"

    acked = await client.post(f"{base}/acknowledge", json={"by": "nurse-jb"}, headers=AUTH)
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "nurse-jb"
    assert acked.json()["acknowledged_at"] == factories.iso_ms(API_NOW)
    again = await client.post(f"{base}/acknowledge", json={"by": "someone-else"}, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["acknowledged_by"] == "nurse-jb"  # idempotent: the first one stands

    resolved = await client.post(
        f"{base}/resolve", json={"by": "dr-ak", "outcome": "re-measured 96%"}, headers=AUTH
    )
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolved_by"] == "dr-ak"
    assert resolved.json()["outcome"] == "re-measured 96%"

    for action, body in (("resolve", {"by": "dr-ak", "outcome": "again"}), ("acknowledge", {"by": "x"})):
        conflict = await client.post(f"{base}/{action}", json=body, headers=AUTH)
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == "application/problem+json"
        assert conflict.json()["detail"] == "the alert is already resolved"
        assert conflict.json()["alert"]["resolved_by"] == "dr-ak"

    queue = (await client.get("/v1/wards/w1/queue", headers=AUTH)).json()
    item = next(i for i in queue["items"] if i["patient_id"] == "p-red-new")
    assert item["worst_alert"] is None
    assert item["open_alerts"] == 0
    assert item["band"] == "red"  # the reading is still red; only the alert was handled
    assert (await _alert_of(client, "p-red-new"))["state"] == "resolved"


async def test_alert_errors(client: httpx.AsyncClient, redis_url: str) -> None:
    await _ward(client, redis_url)
    unknown_alert = await client.post(
        "/v1/patients/p-red-new/alerts/abc123/acknowledge", json={"by": "x"}, headers=AUTH
    )
    other_patients = await client.post(
        f"/v1/patients/p-red-old/alerts/{(await _alert_of(client, 'p-red-new'))['alert_id']}/resolve",
        json={"by": "x", "outcome": "y"},
        headers=AUTH,
    )
    index_field = await client.post(
        "/v1/patients/p-red-new/alerts/~open/acknowledge", json={"by": "x"}, headers=AUTH
    )
    no_by = await client.post("/v1/patients/p-red-new/alerts/abc123/acknowledge", json={}, headers=AUTH)
    no_patient = await client.get("/v1/patients/p-nobody/alerts", headers=AUTH)
    assert unknown_alert.status_code == 404
    assert unknown_alert.json()["detail"] == "no such alert for this patient"
    assert other_patients.status_code == 404
    assert index_field.status_code in (404, 422)
    assert no_by.status_code == 422
    assert no_patient.status_code == 404
    # The red patient's alert is untouched by all of that.
    assert (await _alert_of(client, "p-red-new"))["state"] == "open"


async def test_unknown_ward_has_an_empty_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/wards/nowhere/queue", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["items"] == []
