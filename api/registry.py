"""Patient registry in Redis: enrolment, device assignment, lookups.

Writes (key names in api/keys.py):
- ``SET ox:device:<ADDR> <patient>`` per device, claimed with NX so a device is never
  silently taken from another patient;
- ``HSET <patient hash> ward ref enrolled_at devices`` (devices comma-separated, upper case);
- ``SADD ox:ward:<ward>:patients <patient>`` and ``SADD ox:wards <ward>``.

Every write is a single-key command (or a single-key Lua script), never a multi-key
transaction: the device keys and the patient hash live in different hash slots, and the
layout must keep working on Redis Cluster. Enrolment claims the patient id first
(``HSETNX enrolled_at``), then the devices, and undoes its own claims when one fails, so a
refused request leaves nothing behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from api import keys


class RegistryError(Exception):
    """Base of the registry's refusals; ``detail`` is safe to show the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PatientNotFound(RegistryError):
    pass


class PatientExists(RegistryError):
    pass


class DeviceAssigned(RegistryError):
    """The device belongs to another patient, on ``owner_ward`` (None: not admitted anywhere).

    The caller's answer depends on whether they may see that ward (api/main.py): the message
    must not tell someone that a device is with a patient on a ward they are not granted.
    """

    def __init__(self, address: str, owner_ward: str | None) -> None:
        super().__init__(f"device {address} is assigned to another patient")
        self.address = address
        self.owner_ward = owner_ward

    def neutral(self) -> str:
        """What to tell a caller who may not see ``owner_ward``."""
        return f"device {self.address} is not available for assignment; ask an administrator"


async def device_assigned(r: Redis, address: str, owner: str) -> DeviceAssigned:
    """The refusal for ``address``, assigned to patient ``owner``, with the owner's ward."""
    ward = await r.hget(keys.patient(owner), "ward")
    return DeviceAssigned(address, None if ward is None else text(ward))


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient_id: str
    ward_id: str
    ref: str
    enrolled_at: datetime
    devices: tuple[str, ...]


# Adds one address to the comma-separated `devices` field of a patient hash, atomically
# (a single key, so a Lua script is fine on Cluster). Returns 0 when the patient hash
# is missing or incomplete (no `ward`), 1 otherwise.
_ADD_DEVICE = """
if redis.call('HEXISTS', KEYS[1], 'ward') == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'devices') or ''
for d in string.gmatch(cur, '[^,]+') do
  if d == ARGV[1] then return 1 end
end
if cur == '' then cur = ARGV[1] else cur = cur .. ',' .. ARGV[1] end
redis.call('HSET', KEYS[1], 'devices', cur)
return 1
"""

# Deletes a device claim only if it still names the given patient (undoing our own claim,
# never someone else's).
_RELEASE_DEVICE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def new_patient_id() -> str:
    # 96 random bits: unguessable and collision-free at any ward's scale; no personal data.
    return "p-" + secrets.token_hex(12)


def text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(patient_id: str, raw: dict[bytes | str, bytes | str]) -> PatientRecord | None:
    fields = {text(k): text(v) for k, v in raw.items()}
    if "ward" not in fields or "enrolled_at" not in fields:
        return None  # absent, or an enrolment still in progress
    devices = tuple(d for d in fields.get("devices", "").split(",") if d)
    return PatientRecord(
        patient_id=patient_id,
        ward_id=fields["ward"],
        ref=fields.get("ref", ""),
        enrolled_at=datetime.fromisoformat(fields["enrolled_at"]),
        devices=devices,
    )


async def _claim_device(r: Redis, address: str, patient_id: str) -> bool:
    """Claim ``address`` for the patient; True if newly claimed, False if already theirs."""
    if await r.set(keys.device(address), patient_id, nx=True):
        return True
    raw = await r.get(keys.device(address))
    owner = None if raw is None else text(raw)
    if owner == patient_id:
        return False
    if owner is None:  # released between our SET NX and GET: try once more
        return await _claim_device(r, address, patient_id)
    raise await device_assigned(r, address, owner)


async def _release_devices(r: Redis, addresses: Sequence[str], patient_id: str) -> None:
    for address in addresses:
        await r.eval(_RELEASE_DEVICE, 1, keys.device(address), patient_id)


async def enrol(
    r: Redis, ward_id: str, ref: str, devices: Sequence[str], now: datetime, patient_id: str | None = None
) -> PatientRecord:
    """Enrol a patient on a ward, assigning the given devices (upper-cased)."""
    pid = patient_id or new_patient_id()
    addresses = list(dict.fromkeys(d.upper() for d in devices))
    enrolled_at = iso_utc(now)
    if not await r.hsetnx(keys.patient(pid), "enrolled_at", enrolled_at):
        raise PatientExists(f"patient id {pid} is taken; omit patient_id to have one generated")
    claimed: list[str] = []
    try:
        for address in addresses:
            if await _claim_device(r, address, pid):
                claimed.append(address)
    except DeviceAssigned:
        await _release_devices(r, claimed, pid)
        # Only what this call wrote: a registered patient's demographics stay (an empty hash
        # is removed by Redis itself).
        await r.hdel(keys.patient(pid), "enrolled_at")
        raise
    async with r.pipeline(transaction=False) as pipe:
        pipe.hset(
            keys.patient(pid),
            mapping={"ward": ward_id, "ref": ref, "enrolled_at": enrolled_at, "devices": ",".join(addresses)},
        )
        pipe.sadd(keys.ward_patients(ward_id), pid)
        pipe.sadd(keys.wards(), ward_id)
        await pipe.execute()
    return PatientRecord(pid, ward_id, ref, datetime.fromisoformat(enrolled_at), tuple(addresses))


async def get_patient(r: Redis, patient_id: str) -> PatientRecord | None:
    return _record(patient_id, await r.hgetall(keys.patient(patient_id)))


async def require_patient(r: Redis, patient_id: str) -> PatientRecord:
    record = await get_patient(r, patient_id)
    if record is None:
        raise PatientNotFound(f"no patient {patient_id} is enrolled")
    return record


async def assign_device(r: Redis, patient_id: str, address: str) -> PatientRecord:
    """Assign a device to an enrolled patient; idempotent for the same patient."""
    address = address.upper()
    await require_patient(r, patient_id)
    newly = await _claim_device(r, address, patient_id)
    added = await r.eval(_ADD_DEVICE, 1, keys.patient(patient_id), address)
    if not added:  # the patient vanished meanwhile: do not leave a dangling claim
        if newly:
            await _release_devices(r, [address], patient_id)
        raise PatientNotFound(f"no patient {patient_id} is enrolled")
    return await require_patient(r, patient_id)


async def list_ward_patients(r: Redis, ward_id: str) -> list[PatientRecord]:
    """The ward's patients (unordered); ids whose record is missing are skipped."""
    ordered = sorted(text(p) for p in await r.smembers(keys.ward_patients(ward_id)))
    async with r.pipeline(transaction=False) as pipe:
        for pid in ordered:
            pipe.hgetall(keys.patient(pid))
        rows: list[dict[bytes | str, bytes | str]] = await pipe.execute()
    records = (_record(pid, fields) for pid, fields in zip(ordered, rows, strict=True))
    return [rec for rec in records if rec is not None]
