"""A ward's rota in Redis: the current version, and every version ever set (its history).

Like care plans (api/careplans.py) and the ward's alerting configuration (api/ward_config.py):
each put is the next version, written with who set it and when under WATCH, so concurrent puts
are safe; `if_version` refuses (409) to overwrite a rota the caller has not seen.

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
from redis.exceptions import WatchError

from api.alert_store import text
from api.notify import keys as nkeys
from api.notify.rota import Rota, record
from api.registry import iso_utc

HISTORY_PAGE_MAX = 500


class VersionConflict(Exception):
    """`if_version` does not match the current version (HTTP 409)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the rota is at version {current}; re-read it before changing it")
        self.current = current


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
    key, history = nkeys.rota(ward_id), nkeys.rota_history(ward_id)
    shown = rota.to_dict(public=True)  # masking asks apprise: once, outside the retry loop
    while True:
        async with r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = 0 if raw is None else int(json.loads(raw)["version"])
                if if_version is not None and if_version != current:
                    raise VersionConflict(current)
                stored = record(ward_id, rota, current + 1, set_by, iso_utc(now)) | {"principal": principal}
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, json.dumps(stored, separators=(",", ":")))
                masked = json.dumps(stored | {"rota": shown}, separators=(",", ":"))
                pipe.xadd(history, {"version": str(current + 1), "record": masked})
                await pipe.execute()
                return stored
            except WatchError:
                continue  # changed between our read and our write: read again


async def history(r: Redis, ward_id: str, limit: int = HISTORY_PAGE_MAX) -> list[dict[str, Any]]:
    """Every version set, newest first (at most `limit`), secrets masked."""
    rows: list[Any] = await r.xrevrange(nkeys.rota_history(ward_id), count=limit) or []
    out: list[dict[str, Any]] = []
    for _, fields in rows:
        entry = {text(k): text(v) for k, v in fields.items()}
        out.append(json.loads(entry["record"]))
    return out
