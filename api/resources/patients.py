"""Patients: registration with demographics (NHS number, date of birth, contact), lookups, lists.

Demographics live in the same hash as the enrolment fields api/registry.py writes
(keys.patient(pid)); a patient registered but never admitted has demographics and no `ward`.
The NHS number is claimed with ``SET ox:nhs:<number> <pid> NX``, so two patients never share
one, and a change of number claims the new one before releasing the old.

None of these values is ever logged: they identify a person.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.nhs_number import normalise
from api.registry import PatientExists, PatientNotFound, iso_utc, new_patient_id, text
from api.resources import enrolments
from api.resources import keys as rkeys
from api.resources.pagination import Page, in_index, scan_page
from api.resources.schemas import Contact, PatientDetail, PatientRegister, PatientStatus, PatientUpdate

# Claims the patient id for a registration: refused when the hash already has demographics or
# an enrolment (a patient admitted without an NHS number may be given one with PATCH instead).
_REGISTER = """
if redis.call('HEXISTS', KEYS[1], 'nhs') == 1 or redis.call('HEXISTS', KEYS[1], 'enrolled_at') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
# Updates fields of an existing patient only (HSET alone would create a stray hash).
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class NhsNumberTaken(PatientExists):
    """Another patient has this NHS number."""


def _fields(raw: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}


def status_of(f: dict[str, str]) -> PatientStatus:
    if "ward" not in f:
        return "registered"
    return "discharged" if f.get("discharged_at") else "admitted"


def detail(patient_id: str, raw: dict[Any, Any]) -> PatientDetail | None:
    """A patient hash as the API shows it; None when there is no such patient."""
    f = _fields(raw)
    if "nhs" not in f and ("ward" not in f or "enrolled_at" not in f):
        return None  # absent, or an enrolment still being written
    contact = json.loads(f["contact"]) if f.get("contact") else None
    return PatientDetail(
        patient_id=patient_id,
        nhs_number=f.get("nhs"),
        date_of_birth=date.fromisoformat(f["dob"]) if f.get("dob") else None,
        contact=None if contact is None else Contact.model_validate(contact),
        registered_at=datetime.fromisoformat(f["registered_at"]) if f.get("registered_at") else None,
        status=status_of(f),
        ward_id=f.get("ward"),
        ref=f.get("ref"),
        enrolment_id=f.get("enrolment"),
        enrolled_at=datetime.fromisoformat(f["enrolled_at"]) if f.get("enrolled_at") else None,
        discharged_at=datetime.fromisoformat(f["discharged_at"]) if f.get("discharged_at") else None,
        devices=[d for d in f.get("devices", "").split(",") if d],
    )


async def get(r: Redis, patient_id: str) -> PatientDetail | None:
    [found] = await load_many(r, [patient_id])
    return found


async def require(r: Redis, patient_id: str) -> PatientDetail:
    found = await get(r, patient_id)
    if found is None:
        raise PatientNotFound(f"no patient {patient_id}")
    return found


async def _read_many(r: Redis, ids: Sequence[str]) -> list[PatientDetail | None]:
    async with r.pipeline(transaction=False) as pipe:
        for pid in ids:
            pipe.hgetall(keys.patient(pid))
        rows: list[Any] = await pipe.execute()
    return [detail(pid, row) for pid, row in zip(ids, rows, strict=True)]


async def load_many(r: Redis, ids: Sequence[str]) -> list[PatientDetail | None]:
    """The patients, each admitted one with its enrolment id: a patient admitted before admissions
    on a ward's path made their enrolment record is given it now (api/resources/enrolments.py
    `adopt`), so a list shows the id the patient's page and the enrolment list show."""
    found = await _read_many(r, ids)
    unadopted = [p.patient_id for p in found if p is not None and p.ward_id and p.enrolment_id is None]
    if not unadopted:
        return found
    await enrolments.adopt(r, unadopted)
    return await _read_many(r, ids)


def _contact_json(contact: Contact | None) -> str:
    return "" if contact is None else contact.model_dump_json()


async def _claim_nhs(r: Redis, number: str, patient_id: str) -> bool:
    """True if newly claimed, False if already this patient's; NhsNumberTaken otherwise."""
    if await r.set(rkeys.nhs(number), patient_id, nx=True):
        return True
    owner = await r.get(rkeys.nhs(number))
    if owner is not None and text(owner) == patient_id:
        return False
    if owner is None:
        return await _claim_nhs(r, number, patient_id)
    raise NhsNumberTaken("this NHS number is already registered; ask an administrator")


async def register(r: Redis, body: PatientRegister, now: datetime) -> PatientDetail:
    pid = body.patient_id or new_patient_id()
    number = normalise(body.nhs_number)
    claimed = await _claim_nhs(r, number, pid)
    fields = {
        "nhs": number,
        "dob": body.date_of_birth.isoformat(),
        "contact": _contact_json(body.contact),
        "registered_at": iso_utc(now),
    }
    args = [item for pair in fields.items() for item in pair]
    if not await r.eval(_REGISTER, 1, keys.patient(pid), *args):
        if claimed:
            await r.eval(_RELEASE, 1, rkeys.nhs(number), pid)
        raise PatientExists(f"patient id {pid} is taken; omit patient_id to have one generated")
    await r.zadd(rkeys.PATIENTS, {pid: 0})
    return await require(r, pid)


async def update(r: Redis, patient_id: str, body: PatientUpdate) -> PatientDetail:
    current = await require(r, patient_id)
    fields: dict[str, str] = {}
    new_number = None if body.nhs_number is None else normalise(body.nhs_number)
    if new_number is not None and new_number != current.nhs_number:
        await _claim_nhs(r, new_number, patient_id)
        fields["nhs"] = new_number
    if body.date_of_birth is not None:
        fields["dob"] = body.date_of_birth.isoformat()
    if "contact" in body.model_fields_set:
        fields["contact"] = _contact_json(body.contact)
    if fields:
        args = [item for pair in fields.items() for item in pair]
        if not await r.eval(_UPDATE, 1, keys.patient(patient_id), *args):
            raise PatientNotFound(f"no patient {patient_id}")
        if "nhs" in fields and current.nhs_number is not None:
            await r.eval(_RELEASE, 1, rkeys.nhs(current.nhs_number), patient_id)
    return await require(r, patient_id)


async def by_nhs_number(r: Redis, number: str) -> str | None:
    pid = await r.get(rkeys.nhs(normalise(number)))
    return None if pid is None else text(pid)


async def index_enrolled(r: Redis) -> None:
    """Add every patient on a ward set to the patient index (patients enrolled through
    api/registry.py are not indexed there). Idempotent; one round trip per ward plus one."""
    wards = [text(w) for w in await r.smembers(keys.wards())]
    members: set[str] = set()
    for ward in wards:
        members |= {text(p) for p in await r.smembers(keys.ward_patients(ward))}
    if members:
        await r.zadd(rkeys.PATIENTS, dict.fromkeys(members, 0), nx=True)


async def scan(
    r: Redis, cursor: str | None, limit: int, keep: Callable[[PatientDetail], bool]
) -> Page[PatientDetail]:
    return await scan_page(
        in_index(r, rkeys.PATIENTS), "patients", cursor, limit, lambda ids: load_many(r, ids), keep
    )
