"""Users and API keys in Redis (key names in api/keys.py): create, grant, revoke, look up.

Each principal is one hash, so the lookup on every request is a single HGETALL, pipelined with
the deny-list check of the token presented. Credentials are stored only as hashes
(api/security/secrets.py). Ward grants are a comma-separated field changed by a single-key Lua
script, so concurrent grants never lose each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.registry import iso_utc, text
from api.security.principal import Kind
from api.security.roles import Role
from api.security.secrets import ApiKey, hash_api_secret, new_api_key

_EDIT_WARDS = """
if redis.call('HEXISTS', KEYS[1], 'role') == 0 then return 0 end
local out = {}
for w in string.gmatch(redis.call('HGET', KEYS[1], 'wards') or '', '[^,]+') do
  if w ~= ARGV[2] then table.insert(out, w) end
end
if ARGV[1] == 'add' then table.insert(out, ARGV[2]) end
table.sort(out)
redis.call('HSET', KEYS[1], 'wards', table.concat(out, ','))
return 1
"""
# Updates fields only of a principal that exists (HSET alone would create a stray hash).
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], 'role') == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class PrincipalNotFound(LookupError):
    def __init__(self, principal_id: str) -> None:
        super().__init__(f"no user or API key {principal_id}")
        self.detail = str(self)


class UsernameTaken(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the username {name} is taken")
        self.detail = str(self)


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    principal_id: str
    kind: Kind
    name: str
    role: Role
    wards: frozenset[str]
    created_at: datetime
    disabled: bool
    #: Tokens issued before this time (seconds since the epoch) are refused.
    not_before: float | None
    #: scrypt hash (users) or sha256 of the key's secret (API keys). Never leaves the service.
    secret_hash: str
    #: The gateway a `gateway` API key submits readings for (field `gateway`); None for others.
    gateway_id: str | None = None


def _record(principal_id: str, raw: dict[Any, Any]) -> PrincipalRecord | None:
    f = {text(k): text(v) for k, v in raw.items()}
    if "role" not in f:
        return None
    return PrincipalRecord(
        principal_id=principal_id,
        kind=Kind(f["kind"]),
        name=f.get("name", ""),
        role=Role(f["role"]),
        wards=frozenset(w for w in f.get("wards", "").split(",") if w),
        created_at=datetime.fromisoformat(f["created_at"]),
        disabled=f.get("disabled") == "1",
        not_before=float(f["not_before"]) if f.get("not_before") else None,
        secret_hash=f.get("secret", ""),
        gateway_id=f.get("gateway") or None,
    )


async def _create(r: Redis, pid: str, fields: Mapping[str, str]) -> None:
    mapping: dict[Any, Any] = dict(fields)  # redis-py's stubs want a wider key type than str
    async with r.pipeline(transaction=False) as pipe:
        pipe.hset(keys.principal(pid), mapping=mapping)
        pipe.sadd(keys.principals(), pid)
        await pipe.execute()


def _fields(
    kind: Kind, name: str, role: Role, wards: Iterable[str], now: datetime, secret: str
) -> dict[str, str]:
    return {
        "kind": kind.value,
        "name": name,
        "role": role.value,
        "wards": ",".join(sorted(set(wards))),
        "created_at": iso_utc(now),
        "disabled": "0",
        "secret": secret,
    }


async def create_user(
    r: Redis, username: str, password_hash: str, role: Role, wards: Iterable[str], now: datetime
) -> PrincipalRecord:
    pid = "u-" + secrets.token_hex(8)
    # The username is claimed first (NX), so two admins creating the same name cannot both win.
    if not await r.set(keys.username(username), pid, nx=True):
        raise UsernameTaken(username)
    await _create(r, pid, _fields(Kind.USER, username, role, wards, now, password_hash))
    return await require(r, pid)


async def create_api_key(
    r: Redis, name: str, role: Role, wards: Iterable[str], now: datetime, gateway_id: str | None = None
) -> tuple[PrincipalRecord, ApiKey]:
    key = new_api_key()
    pid = "k-" + key.key_id
    fields = _fields(Kind.API_KEY, name, role, wards, now, hash_api_secret(key.secret))
    if gateway_id is not None:
        fields["gateway"] = gateway_id
    await _create(r, pid, fields)
    return await require(r, pid), key


async def get(r: Redis, principal_id: str) -> PrincipalRecord | None:
    return _record(principal_id, await r.hgetall(keys.principal(principal_id)))


async def require(r: Redis, principal_id: str) -> PrincipalRecord:
    found = await get(r, principal_id)
    if found is None:
        raise PrincipalNotFound(principal_id)
    return found


async def by_username(r: Redis, username: str) -> PrincipalRecord | None:
    pid = await r.get(keys.username(username))
    return None if pid is None else await get(r, text(pid))


async def for_request(
    r: Redis, principal_id: str, token_id: str | None
) -> tuple[PrincipalRecord | None, bool]:
    """The principal and whether the presented token id is on the deny-list, in one round trip."""
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.principal(principal_id))
        if token_id is not None:
            pipe.exists(keys.denied_token(token_id))
        replies: list[Any] = await pipe.execute()
    denied = bool(replies[1]) if token_id is not None else False
    return _record(principal_id, replies[0]), denied


async def list_all(r: Redis) -> list[PrincipalRecord]:
    ids = sorted(text(p) for p in await r.smembers(keys.principals()))
    async with r.pipeline(transaction=False) as pipe:
        for pid in ids:
            pipe.hgetall(keys.principal(pid))
        rows: list[Any] = await pipe.execute()
    records = (_record(pid, row) for pid, row in zip(ids, rows, strict=True))
    return [rec for rec in records if rec is not None]


async def update(r: Redis, principal_id: str, fields: dict[str, str]) -> PrincipalRecord:
    args = [item for pair in fields.items() for item in pair]
    if args and not await r.eval(_UPDATE, 1, keys.principal(principal_id), *args):
        raise PrincipalNotFound(principal_id)
    return await require(r, principal_id)


async def edit_ward(r: Redis, principal_id: str, ward_id: str, *, grant: bool) -> PrincipalRecord:
    op = "add" if grant else "remove"
    if not await r.eval(_EDIT_WARDS, 1, keys.principal(principal_id), op, ward_id):
        raise PrincipalNotFound(principal_id)
    return await require(r, principal_id)


async def revoke_tokens(r: Redis, principal_id: str, now: float) -> PrincipalRecord:
    """Refuse every token the principal was issued up to now (a per-principal "not before")."""
    return await update(r, principal_id, {"not_before": f"{now:.3f}"})


async def delete(r: Redis, principal_id: str) -> None:
    record = await require(r, principal_id)
    async with r.pipeline(transaction=False) as pipe:
        pipe.delete(keys.principal(principal_id))
        pipe.srem(keys.principals(), principal_id)
        if record.kind is Kind.USER:
            pipe.delete(keys.username(record.name))
        await pipe.execute()


async def deny_token(r: Redis, token_id: str, expires_at: float, now: float) -> None:
    """Put a JWT id on the deny-list until it would have expired anyway (then it is useless)."""
    ttl = max(1, int(expires_at - now) + 60)
    await r.set(keys.denied_token(token_id), "1", ex=ttl)
