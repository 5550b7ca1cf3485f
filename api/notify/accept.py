"""Accepting an alert from a delivery: the recipient's receiver POSTs the delivery's token back.

Two proofs: the caller's bearer (an API key or token with the `alerts` scope that sees the ward) and
the delivery's token, which only the signed message carried.

Accepting acknowledges the alert as that recipient (api/alert_store.acknowledge: the first
acknowledgement stands, so two recipients accepting at once see one result) and marks the delivery
`accepted`. Escalation stops because the alert is acknowledged (alerting/escalation.py).

A person signed in (the patient page opened from the message's tracked link) is recorded under their
own name, as everywhere (api/actor.py); a system accepts for the delivery's recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio

from api import alert_store
from api.notify import keys as nkeys
from api.notify import status, tokens
from api.registry import iso_utc


class BadToken(LookupError):
    """Unknown delivery, a token that does not match it, or a ward the caller does not see (all 404:
    do not tell which)."""


async def accept(
    r: redis.asyncio.Redis,
    delivery_id: str,
    token: str,
    now: datetime,
    sees_ward: Callable[[str], bool],
    person: str | None = None,
) -> dict[str, Any]:
    """Acknowledge the delivery's alert as `person` (signed in) or its recipient; returns the alert.

    Raises BadToken, alert_store.NotFound (alert gone) or alert_store.Conflict (already resolved)."""
    fields = {
        alert_store.text(k): alert_store.text(v)
        for k, v in (await r.hgetall(nkeys.delivery(delivery_id))).items()
    }
    if not fields or not sees_ward(fields["ward"]) or not await tokens.valid(r, delivery_id, token):
        raise BadToken(delivery_id)
    by = person or fields.get("recipient") or f"{fields.get('channel', 'channel')} recipient"
    alert = await alert_store.acknowledge(r, fields["patient_id"], fields["alert_id"], by, now)
    await status.move(r, delivery_id, "accepted", status.ACCEPTABLE, stamp=("accepted_at", iso_utc(now)))
    return alert
