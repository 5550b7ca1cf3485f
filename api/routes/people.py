"""Patients: list, register with NHS number, read and update demographics.

Wards are api/routes/wards.py's; enrolling on a ward by its path and assigning a device,
api/routes/patients.py's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from api.auth import note_access
from api.deps import NowDep, PatientId, Reader, RedisDep, Writer
from api.nhs_number import InvalidNhsNumber
from api.resources import patients
from api.resources.access import refusals, require_ward, sees_ward
from api.resources.pagination import Page
from api.resources.schemas import (
    PatientDetail,
    PatientPage,
    PatientRegister,
    PatientStatus,
    PatientUpdate,
)
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter()
_CURSOR = "`next_cursor` of the previous page"


@router.get("/patients", tags=["patients"], response_model=PatientPage, responses=problem_responses(400, 422))
async def list_patients(
    request: Request,
    principal: Reader,
    r: RedisDep,
    ward_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this ward's patients")] = None,
    status_: Annotated[PatientStatus | None, Query(alias="status")] = None,
    nhs_number: Annotated[str | None, Query(max_length=14, description="exact NHS number")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, description=_CURSOR)] = None,
) -> PatientPage:
    """Patients the caller may see, by patient id, filtered by ward, status or NHS number.

    A patient registered but not yet admitted (no ward) is visible to administrators and to
    callers who may admit patients (`ward:write`). Follow `next_cursor` until it is null; a
    filtered page may be short and still have a `next_cursor`.
    """
    if ward_id is not None:
        require_ward(request, principal, ward_id)

    def keep(p: PatientDetail) -> bool:
        if (ward_id is not None and p.ward_id != ward_id) or (status_ is not None and p.status != status_):
            return False
        return sees_ward(principal, p.ward_id)

    if nhs_number is not None:
        try:
            found_id = await patients.by_nhs_number(r, nhs_number)
        except InvalidNhsNumber as exc:
            raise HTTPException(422, str(exc)) from exc
        found = None if found_id is None else await patients.get(r, found_id)
        page: Page[PatientDetail] = Page([found] if found is not None and keep(found) else [], None)
    else:
        if cursor is None:
            await patients.index_enrolled(r)
        page = await patients.scan(r, cursor, limit, keep)
    for p in page.items:
        note_access(request, patient_id=p.patient_id, ward_id=p.ward_id)
    return PatientPage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/patients/{patient_id}",
    tags=["patients"],
    response_model=PatientDetail,
    responses=problem_responses(404),
)
async def get_patient(
    request: Request, patient_id: PatientId, principal: Reader, r: RedisDep
) -> PatientDetail:
    """The patient with demographics (NHS number, date of birth, contact) and the current (or last)
    enrolment. 404 if unknown; 403 if on a ward the caller is not granted. A patient registered but
    not yet admitted is shown to callers who may admit patients (`ward:write`) or see every ward."""
    with refusals():
        found = await patients.require(r, patient_id)
    require_ward(request, principal, found.ward_id, patient_id)
    return found


@router.post(
    "/patients",
    tags=["patients"],
    status_code=status.HTTP_201_CREATED,
    response_model=PatientDetail,
    responses=problem_responses(409, 422),
)
async def register_patient(
    request: Request, body: PatientRegister, _: Writer, r: RedisDep, now: NowDep
) -> PatientDetail:
    """Register a patient with NHS number, date of birth and contact details.

    The NHS number is checked with its Modulus 11 check digit and refused (422) with a message
    saying what is wrong; 409 if another patient has it. Admit the patient to a ward with
    `POST /v1/enrolments`.
    """
    with refusals():
        created = await patients.register(r, body, now)
    note_access(request, patient_id=created.patient_id)
    return created


@router.patch(
    "/patients/{patient_id}",
    tags=["patients"],
    response_model=PatientDetail,
    responses=problem_responses(404, 409, 422),
)
async def update_patient(
    request: Request, patient_id: PatientId, body: PatientUpdate, principal: Writer, r: RedisDep
) -> PatientDetail:
    """Change a patient's NHS number, date of birth or contact details (send only what changes;
    `"contact": null` removes them)."""
    with refusals():
        current = await patients.require(r, patient_id)
        require_ward(request, principal, current.ward_id, patient_id)
        return await patients.update(r, patient_id, body)
