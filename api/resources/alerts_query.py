"""Alerts across the patients of one or more wards, filtered by state and priority, newest first.

Alerts live per patient (api/alert_store.py). A list reads the alert hashes of the wards' current
patients in one pipelined round trip, filters, and sorts by (raised_at, alert_id) descending. The
cursor is the (raised_at, alert_id) of the last item returned; the next page holds what sorts
strictly after it, so pages neither overlap nor skip while alerts are raised (a new alert sorts
first, onto an earlier page) or change state (position depends only on raise time and id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.alert_store import INDEX_FIELD
from api.registry import text
from api.resources.pagination import decode_cursor, encode_cursor
from api.resources.schemas_kit import WardAlert

_KIND = "alerts"


@dataclass(frozen=True, slots=True)
class AlertFilter:
    states: frozenset[str] | None = None
    priorities: frozenset[str] | None = None

    def accepts(self, alert: dict[str, Any]) -> bool:
        if self.states is not None and alert["state"] not in self.states:
            return False
        return self.priorities is None or alert["priority"] in self.priorities


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
    found.sort(key=lambda a: (a["raised_at"], a["alert_id"]), reverse=True)
    if cursor is not None:
        raised_at, _, alert_id = decode_cursor(_KIND, cursor).partition("|")
        found = [a for a in found if (a["raised_at"], a["alert_id"]) < (raised_at, alert_id)]
    chosen = found[:limit]
    more = len(found) > limit
    next_cursor = (
        encode_cursor(_KIND, f"{chosen[-1]['raised_at']}|{chosen[-1]['alert_id']}") if more else None
    )
    return [WardAlert.model_validate(a) for a in chosen], next_cursor
