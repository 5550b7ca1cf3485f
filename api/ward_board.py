"""The ward board: the queue with every open alert, trend, data quality and connection state.

Reads, for the patients asked about, in two pipelined round trips: the shard's latest reading, the
open-alert index, the newest and the 15-minute-old readings (the trend, api/board_rows.py), the care
plan (band thresholds), then the open alert records and the gateways' retained status. Used by
``GET /v1/wards/{ward_id}/board`` and, for the patients that changed, by the live stream
(api/ward_events.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from alerting.careplan import CarePlan, PlanError
from api import alert_store, careplans, keys, registry, ward_config
from api.board_rows import (
    TREND_REFERENCE_AGE,
    alert_view,
    band,
    group_of,
    link,
    reading_view,
    sort_key,
    trend,
    worst_first,
)
from api.board_schemas import BoardReach, BoardRow, RecentReadings, WardBoard
from api.contract import datetime_ms
from api.notify.rota import rota_from_raw, rota_key
from api.reading_codec import latest_to_api, to_api
from api.registry import PatientRecord, text

#: Stored entries read per patient for the trend (api/board_rows.py): the newest, those from before
#: the trend window, and the very first (the reference while the patient is newly monitored).
RECENT = 5
REFERENCE = 5


def _readings(raw: list[Any] | None) -> list[dict[str, Any]]:
    return [to_api(entry_id, fields) for entry_id, fields in raw or [] if entry_id is not None and fields]


def _plan(raw: Any) -> CarePlan:
    try:
        return careplans.plan_from_raw(raw)
    except PlanError:
        return CarePlan()  # a stored plan today's checks refuse: fall back to the CO@h bands, as shown


async def rows_for(r: Redis, patients: Sequence[PatientRecord], now: datetime) -> list[BoardRow]:
    """Board rows of these patients (in the order given)."""
    reference_max = str(datetime_ms(now - TREND_REFERENCE_AGE))
    async with r.pipeline(transaction=False) as pipe:
        for p in patients:
            pipe.hget(keys.latest(keys.shard_of(p.patient_id)), p.patient_id)
            pipe.hget(keys.alerts(p.patient_id), alert_store.INDEX_FIELD)
            pipe.xrevrange(keys.readings(p.patient_id), count=RECENT)
            pipe.xrevrange(keys.readings(p.patient_id), max=reference_max, count=REFERENCE)
            pipe.xrange(keys.readings(p.patient_id), count=REFERENCE)
            pipe.get(keys.care_plan(p.patient_id))
        first: list[Any] = await pipe.execute()
    latests: list[dict[str, Any] | None] = []
    open_ids: list[list[str]] = []
    for i in range(len(patients)):
        raw_latest, raw_index = first[6 * i], first[6 * i + 1]
        latests.append(None if raw_latest is None else latest_to_api(raw_latest))
        open_ids.append(sorted(set(json.loads(raw_index).values())) if raw_index else [])
    gateways = sorted({x["source"]["gateway_id"] for x in latests if x is not None})
    async with r.pipeline(transaction=False) as pipe:
        for p, ids in zip(patients, open_ids, strict=True):
            if ids:
                pipe.hmget(keys.alerts(p.patient_id), ids)
        for g in gateways:
            pipe.hgetall(keys.gateway_status(g))
        second: list[Any] = await pipe.execute()
    status_of = {
        g: {text(k): text(v) for k, v in raw.items()}
        for g, raw in zip(gateways, second[len(second) - len(gateways) :], strict=True)
    }
    alert_replies = iter(second[: len(second) - len(gateways)])
    rows = []
    for i, p in enumerate(patients):
        records = [json.loads(x) for x in next(alert_replies)] if open_ids[i] else []
        alerts = worst_first(a for a in records if a is not None and a.get("state") != "resolved")
        rank, waiting = group_of(alerts)
        latest = latests[i]
        plan = _plan(first[6 * i + 5])
        status = None if latest is None else status_of.get(latest["source"]["gateway_id"])
        rows.append(
            BoardRow.model_validate(
                {
                    "patient_id": p.patient_id,
                    "ref": p.ref,
                    "rank": rank,
                    "waiting_since": waiting,
                    "band": band(plan, latest),
                    "rule_pack": plan.rule_pack.value,
                    "latest": None if latest is None else reading_view(latest, now),
                    "trend": trend(*(_readings(first[6 * i + k]) for k in (2, 3, 4))),
                    "link": link(latest, status, p.devices),
                    "alerts": [alert_view(a) for a in alerts],
                }
            )
        )
    return rows


async def reach(r: Redis, ward_id: str) -> BoardReach:
    """The ward's escalation ladder and rota, counted (both keys carry the ward's hash tag)."""
    raw_config, raw_rota = await r.mget(keys.ward_alerting(ward_id), rota_key(ward_id))
    ladder = ward_config.config_from_raw(raw_config).escalation
    return BoardReach(
        escalation_tiers=0 if ladder is None else len(ladder.tiers),
        escalates_from=None if ladder is None else ladder.min_priority.value,
        rota_tiers=len(rota_from_raw(raw_rota).tiers),
    )


async def board(r: Redis, ward_id: str, now: datetime) -> WardBoard:
    patients = await registry.list_ward_patients(r, ward_id)
    rows = await rows_for(r, patients, now)
    return WardBoard(
        ward_id=ward_id, generated_at=now, reach=await reach(r, ward_id), items=sorted(rows, key=sort_key)
    )


async def recent_readings(r: Redis, patient_id: str, limit: int, now: datetime) -> RecentReadings:
    """The newest stored readings, newest first (the patient page's table)."""
    raw = await r.xrevrange(keys.readings(patient_id), count=limit)
    return RecentReadings(patient_id=patient_id, items=[reading_view(x, now) for x in _readings(raw)])
