"""Retry delays for reconnecting to a device that is away."""

from __future__ import annotations

import random


class Backoff:
    """Exponential back-off with a cap and "equal jitter" (half fixed, half random)."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s, self.max_s = min_s, max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._attempt = 0

    def next(self) -> float:
        delay = min(self.max_s, self.min_s * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def reset(self) -> None:
        self._attempt = 0
