"""What the two delivery workers (api/notify/delivery.py, api/webhooks/delivery.py) share: the
thread that runs their passes, their consumer groups and the claiming of due retries. When a retry
is due is api/retry_schedule.py. The evaluation worker (api/worker.py) makes its groups here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import redis

from api.registry import text


class PassThread:
    """Calls ``run_once`` (returns the work done) in a daemon thread until stopped: at once again
    while there was work, after ``poll_s`` when there was none. A pass that raises goes to
    ``failed`` (the worker's own logging) and the next waits 0.1 s, doubling to 5 s, so Redis
    being away or a bug never ends deliveries for good."""

    def __init__(
        self, run_once: Callable[[], int], failed: Callable[[Exception], None], *, name: str, poll_s: float
    ) -> None:
        self._run_once, self._failed = run_once, failed
        self._name, self._poll = name, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                busy = self._run_once()
                backoff = 0.1
                if not busy:
                    self._stop.wait(self._poll)
            except Exception as exc:
                self._failed(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


def ensure_group(r: redis.Redis, stream: str, group: str, start: str) -> None:
    """Create consumer group `group` on `stream` (and the stream) unless it exists."""
    try:
        r.xgroup_create(stream, group, id=start, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def claim_due(r: redis.Redis, queue: str, now_ms: int, batch: int = 20) -> Iterator[str]:
    """The members of retry queue `queue` (sorted set, score = due in ms since the epoch) due by
    `now_ms`, at most `batch`, each yielded once this worker has claimed it by removing it (another
    worker removed those it skips). One at a time, so a pass that fails part way loses at most the
    member it was on."""
    raw: list[Any] = r.zrangebyscore(queue, "-inf", now_ms, start=0, num=batch)
    for member in (text(m) for m in raw):
        if r.zrem(queue, member):
            yield member
