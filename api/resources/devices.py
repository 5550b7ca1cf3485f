"""Devices (oximeters): register, assign to an enrolment, unassign, revoke, list.

The assignment itself is api/registry.py's: ``ox:device:<ADDR>`` -> patient id (what ingest reads
to file a reading) and the patient hash's `devices` field. This module adds a record per device
(``ox:devinfo:<ADDR>``: model, serial, registered/revoked times) and an index; the enrolment
shown is the assigned patient's current one.
Unassigning or revoking deletes the claim only if it still names the patient we read (never
someone else's), then removes the address from that patient's `devices`. From then on, readings
from the device are dead-lettered as `unknown-device` (docs/wire-contract.md): kept, never filed
to anyone. Ingest caches assignments for up to a second (api/store.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from redis.asyncio import Redis

from api import keys, registry
from api.registry import RegistryError, iso_utc, text
from api.resources import enrolments
from api.resources import keys as rkeys
from api.resources.pagination import Page, in_index, scan_page
from api.resources.schemas_kit import DeviceRead, DeviceRegister

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_DROP_FROM_PATIENT = """
local cur = redis.call('HGET', KEYS[1], 'devices')
if not cur then return 0 end
local out = {}
for d in string.gmatch(cur, '[^,]+') do
  if d ~= ARGV[1] then table.insert(out, d) end
end
redis.call('HSET', KEYS[1], 'devices', table.concat(out, ','))
return 1
"""


class DeviceNotFound(RegistryError):
    pass


class DeviceConflict(RegistryError):
    """Already registered, revoked, or the enrolment is not active (409)."""


def _opt_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def load_many(r: Redis, addresses: Sequence[str]) -> list[DeviceRead | None]:
    addresses = [a.upper() for a in addresses]
    async with r.pipeline(transaction=False) as pipe:
        for a in addresses:
            pipe.hgetall(rkeys.device_info(a))
            pipe.get(keys.device(a))
        rows: list[Any] = await pipe.execute()
    infos = [{text(k): text(v) for k, v in rows[2 * i].items()} for i in range(len(addresses))]
    owners = [None if rows[2 * i + 1] is None else text(rows[2 * i + 1]) for i in range(len(addresses))]
    async with r.pipeline(transaction=False) as pipe:
        for owner in owners:
            pipe.hmget(keys.patient(owner or "-"), ["ward", "enrolment"])
        wards: list[list[Any]] = await pipe.execute()
    out: list[DeviceRead | None] = []
    for address, info, owner, (ward, current) in zip(addresses, infos, owners, wards, strict=True):
        if not info and owner is None:
            out.append(None)
            continue
        status: Literal["available", "assigned", "revoked"] = (
            "revoked" if info.get("revoked_at") else ("assigned" if owner else "available")
        )
        out.append(
            DeviceRead(
                address=address,
                model=info.get("model") or None,
                serial=info.get("serial") or None,
                status=status,
                registered_at=_opt_time(info.get("registered_at")),
                patient_id=owner,
                ward_id=None if owner is None or ward is None else text(ward),
                enrolment_id=None if owner is None or current is None else text(current),
                revoked_at=_opt_time(info.get("revoked_at")),
                revoke_reason=info.get("revoke_reason") or None,
            )
        )
    return out


async def get(r: Redis, address: str) -> DeviceRead:
    [found] = await load_many(r, [address])
    if found is None:
        raise DeviceNotFound(f"no device {address.upper()}")
    return found


async def register(r: Redis, body: DeviceRegister, now: datetime) -> DeviceRead:
    key = rkeys.device_info(body.address)
    if not await r.hsetnx(key, "registered_at", iso_utc(now)):
        raise DeviceConflict(f"device {body.address} is already registered")
    await r.hset(key, mapping={"model": body.model or "", "serial": body.serial or ""})
    await r.zadd(rkeys.DEVICES, {body.address: 0})
    return await get(r, body.address)


async def assign(r: Redis, address: str, enrolment_id: str, now: datetime) -> DeviceRead:
    address = address.upper()
    enrolment = await enrolments.get(r, enrolment_id)
    if enrolment.status != "active":
        raise DeviceConflict("the enrolment is discharged; assign the device to an active enrolment")
    info = {text(k): text(v) for k, v in (await r.hgetall(rkeys.device_info(address))).items()}
    if info.get("revoked_at"):
        raise DeviceConflict(f"device {address} is revoked")
    await registry.assign_device(r, enrolment.patient_id, address)
    await r.hsetnx(rkeys.device_info(address), "registered_at", iso_utc(now))
    await r.zadd(rkeys.DEVICES, {address: 0})
    return await get(r, address)


async def unassign(r: Redis, address: str) -> DeviceRead:
    address = address.upper()
    owner = await r.get(keys.device(address))
    if owner is not None:
        pid = text(owner)
        await r.eval(_RELEASE, 1, keys.device(address), pid)
        await r.eval(_DROP_FROM_PATIENT, 1, keys.patient(pid), address)
    return await get(r, address)


async def revoke(r: Redis, address: str, reason: str, now: datetime) -> DeviceRead:
    address = address.upper()
    await get(r, address)  # 404 for a device never seen
    await unassign(r, address)
    await r.hset(rkeys.device_info(address), mapping={"revoked_at": iso_utc(now), "revoke_reason": reason})
    await r.hsetnx(rkeys.device_info(address), "registered_at", iso_utc(now))
    await r.zadd(rkeys.DEVICES, {address: 0})
    return await get(r, address)


async def index_assigned(r: Redis) -> None:
    """Index devices assigned through api/registry.py (they have no record here). Idempotent."""
    pids: set[str] = set()
    for ward in [text(w) for w in await r.smembers(keys.wards())]:
        pids |= {text(p) for p in await r.smembers(keys.ward_patients(ward))}
    ordered = sorted(pids)
    async with r.pipeline(transaction=False) as pipe:
        for pid in ordered:
            pipe.hget(keys.patient(pid), "devices")
        rows: list[Any] = await pipe.execute()
    found = {d for raw in rows if raw for d in text(raw).split(",") if d}
    if found:
        await r.zadd(rkeys.DEVICES, dict.fromkeys(found, 0), nx=True)


async def page(
    r: Redis, cursor: str | None, limit: int, keep: Callable[[DeviceRead], bool]
) -> Page[DeviceRead]:
    if cursor is None:
        await index_assigned(r)
    return await scan_page(
        in_index(r, rkeys.DEVICES), "devices", cursor, limit, lambda ids: load_many(r, ids), keep
    )
