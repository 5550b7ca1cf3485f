"""JSON true/false is not a number (issue 5): Python's bool is an int, so unchecked a `true` would be
stored as 1. Every request body field that takes a number refuses it with a 422 naming the field,
and nothing is stored; a number written as a string is refused too. The other way round, a yes/no
field takes only true or false (pydantic would read 1 or "yes" as true)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.rest_support import AUTH, api_client

WARD = "strict-numbers"
NOW = datetime.now(UTC).replace(microsecond=0)


async def _patient(client: httpx.AsyncClient) -> str:
    body = {"ref": "Bed 1", "devices": []}
    admitted = await client.post(f"/v1/wards/{WARD}/patients", json=body, headers=AUTH)
    assert admitted.status_code == 201, admitted.text
    pid: str = admitted.json()["patient_id"]
    return pid


def _refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail: str = response.json()["detail"]
    assert field in detail, detail
    return detail


async def test_true_is_refused_wherever_a_number_is_expected(redis_url: str) -> None:
    measured = (NOW - timedelta(minutes=5)).isoformat()
    async with api_client(redis_url) as client:
        pid = await _patient(client)
        base = f"/v1/patients/{pid}"
        one = {"parameter": "respiration_rate", "value": True, "measured_at": measured, "by": "rn-12"}
        items = [{"parameter": "temperature", "value": 37.2}, {"parameter": "systolic_bp", "value": True}]
        plan: dict[str, Any] = {"plan": {}, "by": "dr-ak", "reason": "review"}
        answers = {
            "body.value": await client.post(f"{base}/observations", json=one, headers=AUTH),
            "body.observations.1.value": await client.post(
                f"{base}/observation-sets", json={"by": "rn-12", "observations": items}, headers=AUTH
            ),
            "body.if_version": await client.put(
                f"{base}/care-plan", json={**plan, "if_version": True}, headers=AUTH
            ),
            "body.minutes": await client.post(
                f"{base}/alerts/a-1/snooze", json={"by": "rn-12", "minutes": True}, headers=AUTH
            ),
            "body.from_tier": await client.post(
                f"{base}/alerts/a-1/escalate",
                json={"by": "rn-12", "reason": "worse", "from_tier": False},
                headers=AUTH,
            ),
            "if_version": await client.put(
                f"/v1/wards/{WARD}/rota", json={"tiers": [], "if_version": True}, headers=AUTH
            ),
        }
        as_text = await client.post(
            f"{base}/alerts/a-1/snooze", json={"by": "rn-12", "minutes": "15"}, headers=AUTH
        )
        listed = (await client.get(f"{base}/observations", headers=AUTH)).json()["items"]
        version = (await client.get(f"{base}/care-plan", headers=AUTH)).json()["version"]
        rota = (await client.get(f"/v1/wards/{WARD}/rota", headers=AUTH)).json()["version"]
    for field, response in answers.items():
        assert "must be a number, not true or false" in _refused(response, field)
    assert "body.minutes" in _refused(as_text, "Input should be a valid number")
    assert (listed, version, rota) == ([], 0, 0)  # nothing stored


async def test_figures_inside_plans_and_ward_configuration_refuse_true_too(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = await _patient(client)
        plan = {"plan": {"baseline_spo2": True}, "by": "dr-ak", "reason": "review"}
        config = {"config": {"snooze_max_s": True}, "by": "matron", "reason": "go-live"}
        refused_plan = await client.put(f"/v1/patients/{pid}/care-plan", json=plan, headers=AUTH)
        refused_config = await client.put(f"/v1/wards/{WARD}/alerting-config", json=config, headers=AUTH)
        evaluated = await client.post(
            "/v1/alerting/evaluate", json={"reading": {"spo2": True}, "plan": {}}, headers=AUTH
        )
    assert "baseline_spo2: expected a number, got True" in _refused(refused_plan, "baseline_spo2")
    assert "expected a number, got True" in _refused(refused_config, "snooze_max_s")
    assert "expected a number, got True" in _refused(evaluated, "spo2")


async def test_a_number_or_a_word_is_not_true_or_false(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        disabled = await client.patch(
            "/v1/admin/principals/u-0123456789abcdef", json={"disabled": 1}, headers=AUTH
        )
        active = await client.patch("/v1/webhooks/wh-4f1c2a9e7b3d5c60", json={"active": "yes"}, headers=AUTH)
    assert "Input should be a valid boolean" in _refused(disabled, "body.disabled")
    assert "Input should be a valid boolean" in _refused(active, "body.active")
