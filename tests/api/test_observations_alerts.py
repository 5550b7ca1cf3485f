"""Manual observations (validated ranges, per-patient stream) and the cross-ward alert list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api import factories
from tests.api.integration_support import admit, api_key
from tests.api.rest_support import AUTH, api_client, evaluate, store_readings

NOW = datetime.now(UTC).replace(microsecond=0)


def _obs(parameter: str, value: Any, minutes_ago: int = 5) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    return {"parameter": parameter, "value": value, "measured_at": at, "by": "rn-12"}


async def test_manual_observations_are_validated_stored_and_listed(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        pid = (await admit(client, "north-1", "Bed 1"))["patient_id"]
        url = f"/v1/patients/{pid}/observations"
        good = [
            _obs("respiration_rate", 18, 50),
            _obs("systolic_bp", 128, 40),
            _obs("temperature", 37.9, 30),
            _obs("consciousness", "A", 20),
            _obs("oxygen", "air", 10),
            _obs("respiration_rate", 24, 5),
        ]
        created = [await client.post(url, json=body, headers=AUTH) for body in good]
        bad = [
            (_obs("respiration_rate", 370), "respiration_rate must be a number from 1 to 80 /min"),
            (_obs("temperature", 3.7), "temperature must be a number from 25 to 45 Cel"),
            (_obs("consciousness", "X"), "consciousness must be one of A, C, P, U, V"),
            (_obs("consciousness", 3), "consciousness must be one of"),
            (_obs("oxygen", "2L"), "oxygen must be one of air, oxygen"),
            (_obs("systolic_bp", "120"), "systolic_bp must be a number"),
            (_obs("respiration_rate", 18, -60), "in the future"),
            (_obs("respiration_rate", 18, 60 * 24 * 31), "more than 30 days ago"),
        ]
        refused = [await client.post(url, json=body, headers=AUTH) for body, _ in bad]
        unknown = await client.post(url, json=_obs("pain_score", 3), headers=AUTH)
        rr = (await client.get(url, params={"parameter": "respiration_rate"}, headers=AUTH)).json()
        first = (await client.get(url, params={"limit": 4}, headers=AUTH)).json()
        rest = (
            await client.get(url, params={"limit": 4, "cursor": first["next_cursor"]}, headers=AUTH)
        ).json()
        recent = (
            await client.get(url, params={"from": (NOW - timedelta(minutes=25)).isoformat()}, headers=AUTH)
        ).json()
        reader = await api_key(client, "integrator", ["north-1"])
        not_clinical = await client.post(url, json=_obs("respiration_rate", 18), headers=reader)
        can_read = await client.get(url, headers=reader)
    assert [c.status_code for c in created] == [201] * 6
    assert created[0].json()["unit"] == "/min"
    assert created[2].json()["value"] == 37.9
    assert created[3].json()["unit"] is None
    for response, (_, message) in zip(refused, bad, strict=True):
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    assert unknown.status_code == 422
    assert [o["value"] for o in rr["items"]] == [18.0, 24.0]
    assert len(first["items"]) == 4
    assert first["next_cursor"] is not None
    assert [o["parameter"] for o in rest["items"]] == ["oxygen", "respiration_rate"]
    assert rest["next_cursor"] is None
    assert [o["parameter"] for o in recent["items"]] == ["consciousness", "oxygen", "respiration_rate"]
    assert not_clinical.status_code == 403
    assert can_read.status_code == 200


async def _raise_alert(client: httpx.AsyncClient, redis_url: str, ward: str, device: str, spo2: float) -> str:
    pid: str = (await admit(client, ward, f"Bed {device[-2:]}", devices=[device]))["patient_id"]
    store_readings(redis_url, [factories.payload(spo2=spo2, device=device, seq=int(device[-2:], 16))])
    evaluate(redis_url)
    return pid


async def test_alert_list_filters_by_ward_state_and_priority_and_pages(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        north_red = await _raise_alert(client, redis_url, "north-1", "C0:FF:EE:00:00:11", 88.0)
        north_amber = await _raise_alert(client, redis_url, "north-1", "C0:FF:EE:00:00:12", 93.0)
        south_red = await _raise_alert(client, redis_url, "south-2", "C0:FF:EE:00:00:13", 89.0)
        everything = (await client.get("/v1/alerts", headers=AUTH)).json()["items"]
        by_pid = {a["patient_id"]: a for a in everything}
        await client.post(
            f"/v1/patients/{north_red}/alerts/{by_pid[north_red]['alert_id']}/acknowledge",
            json={"by": "rn-1"},
            headers=AUTH,
        )
        north = (await client.get("/v1/alerts", params={"ward_id": "north-1"}, headers=AUTH)).json()["items"]
        open_only = (await client.get("/v1/alerts", params={"state": "open"}, headers=AUTH)).json()["items"]
        high = (await client.get("/v1/alerts", params={"priority": "high"}, headers=AUTH)).json()["items"]
        pages: list[str] = []
        cursor = None
        for _ in range(5):
            params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/v1/alerts", params=params, headers=AUTH)).json()
            pages += [a["alert_id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        integrator = await api_key(client, "integrator", ["north-1"])
        theirs = (await client.get("/v1/alerts", headers=integrator)).json()["items"]
        forbidden = await client.get("/v1/alerts", params={"ward_id": "south-2"}, headers=integrator)
        bad_ward = await client.get("/v1/alerts", params={"ward_id": "no/slash"}, headers=AUTH)
    assert {a["patient_id"] for a in everything} == {north_red, north_amber, south_red}
    assert by_pid[south_red]["ward_id"] == "south-2"
    assert {a["patient_id"] for a in north} == {north_red, north_amber}
    assert north_red not in {a["patient_id"] for a in open_only}
    assert {a["priority"] for a in high} == {"high"}
    assert {a["patient_id"] for a in high} == {north_red, south_red}
    assert sorted(pages) == sorted(a["alert_id"] for a in everything)
    assert len(pages) == 3
    assert {a["ward_id"] for a in theirs} == {"north-1"}
    assert forbidden.status_code == 403
    assert bad_ward.status_code == 422
