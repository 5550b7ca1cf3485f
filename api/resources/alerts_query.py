"""Alerts filtered by state and priority, newest first: across the patients of one or more wards
(`page`), or one patient's (`patient_page`).

Alerts live per patient (api/alert_store.py). A list reads the alert hashes of the patients (the
wards' current ones: one pipelined round trip), filters, and sorts by (raised_at, alert_id)
descending. The cursor is the (raised_at, alert_id) of the last item returned; the next page holds
what sorts strictly after it, so pages neither overlap nor skip while alerts are raised (a new
alert sorts first, onto an earlier page) or change state (position depends only on raise time and
id). A patient's cursors are tied to that patient (api/stream_ids.py `owned`): 400 on another's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Query
from redis.asyncio import Redis

from api import alert_store, keys
from api.alert_store import INDEX_FIELD
from api.registry import text
from api.resources.pagination import decode_cursor, encode_cursor
from api.resources.schemas_kit import WardAlert
from api.schemas import PriorityName
from api.stream_ids import owned

_KIND = "alerts"
#: The `state` and `priority` filters' values.
State = Literal["open", "acknowledged", "resolved"]
Priority = PriorityName
#: The filters as query parameters (both alert lists take them).
StateQuery = Annotated[list[State] | None, Query(max_length=3, description="repeat for several")]
PriorityQuery = Annotated[list[Priority] | None, Query(max_length=4, description="repeat for several")]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    states: frozenset[str] | None = None
    priorities: frozenset[str] | None = None

    def accepts(self, alert: dict[str, Any]) -> bool:
        if self.states is not None and alert["state"] not in self.states:
            return False
        return self.priorities is None or alert["priority"] in self.priorities

    @classmethod
    def of(cls, states: list[State] | None, priorities: list[Priority] | None) -> AlertFilter:
        """From the query parameters (none given: no filter)."""
        return cls(frozenset(states) if states else None, frozenset(priorities) if priorities else None)


async def _patients(r: Redis, wards: Iterable[str]) -> list[tuple[str, str]]:
    ordered = sorted(set(wards))
    async with r.pipeline(transaction=False) as pipe:
        for w in ordered:
            pipe.smembers(keys.ward_patients(w))
        rows: list[Any] = await pipe.execute()
    return [(w, text(p)) for w, members in zip(ordered, rows, strict=True) for p in sorted(members)]


async def page(
    r: Redis, wards: Iterable[str], flt: AlertFilter, limit: int, cursor: str | None
) -> tuple[list[WardAlert], str | None]:
    patients = await _patients(r, wards)
    async with r.pipeline(transaction=False) as pipe:
        for _, pid in patients:
            pipe.hgetall(keys.alerts(pid))
        rows: list[Any] = await pipe.execute()
    found: list[dict[str, Any]] = []
    for (ward, _), raw in zip(patients, rows, strict=True):
        for field, value in raw.items():
            if text(field) == INDEX_FIELD:
                continue
            alert = json.loads(value)
            if flt.accepts(alert):
                found.append({**alert, "ward_id": ward})
    chosen, next_cursor = _after(found, _KIND, limit, cursor)
    return [WardAlert.model_validate(a) for a in chosen], next_cursor


async def patient_page(
    r: Redis, patient_id: str, flt: AlertFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the patient's alerts (records as stored), newest raised first."""
    found = [a for a in await alert_store.list_alerts(r, patient_id) if flt.accepts(a)]
    return _after(found, owned(_KIND, keys.alerts(patient_id)), limit, cursor)


def _after(
    found: list[dict[str, Any]], kind: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The page of `found` after `cursor` (a list of `kind`), newest raised first, and the next cursor."""
    found = sorted(found, key=lambda a: (a["raised_at"], a["alert_id"]), reverse=True)
    if cursor is not None:
        raised_at, _, alert_id = decode_cursor(kind, cursor).partition("|")
        found = [a for a in found if (a["raised_at"], a["alert_id"]) < (raised_at, alert_id)]
    chosen = found[:limit]
    more = len(found) > limit
    next_cursor = encode_cursor(kind, f"{chosen[-1]['raised_at']}|{chosen[-1]['alert_id']}") if more else None
    return chosen, next_cursor
