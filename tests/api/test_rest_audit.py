"""The audit log: every read of patient data and every write, who / what / which patient / when /
outcome, queryable by administrators, free of secrets, and written before data leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from api import keys, ward_events
from api.main import create_app
from api.security import audit
from tests.api.rest_support import AUTH, TOKEN, api_client, running, settings
from tests.api.security_support import (
    PASSWORD,
    WARD_A,
    WARD_B,
    Seeded,
    api_key,
    bearer,
    password_token,
    seed_two_wards,
    user,
)
from tests.services import RedisServer


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


async def _all(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every entry matching the filters, following the cursor with small pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/audit", params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the audit cursor never ended")


async def _session(client: httpx.AsyncClient, seeded: Seeded) -> dict[str, str]:
    nurse = await user(client, "nurse.jb", "clinician", [WARD_A])
    token = bearer(await password_token(client, "nurse.jb"))
    assert (await client.get(f"/v1/patients/{seeded.a}", headers=token)).status_code == 200
    assert (await client.get(f"/v1/patients/{seeded.a}/readings", headers=token)).status_code == 200
    assert (await client.get(f"/v1/wards/{WARD_A}/queue", headers=token)).status_code == 200
    ack = await client.post(
        f"/v1/patients/{seeded.a}/alerts/{seeded.a_alert}/acknowledge", json={"by": "nurse-jb"}, headers=token
    )
    assert ack.status_code == 200, ack.text
    assert (await client.get(f"/v1/patients/{seeded.b}", headers=token)).status_code == 403
    assert (await client.get("/v1/wards", headers=bearer("not-a-real-token-at-all"))).status_code == 401
    return {"nurse": nurse["principal_id"], "token": token["Authorization"]}


async def test_reads_and_writes_are_audited_with_who_what_where_and_outcome(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    session = await _session(client, seeded)
    mine = await _all(client, actor=session["nurse"])
    summary = [(e["method"], e["route"], e["patients"], e["wards"], e["status"], e["outcome"]) for e in mine]
    assert summary == [
        ("POST", "/v1/auth/token", [], [], 200, "ok"),
        ("GET", "/v1/patients/{patient_id}", [seeded.a], [WARD_A], 200, "ok"),
        ("GET", "/v1/patients/{patient_id}/readings", [seeded.a], [WARD_A], 200, "ok"),
        ("GET", "/v1/wards/{ward_id}/queue", [], [WARD_A], 200, "ok"),
        ("POST", "/v1/patients/{patient_id}/alerts/{alert_id}/acknowledge", [seeded.a], [WARD_A], 200, "ok"),
        # the refused attempt on another ward's patient is recorded, with the patient
        ("GET", "/v1/patients/{patient_id}", [seeded.b], ["ward-b"], 403, "denied"),
    ]
    assert {e["role"] for e in mine} == {"clinician"}
    assert [e["action"] for e in mine] == ["write", "read", "read", "read", "write", "read"]
    assert mine[4]["target"] == f"alert_id={seeded.a_alert}"
    assert len({e["request_id"] for e in mine}) == len(mine)
    anonymous = await _all(client, actor="anonymous")
    assert [(e["route"], e["status"], e["outcome"]) for e in anonymous] == [("/v1/wards", 401, "denied")]
    # by patient: the seeding (as administrator) and the refused attempt
    on_b = await _all(client, patient=seeded.b)
    assert on_b
    assert all(seeded.b in e["patients"] for e in on_b)
    assert (session["nurse"], 403) in {(e["actor"], e["status"]) for e in on_b}
    assert {e["actor"] for e in await _all(client, ward=WARD_A)} >= {session["nurse"]}


async def test_a_patient_query_finds_the_ward_rosters_that_showed_the_patient(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """Queue and board entries name the ward only; by patient they are found through enrolments."""
    seeded = await seed_two_wards(client, redis_url)
    nurse = (await user(client, "nurse.q", "clinician", [WARD_A]))["principal_id"]
    token = bearer(await password_token(client, "nurse.q"))
    assert (await client.get(f"/v1/wards/{WARD_A}/queue", headers=token)).status_code == 200
    await asyncio.sleep(0.01)  # the newcomer is admitted strictly after that read
    admitted = await client.post("/v1/enrolments", json={"ward_id": WARD_A, "ref": "Bed 9"}, headers=AUTH)
    assert admitted.status_code == 201, admitted.text
    newcomer = admitted.json()["patient_id"]
    assert (await client.get(f"/v1/wards/{WARD_A}/queue", headers=token)).status_code == 200
    assert (await client.get(f"/v1/wards/{WARD_A}/board", headers=token)).status_code == 200
    assert (await client.get(f"/v1/wards/{WARD_B}/queue", headers=token)).status_code == 403
    assert (await client.get(f"/v1/wards/{WARD_B}/events", headers=token)).status_code == 403
    assert (await client.get(f"/v1/wards/{WARD_A}", headers=token)).status_code == 200  # no patient list
    # Every roster template is a real route (its entries carry it).
    assert set(audit.ROSTER_READS) <= {e["route"] for e in await _all(client, actor=nurse)}

    def rosters(entries: list[dict[str, Any]]) -> list[tuple[str, list[str], list[str]]]:
        return [(e["route"], e["wards"], e["patients"]) for e in entries]

    queue, board = "/v1/wards/{ward_id}/queue", "/v1/wards/{ward_id}/board"
    # Shown on both rosters read after the admission, not on the one before it.
    assert rosters(await _all(client, patient=newcomer, actor=nurse)) == [
        (queue, [WARD_A], []),
        (board, [WARD_A], []),
    ]
    # On the ward all along: every roster read of ward A; the refused read of ward B showed nothing.
    assert rosters(await _all(client, patient=seeded.a, actor=nurse)) == [
        (queue, [WARD_A], []),
        (queue, [WARD_A], []),
        (board, [WARD_A], []),
    ]
    assert await _all(client, patient=seeded.b, actor=nurse) == []


def test_a_live_stream_counts_as_shown_for_its_whole_life() -> None:
    assert audit.ROSTER_READS["/v1/wards/{ward_id}/events"] >= ward_events.MAX_STREAM_S


async def test_time_window_and_cursor_pages(client: httpx.AsyncClient, redis_url: str) -> None:
    seeded = await seed_two_wards(client, redis_url)
    everything = await _all(client)
    middle = datetime.fromisoformat(everything[len(everything) // 2]["at"])
    await _session(client, seeded)
    later = await _all(client, **{"from": (middle + timedelta(milliseconds=1)).isoformat()})
    earlier = await _all(client, to=middle.isoformat())
    full = await _all(client)
    ids = [e["entry_id"] for e in full]
    assert len(ids) == len(set(ids))  # pages never overlap
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-")))
    assert all(datetime.fromisoformat(e["at"]) > middle for e in later)
    assert all(datetime.fromisoformat(e["at"]) < middle for e in earlier)
    assert 0 < len(later) < len(full)
    bad = await client.get("/v1/audit", params={"cursor": "bm9wZQ"}, headers=AUTH)
    wrong_actor = await client.get("/v1/audit", params={"actor": "drop table"}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert wrong_actor.status_code == 422


async def test_the_audit_log_holds_no_secret_and_is_append_only(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    key = await api_key(client, "integrator", [WARD_A])
    await client.get("/v1/wards", headers=bearer(key["api_key"]))
    session = await _session(client, seeded)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        length = r.xlen(keys.AUDIT)
        text = str(r.xrange(keys.AUDIT))
    finally:
        r.close()
    for secret in (
        TOKEN,
        key["api_key"],
        key["api_key"].split("_", 2)[2],
        PASSWORD,
        session["token"].split()[1],
    ):
        assert secret not in text
    # No operation can change the log.
    assert (await client.delete("/v1/audit", headers=AUTH)).status_code == 405
    assert (await client.post("/v1/audit", json={}, headers=AUTH)).status_code == 405
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        # only grew, by the two refused attempts themselves
        assert r.xlen(keys.AUDIT) == length + 2
    finally:
        r.close()


async def test_no_audit_no_data(own_redis: RedisServer) -> None:
    """If the audit entry cannot be written, patient data is not sent (503 instead)."""
    admin = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        # A Redis user that may use every key but only read the audit stream (ox:audit).
        admin.execute_command(
            "ACL", "SETUSER", "app", "on", ">app-password", "~ox:[^a]*", "~ox:a[^u]*", "~ox:au[^d]*",
            "%R~ox:audit", "&*", "+@all",
        )  # type: ignore[no-untyped-call]  # fmt: skip
        limited_url = own_redis.url.replace("redis://", "redis://app:app-password@")
        async with api_client(own_redis.url) as client:
            created = await client.post(
                "/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": "Bed 7"}, headers=AUTH
            )
        async with api_client(limited_url) as client:
            read = await client.get("/v1/patients/p-1", headers=AUTH)
    finally:
        admin.close()
    assert created.status_code == 201
    assert read.status_code == 503
    assert read.headers["content-type"] == "application/problem+json"
    assert "audit" in read.json()["detail"]
    assert "Bed 7" not in read.text
    assert read.headers["x-request-id"]


async def test_entries_are_kept_whatever_their_age(client: httpx.AsyncClient, redis_url: str) -> None:
    """Retention is the operator's (docs/api.md): the service trims nothing, by age or by length."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        old = {"actor": "anonymous", "role": "", "action": "read", "method": "GET", "route": "/v1/wards"}
        old |= {"patients": "", "patients_total": "0", "wards": "", "target": "", "status": "401"}
        r.xadd(keys.AUDIT, {**old, "outcome": "denied", "request_id": "from-1970", "client": ""}, id="1000-0")
        for _ in range(50):
            await client.get("/v1/wards", headers=AUTH)
        length = r.xlen(keys.AUDIT)
        first = r.xrange(keys.AUDIT, count=1)
    finally:
        r.close()
    found = await client.get("/v1/audit", params={"to": "1970-01-01T00:00:02Z"}, headers=AUTH)
    assert length == 1 + 50  # the 1970 entry, then one per request
    assert first[0][0] == "1000-0"
    assert [e["request_id"] for e in found.json()["items"]] == ["from-1970"]
