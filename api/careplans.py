"""Care plans in Redis: the patient's current plan, and every version ever set (the audit trail).

Issue 4: a plan is set by a named clinician with a reason; every change is audited and versioned.
The clinical content and its validation are alerting/careplan.py (`CarePlan`, `validate_plan`);
this module keeps the record around it.

- keys.care_plan(pid): string, the current record JSON
  {"patient_id", "version": 1.., "plan": CarePlan.to_dict(), "set_by", "reason", "set_at": ISO,
   "principal": the authenticated caller's id (who used the API; `set_by` is the clinician named)}
- keys.care_plan_history(pid): stream, one entry per version, fields version, plan (JSON), set_by,
  reason, set_at, principal. Never trimmed: it is the audit of what rules applied when.

Both keys carry the patient's shard tag, so one MULTI writes both (WATCH on the current record makes
concurrent changes safe; `if_version` lets a client refuse to overwrite a plan it has not seen).
Without a record the patient is on the default plan: CO@h bands on air (§1.2), version 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from alerting.careplan import CarePlan
from api import keys
from api.alert_record import iso
from api.versioned_store import history_page, put_next_version

DEFAULT_PLAN = CarePlan()
HISTORY_PAGE_MAX = 500


@dataclass(frozen=True, slots=True)
class PlanRecord:
    patient_id: str
    version: int
    #: The plan as stored (CarePlan.to_dict()); history shows it as it was, not re-judged by today's rules.
    plan: dict[str, Any]
    set_by: str | None
    reason: str | None
    set_at: str | None
    principal: str | None

    @property
    def is_default(self) -> bool:
        return self.version == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "version": self.version,
            "plan": self.plan,
            "set_by": self.set_by,
            "reason": self.reason,
            "set_at": self.set_at,
            "principal": self.principal,
            "default": self.is_default,
        }


def default_record(patient_id: str) -> PlanRecord:
    return PlanRecord(patient_id, 0, DEFAULT_PLAN.to_dict(), None, None, None, None)


def record_from_raw(patient_id: str, raw: str | bytes | None) -> PlanRecord:
    """The stored record (the default one when none)."""
    if raw is None:
        return default_record(patient_id)
    data = json.loads(raw)
    return PlanRecord(
        patient_id,
        int(data["version"]),
        data["plan"],
        data.get("set_by"),
        data.get("reason"),
        data.get("set_at"),
        data.get("principal"),
    )


def plan_from_raw(raw: str | bytes | None) -> CarePlan:
    """The plan in force, validated again (raises PlanError if a stored plan no longer passes)."""
    return DEFAULT_PLAN if raw is None else CarePlan.from_dict(record_from_raw("", raw).plan)


async def get_plan(r: Redis, patient_id: str) -> PlanRecord:
    return record_from_raw(patient_id, await r.get(keys.care_plan(patient_id)))


async def set_plan(
    r: Redis,
    patient_id: str,
    plan: CarePlan,
    *,
    set_by: str,
    reason: str,
    principal: str | None,
    now: datetime,
    if_version: int | None = None,
) -> PlanRecord:
    """Store a (validated) plan as the next version and append it to the history, atomically."""

    def make(version: int) -> tuple[PlanRecord, str, dict[str, str]]:
        record = PlanRecord(patient_id, version, plan.to_dict(), set_by, reason, iso(now), principal)
        body = record.to_json()
        del body["default"]
        return record, json.dumps(body, separators=(",", ":")), _history_fields(record)

    return await put_next_version(
        r,
        keys.care_plan(patient_id),
        keys.care_plan_history(patient_id),
        make,
        if_version=if_version,
        what="the care plan",
    )


def _history_fields(record: PlanRecord) -> dict[str, str]:
    return {
        "version": str(record.version),
        "plan": json.dumps(record.plan, separators=(",", ":")),
        "set_by": record.set_by or "",
        "reason": record.reason or "",
        "set_at": record.set_at or "",
        "principal": record.principal or "",
    }


async def history(
    r: Redis, patient_id: str, limit: int = HISTORY_PAGE_MAX, cursor: str | None = None
) -> tuple[list[PlanRecord], str | None]:
    """Every version set, newest first, a page of at most `limit` after `cursor`; and the next
    page's cursor (None: no more). The cursor is this patient's only (CursorError on another's)."""
    rows, next_cursor = await history_page(r, keys.care_plan_history(patient_id), limit, cursor)
    records = [
        PlanRecord(
            patient_id,
            int(f["version"]),
            json.loads(f["plan"]),
            f["set_by"] or None,
            f["reason"] or None,
            f["set_at"] or None,
            f["principal"] or None,
        )
        for f in rows
    ]
    return records, next_cursor
