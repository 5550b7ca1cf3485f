"""Wards and patients: enrolment, device assignment, lookups."""

from __future__ import annotations

from fastapi import APIRouter, status

from api import registry
from api.deps import DeviceAddressPath, NowDep, PatientId, Reader, RedisDep, WardId, Writer
from api.registry import PatientRecord
from api.schemas import PatientCreate, PatientRead, WardList, problem_responses

router = APIRouter(tags=["patients"])


def _read(record: PatientRecord) -> PatientRead:
    return PatientRead(
        patient_id=record.patient_id,
        ward_id=record.ward_id,
        ref=record.ref,
        enrolled_at=record.enrolled_at,
        devices=list(record.devices),
    )


@router.get("/wards", response_model=WardList)
async def list_wards(_: Reader, r: RedisDep) -> WardList:
    """Every ward that has had a patient enrolled."""
    return WardList(wards=await registry.list_wards(r))


@router.post(
    "/wards/{ward_id}/patients",
    status_code=status.HTTP_201_CREATED,
    response_model=PatientRead,
    responses=problem_responses(409, 422),
)
async def enrol_patient(
    ward_id: WardId, body: PatientCreate, _: Writer, r: RedisDep, now: NowDep
) -> PatientRead:
    """Enrol a patient on the ward, optionally assigning devices.

    409 if the patient id is already enrolled or a device is assigned to another patient;
    nothing is written then.
    """
    record = await registry.enrol(r, ward_id, body.ref, body.devices, now, patient_id=body.patient_id)
    return _read(record)


@router.get("/patients/{patient_id}", response_model=PatientRead, responses=problem_responses(404))
async def get_patient(patient_id: PatientId, _: Reader, r: RedisDep) -> PatientRead:
    return _read(await registry.require_patient(r, patient_id))


@router.put(
    "/patients/{patient_id}/devices/{address}",
    response_model=PatientRead,
    responses=problem_responses(404, 409),
)
async def assign_device(
    patient_id: PatientId, address: DeviceAddressPath, _: Writer, r: RedisDep
) -> PatientRead:
    """Assign a device (MAC or UUID address) to the patient.

    Idempotent for the same patient; 409 if the device is assigned to another patient.
    """
    return _read(await registry.assign_device(r, patient_id, address))
