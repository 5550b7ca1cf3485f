"""Redis stream entry ids taken back from callers inside cursors: the cursors that carry them, and
which ids are safe to use.

A cursor carries the id of the last entry a page returned; the next page starts (or, newest
first, ends) just beyond it with an exclusive bound, ``(<id>``. Redis answers an error, not an
empty range, for an id outside its 64-bit space and for an exclusive bound that has nothing
beyond it (``(0-0`` as an end, ``(<max>-<max>`` as a start). Ids Redis made with XADD are never
either, so such a cursor was not issued by this API: refused (400) rather than passed on.

A list that belongs to one owner (a patient's alerts, a care plan's history) ties its cursors to
it with `owned`: another owner's cursor is then refused (400) rather than read as a position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_ENTRY_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_U64_MAX = 2**64 - 1


def owned(kind: str, owner: str) -> str:
    """The name of one owner's list of `kind`, for a cursor prefix or kind: a cursor made with it
    matches no other owner's list. A short digest stands for the owner (e.g. the list's Redis key):
    cursors travel in URLs (proxy logs, browser history), where patient identifiers must not."""
    return f"{kind}/{hashlib.blake2b(owner.encode(), digest_size=8).hexdigest()}"


def usable_entry_id(value: str) -> bool:
    """True for ``<ms>-<seq>`` that both exclusive bounds accept (milliseconds after the epoch)."""
    found = _ENTRY_ID.match(value)
    if found is None:
        return False
    ms, seq = int(found.group(1)), int(found.group(2))
    return 0 < ms < _U64_MAX and seq <= _U64_MAX


def entry_cursor(prefix: str, entry_id: str) -> str:
    """The cursor for the page after entry `entry_id`; `prefix` names the list (``"r1:"``)."""
    return base64.urlsafe_b64encode((prefix + entry_id).encode()).decode().rstrip("=")


def cursor_entry(prefix: str, cursor: str) -> str | None:
    """The entry id inside a cursor entry_cursor made with `prefix`; None for any other cursor
    (not base64 ASCII, another list's, or an id that usable_entry_id refuses)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    entry_id = raw.removeprefix(prefix)
    if not raw.startswith(prefix) or not usable_entry_id(entry_id):
        return None
    return entry_id
