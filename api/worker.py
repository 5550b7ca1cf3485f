"""Evaluation worker: shard eval streams -> alerting.rules -> alert lifecycle, one atomic save each.

An adapter around the pure rules: it reads the clock and passes it in. Per batch of stream entries
it reads the context of the patients concerned (one round trip, api/patient_context.py: open
alerts, care plan, manual observations, continuous-mode state, discharge), evaluates the entries in
stream order (api/evaluation.py: each patient's readings in order, each one seeing the state the
previous one left; an entry queued by a recorded manual observation scores NEWS2 with the patient's
latest reading), then runs one `save` per entry (one pipelined round trip): the alert changes, their
events and notifications, the open summary, the alerting state, XACK and XDEL, atomically in the
patient's slot (api/lua/alerts.lua). Alert state is therefore saved before -- in the same step
as -- the entry is acknowledged. Each save carries what it read; if a clinician (REST), the
scheduler or another worker changed it meanwhile the save does nothing and answers `conflict`, and
that entry is evaluated again against the new state. So a restart or a second worker never loses
nor doubles an alert: an entry is either fully applied and acknowledged, or still pending and
evaluated again.

The time-based rules (escalation, missed readings, technical alerts) run in the scheduler thread
(api/scheduler.py) this worker starts beside its own, not on readings.

Consumer group keys.EVAL_GROUP; this worker first re-reads its own pending entries (id 0), then new
ones (`>`), and every CLAIM_EVERY_S claims entries idle longer than claim_idle_ms from consumers that
died. An entry (reading or observation) whose evaluation raises is dead-lettered ("evaluation-failed")
AND raises a low priority technical alert (rule "evaluation-failed") for the patient, then is
acknowledged: failure is never silent, and one bad entry cannot stop the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from alerting.rules import FAILED_RULE
from api import keys
from api.alert_engine import Change
from api.alert_store import SyncAlertStore, text
from api.contract import format_utc_ms
from api.delivery_loop import ensure_group
from api.eval_support import MAX_CONFLICT_RETRIES, Entry, FailurePath, WorkerStats, ack, entries_of
from api.evaluation import evaluate_entry, evaluate_observation_entry, is_observation_entry, observation
from api.patient_context import WardConfigs, latest_readings, load_many
from api.reading_codec import decode_fields
from api.scheduler import DEFAULT_INTERVAL_S, AlertScheduler
from api.settings import ApiSettings
from api.store import TRANSIENT, connect

log = logging.getLogger(__name__)

__all__ = ["FAILED_RULE", "EvaluationWorker", "WorkerStats", "heartbeat_key", "observation"]

HEARTBEAT_PREFIX = "ox:worker:"
CLAIM_EVERY_S = 30.0


def heartbeat_key(name: str) -> str:
    return f"{HEARTBEAT_PREFIX}{name}"


class EvaluationWorker:
    """Run with start()/stop(), or call run_once() to drain deterministically (tests)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        client: redis.Redis | None = None,
        clock: Callable[[], datetime] | None = None,
        claim_idle_ms: int = 60_000,
        batch_size: int = 200,
        block_ms: int = 1000,
        heartbeat_ttl_ms: int = 10_000,
        run_scheduler: bool = True,
        scheduler_interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.name = settings.worker_name
        self._r = client or connect(settings.redis_url)
        self._alerts = SyncAlertStore(self._r)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._configs = WardConfigs()
        self._claim_idle_ms = claim_idle_ms
        self._batch = batch_size
        self._block_ms = block_ms
        self._hb_ttl = heartbeat_ttl_ms
        self._streams = [keys.eval_stream(s) for s in range(keys.SHARDS)]
        self._cursor = dict.fromkeys(self._streams, "0")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis_down = False
        self.stats = WorkerStats()
        self._failures = FailurePath(self._r, self._alerts, self._configs, self._clock, self._count)
        self.scheduler = (
            AlertScheduler(settings, client=self._r, clock=self._clock, interval_s=scheduler_interval_s)
            if run_scheduler
            else None
        )

    # -- lifecycle ----------------------------------------------------------------------------
    def ensure_groups(self) -> None:
        for stream in self._streams:
            ensure_group(self._r, stream, keys.EVAL_GROUP, "0")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"eval-{self.name}", daemon=True)
        self._thread.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def redis_ok(self) -> bool:
        """False from the worker's first failed Redis call until one succeeds again."""
        return not self._redis_down

    def _run(self) -> None:
        backoff = 0.1
        last_claim = last_beat = 0.0
        groups_ready = False
        while not self._stop.is_set():
            try:
                if not groups_ready:
                    self.ensure_groups()
                    groups_ready = True
                if time.monotonic() - last_beat > 1.0:
                    self.heartbeat()
                    last_beat = time.monotonic()
                if time.monotonic() - last_claim > CLAIM_EVERY_S:
                    self.claim_stale()
                    last_claim = time.monotonic()
                self._step(block=True)
                if self._redis_down:
                    log.info("redis reachable again; evaluation resumes")
                    self._redis_down = False
                backoff = 0.1
            except redis.RedisError as exc:
                groups_ready = False  # a Redis restarted without persistence lost the groups: NOGROUP
                if not self._redis_down:
                    log.warning("redis unavailable (%s); evaluation waits and retries", type(exc).__name__)
                    self._redis_down = True
                self._cursor = dict.fromkeys(self._streams, "0")  # re-read what is pending
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # a bug outside one entry's evaluation: keep the thread alive
                log.error("evaluation loop failed (%s); retrying", type(exc).__name__)
                log.debug("evaluation loop failure", exc_info=exc)
                self._cursor = dict.fromkeys(self._streams, "0")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def heartbeat(self) -> None:
        self._r.psetex(heartbeat_key(self.name), self._hb_ttl, format_utc_ms(int(time.time() * 1000)))

    # -- reading the streams ------------------------------------------------------------------
    def run_once(self) -> int:
        """Evaluate everything pending and everything new, without blocking; return the count."""
        self.ensure_groups()
        self._cursor = dict.fromkeys(self._streams, "0")
        total = 0
        while True:
            reading_new = all(c == ">" for c in self._cursor.values())
            n = self._step(block=False)
            total += n
            if n == 0 and reading_new:
                return total

    def _step(self, *, block: bool) -> int:
        history = any(c != ">" for c in self._cursor.values())
        reply = self._r.xreadgroup(
            keys.EVAL_GROUP,
            self.name,
            dict[Any, Any](self._cursor),
            count=self._batch,
            block=None if (history or not block) else self._block_ms,
        )
        entries = entries_of(reply)
        if history:
            seen = {e.stream for e in entries}
            for stream, cursor in self._cursor.items():
                if cursor != ">" and stream not in seen:
                    self._cursor[stream] = ">"  # own pending list read to the end
            for e in entries:
                if self._cursor[e.stream] != ">":
                    self._cursor[e.stream] = e.entry_id
        if entries:
            self.process(entries)
        return len(entries)

    def claim_stale(self) -> int:
        """Take over entries idle longer than claim_idle_ms (their consumer died) and evaluate them."""
        claimed = 0
        for stream in self._streams:
            start = "0-0"
            while True:
                reply = self._r.xautoclaim(
                    stream, keys.EVAL_GROUP, self.name, self._claim_idle_ms, start, count=self._batch
                )
                start, rows = text(reply[0]), reply[1]
                for gone in reply[2] if len(reply) > 2 else []:
                    self._r.xack(stream, keys.EVAL_GROUP, gone)
                entries = [Entry(stream, text(i), None if not f else decode_fields(f)) for i, f in rows]
                if entries:
                    self.process(entries)
                    claimed += len(entries)
                if start == "0-0":
                    break
        self.stats.claimed += claimed
        return claimed

    # -- evaluation ---------------------------------------------------------------------------
    def process(self, entries: list[Entry]) -> None:
        """Evaluate `entries` in order and settle each one (see module docstring)."""
        pending: list[tuple[Entry, str]] = []
        for e in entries:
            pid = None if e.fields is None else e.fields.get("pt")
            if e.fields is None:  # deleted while pending: nothing left to evaluate
                self._ack(e)
            elif pid is None:
                self._fail(e, None, ValueError("eval entry without a patient id"))
            else:
                pending.append((e, pid))
        for _ in range(MAX_CONFLICT_RETRIES):
            if not pending:
                return
            pending = self._evaluate_batch(pending)
            self.stats.conflicts += len(pending)
        # Still contended after every retry: stays pending, evaluated on a later pass.
        log.warning("%d entries left pending: their alert state kept changing", len(pending))

    def _evaluate_batch(self, batch: list[tuple[Entry, str]]) -> list[tuple[Entry, str]]:
        """One read + one save round trip; returns the entries that met a conflict."""
        contexts = load_many(self._r, self._alerts, [pid for _, pid in batch], self._configs)
        observed = [pid for e, pid in batch if e.fields is not None and is_observation_entry(e.fields)]
        latest = latest_readings(self._r, observed)
        now = self._clock()
        changes: list[Change] = []
        stepped: list[tuple[Entry, str]] = []
        failed: list[tuple[Entry, str, Exception]] = []
        for e, pid in batch:
            assert e.fields is not None
            ctx = contexts[pid]
            try:
                if isinstance(ctx, Exception):  # Redis refused to read this patient's state
                    raise ctx
                if is_observation_entry(e.fields):  # a manual observation: no reading to store
                    reading = latest[pid]
                    if isinstance(reading, Exception):
                        raise reading
                    change = evaluate_observation_entry(ctx, e.entry_id, e.fields, reading, now)
                else:
                    change = evaluate_entry(ctx, e.entry_id, e.fields, now)
            except TRANSIENT:
                raise
            except Exception as exc:  # one bad entry must not stop the others
                failed.append((e, pid, exc))
                continue
            changes.append(change)
            stepped.append((e, pid))
        retry: list[tuple[Entry, str]] = []
        results = self._alerts.save_many(changes) if changes else []
        for (e, pid), change, result in zip(stepped, changes, results, strict=True):
            if isinstance(result, TRANSIENT):
                raise result
            if isinstance(result, Exception):
                failed.append((e, pid, result))
            elif result == "conflict":
                retry.append((e, pid))
            elif result == "ok":
                self.stats.evaluated += 1
                self._count(change)
        # After the batch's saves, so each failure alert is built on what is stored now.
        for e, pid, problem in failed:
            self._fail(e, pid, problem)
        return retry

    def _count(self, change: Change) -> None:
        self.stats.count(change)
        self.stats.raised += change.kinds.count("raised")
        self.stats.upgraded += change.kinds.count("upgraded")

    def _ack(self, e: Entry) -> None:
        ack(self._r, e)

    def _fail(self, e: Entry, pid: str | None, exc: Exception) -> None:
        """Dead-letter the entry, raise a technical alert for the patient, acknowledge the entry."""
        self.stats.failed += 1
        self._failures.fail(e, pid, exc)
