"""Scan paging (api/resources/pagination.py): a cursor names only an item the caller may see, even
when a page runs out of its examination budget among items the caller may not see."""

from __future__ import annotations

from collections.abc import Sequence

from api.resources.pagination import decode_cursor, in_sorted, scan_page

IDS = [f"p{i:03d}" for i in range(100)]
VISIBLE = set(IDS[::30])  # p000, p030, p060, p090: the caller's ward; the rest another ward's


async def _load(ids: Sequence[str]) -> list[str | None]:
    return list(ids)


async def _pages(budget: int, limit: int) -> tuple[list[str], list[str]]:
    seen: list[str] = []
    positions: list[str] = []
    cursor = None
    for _ in range(50):
        page = await scan_page(in_sorted(IDS), "t", cursor, limit, _load, VISIBLE.__contains__, budget=budget)
        seen += page.items
        if page.next_cursor is None:
            return seen, positions
        positions.append(decode_cursor("t", page.next_cursor))
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


async def test_cursors_name_only_visible_items_and_paging_loses_nothing() -> None:
    for budget, limit in ((7, 10), (10, 1), (45, 2), (5000, 3)):
        seen, positions = await _pages(budget, limit)
        assert seen == sorted(VISIBLE), (budget, limit)
        assert set(positions) <= VISIBLE, (budget, limit)


async def test_nothing_visible_ends_without_a_cursor() -> None:
    page = await scan_page(in_sorted(IDS), "t", None, 10, _load, lambda _: False, budget=7)
    assert (page.items, page.next_cursor) == ([], None)
