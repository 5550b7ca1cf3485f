"""A patient's own lists page like every other list (issue 5: cursor pagination and filters): the
alert list (filters `state`, `priority`) and the care-plan history. Following `next_cursor` gives
each item once, newest first; a cursor belongs to the patient it was made for (400 on another
patient's list, or on another kind of list). Alerts are saved through the worker's own store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from alerting.model import Priority
from api.alert_store import Apply, Cause, SyncAlertStore, new_alert
from tests.api.rest_support import AUTH, clocked_client

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PID, OTHER = "p-paged-1", "p-paged-2"
#: PID's alerts, newest raised first: (alert id, priority); each its own rule, raised a minute apart.
ALERTS = [("a4", "high"), ("a3", "low"), ("a2", "medium"), ("a1", "high"), ("a0", "medium")]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with clocked_client(redis_url, NOW) as c:
        for pid in (PID, OTHER):
            body = {"patient_id": pid, "ref": "Bed 1"}
            assert (await c.post("/v1/wards/w-paged/patients", json=body, headers=AUTH)).status_code == 201
        yield c


def _raise(redis_url: str, pid: str, alert_id: str, priority: str, minutes_ago: int) -> None:
    r = redis.Redis.from_url(redis_url)
    try:
        at = NOW - timedelta(minutes=minutes_ago)
        cause = Cause(None, None, None, None, detail="test")
        alert = new_alert(alert_id, pid, f"rule-{alert_id}", Priority(priority), cause, at)
        assert SyncAlertStore(r).apply_many([Apply(pid, alert["rule"], "", "", alert, "raised")]) == ["ok"]
    finally:
        r.close()


async def _walk(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every page of the list at `url`, following `next_cursor`."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    for _ in range(20):
        response = await client.get(url, params=params | ({"cursor": cursor} if cursor else {}), headers=AUTH)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"{url} did not end")


async def test_a_patients_alerts_page_newest_first_with_filters(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    for minutes_ago, (alert_id, priority) in enumerate(reversed(ALERTS)):
        _raise(redis_url, PID, alert_id, priority, 10 - minutes_ago)
    _raise(redis_url, OTHER, "b0", "high", 1)
    url = f"/v1/patients/{PID}/alerts"
    done = {"by": "dr-ak", "outcome": "seen"}
    assert (await client.post(f"{url}/a1/resolve", json=done, headers=AUTH)).status_code == 200
    assert (await client.post(f"{url}/a2/acknowledge", json={"by": "rn"}, headers=AUTH)).status_code == 200

    pages = await _walk(client, url, {"limit": 2})
    assert [[a["alert_id"] for a in page] for page in pages] == [["a4", "a3"], ["a2", "a1"], ["a0"]]
    # Without paging parameters the first page holds them all, as the list did before it was paged.
    whole = (await client.get(url, headers=AUTH)).json()
    assert ([a["alert_id"] for a in whole["items"]], whole["next_cursor"]) == ([a for a, _ in ALERTS], None)
    high = await _walk(client, url, {"limit": 1, "priority": "high"})
    assert [[a["alert_id"] for a in page] for page in high] == [["a4"], ["a1"]]
    unresolved = await _walk(client, url, {"state": ["open", "acknowledged"], "limit": 3})
    assert [a["alert_id"] for page in unresolved for a in page] == ["a4", "a3", "a2", "a0"]
    both = await _walk(client, url, {"state": "resolved", "priority": ["high", "low"]})
    assert [a["alert_id"] for page in both for a in page] == ["a1"]


async def test_a_patients_cursors_are_refused_elsewhere(client: httpx.AsyncClient, redis_url: str) -> None:
    _raise(redis_url, PID, "a0", "high", 2)
    _raise(redis_url, PID, "a1", "high", 1)
    _raise(redis_url, OTHER, "b0", "high", 3)
    first = (await client.get(f"/v1/patients/{PID}/alerts", params={"limit": 1}, headers=AUTH)).json()
    mine = first["next_cursor"]
    assert mine
    again = await client.get(f"/v1/patients/{PID}/alerts", params={"limit": 1, "cursor": mine}, headers=AUTH)
    assert [a["alert_id"] for a in again.json()["items"]] == ["a0"]
    ward_list = (await client.get("/v1/alerts", params={"limit": 1}, headers=AUTH)).json()["next_cursor"]
    assert ward_list
    for cursor in (mine, ward_list, "bm9wZQ"):
        refused = await client.get(f"/v1/patients/{OTHER}/alerts", params={"cursor": cursor}, headers=AUTH)
        assert refused.status_code == 400, (cursor, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "cursor" in refused.json()["detail"]
    # Nor is a patient's alert cursor a position in the cross-ward list or its care-plan history.
    assert (await client.get("/v1/alerts", params={"cursor": mine}, headers=AUTH)).status_code == 400
    history = await client.get(f"/v1/patients/{PID}/care-plan/history", params={"cursor": mine}, headers=AUTH)
    assert history.status_code == 400


async def test_care_plan_history_pages_newest_first(client: httpx.AsyncClient) -> None:
    url = f"/v1/patients/{PID}/care-plan"
    for baseline in (96, 95, 94):
        body = {"plan": {"baseline_spo2": baseline}, "by": "dr-ak", "reason": f"baseline {baseline}"}
        assert (await client.put(url, json=body, headers=AUTH)).status_code == 200
    pages = await _walk(client, f"{url}/history", {"limit": 2})
    assert [[h["version"] for h in page] for page in pages] == [[3, 2], [1]]
    assert [h["reason"] for page in pages for h in page] == ["baseline 94", "baseline 95", "baseline 96"]
    first = (await client.get(f"{url}/history", params={"limit": 1}, headers=AUTH)).json()
    assert first["next_cursor"]
    other = await client.get(
        f"/v1/patients/{OTHER}/care-plan/history", params={"cursor": first["next_cursor"]}, headers=AUTH
    )
    assert other.status_code == 400
    assert "cursor" in other.json()["detail"]
    # A history whose versions all fit one page says so.
    whole = (await client.get(f"{url}/history", headers=AUTH)).json()
    assert ([h["version"] for h in whole["items"]], whole["next_cursor"]) == ([3, 2, 1], None)
