"""Records kept in Redis as numbered versions: the current one under a key, every one appended to a
history stream. Care plans (api/careplans.py), ward alerting configurations (api/ward_config.py) and
rotas (api/notify/rota_store.py) are kept so.

A put stores the next version (1 after none) and appends it to the history in one MULTI, after
reading the current version under WATCH: concurrent puts are safe (the loser reads again and
becomes the version after). `if_version` refuses (HTTP 409) to overwrite a version the caller has
not seen. Both keys must be in one hash slot (the callers' keys carry a shard tag).

The history is read newest first a page at a time (`history_page`); its cursors name the entry
after which the next page starts and are tied to that one history (400 on any other list).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import WatchError

from api.queries import CursorError
from api.registry import text
from api.stream_ids import cursor_entry, entry_cursor, owned

T = TypeVar("T")

#: Builds version n: (what put_next_version returns, the current record's JSON, the history entry).
MakeVersion = Callable[[int], tuple[T, str, Mapping[str, str]]]


class VersionConflict(Exception):
    """`if_version` does not match the current version (HTTP 409)."""

    def __init__(self, what: str, current: int) -> None:
        super().__init__(f"{what} is at version {current}; re-read it before changing it")
        self.current = current


async def put_next_version(
    r: Redis,
    key: str,
    history: str,
    make: MakeVersion[T],
    *,
    if_version: int | None = None,
    what: str = "the record",
) -> T:
    """Store version current + 1 that `make` builds under `key` and append it to `history`,
    atomically; VersionConflict naming `what` when `if_version` is given and is not the current
    version. The stored record's JSON must hold its "version"."""
    while True:
        async with r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = 0 if raw is None else int(json.loads(raw)["version"])
                if if_version is not None and if_version != current:
                    raise VersionConflict(what, current)
                result, stored, entry = make(current + 1)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, stored)
                pipe.xadd(history, dict[Any, Any](entry))
                await pipe.execute()
                return result
            except WatchError:
                continue  # changed between our read and our write: read again


async def history_page(
    r: Redis, history: str, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, str]], str | None]:
    """Up to `limit` entries of `history` (their fields) older than `cursor`'s, newest first, and
    the cursor for the next page (None: no more). CursorError for a cursor not made for `history`."""
    prefix = owned("h1", history) + ":"
    high = "+"
    if cursor is not None:
        entry_id = cursor_entry(prefix, cursor)
        if entry_id is None:
            raise CursorError("the cursor is not one issued for this history; start again without it")
        high = "(" + entry_id
    rows: list[Any] = await r.xrevrange(history, max=high, min="-", count=limit + 1) or []
    page = [{text(k): text(v) for k, v in fields.items()} for _, fields in rows[:limit]]
    return page, (entry_cursor(prefix, text(rows[limit - 1][0])) if len(rows) > limit else None)
