"""Escalating an alert by hand over REST (issue 6): recorded with the clinician's name, the next tier
notified, and two clinicians acting at once each told what happened, never silently overwritten.
Alerts are raised by the real worker from stored readings, in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from api.deps import utc_now
from api.main import create_app
from tests.api import factories
from tests.api.alerting_support import notifications
from tests.api.rest_support import AUTH, evaluate, running, settings, store_readings
from tests.api.security_support import bearer, password_token, user

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PID, DEVICE, WARD = "p-rest-esc-1", "C0:FF:EE:00:0E:01", "w-esc"
LADDER = {"tiers": [{"name": "ward-nurse", "ack_within_s": 900}, {"name": "on-call", "ack_within_s": 1800}]}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url))
    app.dependency_overrides[utc_now] = lambda: NOW + timedelta(minutes=5)
    async with running(app) as c:
        body = {"patient_id": PID, "ref": "Bed 5", "devices": [DEVICE]}
        assert (await c.post(f"/v1/wards/{WARD}/patients", json=body, headers=AUTH)).status_code == 201
        yield c


async def red_alert(client: httpx.AsyncClient, redis_url: str, ladder: bool = True) -> str:
    """A high alert raised by the worker; the ward's ladder set unless `ladder` is False."""
    if ladder:
        config = {"config": {"escalation": LADDER}, "by": "matron", "reason": "go-live"}
        assert (
            await client.put(f"/v1/wards/{WARD}/alerting-config", json=config, headers=AUTH)
        ).status_code == 200
    store_readings(redis_url, [factories.payload(spo2=88, measured_at=NOW, device=DEVICE)])
    evaluate(redis_url, at=NOW + timedelta(seconds=30))
    [alert] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    return f"/v1/patients/{PID}/alerts/{alert['alert_id']}"


async def clinician(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    await user(client, name, "clinician", [WARD])
    return bearer(await password_token(client, name))


async def test_escalated_by_hand_with_the_signed_in_name_and_the_tier_told(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    base = await red_alert(client, redis_url)
    nurse = await clinician(client, "nurse.esc")
    acked = await client.post(f"{base}/acknowledge", json={"by": "nurse.esc"}, headers=nurse)
    assert acked.json()["state"] == "acknowledged"
    # A signed-in person is recorded under their own name, whatever the body claims.
    body = {"by": "someone-else", "reason": "breathless on the phone", "from_tier": 0}
    done = await client.post(f"{base}/escalate", json=body, headers=nurse)
    assert done.status_code == 200, done.text
    alert = done.json()
    assert (alert["state"], alert["acknowledged_by"], alert["tier"], alert["tier_since"]) == (
        "open",
        None,
        1,
        "2026-11-30T12:05:00.000Z",
    )
    event = alert["events"][-1]
    assert (event["kind"], event["by"], event["tier"], event["detail"]) == (
        "escalated",
        "nurse.esc",
        1,
        "by hand to on-call: breathless on the phone",
    )
    r = redis.Redis.from_url(redis_url)
    assert [(n["kind"], n["tier"], n["page"]) for n in notifications(r, PID)][-1] == ("escalated", 1, True)
    r.close()
    # At the top of the ladder the top tier is told again.
    again = await client.post(f"{base}/escalate", json={"by": "x", "reason": "no answer"}, headers=nurse)
    assert (again.json()["tier"], again.json()["events"][-1]["detail"]) == (
        1,
        "by hand to on-call: no answer",
    )
    # The write is in the audit log, with who and which patient.
    audit = (await client.get("/v1/audit", params={"patient": PID, "limit": 100}, headers=AUTH)).json()
    mine = [e for e in audit["items"] if e["route"].endswith("/escalate")]
    assert [(e["method"], e["status"], e["action"], e["patients"], e["role"]) for e in mine] == [
        ("POST", 200, "write", [PID], "clinician"),
    ] * 2


async def test_two_clinicians_escalating_at_once_one_wins_the_other_is_told(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    base = await red_alert(client, redis_url)
    nurse, doctor = await clinician(client, "nurse.two"), await clinician(client, "dr.two")
    both = await asyncio.gather(
        *(
            client.post(f"{base}/escalate", json={"by": "x", "reason": "worse", "from_tier": 0}, headers=h)
            for h in (nurse, doctor)
        )
    )
    assert sorted(r.status_code for r in both) == [200, 409]
    won, lost = (both[0], both[1]) if both[0].status_code == 200 else (both[1], both[0])
    winner = won.json()["events"][-1]["by"]
    assert winner in ("nurse.two", "dr.two")
    problem = lost.json()
    assert lost.headers["content-type"] == "application/problem+json"
    assert f"already escalated by {winner}" in problem["detail"]
    assert problem["alert"]["tier"] == 1
    current = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"][0]
    assert [e["kind"] for e in current["events"]].count("escalated") == 1  # no tier skipped


async def test_resolve_then_escalate_is_a_conflict_showing_who_resolved(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    base = await red_alert(client, redis_url)
    nurse, doctor = await clinician(client, "nurse.res"), await clinician(client, "dr.res")
    resolved = await client.post(f"{base}/resolve", json={"by": "x", "outcome": "called 999"}, headers=doctor)
    assert resolved.status_code == 200
    late = await client.post(f"{base}/escalate", json={"by": "x", "reason": "worse"}, headers=nurse)
    assert late.status_code == 409
    assert late.json()["detail"] == "the alert is already resolved"
    assert (late.json()["alert"]["resolved_by"], late.json()["alert"]["outcome"]) == ("dr.res", "called 999")
    # And at the same moment: whichever lands first, each gets a clear answer, never a lost write.
    later = NOW + timedelta(minutes=1)
    store_readings(redis_url, [factories.payload(spo2=87, measured_at=later, device=DEVICE, seq=1)])
    evaluate(redis_url, at=NOW + timedelta(minutes=1, seconds=30))
    fresh = next(
        a
        for a in (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
        if a["state"] == "open"
    )
    path = f"/v1/patients/{PID}/alerts/{fresh['alert_id']}"
    escalate, resolve = await asyncio.gather(
        client.post(f"{path}/escalate", json={"by": "x", "reason": "worse"}, headers=nurse),
        client.post(f"{path}/resolve", json={"by": "x", "outcome": "seen"}, headers=doctor),
    )
    assert resolve.status_code == 200
    assert escalate.status_code in (200, 409)
    final: dict[str, Any] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"][0]
    kinds = [e["kind"] for e in final["events"]]
    if escalate.status_code == 200:  # escalated first, then resolved: both recorded, in that order
        assert kinds[-2:] == ["escalated", "resolved"]
    else:
        assert escalate.json()["alert"]["resolved_by"] == "dr.res"
        assert "escalated" not in kinds


async def test_refused_without_a_ladder_a_reason_or_an_alert(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    base = await red_alert(client, redis_url, ladder=False)
    no_ladder = await client.post(
        f"{base}/escalate", json={"by": "nurse-jb", "reason": "worse"}, headers=AUTH
    )
    assert no_ladder.status_code == 422
    assert no_ladder.headers["content-type"] == "application/problem+json"
    assert "no escalation ladder" in no_ladder.json()["detail"]
    blank = await client.post(f"{base}/escalate", json={"by": "nurse-jb", "reason": "  "}, headers=AUTH)
    assert blank.status_code == 422
    missing = await client.post(
        f"/v1/patients/{PID}/alerts/nope/escalate", json={"by": "x", "reason": "y"}, headers=AUTH
    )
    assert missing.status_code == 404
    [alert] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    assert (alert["tier"], [e["kind"] for e in alert["events"]]) == (0, ["raised"])


async def test_an_upgrade_a_moment_before_an_action_is_never_acted_on_unseen(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """Issue 6.3: amber seen, red a moment before the clinician's action arrives. An action saying
    the priority it was judged for (`seen_priority`) is refused with the current record and the new
    priority named; nothing changes until they act on what they now see."""
    config = {"config": {"escalation": LADDER}, "by": "matron", "reason": "go-live"}
    assert (
        await client.put(f"/v1/wards/{WARD}/alerting-config", json=config, headers=AUTH)
    ).status_code == 200
    for seq, (spo2, minutes) in enumerate(((94, 0), (88, 1))):  # amber, then red a minute later
        measured = NOW + timedelta(minutes=minutes)
        store_readings(
            redis_url, [factories.payload(spo2=spo2, measured_at=measured, device=DEVICE, seq=seq)]
        )
        evaluate(redis_url, at=measured + timedelta(seconds=30))
    [before] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    assert (before["priority"], [e["kind"] for e in before["events"]]) == ("high", ["raised", "upgraded"])
    base = f"/v1/patients/{PID}/alerts/{before['alert_id']}"
    actions = {
        "snooze": {"by": "nurse-jb", "minutes": 5},
        "escalate": {"by": "nurse-jb", "reason": "worse", "from_tier": 0},
        "acknowledge": {"by": "nurse-jb"},
    }
    for action, body in actions.items():
        stale = await client.post(f"{base}/{action}", json=body | {"seen_priority": "medium"}, headers=AUTH)
        assert stale.status_code == 409, (action, stale.text)
        assert stale.headers["content-type"] == "application/problem+json"
        problem = stale.json()
        assert problem["detail"] == (
            f"cannot {action}: alert {before['alert_id']} is high priority now, not medium as seen "
            "(upgraded at 2026-11-30T12:01:30+00:00); look at it again before acting"
        )
        assert {k: problem["alert"][k] for k in before} == before  # the current record, as listed
    [unchanged] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    assert unchanged == before
    # Having seen the red alert, each goes through.
    for action, body in actions.items():
        done = await client.post(f"{base}/{action}", json=body | {"seen_priority": "high"}, headers=AUTH)
        assert done.status_code == 200, (action, done.text)
    final = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"][0]
    assert [e["kind"] for e in final["events"]][2:] == ["snoozed", "escalated", "acknowledged"]
