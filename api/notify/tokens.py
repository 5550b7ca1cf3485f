"""Accept tokens: HMAC-SHA256 of the delivery id under a deployment key kept in Redis.

The key is made once (SET NX) by whichever process needs it first, so every process of the
deployment signs and checks alike, and nothing per delivery has to be stored to check a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import redis
import redis.asyncio

KEY = "ox:notify:accept-key"


def _key(raw: str | bytes) -> bytes:
    return raw.encode("ascii") if isinstance(raw, str) else raw


def token(key: bytes, delivery_id: str) -> str:
    return hmac.new(key, delivery_id.encode("utf-8"), hashlib.sha256).hexdigest()


def load_key(r: redis.Redis) -> bytes:
    r.set(KEY, secrets.token_hex(32), nx=True)
    raw = r.get(KEY)
    assert raw is not None
    return _key(raw)


async def valid(r: redis.asyncio.Redis, delivery_id: str, given: str) -> bool:
    raw = await r.get(KEY)
    return raw is not None and hmac.compare_digest(token(_key(raw), delivery_id), given)
