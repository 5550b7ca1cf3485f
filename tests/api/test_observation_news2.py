"""A manual observation recorded over REST scores NEWS2 at once (issue 6 point 2), through the real
evaluation worker and a real Redis: no new oximeter reading needed, nothing for a normal set or a
discharged patient, a failed evaluation raised as the technical alert; and it is recorded under the
signed-in clinician's own name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis

from api import keys
from tests.api import factories
from tests.api.alerting_support import evaluated, nothing_pending, running_worker, until
from tests.api.integration_support import admit_on_plan
from tests.api.rest_support import AUTH, api_client, evaluate, store_readings
from tests.api.security_support import PASSWORD, api_key, bearer, password_token, user

WARD = "obs-news2"
NEWS2 = {"rule_pack": "news2-scale1"}


def _obs(parameter: str, value: float | str, minutes_ago: float = 2, by: str = "rn-12") -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"parameter": parameter, "value": value, "measured_at": at.isoformat(), "by": by}


async def _patient(
    client: httpx.AsyncClient, device: str, plan: dict[str, Any] | None = NEWS2
) -> dict[str, Any]:
    return await admit_on_plan(client, WARD, device, plan)


async def _record(client: httpx.AsyncClient, pid: str, *bodies: dict[str, Any]) -> list[str]:
    ids = []
    for body in bodies:
        done = await client.post(f"/v1/patients/{pid}/observations", json=body, headers=AUTH)
        assert done.status_code == 201, done.text
        ids.append(done.json()["observation_id"])
    return ids


async def _alerts(client: httpx.AsyncClient, pid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get(f"/v1/patients/{pid}/alerts", headers=AUTH)).json()[
        "items"
    ]
    return items


async def test_a_deteriorating_set_raises_news2_at_once_without_a_new_reading(redis_url: str) -> None:
    device = "C0:FF:EE:00:0B:01"
    r = redis.Redis.from_url(redis_url)
    with running_worker(redis_url, "obs-worker"):
        async with api_client(redis_url) as client:
            pid = (await _patient(client, device))["patient_id"]
            # This morning's spot check, normal, hours before the nurse's visit.
            reading = factories.payload(
                spo2=97, pulse=80, device=device, measured_at=datetime.now(UTC) - timedelta(hours=3)
            )
            store_readings(redis_url, [reading])
            await evaluated(r, pid)
            assert await _alerts(client, pid) == []
            ids = await _record(
                client, pid, _obs("respiration_rate", 26), _obs("consciousness", "V"), _obs("systolic_bp", 88)
            )
            found: list[dict[str, Any]] = []

            async def high() -> bool:
                found[:] = await _alerts(client, pid)
                return bool(found) and found[0]["priority"] == "high"

            await until(high)
    [alert] = found
    # RR 26, V and SBP 88 score 3 each (§2.3), SpO2 97 and pulse 80 none (§2.1, §2.2): 9, emergency (§2.4).
    assert (
        alert["rule"],
        alert["state"],
        alert["news2_total"],
        alert["news2_partial"],
        alert["response"],
    ) == (
        "news2",
        "open",
        9,
        True,  # temperature not taken
        "high",
    )
    assert alert["detail"] == f"manual-observation:{ids[-1]},partial"
    assert "manual-observation" in alert["reasons"]
    assert (alert["reading_id"], alert["spo2"]) == (reading["reading_id"], 97.0)
    assert [e["kind"] for e in alert["events"]] == ["raised", "upgraded"]  # medium at RR 26, high at 9
    assert r.xlen(keys.readings(pid)) == 1  # no reading stored or invented
    assert nothing_pending(r, pid)
    r.close()


async def test_a_normal_set_raises_nothing_and_a_set_alone_scores_partially(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        normal = (await _patient(client, "C0:FF:EE:00:0B:02"))["patient_id"]
        reading = factories.payload(spo2=97, pulse=72, device="C0:FF:EE:00:0B:02")
        store_readings(redis_url, [reading])
        await _record(
            client,
            normal,
            _obs("respiration_rate", 16),
            _obs("systolic_bp", 124),
            _obs("temperature", 37.0),
            _obs("consciousness", "A"),
            _obs("oxygen", "air"),
        )
        no_reading = (await _patient(client, "C0:FF:EE:00:0B:03"))["patient_id"]
        await _record(client, no_reading, _obs("respiration_rate", 16), _obs("respiration_rate", 7))
        on_bands = (await _patient(client, "C0:FF:EE:00:0B:04", plan=None))["patient_id"]
        await _record(client, on_bands, _obs("respiration_rate", 30))
        evaluate(redis_url)
        assert await _alerts(client, normal) == []
        [alone] = await _alerts(client, no_reading)
        assert await _alerts(client, on_bands) == []  # CO@h bands score SpO2 only (§1.2)
    # RR 7 scores 3 (§2.3): a single parameter at 3, from the manual set alone (§2.4), partial.
    assert (alone["priority"], alone["news2_total"], alone["news2_partial"], alone["reading_id"]) == (
        "medium",
        3,
        True,
        None,
    )
    assert alone["detail"].startswith("manual-observation:")


async def test_a_discharged_patients_observation_raises_nothing(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        enrolment = await _patient(client, "C0:FF:EE:00:0B:05")
        pid = enrolment["patient_id"]
        await _record(client, pid, _obs("respiration_rate", 30))  # evaluated after the discharge
        out = await client.post(
            f"/v1/enrolments/{enrolment['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "dr-ak"},
            headers=AUTH,
        )
        assert out.status_code == 200, out.text
        await _record(client, pid, _obs("consciousness", "U"))
        assert evaluate(redis_url) == 2
        assert await _alerts(client, pid) == []
    r = redis.Redis.from_url(redis_url)
    assert nothing_pending(r, pid)
    r.close()


async def test_an_observation_that_cannot_be_evaluated_raises_the_technical_alert(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = (await _patient(client, "C0:FF:EE:00:0B:06"))["patient_id"]
        r = redis.Redis.from_url(redis_url)
        r.hset(keys.latest(keys.shard_of(pid)), pid, "not json")  # a latest reading nothing can read
        await _record(client, pid, _obs("respiration_rate", 30))
        evaluate(redis_url)
        [alert] = await _alerts(client, pid)
        dead = [f for _, f in r.xrange(keys.DEAD_LETTER) if f[b"reason"] == b"evaluation-failed"]
        assert nothing_pending(r, pid)
        r.close()
    assert (alert["rule"], alert["priority"], alert["technical"], alert["detail"]) == (
        "evaluation-failed",
        "low",
        True,
        "JSONDecodeError",
    )
    assert len(dead) == 1


async def test_an_observation_is_recorded_under_the_signed_in_clinicians_name(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = (await _patient(client, "C0:FF:EE:00:0B:07"))["patient_id"]
        await user(client, "nurse.obs", "clinician", [WARD])
        nurse = bearer(await password_token(client, "nurse.obs"))
        system = {"Authorization": f"Bearer {(await api_key(client, 'clinician', [WARD]))['api_key']}"}
        url = f"/v1/patients/{pid}/observations"
        by_nurse = await client.post(url, json=_obs("temperature", 37.2, by="someone-else"), headers=nurse)
        by_system = await client.post(url, json=_obs("temperature", 37.4, by="rn-ehr-7"), headers=system)
        # The ward pages' session (a cookie, no Authorization header) is the same person.
        session = await client.post("/v1/web/session", json={"username": "nurse.obs", "password": PASSWORD})
        csrf = {"X-CSRF-Token": session.json()["csrf_token"]}
        by_page = await client.post(url, json=_obs("temperature", 37.6, by="someone-else"), headers=csrf)
        listed = (await client.get(url, headers=AUTH)).json()["items"]
    assert (by_nurse.status_code, by_nurse.json()["by"]) == (201, "nurse.obs")
    assert (by_page.status_code, by_page.json()["by"]) == (201, "nurse.obs")
    # A system (API key) acts for the person it names (api/actor.py); the audit log says which system.
    assert (by_system.status_code, by_system.json()["by"]) == (201, "rn-ehr-7")
    assert [o["by"] for o in listed] == ["nurse.obs", "rn-ehr-7", "nurse.obs"]


async def test_the_response_says_whether_news2_scores_the_observation(redis_url: str) -> None:
    """Only a NEWS2 plan scores manual observations: for an Oximetry @home patient, or a discharged
    one, the observation is stored but raises nothing, and the response says so (`scored`)."""
    bad = [("respiration_rate", 26), ("systolic_bp", 88), ("temperature", 39.1)]
    deteriorating = {"by": "rn-12", "observations": [{"parameter": p, "value": v} for p, v in bad]}
    async with api_client(redis_url) as client:
        news2 = await _patient(client, "C0:FF:EE:00:0B:08")
        o2home = (await _patient(client, "C0:FF:EE:00:0B:09", {"rule_pack": "o2home"}))["patient_id"]
        default = (await _patient(client, "C0:FF:EE:00:0B:10", None))["patient_id"]  # CO@h bands

        async def scored(pid: str) -> tuple[bool, bool]:
            one = await client.post(
                f"/v1/patients/{pid}/observations", json=_obs("consciousness", "V"), headers=AUTH
            )
            many = await client.post(f"/v1/patients/{pid}/observation-sets", json=deteriorating, headers=AUTH)
            assert (one.status_code, many.status_code) == (201, 201), (one.text, many.text)
            assert one.json()["parameter"] == "consciousness"  # still the stored observation
            return one.json()["scored"], many.json()["scored"]

        answers = {"news2": await scored(news2["patient_id"]), "o2home": await scored(o2home)}
        answers["default"] = await scored(default)
        out = await client.post(
            f"/v1/enrolments/{news2['enrolment_id']}/discharge",
            json={"reason": "recovered", "by": "dr-ak"},
            headers=AUTH,
        )
        assert out.status_code == 200, out.text
        answers["discharged"] = await scored(news2["patient_id"])
        assert evaluate(redis_url) == 8
        raised = {
            name: await _alerts(client, pid) for name, pid in [("o2home", o2home), ("default", default)]
        }
    assert answers == {
        "news2": (True, True),
        "o2home": (False, False),
        "default": (False, False),
        "discharged": (False, False),
    }
    assert raised == {"o2home": [], "default": []}  # what `scored: false` promised
