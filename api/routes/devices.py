"""Devices (oximeters): register, list, read, assign to an enrolment, unassign, revoke."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from api.auth import Principal, Scope, note_access
from api.deps import DeviceAddressPath, NowDep, Reader, RedisDep, Writer
from api.resources import devices, enrolments
from api.resources.access import Devices, refusals, require_ward, sees_ward
from api.resources.schemas_kit import DeviceAssignment, DevicePage, DeviceRead, DeviceRegister, Revocation
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter(tags=["devices"])


def _visible(principal: Principal, d: DeviceRead) -> bool:
    """Assigned devices follow their patient's ward; the unassigned pool is for device managers."""
    if d.ward_id is not None:
        return sees_ward(principal, d.ward_id)
    return principal.wards is None or Scope.DEVICES in principal.scopes


@router.post(
    "/devices",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceRead,
    responses=problem_responses(409, 422),
)
async def register_device(
    request: Request, body: DeviceRegister, principal: Devices, r: RedisDep, now: NowDep
) -> DeviceRead:
    """Register an oximeter by its Bluetooth address (MAC, or the UUID macOS shows). 409 if known.

    A device already assigned to a patient on a ward you are not granted is refused (403)
    before anything is written: its record would name that patient.
    """
    [existing] = await devices.load_many(r, [body.address])
    if existing is not None and existing.ward_id is not None:
        require_ward(request, principal, existing.ward_id, existing.patient_id)
    with refusals():
        return await devices.register(r, body, now)


@router.get("/devices", response_model=DevicePage, responses=problem_responses(400, 422))
async def list_devices(
    request: Request,
    principal: Reader,
    r: RedisDep,
    status_: Annotated[Literal["available", "assigned", "revoked"] | None, Query(alias="status")] = None,
    ward_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    patient_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DevicePage:
    """Devices by address, filtered by status, ward or patient (assigned devices of other wards
    are never listed)."""

    def keep(d: DeviceRead) -> bool:
        if status_ is not None and d.status != status_:
            return False
        if (ward_id is not None and d.ward_id != ward_id) or (
            patient_id is not None and d.patient_id != patient_id
        ):
            return False
        return _visible(principal, d)

    page = await devices.page(r, cursor, limit, keep)
    for d in page.items:
        if d.patient_id is not None:
            note_access(request, patient_id=d.patient_id, ward_id=d.ward_id)
    return DevicePage(items=page.items, next_cursor=page.next_cursor)


@router.get("/devices/{address}", response_model=DeviceRead, responses=problem_responses(404))
async def get_device(
    request: Request, address: DeviceAddressPath, principal: Reader, r: RedisDep
) -> DeviceRead:
    with refusals():
        found = await devices.get(r, address)
    if found.ward_id is not None:
        require_ward(request, principal, found.ward_id, found.patient_id)
    elif not _visible(principal, found):
        require_ward(request, principal, None)
    return found


@router.put(
    "/devices/{address}/assignment", response_model=DeviceRead, responses=problem_responses(404, 409, 422)
)
async def assign_device(
    request: Request,
    address: DeviceAddressPath,
    body: DeviceAssignment,
    principal: Writer,
    r: RedisDep,
    now: NowDep,
) -> DeviceRead:
    """Assign the device to an active enrolment: its readings are filed to that patient from now
    on. Idempotent; 409 if it is assigned to another patient, revoked, or the enrolment ended."""
    with refusals():
        enrolment = await enrolments.get(r, body.enrolment_id)
        require_ward(request, principal, enrolment.ward_id, enrolment.patient_id)
        return await devices.assign(r, address, body.enrolment_id, now)


@router.delete("/devices/{address}/assignment", response_model=DeviceRead, responses=problem_responses(404))
async def unassign_device(
    request: Request, address: DeviceAddressPath, principal: Writer, r: RedisDep
) -> DeviceRead:
    """Take the device off its patient (e.g. kit collected). Its later readings are dead-lettered
    as `unknown-device`, never filed to anyone. Idempotent."""
    with refusals():
        found = await devices.get(r, address)
        if found.ward_id is not None:
            require_ward(request, principal, found.ward_id, found.patient_id)
        return await devices.unassign(r, address)


@router.post("/devices/{address}/revoke", response_model=DeviceRead, responses=problem_responses(404, 422))
async def revoke_device(
    request: Request,
    address: DeviceAddressPath,
    body: Revocation,
    principal: Devices,
    r: RedisDep,
    now: NowDep,
) -> DeviceRead:
    """Revoke a lost, faulty or retired device: unassigned at once and refused for assignment."""
    with refusals():
        found = await devices.get(r, address)
        if found.ward_id is not None:
            require_ward(request, principal, found.ward_id, found.patient_id)
        return await devices.revoke(r, address, body.reason, now)
