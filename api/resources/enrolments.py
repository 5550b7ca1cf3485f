"""Enrolments: admit a patient to a ward, discharge with a reason, list the history.

One patient has at most one active enrolment. Its fields live in the patient hash api/registry.py
defines (`ward`, `ref`, `enrolled_at`, `devices`) plus `enrolment` (its id); every enrolment, past
and present, is a JSON record in the patient's `:enrolments` hash. Enrolment ids are
``e-<admission ms, 12 hex>-<8 hex>``: fixed width and time-ordered, so the index
``ox:idx:enrolments`` (members ``<enrolment id> <patient id>``) lists them by admission.

**Discharge** sets `discharged_at` / `discharge_reason` in the patient hash and takes the patient
off the ward set (so off the ward queue). Devices stay assigned: readings that still arrive are
stored, never lost; the evaluation worker sees `discharged_at` and raises no alert for them.
A patient with unresolved alerts cannot be discharged (409): an open red alert must not vanish
from the queue with its patient.

Patients enrolled through ``POST /v1/wards/{ward}/patients`` (api/registry.py) are given their
enrolment record by :func:`adopt`, with a deterministic id, so it is safe to run repeatedly: by that
route at once, and for patients it admitted before it did, by the first read of them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api import keys, registry
from api.contract import datetime_ms
from api.registry import PatientNotFound, RegistryError, iso_utc, new_patient_id, text
from api.resources import keys as rkeys
from api.resources.pagination import Page, in_index, scan_page
from api.resources.schemas import Admission, Discharge, EnrolmentRead

# ARGV[6]: the ward the caller saw the patient on ('' for none) when it checked it may admit
# them; if the patient moved since, that check no longer holds ('moved').
_ADMIT = """
local f = redis.call('HMGET', KEYS[1], 'ward', 'enrolled_at', 'discharged_at')
if ARGV[5] == 'existing' and (f[1] or '') ~= ARGV[6] then return 'moved' end
if (f[1] or f[2]) and not f[3] then return 'active' end
if ARGV[5] == 'existing' and redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
redis.call('HDEL', KEYS[1], 'discharged_at', 'discharge_reason')
redis.call('HSET', KEYS[1], 'ward', ARGV[2], 'ref', ARGV[3], 'enrolled_at', ARGV[4], 'enrolment', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'devices') == 0 then redis.call('HSET', KEYS[1], 'devices', '') end
return 'ok'
"""
_DISCHARGE = """
if redis.call('HGET', KEYS[1], 'enrolment') ~= ARGV[1] then return 'stale' end
if redis.call('HGET', KEYS[1], 'discharged_at') then return 'discharged' end
local open = redis.call('HGET', KEYS[2], '~open')
if open and next(cjson.decode(open)) ~= nil then return 'open-alerts' end
redis.call('HSET', KEYS[1], 'discharged_at', ARGV[2], 'discharge_reason', ARGV[3])
return 'ok'
"""


class EnrolmentNotFound(RegistryError):
    pass


class EnrolmentConflict(RegistryError):
    """Already admitted, already discharged, or alerts still open (409)."""


def new_enrolment_id(now: datetime) -> str:
    return f"e-{datetime_ms(now):012x}-{secrets.token_hex(4)}"


def _adopted_id(patient_id: str, enrolled_at: str) -> str:
    ms = datetime_ms(datetime.fromisoformat(enrolled_at))
    return f"e-{ms:012x}-{hashlib.sha256(patient_id.encode()).hexdigest()[:8]}"


def _member(enrolment_id: str, patient_id: str) -> str:
    return f"{enrolment_id} {patient_id}"


def read(record: dict[str, Any]) -> EnrolmentRead:
    return EnrolmentRead.model_validate(
        {**record, "status": "discharged" if record.get("discharged_at") else "active"}
    )


async def _save(r: Redis, record: dict[str, Any]) -> None:
    eid, pid = record["enrolment_id"], record["patient_id"]
    async with r.pipeline(transaction=False) as pipe:
        pipe.hset(rkeys.enrolments_of(pid), eid, json.dumps(record, separators=(",", ":")))
        pipe.set(rkeys.enrolment(eid), pid)
        pipe.zadd(rkeys.ENROLMENTS, {_member(eid, pid): 0})
        pipe.zadd(rkeys.PATIENTS, {pid: 0})
        await pipe.execute()


async def _check_devices(r: Redis, addresses: Sequence[str], patient_id: str) -> None:
    for address in addresses:
        owner = await r.get(keys.device(address))
        if owner is not None and text(owner) != patient_id:
            raise await registry.device_assigned(r, address, text(owner))


def unknown_patient(patient_id: str) -> PatientNotFound:
    """The refusal for a patient id that is unknown, or that the caller may not admit."""
    return PatientNotFound(f"no patient {patient_id}; register them first, or omit patient_id")


async def admit(r: Redis, body: Admission, now: datetime, *, seen_ward: str | None) -> EnrolmentRead:
    """Admit a registered or discharged patient (or a new one when no id is given) to a ward.

    ``seen_ward``: the patient's current (or last) ward when the caller was found allowed to
    admit them (None: no ward yet). If they moved meanwhile, that finding is stale: 409.
    """
    pid = body.patient_id or new_patient_id()
    await _check_devices(r, body.devices, pid)
    eid = new_enrolment_id(now)
    at = iso_utc(now)
    mode = "existing" if body.patient_id else "new"
    outcome = text(
        await r.eval(_ADMIT, 1, keys.patient(pid), eid, body.ward_id, body.ref, at, mode, seen_ward or "")
    )
    if outcome == "active":
        raise EnrolmentConflict(f"patient {pid} is already admitted; discharge them first")
    if outcome == "moved":
        raise EnrolmentConflict("the patient's enrolment changed meanwhile; look them up and try again")
    if outcome == "missing":
        raise unknown_patient(pid)
    record = {
        "enrolment_id": eid,
        "patient_id": pid,
        "ward_id": body.ward_id,
        "ref": body.ref,
        "admitted_at": at,
        "discharged_at": None,
        "discharge_reason": None,
        "discharged_by": None,
        "discharge_note": None,
    }
    await _save(r, record)
    async with r.pipeline(transaction=False) as pipe:
        pipe.sadd(keys.ward_patients(body.ward_id), pid)
        pipe.sadd(keys.wards(), body.ward_id)
        await pipe.execute()
    for address in body.devices:
        await registry.assign_device(r, pid, address)
    return read(record)


async def adopt(r: Redis, patient_ids: Sequence[str]) -> None:
    """Give an enrolment record to enrolled patients that have none (see the module docstring)."""
    async with r.pipeline(transaction=False) as pipe:
        for pid in patient_ids:
            pipe.hmget(keys.patient(pid), ["ward", "ref", "enrolled_at", "enrolment", "discharged_at"])
        rows: list[list[Any]] = await pipe.execute()
    for pid, row in zip(patient_ids, rows, strict=True):
        ward, ref, enrolled_at, current, discharged = (None if v is None else text(v) for v in row)
        if ward is None or enrolled_at is None or current is not None:
            continue
        eid = _adopted_id(pid, enrolled_at)
        if not await r.hsetnx(keys.patient(pid), "enrolment", eid):
            continue  # adopted meanwhile by another request
        record = {
            "enrolment_id": eid,
            "patient_id": pid,
            "ward_id": ward,
            "ref": ref or "",
            "admitted_at": enrolled_at,
            "discharged_at": discharged,
            "discharge_reason": None,
            "discharged_by": None,
            "discharge_note": None,
        }
        await _save(r, record)


async def adopt_all(r: Redis) -> None:
    for ward in [text(w) for w in await r.smembers(keys.wards())]:
        await adopt(r, sorted(text(p) for p in await r.smembers(keys.ward_patients(ward))))


async def _record(r: Redis, enrolment_id: str) -> dict[str, Any]:
    pid = await r.get(rkeys.enrolment(enrolment_id))
    raw = None if pid is None else await r.hget(rkeys.enrolments_of(text(pid)), enrolment_id)
    if raw is None:
        raise EnrolmentNotFound(f"no enrolment {enrolment_id}")
    record: dict[str, Any] = json.loads(raw)
    return record


async def get(r: Redis, enrolment_id: str) -> EnrolmentRead:
    return read(await _record(r, enrolment_id))


async def discharge(r: Redis, enrolment_id: str, body: Discharge, now: datetime) -> EnrolmentRead:
    record = await _record(r, enrolment_id)
    pid = record["patient_id"]
    if record.get("discharged_at"):
        raise EnrolmentConflict("this enrolment is already discharged")
    at = iso_utc(now)
    outcome = text(
        await r.eval(_DISCHARGE, 2, keys.patient(pid), keys.alerts(pid), enrolment_id, at, body.reason)
    )
    if outcome == "open-alerts":
        raise EnrolmentConflict("the patient has unresolved alerts; resolve them before discharge")
    if outcome != "ok":
        raise EnrolmentConflict("this enrolment is no longer the patient's active one")
    record.update(
        discharged_at=at, discharge_reason=body.reason, discharged_by=body.by, discharge_note=body.note
    )
    await _save(r, record)
    await r.srem(keys.ward_patients(record["ward_id"]), pid)
    return read(record)


async def of_patient(r: Redis, patient_id: str) -> list[EnrolmentRead]:
    await adopt(r, [patient_id])
    raw = await r.hvals(rkeys.enrolments_of(patient_id))
    return sorted((read(json.loads(v)) for v in raw), key=lambda e: e.enrolment_id)


async def _load(r: Redis, members: Sequence[str]) -> list[EnrolmentRead | None]:
    pairs = [m.split(" ", 1) for m in members]
    async with r.pipeline(transaction=False) as pipe:
        for eid, pid in pairs:
            pipe.hget(rkeys.enrolments_of(pid), eid)
        rows: list[Any] = await pipe.execute()
    return [None if raw is None else read(json.loads(raw)) for raw in rows]


async def page(
    r: Redis, cursor: str | None, limit: int, keep: Callable[[EnrolmentRead], bool]
) -> Page[EnrolmentRead]:
    if cursor is None:
        await adopt_all(r)
    return await scan_page(
        in_index(r, rkeys.ENROLMENTS), "enrolments", cursor, limit, lambda m: _load(r, m), keep
    )
