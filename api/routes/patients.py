"""Enrolling a patient on a ward by the ward's path, and assigning a device to a patient.

Lists and reads of wards and patients are in api/routes/wards.py and api/routes/people.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from api import registry
from api.auth import note_access
from api.deps import (
    DeviceAddressPath,
    NowDep,
    RedisDep,
    WritablePatient,
    WritableWard,
)
from api.registry import PatientRecord
from api.resources import enrolments
from api.schemas import PatientCreate, PatientRead, problem_responses

router = APIRouter(tags=["patients"])


def _read(record: PatientRecord) -> PatientRead:
    return PatientRead(
        patient_id=record.patient_id,
        ward_id=record.ward_id,
        ref=record.ref,
        enrolled_at=record.enrolled_at,
        devices=list(record.devices),
    )


@router.post(
    "/wards/{ward_id}/patients",
    status_code=status.HTTP_201_CREATED,
    response_model=PatientRead,
    responses=problem_responses(409, 422),
)
async def enrol_patient(
    request: Request, ward_id: WritableWard, body: PatientCreate, r: RedisDep, now: NowDep
) -> PatientRead:
    """Enrol a patient on the ward, optionally assigning devices.

    409 if the patient id is already enrolled or a device is assigned to another patient;
    nothing is written then.
    """
    record = await registry.enrol(r, ward_id, body.ref, body.devices, now, patient_id=body.patient_id)
    # Its enrolment record (and so its place in the patient list) at once, as POST /v1/enrolments
    # gives it: every list and read then shows the same enrolment id, whichever is asked first.
    await enrolments.adopt(r, [record.patient_id])
    note_access(request, patient_id=record.patient_id)
    return _read(record)


@router.put(
    "/patients/{patient_id}/devices/{address}",
    response_model=PatientRead,
    responses=problem_responses(404, 409),
)
async def assign_device(patient: WritablePatient, address: DeviceAddressPath, r: RedisDep) -> PatientRead:
    """Assign a device (MAC or UUID address) to the patient.

    Idempotent for the same patient; 409 if the device is assigned to another patient.
    """
    return _read(await registry.assign_device(r, patient.patient_id, address))
