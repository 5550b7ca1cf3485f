"""A ward's rota in Redis: the current version, and every version ever set (its history).

Like care plans (api/careplans.py) and the ward's alerting configuration (api/ward_config.py):
each put is the next version, written with who set it and when under WATCH, so concurrent puts
are safe; `if_version` refuses (409) to overwrite a rota the caller has not seen
(api/versioned_store.py).

- nkeys.rota(ward): the current record (api/notify/rota.py `record`), secrets included: the
  delivery worker sends with them;
- nkeys.rota_history(ward): stream, one entry per version, the record as the API shows it. The
  history keeps secrets masked: a rotated-out webhook secret or mail password does not linger.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from api.notify import keys as nkeys
from api.notify.rota import Rota, record
from api.registry import iso_utc
from api.versioned_store import history_page, put_next_version

HISTORY_PAGE_MAX = 500


async def set_rota(
    r: Redis,
    ward_id: str,
    rota: Rota,
    *,
    set_by: str,
    principal: str,
    now: datetime,
    if_version: int | None = None,
) -> dict[str, Any]:
    """Store the next version and append it (masked) to the history, atomically; returns the record
    as stored (with secrets: api/notify/rota.public_record masks it for the caller)."""
    shown = rota.to_dict(public=True)  # masking asks apprise: once, not on every retry of the put

    def make(version: int) -> tuple[dict[str, Any], str, dict[str, str]]:
        stored = record(ward_id, rota, version, set_by, iso_utc(now)) | {"principal": principal}
        masked = json.dumps(stored | {"rota": shown}, separators=(",", ":"))
        return stored, json.dumps(stored, separators=(",", ":")), {"version": str(version), "record": masked}

    return await put_next_version(
        r, nkeys.rota(ward_id), nkeys.rota_history(ward_id), make, if_version=if_version, what="the rota"
    )


async def history(r: Redis, ward_id: str, limit: int = HISTORY_PAGE_MAX) -> list[dict[str, Any]]:
    """Every version set, newest first (at most `limit`), secrets masked."""
    rows, _ = await history_page(r, nkeys.rota_history(ward_id), limit)
    return [json.loads(entry["record"]) for entry in rows]
