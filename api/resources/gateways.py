"""Home gateways: register, rotate MQTT credentials, revoke, list; and the broker's password file.

A gateway's MQTT username is its gateway id (docs/wire-contract.md). Registering or rotating
generates a random password, returns it once, and stores only the Mosquitto password-file line
(api/resources/mqtt_password.py) in ``ox:gwinfo:<id>`` field `passwd`. The broker learns of new,
rotated and revoked credentials when an operator job writes :func:`password_file` to Mosquitto's
``password_file`` and sends it SIGHUP (docs/api.md, "Gateway credentials"); until then the old
password still connects.

A gateway belongs to the ward given at registration (field `ward`; never changed): ward-limited
callers see and manage only their wards' gateways (api/routes/gateways.py). Gateways registered
before wards were recorded have none and are administrators' alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.registry import RegistryError, iso_utc, text
from api.resources import keys as rkeys
from api.resources.mqtt_password import hash_line, new_password
from api.resources.pagination import Page, in_index, scan_page
from api.resources.schemas_kit import GatewayCredentials, GatewayRead, GatewayRegister

# Rotate only a gateway that exists and is not revoked.
_ROTATE = """
if redis.call('HEXISTS', KEYS[1], 'registered_at') == 0 then return 'missing' end
if redis.call('HGET', KEYS[1], 'revoked_at') then return 'revoked' end
redis.call('HSET', KEYS[1], 'passwd', ARGV[1], 'rotated_at', ARGV[2])
return 'ok'
"""


class GatewayNotFound(RegistryError):
    pass


class GatewayConflict(RegistryError):
    pass


def _opt_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def load_many(r: Redis, gateway_ids: Sequence[str]) -> list[GatewayRead | None]:
    async with r.pipeline(transaction=False) as pipe:
        for g in gateway_ids:
            pipe.hgetall(rkeys.gateway_info(g))
            pipe.hgetall(keys.gateway_status(g))
        rows: list[Any] = await pipe.execute()
    out: list[GatewayRead | None] = []
    for i, gid in enumerate(gateway_ids):
        info = {text(k): text(v) for k, v in rows[2 * i].items()}
        status = {text(k): text(v) for k, v in rows[2 * i + 1].items()}
        if "registered_at" not in info:
            out.append(None)
            continue
        out.append(
            GatewayRead(
                gateway_id=gid,
                label=info.get("label") or None,
                ward_id=info.get("ward") or None,
                status="revoked" if info.get("revoked_at") else "active",
                registered_at=datetime.fromisoformat(info["registered_at"]),
                credentials_rotated_at=_opt_time(info.get("rotated_at")),
                revoked_at=_opt_time(info.get("revoked_at")),
                revoke_reason=info.get("revoke_reason") or None,
                last_status={k: v for k, v in status.items() if v} or None,
            )
        )
    return out


async def get(r: Redis, gateway_id: str) -> GatewayRead:
    [found] = await load_many(r, [gateway_id])
    if found is None:
        raise GatewayNotFound(f"no gateway {gateway_id}")
    return found


async def register(r: Redis, body: GatewayRegister, now: datetime) -> GatewayCredentials:
    key = rkeys.gateway_info(body.gateway_id)
    at = iso_utc(now)
    if not await r.hsetnx(key, "registered_at", at):
        raise GatewayConflict(f"gateway {body.gateway_id} is already registered")
    password = new_password()
    await r.hset(
        key,
        mapping={
            "label": body.label or "",
            "ward": body.ward_id or "",
            "passwd": hash_line(body.gateway_id, password),
            "rotated_at": at,
        },
    )
    await r.zadd(rkeys.GATEWAYS, {body.gateway_id: 0})
    return GatewayCredentials(
        gateway_id=body.gateway_id, mqtt_username=body.gateway_id, mqtt_password=password, rotated_at=now
    )


async def rotate(r: Redis, gateway_id: str, now: datetime) -> GatewayCredentials:
    password = new_password()
    at = iso_utc(now)
    outcome = text(
        await r.eval(_ROTATE, 1, rkeys.gateway_info(gateway_id), hash_line(gateway_id, password), at)
    )
    if outcome == "missing":
        raise GatewayNotFound(f"no gateway {gateway_id}")
    if outcome == "revoked":
        raise GatewayConflict(f"gateway {gateway_id} is revoked; register a new gateway id instead")
    return GatewayCredentials(
        gateway_id=gateway_id,
        mqtt_username=gateway_id,
        mqtt_password=password,
        rotated_at=datetime.fromisoformat(at),
    )


async def revoke(r: Redis, gateway_id: str, reason: str, now: datetime) -> GatewayRead:
    current = await get(r, gateway_id)
    if current.status == "revoked":
        return current
    await r.hset(
        rkeys.gateway_info(gateway_id),
        mapping={"revoked_at": iso_utc(now), "revoke_reason": reason, "passwd": ""},
    )
    return await get(r, gateway_id)


async def password_file(r: Redis) -> str:
    """Mosquitto's ``password_file``: one line per active gateway (revoked ones are left out)."""
    raw_ids: list[Any] = await r.zrange(rkeys.GATEWAYS, 0, -1)
    ids = [text(g) for g in raw_ids]
    async with r.pipeline(transaction=False) as pipe:
        for gid in ids:
            pipe.hmget(rkeys.gateway_info(gid), ["passwd", "revoked_at"])
        rows: list[list[Any]] = await pipe.execute()
    lines = [text(passwd) for passwd, revoked in rows if passwd and not revoked]
    return "".join(line + "\n" for line in lines)


async def page(
    r: Redis, cursor: str | None, limit: int, keep: Callable[[GatewayRead], bool]
) -> Page[GatewayRead]:
    return await scan_page(
        in_index(r, rkeys.GATEWAYS), "gateways", cursor, limit, lambda ids: load_many(r, ids), keep
    )
