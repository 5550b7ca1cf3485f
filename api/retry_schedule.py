"""When a failed delivery is tried again: exponential backoff with jitter, the one schedule of the
webhook worker (api/webhooks/delivery.py) and the notification worker (api/notify/delivery.py).

After failed attempt n (1-based) the next is due ``base_s * 2**(n-1)`` seconds later, at most
``cap_s``, times a random factor within ±``JITTER`` so receivers coming back are not all hit in
lockstep (docs/notifications.md, docs/api.md "Webhooks"). Pure: the caller passes the time and
may pass the random source (tests).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

#: ±10 % of each delay.
JITTER = 0.1

#: Draws a number between its two arguments (random.uniform).
Uniform = Callable[[float, float], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float
    cap_s: float

    def delay_s(self, attempt: int, uniform: Uniform = random.uniform) -> float:
        """Seconds to wait after failed attempt `attempt` (1 = the first)."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        return min(self.base_s * 2.0 ** (attempt - 1), self.cap_s) * uniform(1 - JITTER, 1 + JITTER)

    def due_ms(self, attempt: int, now_s: float, uniform: Uniform = random.uniform) -> int:
        """When the attempt after failed attempt `attempt` at `now_s` (seconds since the epoch) is
        due, in milliseconds since the epoch (the retry queues' score)."""
        return int(now_s * 1000 + self.delay_s(attempt, uniform) * 1000)
