"""Webhook subscriptions in Redis (async, for the REST API); key names in api/webhooks/keys.py.

The signing secret is stored as is: signing needs the key itself, so it cannot be hashed like a
password. It never appears in a read (only on create and rotation) and never in logs; protect
Redis as the store of every other secret-bearing record.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api.queries import CursorError
from api.registry import RegistryError, iso_utc, text
from api.resources.pagination import Page, in_index, scan_page
from api.stream_ids import usable_entry_id
from api.webhooks import keys as wkeys
from api.webhooks.schemas import DeadLetter, DeliveryStats, WebhookCreate, WebhookRead, WebhookUpdate
from api.webhooks.signing import new_secret

_UPDATE = """
if redis.call('HEXISTS', KEYS[1], 'url') == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
DEAD_LETTER_MAXLEN = 10_000


class WebhookNotFound(RegistryError):
    pass


def _opt_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read(subscription_id: str, raw: dict[Any, Any]) -> tuple[WebhookRead, str] | None:
    """(the subscription, its owner) from its hash; None when there is none."""
    f = {text(k): text(v) for k, v in raw.items()}
    if "url" not in f:
        return None
    wards = None if f.get("wards", "*") == "*" else [w for w in f["wards"].split(",") if w]
    stats = DeliveryStats(
        delivered=int(f.get("delivered", 0)),
        failed_attempts=int(f.get("failed", 0)),
        dead_lettered=int(f.get("dead_lettered", 0)),
        last_success_at=_opt_time(f.get("last_success_at")),
        last_failure_at=_opt_time(f.get("last_failure_at")),
        last_status=int(f["last_status"]) if f.get("last_status") else None,
    )
    sub = WebhookRead.model_validate(
        {
            "subscription_id": subscription_id,
            "url": f["url"],
            "events": [e for e in f["events"].split(",") if e],
            "ward_ids": wards,
            "description": f.get("description") or None,
            "active": f.get("active") == "1",
            "created_at": f["created_at"],
            "stats": stats,
        }
    )
    return sub, f.get("owner", "")


async def create(r: Redis, body: WebhookCreate, owner: str, now: datetime) -> tuple[WebhookRead, str]:
    sid = "wh-" + secrets.token_hex(8)
    secret = new_secret()
    fields = {
        "url": body.url,
        "events": ",".join(dict.fromkeys(body.events)),
        "wards": "*" if body.ward_ids is None else ",".join(sorted(set(body.ward_ids))),
        "description": body.description or "",
        "owner": owner,
        "secret": secret,
        "active": "1",
        "created_at": iso_utc(now),
    }
    async with r.pipeline(transaction=False) as pipe:
        pipe.hset(wkeys.subscription(sid), mapping=dict[Any, Any](fields))
        pipe.zadd(wkeys.INDEX, {sid: 0})
        await pipe.execute()
    sub, _ = await require(r, sid)
    return sub, secret


async def get(r: Redis, subscription_id: str) -> tuple[WebhookRead, str] | None:
    return read(subscription_id, await r.hgetall(wkeys.subscription(subscription_id)))


async def require(r: Redis, subscription_id: str) -> tuple[WebhookRead, str]:
    found = await get(r, subscription_id)
    if found is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    return found


async def update(r: Redis, subscription_id: str, body: WebhookUpdate) -> WebhookRead:
    fields: dict[str, str] = {}
    if body.url is not None:
        fields["url"] = body.url
    if body.events is not None:
        fields["events"] = ",".join(dict.fromkeys(body.events))
    if "ward_ids" in body.model_fields_set:
        fields["wards"] = "*" if body.ward_ids is None else ",".join(sorted(set(body.ward_ids)))
    if "description" in body.model_fields_set:
        fields["description"] = body.description or ""
    if body.active is not None:
        fields["active"] = "1" if body.active else "0"
    args = [item for pair in fields.items() for item in pair]
    if args and not await r.eval(_UPDATE, 1, wkeys.subscription(subscription_id), *args):
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    sub, _ = await require(r, subscription_id)
    return sub


async def rotate_secret(r: Redis, subscription_id: str) -> str:
    secret = new_secret()
    if not await r.eval(_UPDATE, 1, wkeys.subscription(subscription_id), "secret", secret):
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    return secret


async def delete(r: Redis, subscription_id: str) -> None:
    async with r.pipeline(transaction=False) as pipe:
        pipe.delete(wkeys.subscription(subscription_id))
        pipe.zrem(wkeys.INDEX, subscription_id)
        pipe.delete(wkeys.dead_letters(subscription_id))
        deleted, _, _ = await pipe.execute()
    if not deleted:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")


async def load_many(r: Redis, ids: Sequence[str]) -> list[tuple[WebhookRead, str] | None]:
    async with r.pipeline(transaction=False) as pipe:
        for sid in ids:
            pipe.hgetall(wkeys.subscription(sid))
        rows: list[Any] = await pipe.execute()
    return [read(sid, row) for sid, row in zip(ids, rows, strict=True)]


async def page(
    r: Redis, cursor: str | None, limit: int, keep: Callable[[tuple[WebhookRead, str]], bool]
) -> Page[tuple[WebhookRead, str]]:
    return await scan_page(
        in_index(r, wkeys.INDEX), "webhooks", cursor, limit, lambda ids: load_many(r, ids), keep
    )


async def enqueue_ping(r: Redis, subscription_id: str, now: datetime) -> str:
    """Queue a `ping` event for this subscription only (a receiver's end-to-end check)."""
    event_id = "evt_ping_" + secrets.token_hex(8)
    event = {"id": event_id, "type": "ping", "created_at": iso_utc(now), "data": {}}
    body = json.dumps(event, separators=(",", ":"))
    await r.xadd(
        wkeys.OUTBOX, {"type": "ping", "id": event_id, "ward": "", "sub": subscription_id, "body": body}
    )
    return event_id


async def dead_letters(
    r: Redis, subscription_id: str, limit: int, cursor: str | None
) -> tuple[list[DeadLetter], str | None]:
    """Newest first; the cursor is the last entry id returned."""
    if cursor is not None and not usable_entry_id(cursor):
        raise CursorError("the cursor is not one this API issued; start again without it")
    high = "+" if cursor is None else "(" + cursor
    rows: list[Any] = list(
        await r.xrevrange(wkeys.dead_letters(subscription_id), max=high, min="-", count=limit + 1) or []
    )
    items = []
    for raw_id, raw in rows[:limit]:
        f = {text(k): text(v) for k, v in raw.items()}
        items.append(
            DeadLetter(
                dead_letter_id=text(raw_id),
                event_id=f["event_id"],
                event_type=f["type"],
                attempts=int(f["attempts"]),
                last_status=int(f["last_status"]),
                last_error=f["last_error"],
                dead_at=datetime.fromisoformat(f["at"]),
                payload=json.loads(f["body"]),
            )
        )
    return items, (items[-1].dead_letter_id if len(rows) > limit else None)
