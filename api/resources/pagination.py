"""Cursor paging over a lexicographic index (a sorted set with every score 0, or a sorted list).

A page examines ids in order after the cursor, keeps those the filter accepts, and stops at
``limit`` kept items, or after ``budget`` examined ids once it holds at least one. The cursor is
the last *kept* id, encoded with the kind of list it belongs to, so:

- a cursor only ever names an item the caller may see: an id of another ward's patient, examined
  and skipped, never leaves the service (issue 5: no leak through pagination cursors);
- pages never overlap or skip, even while items are added (new ids land in their sorted place);
  ids skipped after the last kept one are examined again on the next page;
- a page may hold fewer than ``limit`` items and still have a ``next_cursor``: only
  ``next_cursor: null`` means the end; a page with nothing to show yet scans on past the budget
  (to the next item it may show, or the end), so paging always moves forward;
- the filters (and the caller's ward scope) are applied again on every page: a cursor carries
  a position, never a permission.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from redis.asyncio import Redis

from api.queries import CursorError

T = TypeVar("T")

#: Ids examined per request at most: bounds one call's work when a filter rejects most ids.
SCAN_BUDGET = 5_000
BATCH = 200
#: Up to ``count`` ids after a position (None: from the start), in order.
NextIds = Callable[[str | None, int], Awaitable[list[str]]]


def encode_cursor(kind: str, position: str) -> str:
    raw = f"{kind}:{position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise CursorError("the cursor is not one this API issued; start again without it") from err
    prefix = kind + ":"
    if not raw.startswith(prefix) or len(raw) == len(prefix):
        raise CursorError("the cursor is not one this API issued for this list; start again without it")
    return raw[len(prefix) :]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _text(v: bytes | str) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else v


async def scan_page(
    next_ids: NextIds,
    kind: str,
    cursor: str | None,
    limit: int,
    load: Callable[[Sequence[str]], Awaitable[Sequence[T | None]]],
    keep: Callable[[T], bool],
    budget: int = SCAN_BUDGET,
) -> Page[T]:
    """One page after ``cursor`` of the ids ``next_ids`` gives: the records ``keep`` accepts."""
    after = None if cursor is None else decode_cursor(kind, cursor)
    items: list[T] = []
    examined = 0
    last_kept: str | None = None
    while True:
        if examined >= budget and last_kept is not None:
            return Page(items, encode_cursor(kind, last_kept))
        want = BATCH if examined >= budget else min(BATCH, budget - examined)
        ids = await next_ids(after, want)
        records = await load(ids)
        for item_id, record in zip(ids, records, strict=True):
            examined += 1
            if record is not None and keep(record):
                items.append(record)
                last_kept = item_id
                if len(items) == limit:
                    return Page(items, encode_cursor(kind, item_id))
        if len(ids) < want:
            return Page(items, None)
        after = ids[-1]


def in_index(r: Redis, index: str) -> NextIds:
    """Ids after a position in ``index``, a sorted set with every score 0 (ordered by id)."""

    async def next_ids(after: str | None, count: int) -> list[str]:
        low = "-" if after is None else "(" + after
        return [_text(i) for i in await r.zrangebylex(index, low, "+", start=0, num=count)]

    return next_ids


def in_sorted(ids: Sequence[str]) -> NextIds:
    """Ids after a position in an already sorted in-memory list (a small set, e.g. the wards)."""

    async def next_ids(after: str | None, count: int) -> list[str]:
        start = 0 if after is None else bisect_right(ids, after)
        return list(ids[start : start + count])

    return next_ids
