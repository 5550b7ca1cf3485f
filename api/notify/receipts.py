"""Read receipts: every message carries its delivery's tracked link, `{base}/n/{delivery id}?t={token}`.

Following it proves the message reached someone (or something: a mail gateway that checks links
opens them too, see docs/notifications.md), so the delivery is recorded `read` (api/notify/status.py:
never over `accepted`, `read_at` the first time only) and the browser goes on to the patient page,
which asks for the ward sign-in as always. The token is the delivery's accept token
(api/notify/tokens.py), checked in constant time before anything about the delivery is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis.asyncio

from api.alert_store import text
from api.notify import keys as nkeys
from api.notify import status, tokens
from api.registry import iso_utc


@dataclass(frozen=True, slots=True)
class Followed:
    ward: str
    patient_id: str
    alert_id: str


async def follow(r: redis.asyncio.Redis, delivery_id: str, token: str, now: datetime) -> Followed | None:
    """Record the delivery read; None for an unknown delivery or a wrong token (do not tell which)."""
    if not await tokens.valid(r, delivery_id, token):
        return None
    found = await r.hmget(nkeys.delivery(delivery_id), ["ward", "patient_id", "alert_id"])
    ward, patient_id, alert_id = found
    if ward is None or patient_id is None or alert_id is None:
        return None  # expired (kept 31 days)
    await status.move(r, delivery_id, "read", status.READABLE, stamp=("read_at", iso_utc(now)))
    return Followed(text(ward), text(patient_id), text(alert_id))
