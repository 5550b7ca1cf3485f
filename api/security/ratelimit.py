"""Per-principal rate limits: a token bucket in Redis, shared by every API process.

The bucket refills at ``rate`` requests per second up to ``burst``; a request takes one token.
The script reads Redis's own clock (TIME), so processes whose clocks differ still agree, and it
is one key, so it is atomic and Cluster-safe. An idle bucket expires once it would be full again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api import keys

_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""


@dataclass(frozen=True, slots=True)
class Limit:
    rate_per_s: float
    burst: int


async def take(r: Redis, subject: str, limit: Limit) -> int:
    """0 if the request may go ahead, else the seconds to wait (for Retry-After, at least 1)."""
    reply: Any = await r.eval(_BUCKET, 1, keys.rate_bucket(subject), limit.rate_per_s, limit.burst)
    wait_ms = int(reply)
    return 0 if wait_ms <= 0 else max(1, math.ceil(wait_ms / 1000))
