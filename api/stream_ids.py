"""Redis stream entry ids taken back from callers (inside cursors): which ones are safe to use.

A cursor carries the id of the last entry a page returned; the next page starts (or, newest
first, ends) just beyond it with an exclusive bound, ``(<id>``. Redis answers an error, not an
empty range, for an id outside its 64-bit space and for an exclusive bound that has nothing
beyond it (``(0-0`` as an end, ``(<max>-<max>`` as a start). Ids Redis made with XADD are never
either, so such a cursor was not issued by this API: refused (400) rather than passed on.
"""

from __future__ import annotations

import re

_ENTRY_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_U64_MAX = 2**64 - 1


def usable_entry_id(value: str) -> bool:
    """True for ``<ms>-<seq>`` that both exclusive bounds accept (milliseconds after the epoch)."""
    found = _ENTRY_ID.match(value)
    if found is None:
        return False
    ms, seq = int(found.group(1)), int(found.group(2))
    return 0 < ms < _U64_MAX and seq <= _U64_MAX
