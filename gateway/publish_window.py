"""The publisher's window: which outbox rows paho holds unacknowledged, and which were acknowledged.

Thread-safe (paho's network thread acknowledges, the sender and the network thread both publish).
Pure bookkeeping: no MQTT library here.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

STATUS: Final = -1  # in-flight marker for status messages (not outbox rows)


class PublishWindow:
    """mid → outbox seq for messages handed to paho and not yet acknowledged (at most `size` rows)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"the in-flight window must be at least 1, got {size}")
        self.size = size
        # Refill when this few remain: each outbox read then covers a quarter of the window.
        self.refill_at = size - max(1, size // 4)
        self.high_water = 0
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}
        self._rows = 0
        self._early: set[int] = set()  # PUBACKs that beat publish() returning its mid
        self._early_refused: set[int] = set()  # refusals that did
        self._acked: deque[int] = deque()

    def rows(self) -> int:
        with self._lock:
            return self._rows

    def room(self) -> int:
        with self._lock:
            return self.size - self._rows

    def wants_refill(self) -> bool:
        with self._lock:
            return self._rows <= self.refill_at

    def track(self, mid: int, seq: int) -> None:
        """paho took message `mid` (outbox row `seq`, or STATUS)."""
        with self._lock:
            if mid in self._early_refused:
                self._early_refused.discard(mid)
                return
            if mid in self._early:
                self._early.discard(mid)
                if seq != STATUS:
                    self._acked.append(seq)
                return
            self._inflight[mid] = seq
            if seq != STATUS:
                self._rows += 1
                self.high_water = max(self.high_water, self._rows)

    def acknowledge(self, mid: int) -> int | None:
        """The broker acknowledged `mid`: the row's seq, STATUS, or None (not tracked yet)."""
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early.add(mid)
            elif seq != STATUS:
                self._rows -= 1
                self._acked.append(seq)
            return seq

    def refuse(self, mid: int) -> int | None:
        """The broker refused `mid` (MQTT 5 PUBACK reason >= 0x80): its row leaves the window unacknowledged,
        so it stays in the outbox for a later attempt. Returns the row's seq, STATUS, or None."""
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early_refused.add(mid)
            elif seq != STATUS:
                self._rows -= 1
            return seq

    def take_acked(self) -> list[int]:
        """Acknowledged rows not yet deleted from the outbox, oldest first; the caller deletes them."""
        with self._lock:
            seqs = list(self._acked)
            self._acked.clear()
        return seqs
