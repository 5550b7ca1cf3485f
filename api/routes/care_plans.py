"""A patient's care plan: which rule pack applies and with which settings (issue 4, point 1).

Set by a named clinician with a reason (scope `clinical:write`); every version is kept and listed.
A plan that does not make sense is refused with 422, every reason listed in `errors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from alerting.careplan import CarePlan, PlanError
from api import careplans
from api.actor import recorded_actor
from api.alerting_schemas import CarePlanHistory, CarePlanPut, CarePlanRead
from api.auth import authenticate
from api.deps import ClinicalPatient, NowDep, ReadablePatient, RedisDep
from api.schemas import problem_body, problem_responses
from api.versioned_store import VersionConflict

router = APIRouter(tags=["care plans"])

PROBLEM_JSON = "application/problem+json"


def problem(request: Request, status: int, detail: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, detail, request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def refused_plan(request: Request, err: PlanError, where: str = "plan") -> JSONResponse:
    """422 with one `errors` entry per reason the plan does not make sense."""
    errors = [{"type": "care_plan", "loc": ["body", where], "msg": reason} for reason in err.reasons]
    return problem(request, 422, str(err), errors=errors)


@router.get("/patients/{patient_id}/care-plan", response_model=CarePlanRead, responses=problem_responses(404))
async def get_care_plan(patient: ReadablePatient, r: RedisDep) -> CarePlanRead:
    """The plan in force. Version 0 (`default: true`): none set, CO@h bands on air apply (§1.2)."""
    record = await careplans.get_plan(r, patient.patient_id)
    return CarePlanRead.model_validate(record.to_json())


@router.put(
    "/patients/{patient_id}/care-plan",
    response_model=CarePlanRead,
    responses=problem_responses(404, 409, 422),
)
async def put_care_plan(
    request: Request, patient: ClinicalPatient, body: CarePlanPut, r: RedisDep, now: NowDep
) -> CarePlanRead | JSONResponse:
    """Set the patient's plan (the next version). The evaluation worker uses it from the next reading.

    Refused (422, each reason in `errors`) when it does not make sense: overlapping or out-of-range
    band thresholds, NEWS2 scale 2 without the 88-92 target, a target that is not a BTS range, the
    CO@h bands on oxygen, and so on. 409 when `if_version` is given and is not the current version.
    """
    try:
        plan = CarePlan.from_dict(body.plan)
    except PlanError as err:
        return refused_plan(request, err)
    principal = await authenticate(request)
    try:
        record = await careplans.set_plan(
            r,
            patient.patient_id,
            plan,
            set_by=await recorded_actor(request, r, body.by),
            reason=body.reason,
            principal=principal.subject,
            now=now,
            if_version=body.if_version,
        )
    except VersionConflict as err:
        return problem(request, 409, str(err))
    return CarePlanRead.model_validate(record.to_json())


@router.get(
    "/patients/{patient_id}/care-plan/history",
    response_model=CarePlanHistory,
    responses=problem_responses(400, 404),
)
async def care_plan_history(
    patient: ReadablePatient,
    r: RedisDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CarePlanHistory:
    """Every version of the patient's plan, newest first: who set it, when and why. A page at a
    time: follow `next_cursor` until null (a cursor is this patient's only: 400 on another's)."""
    records, next_cursor = await careplans.history(r, patient.patient_id, limit, cursor)
    items = [CarePlanRead.model_validate(rec.to_json()) for rec in records]
    return CarePlanHistory(items=items, next_cursor=next_cursor)
