"""A delivery's status only moves forward: what is known about a message is never forgotten.

| To | From |
|---|---|
| `sent` `delivered` `retrying` `dead-lettered` `cancelled` (an attempt) | `pending` `retrying` |
| `read` (the tracked link was followed, receipts.py) | `pending` `retrying` `sent` `delivered` |
| `accepted` (the recipient accepted the alert, accept.py) | anything but `accepted` |

One Lua script compares and writes, so a link followed while the worker still waits for the
receiver's answer is not overwritten by that answer. A first-time stamp (`read_at`, `accepted_at`)
is kept even when the status does not move: an accepted message that is then opened was read too.
Every move but to `retrying` empties `next_attempt_at`: no attempt follows a cancelled, delivered,
sent, read, accepted or dead-lettered delivery (a retry still queued finds it not attemptable and
drops it), so none may be announced.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from api.notify import keys as nkeys

ATTEMPTABLE = ("pending", "retrying")
READABLE = (*ATTEMPTABLE, "sent", "delivered")
ACCEPTABLE = (*READABLE, "read", "cancelled", "dead-lettered")

#: KEYS[1] the delivery; ARGV: new status, statuses it may replace (comma-separated), stamp field
#: ('' for none), stamp value, then field/value pairs written only when the status moves (after
#: `next_attempt_at` is emptied, so a move to `retrying` sets its own).
#: Returns -1 (no such delivery), 0 (status kept) or 1 (moved).
_MOVE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[4]) end
if not string.find(',' .. ARGV[2] .. ',', ',' .. status .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'next_attempt_at', '')
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def _args(
    to: str, allowed: tuple[str, ...], stamp: tuple[str, str] | None, fields: dict[str, str]
) -> list[Any]:
    pairs = [part for item in fields.items() for part in item]
    return [to, ",".join(allowed), *(stamp or ("", "")), *pairs]


def move_sync(
    r: redis.Redis,
    delivery_id: str,
    to: str,
    allowed: tuple[str, ...],
    *,
    stamp: tuple[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> int:
    script = r.register_script(_MOVE)
    return int(script(keys=[nkeys.delivery(delivery_id)], args=_args(to, allowed, stamp, fields or {})))


async def move(
    r: redis.asyncio.Redis,
    delivery_id: str,
    to: str,
    allowed: tuple[str, ...],
    *,
    stamp: tuple[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> int:
    script = r.register_script(_MOVE)
    return int(await script(keys=[nkeys.delivery(delivery_id)], args=_args(to, allowed, stamp, fields or {})))
