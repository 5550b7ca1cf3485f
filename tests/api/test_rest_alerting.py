"""Care plans, snooze, ward alerting configuration, alert burden, evaluate and replay over REST, with
alerts raised by the real worker from readings stored through the ingest store, in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.deps import utc_now
from api.main import create_app
from tests.api import factories
from tests.api.rest_support import AUTH, clocked_client, evaluate, running, settings, store_readings
from tests.api.security_support import api_key, bearer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PID, OTHER = "p-rest-al-1", "p-rest-al-2"
DEV1, DEV2 = "C0:FF:EE:00:0A:01", "C0:FF:EE:00:0A:02"
NEWS2_PLAN = {"rule_pack": "news2-scale2", "target_spo2": [88, 92], "on_oxygen": True, "baseline_spo2": 89}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url))
    app.dependency_overrides[utc_now] = lambda: NOW
    async with running(app) as c:
        for pid, ward, dev in ((PID, "w-a", DEV1), (OTHER, "w-b", DEV2)):
            body = {"patient_id": pid, "ref": "Bed 1", "devices": [dev]}
            assert (await c.post(f"/v1/wards/{ward}/patients", json=body, headers=AUTH)).status_code == 201
        yield c


def readings(redis_url: str, values: list[float], device: str = DEV1, start: datetime = NOW) -> None:
    """Spot checks 10 min apart, each evaluated by the worker at its own measured time + 30 s."""
    for i, spo2 in enumerate(values):
        measured = start + timedelta(minutes=10 * i)
        store_readings(redis_url, [factories.payload(spo2=spo2, measured_at=measured, device=device, seq=i)])
        evaluate(redis_url, at=measured + timedelta(seconds=30))


async def put_plan(
    client: httpx.AsyncClient, plan: dict[str, Any], headers: dict[str, str] = AUTH, **extra: Any
) -> httpx.Response:
    body = {"plan": plan, "by": "dr-ak", "reason": "respiratory review", **extra}
    return await client.put(f"/v1/patients/{PID}/care-plan", json=body, headers=headers)


async def test_care_plan_is_versioned_and_audited(client: httpx.AsyncClient) -> None:
    default = (await client.get(f"/v1/patients/{PID}/care-plan", headers=AUTH)).json()
    assert (default["version"], default["default"], default["plan"]["rule_pack"]) == (0, True, "o2home")
    assert default["plan"]["on_oxygen"] is False
    first = await put_plan(client, NEWS2_PLAN)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["version"], body["default"], body["set_by"], body["reason"]) == (
        1,
        False,
        "dr-ak",
        "respiratory review",
    )
    assert body["set_at"] == "2026-11-30T12:00:00.000Z"
    assert body["principal"].startswith("bootstrap:")
    assert body["plan"]["target_spo2"] == [88, 92]
    second = await put_plan(client, {"rule_pack": "bts-88-92", "baseline_spo2": 90}, if_version=1)
    assert second.json()["version"] == 2
    stale = await put_plan(client, {"rule_pack": "o2home"}, if_version=1)
    assert stale.status_code == 409
    assert "version 2" in stale.json()["detail"]
    current = (await client.get(f"/v1/patients/{PID}/care-plan", headers=AUTH)).json()
    assert current["plan"]["rule_pack"] == "bts-88-92"
    history = (await client.get(f"/v1/patients/{PID}/care-plan/history", headers=AUTH)).json()["items"]
    assert [(h["version"], h["plan"]["rule_pack"]) for h in history] == [
        (2, "bts-88-92"),
        (1, "news2-scale2"),
    ]


async def test_a_nonsense_plan_is_refused_with_every_reason(client: httpx.AsyncClient) -> None:
    response = await put_plan(client, {"rule_pack": "news2-scale2", "thresholds": {"amber_from": 96}})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    reasons = [e["msg"] for e in response.json()["errors"]]
    assert any("scale 2 is only for" in m for m in reasons)
    assert any("o2home pack only" in m for m in reasons)
    assert any("overlap" in m for m in reasons)
    unknown = await put_plan(client, {"rule_pack": "news3"})
    assert unknown.status_code == 422
    assert "rule_pack" in unknown.json()["detail"]
    no_reason = await client.put(f"/v1/patients/{PID}/care-plan", json={"plan": {}, "by": "x"}, headers=AUTH)
    assert no_reason.status_code == 422
    assert (await client.get(f"/v1/patients/{PID}/care-plan", headers=AUTH)).json()["version"] == 0


async def test_the_worker_applies_the_patients_plan(client: httpx.AsyncClient, redis_url: str) -> None:
    assert (await put_plan(client, {"rule_pack": "bts-94-98", "baseline_spo2": 98})).status_code == 200
    readings(redis_url, [95.0])  # green on CO@h, but 3 points below this patient's baseline (BTS, §4)
    [alert] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    assert (alert["rule"], alert["priority"], alert["reasons"]) == ("bts", "medium", ["fall-3-from-baseline"])


async def test_care_plan_scopes_and_wards(client: httpx.AsyncClient) -> None:
    clinician = bearer((await api_key(client, "clinician", ["w-a"]))["api_key"])
    reader = bearer((await api_key(client, "integrator", ["w-a"]))["api_key"])
    assert (await put_plan(client, {"baseline_spo2": 96}, headers=clinician)).status_code == 200
    assert (await put_plan(client, {"baseline_spo2": 96}, headers=reader)).status_code == 403
    assert (await client.get(f"/v1/patients/{PID}/care-plan", headers=reader)).status_code == 200
    elsewhere = await client.get(f"/v1/patients/{OTHER}/care-plan", headers=clinician)
    assert elsewhere.status_code == 403
    assert (await client.get("/v1/patients/p-nobody/care-plan", headers=AUTH)).status_code == 404


async def test_snooze_is_limited_by_the_ward(client: httpx.AsyncClient, redis_url: str) -> None:
    readings(redis_url, [91.0])
    [alert] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    base = f"/v1/patients/{PID}/alerts/{alert['alert_id']}"
    too_long = await client.post(f"{base}/snooze", json={"by": "nurse-jb", "minutes": 45}, headers=AUTH)
    assert too_long.status_code == 422
    assert "at most 0:30:00" in too_long.json()["detail"]
    config = {"config": {"snooze_max_s": 3600}, "by": "matron", "reason": "night cover"}
    assert (await client.put("/v1/wards/w-a/alerting-config", json=config, headers=AUTH)).status_code == 200
    done = await client.post(f"{base}/snooze", json={"by": "nurse-jb", "minutes": 45}, headers=AUTH)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["snoozed_by"], body["snoozed_until"], body["snooze_priority"]) == (
        "nurse-jb",
        "2026-11-30T12:45:00.000Z",
        "high",
    )
    assert body["events"][-1]["kind"] == "snoozed"
    await client.post(f"{base}/resolve", json={"by": "dr-ak", "outcome": "seen"}, headers=AUTH)
    resolved = await client.post(f"{base}/snooze", json={"by": "nurse-jb", "minutes": 5}, headers=AUTH)
    assert resolved.status_code == 409
    missing = await client.post(
        f"/v1/patients/{PID}/alerts/nope/snooze", json={"by": "x", "minutes": 5}, headers=AUTH
    )
    assert missing.status_code == 404


async def test_two_snoozes_at_once_one_wins_and_the_other_is_told_who(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    readings(redis_url, [91.0])
    [alert] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    url = f"/v1/patients/{PID}/alerts/{alert['alert_id']}/snooze"
    answers = await asyncio.gather(
        client.post(url, json={"by": "nurse-jb", "minutes": 15}, headers=AUTH),
        client.post(url, json={"by": "nurse-kc", "minutes": 10}, headers=AUTH),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    won = next(a for a in answers if a.status_code == 200).json()
    lost = next(a for a in answers if a.status_code == 409).json()
    other = "nurse-kc" if won["snoozed_by"] == "nurse-jb" else "nurse-jb"
    # The loser's answer names the winner and the snooze's end; nothing of theirs was saved.
    assert f"already snoozed by {won['snoozed_by']} until" in lost["detail"]
    assert (lost["alert"]["snoozed_by"], lost["alert"]["snoozed_until"]) == (
        won["snoozed_by"],
        won["snoozed_until"],
    )
    assert [e["kind"] for e in lost["alert"]["events"]].count("snoozed") == 1
    # Having seen it, they may change it: recorded as replacing the winner's snooze.
    seen = {"by": other, "minutes": 20, "seen_snoozed_until": won["snoozed_until"]}
    changed = await client.post(url, json=seen, headers=AUTH)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["snoozed_by"], body["snoozed_until"], body["snoozed_since"]) == (
        other,
        "2026-11-30T12:20:00.000Z",
        "2026-11-30T12:00:00.000Z",
    )
    assert f"replacing {won['snoozed_by']}'s snooze" in body["events"][-1]["detail"]
    # Snoozes in a row hold it at most the ward's snooze maximum (30 min by default) in all.
    again = {"by": other, "minutes": 25, "seen_snoozed_until": body["snoozed_until"]}
    async with clocked_client(redis_url, NOW + timedelta(minutes=10)) as later:
        too_long = await later.post(url, json=again, headers=AUTH)
        assert too_long.status_code == 422
        assert (
            "at most 0:30:00 in all, so this one may end by 2026-11-30T12:30:00" in too_long.json()["detail"]
        )
        config = {"config": {"snooze_chain_max_s": 3600}, "by": "matron", "reason": "night cover"}
        assert (
            await later.put("/v1/wards/w-a/alerting-config", json=config, headers=AUTH)
        ).status_code == 200
        longer = await later.post(url, json=again, headers=AUTH)
        assert longer.status_code == 200, longer.text
        assert (longer.json()["snoozed_until"], longer.json()["snoozed_since"]) == (
            "2026-11-30T12:35:00.000Z",
            "2026-11-30T12:00:00.000Z",
        )


async def test_ward_alerting_config(client: httpx.AsyncClient) -> None:
    default = (await client.get("/v1/wards/w-a/alerting-config", headers=AUTH)).json()
    assert (default["version"], default["config"]["escalation"], default["config"]["snooze_max_s"]) == (
        0,
        None,
        1800,
    )
    config = {
        "escalation": {
            "tiers": [{"name": "ward-nurse", "ack_within_s": 900}, {"name": "on-call", "ack_within_s": 1800}]
        },
        "overdue": {"steps": [{"after_s": 3600, "priority": "low", "action": "prompt-patient"}]},
        "schedule": ["09:00", "13:00", "17:00"],
        "technical": {"gateway_offline_after_s": 600, "stale_after_s": 900, "battery_low_percent": 20},
    }
    admin = bearer((await api_key(client, "ward-administrator", ["w-a"]))["api_key"])
    clinician = bearer((await api_key(client, "clinician", ["w-a"]))["api_key"])
    body = {"config": config, "by": "matron-lb", "reason": "go-live"}
    assert (
        await client.put("/v1/wards/w-a/alerting-config", json=body, headers=clinician)
    ).status_code == 403
    assert (await client.put("/v1/wards/w-b/alerting-config", json=body, headers=admin)).status_code == 403
    saved = await client.put("/v1/wards/w-a/alerting-config", json=body, headers=admin)
    assert saved.status_code == 200, saved.text
    got = (await client.get("/v1/wards/w-a/alerting-config", headers=clinician)).json()
    assert (got["version"], got["set_by"], got["config"]["escalation"]["tiers"][1]["name"]) == (
        1,
        "matron-lb",
        "on-call",
    )
    for bad, why in (
        ({"escalation": {"tiers": []}}, "at least one tier"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"schedule": ["9am"]}, "HH:MM"),
        ({"snooze_max_s": 0}, "snooze_max_s"),
        ({"snooze_max_s": 1800, "snooze_chain_max_s": 900}, "at least snooze_max_s"),
        ({"escalate": {}}, "unknown field"),
    ):
        refused = await client.put(
            "/v1/wards/w-a/alerting-config", json={**body, "config": bad}, headers=AUTH
        )
        assert refused.status_code == 422, bad
        assert why in refused.json()["detail"]


async def test_alert_burden(client: httpx.AsyncClient, redis_url: str) -> None:
    readings(redis_url, [94.0, 97.0, 91.0, 80.0], device=DEV1)  # medium (all-clear), then high
    [high, _medium] = (await client.get(f"/v1/patients/{PID}/alerts", headers=AUTH)).json()["items"]
    await client.post(
        f"/v1/patients/{PID}/alerts/{high['alert_id']}/acknowledge", json={"by": "nurse-jb"}, headers=AUTH
    )
    url = "/v1/wards/w-a/alert-burden?from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z"
    burden = (await client.get(url, headers=AUTH)).json()
    assert (burden["alerts"], burden["patients"]) == (2, 1)
    assert burden["by_priority"] == {"medium": 1, "high": 1}
    assert burden["by_rule"] == {"o2home-band": 2}
    # Enrolled at 12:00 (the API's clock), so half a patient-day in the period.
    assert burden["patient_days"] == pytest.approx(0.5)
    assert burden["per_patient_day"] == pytest.approx(4.0)
    assert (burden["technical_share"], burden["acknowledged"]) == (0.0, 1)
    assert burden["ack_median_s"] == pytest.approx(
        (NOW - datetime.fromisoformat(high["raised_at"])).total_seconds()
    )
    assert burden["top_decile_share"] == 1.0
    empty = (await client.get("/v1/wards/w-b/alert-burden", headers=AUTH)).json()
    # Default period: the week up to now; the patient was enrolled just now, so no patient-days yet.
    assert (empty["alerts"], empty["patient_days"], empty["per_patient_day"]) == (0, 0.0, None)
    backwards = await client.get(
        "/v1/wards/w-a/alert-burden?from=2026-12-01T00:00:00Z&to=2026-11-30T00:00:00Z", headers=AUTH
    )
    assert backwards.status_code == 422


async def test_evaluate_over_the_api(client: httpx.AsyncClient) -> None:
    body = {
        "reading": {"spo2": 92, "pulse": 112},
        "plan": {"rule_pack": "news2-scale1"},
        "manual": [{"parameter": "respiration_rate", "value": 22}],
    }
    out = (await client.post("/v1/alerting/evaluate", json=body, headers=AUTH)).json()
    assert out["band"] == "red"
    assert out["news2"]["subscores"] == {"respiration_rate": 2, "spo2": 2, "air_or_oxygen": 0, "pulse": 2}
    assert (out["news2"]["total"], out["news2"]["partial"], out["response"], out["priority"]) == (
        6,
        True,
        "medium",
        "medium",
    )
    assert out["reading"]["measured_at"] == NOW.isoformat()
    await put_plan(client, NEWS2_PLAN)
    stored = await client.post(
        "/v1/alerting/evaluate", json={"reading": {"spo2": 97}, "patient_id": PID}, headers=AUTH
    )
    assert stored.json()["news2"]["subscores"]["spo2"] == 3  # scale 2, on oxygen, >=97 (§2.1)
    bad_plan = await client.post(
        "/v1/alerting/evaluate",
        json={"reading": {"spo2": 97}, "plan": {"target_spo2": [90, 95]}},
        headers=AUTH,
    )
    assert bad_plan.status_code == 422
    assert "BTS target" in bad_plan.json()["errors"][0]["msg"]
    bad_reading = await client.post("/v1/alerting/evaluate", json={"reading": {"spo2": "low"}}, headers=AUTH)
    assert (bad_reading.status_code, bad_reading.json()["detail"]) == (
        422,
        "spo2: expected a number, got 'low'",
    )
    both = await client.post(
        "/v1/alerting/evaluate", json={"reading": {}, "plan": {}, "patient_id": PID}, headers=AUTH
    )
    assert both.status_code == 422


async def test_replay_counts_what_a_proposed_plan_would_raise(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    readings(redis_url, [94.0, 97.0, 94.0, 97.0, 93.0, 97.0], device=DEV1)
    body = {"patient_id": PID, "plan": {"thresholds": {"green_from": 94, "amber_from": 92}}}
    out = (await client.post("/v1/alerting/replay", json=body, headers=AUTH)).json()
    assert out["current"]["readings"] == 6
    assert out["current"]["alerts_raised"] == 3  # three separate amber episodes on today's plan
    assert out["proposed"]["alerts_raised"] == 1  # only 93 is amber with the lower edges
    assert out["alerts_change"] == -2
    window = {**body, "from": "2026-11-30T12:15:00Z", "to": "2026-11-30T12:45:00Z"}
    assert (await client.post("/v1/alerting/replay", json=window, headers=AUTH)).json()["current"][
        "readings"
    ] == 3
    ward = (
        await client.post("/v1/alerting/replay", json={"ward_id": "w-a", "plan": {}}, headers=AUTH)
    ).json()
    assert (ward["patients"], ward["alerts_change"]) == ([PID], 0)
    other_ward = bearer((await api_key(client, "clinician", ["w-b"]))["api_key"])
    assert (await client.post("/v1/alerting/replay", json=body, headers=other_ward)).status_code == 403
    denied = await client.post("/v1/alerting/replay", json={"ward_id": "w-a", "plan": {}}, headers=other_ward)
    assert denied.status_code == 403
    neither = await client.post("/v1/alerting/replay", json={"plan": {}}, headers=AUTH)
    assert neither.status_code == 422
