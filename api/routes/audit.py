"""The audit log, for administrators: who read or changed what, when, and with what outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.contract import datetime_ms
from api.deps import Auditor, RedisDep
from api.resources import enrolments
from api.schemas import ID_PATTERN, QueryTime, problem_responses
from api.security import audit
from api.security.schemas import AuditEntry, AuditPage

router = APIRouter(tags=["audit"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_ACTOR = r"^(?:[uk]-[0-9a-f]{16}|bootstrap:[0-9a-f]{12}|anonymous)$"


def _entry(raw: dict[str, str]) -> AuditEntry:
    def split(value: str) -> list[str]:
        return [v for v in value.split(",") if v]

    appended_ms = int(raw["entry_id"].split("-")[0])
    return AuditEntry.model_validate(
        {
            **raw,
            "at": datetime.fromtimestamp(appended_ms / 1000, UTC),
            "patients": split(raw.get("patients", "")),
            "wards": split(raw.get("wards", "")),
            "patients_total": int(raw.get("patients_total", "0")),
            "status": int(raw["status"]),
            "target": raw.get("target", ""),
        }
    )


@router.get("/audit", response_model=AuditPage, responses=problem_responses(400))
async def list_audit(
    _: Auditor,
    r: RedisDep,
    actor: Annotated[str | None, Query(pattern=_ACTOR, description="principal id, or `anonymous`")] = None,
    patient: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="entries touching this patient")
    ] = None,
    ward: Annotated[str | None, Query(pattern=ID_PATTERN, description="entries touching this ward")] = None,
    start: Annotated[
        QueryTime | None, Query(alias="from", description="at or after, ISO 8601 with offset")
    ] = None,
    end: Annotated[QueryTime | None, Query(alias="to", description="before, ISO 8601 with offset")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> AuditPage:
    """Audit entries, oldest first, one per /v1 request (this one included), and one per webhook
    delivery (`action` `disclose`).

    `patient` also finds the ward queue, board and live-stream reads of the wards the patient
    was enrolled on at the time: those entries name the ward only, and showed every patient on it.
    Follow `next_cursor` until it is `null`, with the same filters: a filtered page may hold
    fewer than `limit` entries (a bounded number is examined per request) and still continue.
    """
    stays: tuple[audit.Stay, ...] = ()
    if patient is not None:
        stays = tuple(
            audit.Stay(
                e.ward_id,
                datetime_ms(e.admitted_at),
                None if e.discharged_at is None else datetime_ms(e.discharged_at),
            )
            for e in await enrolments.of_patient(r, patient)
        )
    filters = audit.Filters(actor=actor, patient=patient, ward=ward, start=start, end=end, stays=stays)
    items, next_cursor = await audit.query(r, filters, limit, cursor)
    return AuditPage(items=[_entry(i) for i in items], next_cursor=next_cursor)
