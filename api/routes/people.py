"""Wards (create, read, rename) and patients (list, register with NHS number, update demographics).

`GET /v1/wards` (the ward list) and `GET /v1/patients/{id}` live in api/routes/patients.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from api.auth import note_access
from api.deps import NowDep, PatientId, ReadableWard, Reader, RedisDep, WritableWard, Writer
from api.nhs_number import InvalidNhsNumber
from api.resources import patients, wards
from api.resources.access import refusals, require_ward, sees_ward
from api.resources.pagination import Page
from api.resources.schemas import (
    PatientDetail,
    PatientPage,
    PatientRegister,
    PatientStatus,
    PatientUpdate,
    WardCreate,
    WardRead,
    WardUpdate,
)
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter()
_CURSOR = "`next_cursor` of the previous page"


@router.post(
    "/wards",
    tags=["wards"],
    status_code=status.HTTP_201_CREATED,
    response_model=WardRead,
    responses=problem_responses(409, 422),
)
async def create_ward(
    request: Request, body: WardCreate, principal: Writer, r: RedisDep, now: NowDep
) -> WardRead:
    """Create a ward with a display name (you must be granted the ward id). 409 if it exists."""
    require_ward(request, principal, body.ward_id)
    with refusals():
        return await wards.create(r, body, now)


@router.get("/wards/{ward_id}", tags=["wards"], response_model=WardRead, responses=problem_responses(404))
async def get_ward(ward_id: ReadableWard, r: RedisDep) -> WardRead:
    """A ward with its name and the number of patients currently admitted."""
    with refusals():
        return await wards.get(r, ward_id)


@router.patch(
    "/wards/{ward_id}", tags=["wards"], response_model=WardRead, responses=problem_responses(404, 422)
)
async def update_ward(ward_id: WritableWard, body: WardUpdate, r: RedisDep, now: NowDep) -> WardRead:
    """Rename a ward or change its description."""
    with refusals():
        return await wards.update(r, ward_id, body, now)


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
