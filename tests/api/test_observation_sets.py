"""An observation set (POST …/observation-sets, issue 6 point 2) is stored as a whole and scored once,
through the real evaluation worker and a real Redis: one evaluation and one notification at the
set's full level, never a medium alert then its upgrade; a refused item refuses the whole set; the
name, ward and audit rules of a single observation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis

from api import keys
from api.resources import keys as rkeys
from tests.api import factories
from tests.api.alerting_support import evaluated, notifications, running_worker
from tests.api.integration_support import admit_on_plan
from tests.api.rest_support import AUTH, api_client, store_readings
from tests.api.security_support import PASSWORD, api_key, bearer, password_token, user

WARD = "obs-sets"
OTHER_WARD = "obs-sets-other"


def _set(*items: tuple[str, float | str], by: str = "rn-12", **extra: Any) -> dict[str, Any]:
    return {"by": by, "observations": [{"parameter": p, "value": v} for p, v in items], **extra}


async def _patient(client: httpx.AsyncClient, device: str, ward: str = WARD) -> str:
    pid: str = (await admit_on_plan(client, ward, device, {"rule_pack": "news2-scale1"}))["patient_id"]
    return pid


async def test_a_deteriorating_set_is_scored_once_at_its_full_level(redis_url: str) -> None:
    device = "C0:FF:EE:00:0C:01"
    r = redis.Redis.from_url(redis_url)
    with running_worker(redis_url, "set-worker") as worker:
        async with api_client(redis_url) as client:
            pid = await _patient(client, device)
            reading = factories.payload(
                spo2=97, pulse=80, device=device, measured_at=datetime.now(UTC) - timedelta(hours=3)
            )
            store_readings(redis_url, [reading])
            await evaluated(r, pid)
            before = worker.stats.evaluated
            body = _set(("respiration_rate", 26), ("consciousness", "V"), ("systolic_bp", 88))
            posted = await client.post(f"/v1/patients/{pid}/observation-sets", json=body, headers=AUTH)
            assert posted.status_code == 201, posted.text
            await evaluated(r, pid)
            alerts = (await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)).json()["items"]
    stored = posted.json()["observations"]
    assert [(o["parameter"], o["value"], o["by"]) for o in stored] == [
        ("respiration_rate", 26.0, "rn-12"),
        ("consciousness", "V", "rn-12"),
        ("systolic_bp", 88.0, "rn-12"),
    ]
    assert len({o["measured_at"] for o in stored}) == 1  # one time for the set: default now
    assert worker.stats.evaluated - before == 1
    [alert] = alerts
    # RR 26, V and SBP 88 score 3 each (§2.3), SpO2 97 and pulse 80 none: 9, emergency (§2.4),
    # raised as high at once: one page, not a medium one then an upgrade.
    assert (alert["priority"], alert["news2_total"], alert["news2_partial"]) == ("high", 9, True)
    assert [e["kind"] for e in alert["events"]] == ["raised"]
    assert alert["detail"] == f"manual-observation:{stored[-1]['observation_id']},partial"
    assert [(n["priority"], n["kind"]) for n in notifications(r, pid)] == [("high", "raised")]
    r.close()


async def test_a_refused_item_refuses_the_whole_set_and_stores_nothing(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client, "C0:FF:EE:00:0C:02")
        url = f"/v1/patients/{pid}/observation-sets"
        soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        refused = {
            "range": await client.post(
                url, json=_set(("respiration_rate", 26), ("systolic_bp", 30)), headers=AUTH
            ),
            "code": await client.post(
                url, json=_set(("temperature", 37), ("consciousness", "X")), headers=AUTH
            ),
            "twice": await client.post(
                url,
                json=_set(("respiration_rate", 26), ("oxygen", "air"), ("respiration_rate", 18)),
                headers=AUTH,
            ),
            "future": await client.post(url, json=_set(("temperature", 37), measured_at=soon), headers=AUTH),
            "unknown": await client.post(url, json=_set(("temperature", 37), ("pulse", 80)), headers=AUTH),
            "empty": await client.post(url, json=_set(), headers=AUTH),
        }
        listed = (await client.get(f"/v1/patients/{pid}/observations", headers=AUTH)).json()["items"]
    assert {name: answer.status_code for name, answer in refused.items()} == dict.fromkeys(refused, 422)
    assert all(a.headers["content-type"] == "application/problem+json" for a in refused.values())
    where = {name: answer.json()["errors"][0]["loc"] for name, answer in refused.items()}
    assert where == {
        "range": ["body", "observations", 1, "value"],
        "code": ["body", "observations", 1, "value"],
        "twice": ["body", "observations"],
        "future": ["body", "measured_at"],
        "unknown": ["body", "observations", 1, "parameter"],
        "empty": ["body", "observations"],
    }
    assert refused["range"].json()["detail"] == (
        "body.observations.1.value: systolic_bp must be a number from 40 to 300 mm[Hg]"
    )
    assert "items 0 and 2" in refused["twice"].json()["detail"]
    assert listed == []
    r = redis.Redis.from_url(redis_url)
    assert r.exists(rkeys.manual(pid)) == 0  # not even the valid first item
    assert r.xlen(keys.eval_stream(keys.shard_of(pid))) == 0  # and no evaluation queued
    r.close()


async def test_a_set_follows_the_name_ward_and_audit_rules(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client, "C0:FF:EE:00:0C:03")
        other = await _patient(client, "C0:FF:EE:00:0C:04", ward=OTHER_WARD)
        nurse_id = (await user(client, "nurse.set", "clinician", [WARD]))["principal_id"]
        nurse = bearer(await password_token(client, "nurse.set"))
        system = {"Authorization": f"Bearer {(await api_key(client, 'clinician', [WARD]))['api_key']}"}
        reader = {"Authorization": f"Bearer {(await api_key(client, 'integrator', [WARD]))['api_key']}"}
        url = f"/v1/patients/{pid}/observation-sets"
        body = _set(("temperature", 37.2), ("oxygen", "air"), by="someone-else")
        by_nurse = await client.post(url, json=body, headers=nurse)
        by_system = await client.post(url, json=_set(("temperature", 37.4), by="rn-ehr-7"), headers=system)
        not_granted = await client.post(f"/v1/patients/{other}/observation-sets", json=body, headers=nurse)
        read_only = await client.post(url, json=body, headers=reader)
        # The ward pages' session (a cookie, no Authorization header) is the same person.
        session = await client.post("/v1/web/session", json={"username": "nurse.set", "password": PASSWORD})
        csrf = {"X-CSRF-Token": session.json()["csrf_token"]}
        by_page = await client.post(url, json=_set(("systolic_bp", 120), by="someone-else"), headers=csrf)
        listed = (await client.get(f"/v1/patients/{pid}/observations", headers=AUTH)).json()["items"]
        elsewhere = (await client.get(f"/v1/patients/{other}/observations", headers=AUTH)).json()["items"]
        audited = (await client.get("/v1/audit", params={"actor": nurse_id}, headers=AUTH)).json()["items"]
    assert (by_nurse.status_code, [o["by"] for o in by_nurse.json()["observations"]]) == (
        201,
        ["nurse.set", "nurse.set"],
    )
    assert (by_page.status_code, by_page.json()["observations"][0]["by"]) == (201, "nurse.set")
    # A system (API key) acts for the person it names (api/actor.py); the audit log says which system.
    assert (by_system.status_code, by_system.json()["observations"][0]["by"]) == (201, "rn-ehr-7")
    assert (not_granted.status_code, read_only.status_code) == (403, 403)
    assert [(o["parameter"], o["by"]) for o in listed] == [
        ("temperature", "nurse.set"),
        ("oxygen", "nurse.set"),
        ("temperature", "rn-ehr-7"),
        ("systolic_bp", "nurse.set"),
    ]
    assert elsewhere == []
    route = "/v1/patients/{patient_id}/observation-sets"
    sets = [(e["action"], e["patients"], e["status"]) for e in audited if e["route"] == route]
    assert sets == [("write", [pid], 201), ("write", [other], 403), ("write", [pid], 201)]
