"""Read side of the alerting endpoints: alert burden per ward and replay of a proposed plan.

- **Burden** (alerting/analytics.py): the ward's enrolments -- admissions and discharges from the
  enrolment records (api/resources/enrolments.py), or the enrolment time of patients enrolled
  without one -- and the alerts its patients raised while on the ward in the period.
- **Replay** (alerting/replay.py): each patient's stored readings measured in the period (the
  history stream, api/reading_codec.py) and manual observations, under the proposed plan and under
  the patient's current plan, side by side. CPU-bound: it runs in a worker thread. A request may
  replay at most MAX_REPLAY_READINGS readings, so one call cannot stall the service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from alerting.alerts import Alert
from alerting.analytics import Enrolment, alert_burden
from alerting.careplan import CarePlan
from alerting.manual import ManualObservation
from alerting.model import Observation
from alerting.replay import compare
from api import keys
from api.alert_record import to_alert
from api.alert_store import INDEX_FIELD, text
from api.careplans import plan_from_raw
from api.evaluation import observation
from api.patient_context import manual_entries
from api.reading_codec import decode_fields
from api.resources import keys as rkeys

MAX_REPLAY_READINGS = 200_000
_BATCH = 5_000


class TooMuchHistory(ValueError):
    """The replay would cover more readings than one request may (HTTP 422)."""


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(text(value))


async def ward_enrolments(r: Redis, ward_id: str) -> list[Enrolment]:
    """Every stay of a patient on the ward: enrolment records first, else the current enrolment."""
    current = sorted(text(p) for p in await r.smembers(keys.ward_patients(ward_id)))
    members = [text(m) for m in await r.zrange(rkeys.ENROLMENTS, 0, -1)]
    pids = sorted({m.split(" ", 1)[1] for m in members if " " in m} | set(current))
    async with r.pipeline(transaction=False) as pipe:
        for pid in pids:
            pipe.hvals(rkeys.enrolments_of(pid))
            pipe.hget(keys.patient(pid), "enrolled_at")
        replies: list[Any] = await pipe.execute()
    found: list[Enrolment] = []
    for i, pid in enumerate(pids):
        records = [json.loads(v) for v in replies[2 * i]]
        stays = [
            Enrolment(pid, datetime.fromisoformat(rec["admitted_at"]), _dt(rec.get("discharged_at")))
            for rec in records
            if rec.get("ward_id") == ward_id and rec.get("admitted_at")
        ]
        enrolled = _dt(replies[2 * i + 1])
        if not stays and pid in current and enrolled is not None:
            stays = [Enrolment(pid, enrolled)]
        found += stays
    return found


def _on_ward(alert: Alert, stays: Sequence[Enrolment]) -> bool:
    return any(s.start <= alert.raised_at and (s.end is None or alert.raised_at <= s.end) for s in stays)


async def ward_burden(r: Redis, ward_id: str, start: datetime, end: datetime) -> dict[str, object]:
    enrolments = await ward_enrolments(r, ward_id)
    pids = sorted({e.patient_id for e in enrolments})
    async with r.pipeline(transaction=False) as pipe:
        for pid in pids:
            pipe.hgetall(keys.alerts(pid))
        replies: list[Any] = await pipe.execute()
    alerts: list[Alert] = []
    for pid, raw in zip(pids, replies, strict=True):
        stays = [e for e in enrolments if e.patient_id == pid]
        for field, value in raw.items():
            if text(field) != INDEX_FIELD:
                alert = to_alert(json.loads(value))
                if _on_ward(alert, stays):
                    alerts.append(alert)
    return alert_burden(alerts, enrolments, start, end).to_dict()


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


async def _history(
    r: Redis, pid: str, start: datetime | None, end: datetime | None, budget: int
) -> list[Observation]:
    low, high = _ms(start), _ms(end)
    found: list[Observation] = []
    cursor = "-"
    while True:
        rows: list[Any] = await r.xrange(keys.readings(pid), min=cursor, max="+", count=_BATCH) or []
        for entry_id, raw in rows:
            fields = decode_fields(raw)
            measured = int(fields["m"])
            if (low is None or measured >= low) and (high is None or measured < high):
                found.append(observation(fields))
                if len(found) > budget:
                    raise TooMuchHistory(
                        f"more than {MAX_REPLAY_READINGS} readings to replay; narrow `from` and `to`"
                    )
            cursor = "(" + text(entry_id)
        if len(rows) < _BATCH:
            return found


async def replay(
    r: Redis, patient_ids: Sequence[str], proposed: CarePlan, start: datetime | None, end: datetime | None
) -> dict[str, object]:
    """How many alerts the proposed plan would have raised over the stored history, vs the current plans."""
    histories: dict[str, list[Observation]] = {}
    current: dict[str, CarePlan] = {}
    manual: dict[str, Sequence[ManualObservation]] = {}
    budget = MAX_REPLAY_READINGS
    for pid in patient_ids:
        history = await _history(r, pid, start, end, budget)
        budget -= len(history)
        histories[pid] = history
        current[pid] = plan_from_raw(await r.get(keys.care_plan(pid)))
        rows = await r.xrange(rkeys.manual(pid), min="-", max="+")
        manual[pid] = manual_entries(rows)[0]
    result = await asyncio.to_thread(compare, histories, current, proposed, manual=manual)
    return {
        "patients": sorted(patient_ids),
        "from": None if start is None else start.astimezone(UTC).isoformat(),
        "to": None if end is None else end.astimezone(UTC).isoformat(),
        **result,
    }
