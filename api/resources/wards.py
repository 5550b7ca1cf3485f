"""Wards: a name and description on top of the ward set api/registry.py maintains.

A ward exists once created here or once a patient is enrolled on it (``ox:wards``); the second
kind has no name until someone gives it one with PATCH (or POST).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.registry import RegistryError, iso_utc, text
from api.resources import keys as rkeys
from api.resources.pagination import Page, in_sorted, scan_page
from api.resources.schemas import WardCreate, WardRead, WardUpdate

_CREATE = """
if redis.call('HEXISTS', KEYS[1], 'name') == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class WardNotFound(RegistryError):
    pass


class WardExists(RegistryError):
    pass


async def _known(r: Redis, ward_id: str) -> bool:
    return bool(await r.sismember(keys.wards(), ward_id))


async def load_many(r: Redis, ward_ids: Sequence[str]) -> list[WardRead | None]:
    async with r.pipeline(transaction=False) as pipe:
        for w in ward_ids:
            pipe.sismember(keys.wards(), w)
            pipe.hgetall(rkeys.ward_info(w))
            pipe.scard(keys.ward_patients(w))
        rows: list[Any] = await pipe.execute()
    out: list[WardRead | None] = []
    for i, ward_id in enumerate(ward_ids):
        known, raw, count = rows[3 * i : 3 * i + 3]
        f = {text(k): text(v) for k, v in raw.items()}
        if not known and not f:
            out.append(None)
            continue
        out.append(
            WardRead(
                ward_id=ward_id,
                name=f.get("name"),
                description=f.get("description") or None,
                created_at=datetime.fromisoformat(f["created_at"]) if f.get("created_at") else None,
                patients=int(count),
            )
        )
    return out


async def get(r: Redis, ward_id: str) -> WardRead:
    [found] = await load_many(r, [ward_id])
    if found is None:
        raise WardNotFound(f"no ward {ward_id}")
    return found


async def create(r: Redis, body: WardCreate, now: datetime) -> WardRead:
    fields = {"name": body.name, "description": body.description or "", "created_at": iso_utc(now)}
    args = [item for pair in fields.items() for item in pair]
    if not await r.eval(_CREATE, 1, rkeys.ward_info(body.ward_id), *args):
        raise WardExists(f"ward {body.ward_id} already exists")
    await r.sadd(keys.wards(), body.ward_id)
    return await get(r, body.ward_id)


async def update(r: Redis, ward_id: str, body: WardUpdate, now: datetime) -> WardRead:
    if not await _known(r, ward_id):
        raise WardNotFound(f"no ward {ward_id}")
    fields: dict[Any, Any] = {}
    if body.name is not None:
        fields["name"] = body.name
    if "description" in body.model_fields_set:
        fields["description"] = body.description or ""
    if fields:
        await r.hsetnx(rkeys.ward_info(ward_id), "created_at", iso_utc(now))
        await r.hset(rkeys.ward_info(ward_id), mapping=fields)
    return await get(r, ward_id)


async def all_ids(r: Redis) -> list[str]:
    return sorted(text(w) for w in await r.smembers(keys.wards()))


async def page(
    r: Redis,
    visible: Callable[[str], bool],
    cursor: str | None,
    limit: int,
    keep: Callable[[WardRead], bool],
) -> Page[WardRead]:
    """One page of the wards ``visible`` accepts, by id, then filtered by ``keep``.

    Visibility is applied before paging, so a cursor only ever names a ward the caller may see.
    """
    ids = [w for w in await all_ids(r) if visible(w)]
    return await scan_page(in_sorted(ids), "wards", cursor, limit, lambda chunk: load_many(r, chunk), keep)
