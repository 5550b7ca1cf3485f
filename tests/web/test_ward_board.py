"""The ward board: queue groups and order, trend, data quality and connection state (pure), and the
board built from real readings evaluated by the real worker (in-process service, real Redis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.careplan import CarePlan, RulePack
from api.board_rows import band, group_of, link, trend
from tests.api import factories
from tests.api.rest_support import AUTH, api_client, evaluate, store_readings

T0 = datetime(2025, 1, 14, 10, 0, tzinfo=UTC)
LOW_PERFUSION = 1 << 5  # PLX Device and Sensor Status bit 5 (clinical-rules.md §6.1): questionable
PROBE_OFF = 1 << 11  # bit 11 "sensor unconnected to user": unscorable


def alert(priority: str, minutes: int, rule: str = "o2home-band") -> dict[str, Any]:
    return {"priority": priority, "rule": rule, "raised_at": (T0 + timedelta(minutes=minutes)).isoformat()}


@pytest.mark.parametrize(
    ("alerts", "group", "since"),
    [
        ([], "none", None),
        ([alert("low", 5), alert("high", 9), alert("high", 7)], "high", 7),
        ([alert("medium", 1), alert("advisory", 0, "signal-quality")], "medium", 1),
        ([alert("advisory", 3, "signal-quality"), alert("low", 4)], "low", 3),
        # A missed reading ranks after every abnormal or technical alert, whatever its priority...
        ([alert("high", 0, "overdue")], "overdue", 0),
        # ...and the patient's other alerts decide the group.
        ([alert("high", 0, "overdue"), alert("advisory", 8, "signal-quality")], "low", 8),
        ([alert("urgent?", 2)], "low", 2),  # an unknown priority never sinks to "none"
    ],
)
def test_queue_group_is_the_worst_open_alert_then_overdue_then_none(
    alerts: list[dict[str, Any]], group: str, since: int | None
) -> None:
    rank, waiting = group_of(alerts)
    assert rank == group
    expected = None if since is None else (T0 + timedelta(minutes=since)).isoformat()
    assert waiting == expected


def reading(
    spo2: float | None, minutes_ago: float, *, sensor: int | None = None, rid: str = ""
) -> dict[str, Any]:
    at = (T0 - timedelta(minutes=minutes_ago)).isoformat()
    return {
        "reading_id": rid or f"r{spo2}-{minutes_ago}",
        "measured_at": at,
        "spo2": spo2,
        "pulse": 80.0,
        "perfusion_index": None,
        "mode": "spot-check",
        "late": False,
        "status": {"measurement": None, "device_sensor": sensor, "device_clock_not_set": False},
    }


def test_trend_needs_a_three_point_change_bts_and_ignores_unusable_readings() -> None:
    recent = [reading(92, 0), reading(93, 1), reading(60, 2, sensor=PROBE_OFF)]
    falling = trend(recent, [reading(96, 20), reading(97, 25)])
    assert falling.direction == "falling"
    assert falling.delta == -4.0  # median 92.5 vs 96.5; the probe-off 60 % counted for nothing
    assert trend(recent, [reading(95, 20)]).direction == "steady"  # -2.5: under the 3-point BTS fall
    assert trend([reading(97, 0)], [reading(93, 30)]).direction == "rising"
    # Questionable readings still count (a red value that may be real must not be hidden, §6.2.4).
    assert trend([reading(90, 0, sensor=LOW_PERFUSION)], [reading(96, 20)]).direction == "falling"
    # Newly monitored: the first readings ever stored are the reference.
    first = [reading(97, 3), reading(97, 2.5)]
    assert trend([reading(91, 0)], [], first).direction == "falling"
    assert trend([reading(91, 0)], []).direction == "unknown"
    assert trend([reading(None, 0)], [reading(96, 20)]).direction == "unknown"
    # Spot checks minutes apart: the newest check is not outvoted by the earlier, better ones.
    rechecked = trend([reading(88, 0), reading(96, 5), reading(97, 10)], [reading(96, 200)])
    assert (rechecked.direction, rechecked.delta) == ("falling", -8.0)


def test_band_is_the_plans_and_only_for_the_oximetry_at_home_pack() -> None:
    latest = reading(94, 0)
    assert band(CarePlan(), latest) == "amber"  # 93-94 % (clinical-rules.md §1.2)
    assert band(CarePlan(), reading(50, 0, sensor=PROBE_OFF)) == "unknown"
    assert band(CarePlan(rule_pack=RulePack.NEWS2_SCALE2, target_spo2=(88, 92)), latest) == "not-used"


def test_link_state_comes_from_the_gateways_retained_status() -> None:
    latest = {**reading(97, 0), "source": {"gateway_id": "gw-1", "device_address": "c0:ff:ee:00:00:01"}}
    devices = json.dumps([{"address": "C0:FF:EE:00:00:01", "state": "away"}])
    status = {"state": "online", "at": T0.isoformat(), "outbox_depth": "12", "devices": devices}
    state = link(latest, status, [])
    assert (state.gateway_state, state.device_state, state.outbox_depth) == ("online", "away", 12)
    assert (
        link(latest, {"state": "offline", "at": T0.isoformat(), "devices": ""}, []).gateway_state == "offline"
    )
    none = link(None, None, ["C0:FF:EE:00:00:09"])
    assert (none.gateway_state, none.device_state, none.device_address) == (
        "unknown",
        "unknown",
        "C0:FF:EE:00:00:09",
    )


async def test_board_orders_real_alerts_and_shows_who_acknowledged(redis_url: str) -> None:
    now = datetime.now(UTC)
    async with api_client(redis_url) as client:
        devices = {"p-red-old": "A1", "p-amber": "A2", "p-red-new": "A3", "p-well": "A4"}
        for pid, device in devices.items():
            body = {"patient_id": pid, "ref": pid, "devices": [f"AA:00:00:00:00:{device}"]}
            assert (await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)).status_code == 201

        def spot(pid: str, spo2: float, ago: timedelta, seq: int = 0) -> dict[str, Any]:
            device = f"AA:00:00:00:00:{devices[pid]}"
            return factories.payload(spo2=spo2, device=device, measured_at=now - ago, seq=seq)

        store_readings(redis_url, [spot("p-red-old", 88, timedelta(minutes=3))])
        evaluate(redis_url, now - timedelta(minutes=3))
        store_readings(
            redis_url,
            [
                spot("p-amber", 94, timedelta(minutes=2)),
                spot("p-red-new", 91, timedelta(minutes=1), seq=1),
                spot("p-well", 97, timedelta(hours=1), seq=2),
            ],
        )
        evaluate(redis_url, now)
        board = (await client.get("/v1/wards/w1/board", headers=AUTH)).json()
        order = [(i["patient_id"], i["rank"]) for i in board["items"]]
        assert order == [
            ("p-red-old", "high"),
            ("p-red-new", "high"),
            ("p-amber", "medium"),
            ("p-well", "none"),
        ]
        well = board["items"][3]
        assert well["latest"]["late"] is True  # stored an hour after it was measured (§6.2.5)
        assert well["band"] == "green"
        red = board["items"][0]
        assert red["band"] == "red"
        (open_alert,) = red["alerts"]
        assert open_alert["acknowledged_by"] is None
        ack = await client.post(
            f"/v1/patients/p-red-old/alerts/{open_alert['alert_id']}/acknowledge",
            json={"by": "nurse.jb"},
            headers=AUTH,
        )
        assert ack.status_code == 200, ack.text
        board = (await client.get("/v1/wards/w1/board", headers=AUTH)).json()
        first = board["items"][0]
        assert first["patient_id"] == "p-red-old"  # acknowledged still waits until resolved
        assert first["alerts"][0]["acknowledged_by"] == "nurse.jb"
        recent = (await client.get("/v1/patients/p-red-new/recent-readings", headers=AUTH)).json()
        assert [r["spo2"] for r in recent["items"]] == [91]


async def test_board_says_when_alerts_reach_nobody_or_never_escalate(redis_url: str) -> None:
    """No black holes unseen (issue 6.4): the board counts the ward's ladder and rota tiers, which
    the queue page turns into a notice while either is missing."""
    ward = "w-reach"
    mail = "mailtos://nurse:pw@smtp.example.nhs.uk/?to=w-reach@example.nhs.uk&from=oxiward@example.nhs.uk"
    nurse = {"name": "Ward nurse", "channels": [{"kind": "apprise", "url": mail}]}
    ladder = {"tiers": [{"name": "ward-nurse", "ack_within_s": 900}], "min_priority": "high"}
    async with api_client(redis_url) as client:

        async def reach() -> dict[str, Any]:
            board = await client.get(f"/v1/wards/{ward}/board", headers=AUTH)
            assert board.status_code == 200, board.text
            return dict(board.json()["reach"])

        assert await reach() == {"escalation_tiers": 0, "escalates_from": None, "rota_tiers": 0}
        config = {"config": {"escalation": ladder}, "by": "matron", "reason": "go-live"}
        put = await client.put(f"/v1/wards/{ward}/alerting-config", json=config, headers=AUTH)
        assert put.status_code == 200, put.text
        assert await reach() == {"escalation_tiers": 1, "escalates_from": "high", "rota_tiers": 0}
        rota = {"tiers": [{"recipients": [nurse]}, {"recipients": [nurse]}]}
        put = await client.put(f"/v1/wards/{ward}/rota", json=rota, headers=AUTH)
        assert put.status_code == 200, put.text
        assert await reach() == {"escalation_tiers": 1, "escalates_from": "high", "rota_tiers": 2}
