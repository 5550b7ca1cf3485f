"""Enrolments: admit a patient to a ward, discharge with a reason, list and read them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status

from api.auth import note_access
from api.deps import NowDep, ReadablePatient, Reader, RedisDep, Writer
from api.resources import enrolments, patients
from api.resources.access import refusals, require_ward, sees_ward
from api.resources.schemas import Admission, Discharge, EnrolmentPage, EnrolmentRead
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter(tags=["enrolments"])
ENROLMENT_PATTERN = r"^e-[0-9a-f]{12}-[0-9a-f]{8}$"
EnrolmentId = Annotated[str, Path(pattern=ENROLMENT_PATTERN, examples=["e-01945f3a7c00-3b1d9a2e"])]


@router.post(
    "/enrolments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolmentRead,
    responses=problem_responses(404, 409, 422),
)
async def admit(
    request: Request, body: Admission, principal: Writer, r: RedisDep, now: NowDep
) -> EnrolmentRead:
    """Admit a patient to a ward (you must be granted the ward).

    Give `patient_id` for a registered or discharged patient; omit it to admit a new patient
    without demographics. A patient whose current (or last) ward you are not granted is
    answered as unknown (404): moving a patient between wards takes someone granted both.
    409 if the patient is already admitted, or a device is assigned to someone else.
    """
    require_ward(request, principal, body.ward_id, body.patient_id)
    seen_ward = None
    if body.patient_id is not None:
        current = await patients.get(r, body.patient_id)
        seen_ward = None if current is None else current.ward_id
        if current is not None and not sees_ward(principal, seen_ward):
            with refusals():
                raise enrolments.unknown_patient(body.patient_id)
    with refusals():
        return await enrolments.admit(r, body, now, seen_ward=seen_ward)


@router.get("/enrolments", response_model=EnrolmentPage, responses=problem_responses(400, 422))
async def list_enrolments(
    request: Request,
    principal: Reader,
    r: RedisDep,
    ward_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    patient_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status_: Annotated[Literal["active", "discharged"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> EnrolmentPage:
    """Enrolments, oldest admission first, filtered by ward, patient or status."""
    if ward_id is not None:
        require_ward(request, principal, ward_id)

    def keep(e: EnrolmentRead) -> bool:
        wanted = (ward_id is None or e.ward_id == ward_id) and (
            patient_id is None or e.patient_id == patient_id
        )
        return wanted and (status_ is None or e.status == status_) and sees_ward(principal, e.ward_id)

    page = await enrolments.page(r, cursor, limit, keep)
    for e in page.items:
        note_access(request, patient_id=e.patient_id, ward_id=e.ward_id)
    return EnrolmentPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentRead, responses=problem_responses(404))
async def get_enrolment(
    request: Request, enrolment_id: EnrolmentId, principal: Reader, r: RedisDep
) -> EnrolmentRead:
    with refusals():
        found = await enrolments.get(r, enrolment_id)
    require_ward(request, principal, found.ward_id, found.patient_id)
    return found


@router.post(
    "/enrolments/{enrolment_id}/discharge",
    response_model=EnrolmentRead,
    responses=problem_responses(404, 409, 422),
)
async def discharge(
    request: Request, enrolment_id: EnrolmentId, body: Discharge, principal: Writer, r: RedisDep, now: NowDep
) -> EnrolmentRead:
    """Discharge: the patient leaves the ward queue; readings that still arrive are kept but
    raise no alerts. 409 if already discharged or while the patient has unresolved alerts."""
    with refusals():
        found = await enrolments.get(r, enrolment_id)
        require_ward(request, principal, found.ward_id, found.patient_id)
        return await enrolments.discharge(r, enrolment_id, body, now)


@router.get(
    "/patients/{patient_id}/enrolments", response_model=EnrolmentPage, responses=problem_responses(404)
)
async def patient_enrolments(patient: ReadablePatient, r: RedisDep) -> EnrolmentPage:
    """Every enrolment of the patient, oldest first (never paged: a handful per patient)."""
    return EnrolmentPage(items=await enrolments.of_patient(r, patient.patient_id), next_cursor=None)
