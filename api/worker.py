"""Evaluation worker: shard eval streams -> alerting.evaluate -> alert changes, one atomic step each.

An adapter around the pure rules: it reads the clock and passes it in. Per batch of stream entries
it reads the open alerts of the patients concerned (one round trip), evaluates in order, then runs
one `apply` step per entry (one pipelined round trip): the alert change, its event, the open
summary, XACK and XDEL, atomically in the patient's slot (api/lua/alerts.lua). Each step carries the
open alert as it was read; if a clinician (REST) or another worker changed it meanwhile the step
does nothing and answers `conflict`, and that entry is evaluated again against the new state.
So a restart or a second worker never loses nor doubles an alert: an entry is either fully applied
and acknowledged, or still pending and evaluated again.

Consumer group keys.EVAL_GROUP; this worker first re-reads its own pending entries (id 0), then new
ones (`>`), and every CLAIM_EVERY_S claims entries idle longer than claim_idle_ms from consumers that
died. A reading whose evaluation raises is dead-lettered ("evaluation-failed") AND raises a low
priority technical alert (rule "evaluation-failed") for the patient, then is acknowledged:
failure is never silent, and one bad entry cannot stop the worker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from alerting.evaluate import DEFAULT_LATE_AFTER, RULE, Action, Decision, evaluate
from alerting.model import Mode, Observation, Priority
from api import keys
from api.alert_store import Apply, Cause, SyncAlertStore, encode, new_alert, snapshot, upgraded
from api.contract import format_utc_ms
from api.reading_codec import decode_fields, from_fields
from api.settings import ApiSettings
from api.store import DEAD_LETTER_MAXLEN, TRANSIENT, connect, dead_letter_fields

log = logging.getLogger(__name__)

FAILED_RULE = "evaluation-failed"
HEARTBEAT_PREFIX = "ox:worker:"
CLAIM_EVERY_S = 30.0
MAX_CONFLICT_RETRIES = 5
_EVENT = {Action.RAISE: "raised", Action.UPGRADE: "upgraded"}


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str
    entry_id: str
    fields: dict[str, str] | None  # None: the entry was deleted while pending


@dataclass
class WorkerStats:
    evaluated: int = 0
    raised: int = 0
    upgraded: int = 0
    failed: int = 0
    conflicts: int = 0
    claimed: int = 0


def heartbeat_key(name: str) -> str:
    return f"{HEARTBEAT_PREFIX}{name}"


def observation(fields: dict[str, str]) -> Observation:
    r = from_fields(fields)
    return Observation(
        measured_at=datetime.fromtimestamp(r.measured_ms / 1000, tz=UTC),
        spo2=r.spo2,
        pulse=r.pulse,
        mode=Mode(r.mode),
        measurement_status=r.measurement_status,
        device_sensor_status=r.device_sensor_status,
        perfusion_index=r.perfusion_index,
        device_clock_not_set=r.device_clock_not_set,
    )


def _text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _entries(reply: Any) -> list[Entry]:
    """XREADGROUP reply -> entries in order. RESP2: [[stream, rows]]; RESP3: {stream: [rows]}."""
    if isinstance(reply, dict):
        items = [(stream, wrapped[0] if wrapped else []) for stream, wrapped in reply.items()]
    else:
        items = reply or []
    out: list[Entry] = []
    for stream, rows in items:
        out += [Entry(_text(stream), _text(eid), None if not f else decode_fields(f)) for eid, f in rows]
    return out


class EvaluationWorker:
    """Run with start()/stop(), or call run_once() to drain deterministically (tests)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        client: redis.Redis | None = None,
        clock: Callable[[], datetime] | None = None,
        late_after: timedelta = DEFAULT_LATE_AFTER,
        claim_idle_ms: int = 60_000,
        batch_size: int = 200,
        block_ms: int = 1000,
        heartbeat_ttl_ms: int = 10_000,
    ) -> None:
        self.name = settings.worker_name
        self._r = client or connect(settings.redis_url)
        self._alerts = SyncAlertStore(self._r)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._late_after = late_after
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

    # -- lifecycle ----------------------------------------------------------------------------
    def ensure_groups(self) -> None:
        for stream in self._streams:
            try:
                self._r.xgroup_create(stream, keys.EVAL_GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"eval-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
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
        entries = _entries(reply)
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
                start, rows = _text(reply[0]), reply[1]
                for gone in reply[2] if len(reply) > 2 else []:
                    self._r.xack(stream, keys.EVAL_GROUP, gone)
                entries = [Entry(stream, _text(i), None if not f else decode_fields(f)) for i, f in rows]
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
        log.warning("%d entries left pending: their open alerts kept changing", len(pending))

    def _evaluate_batch(self, batch: list[tuple[Entry, str]]) -> list[tuple[Entry, str]]:
        """One read + one apply round trip; returns the entries that met a conflict."""
        pids = list(dict.fromkeys(pid for _, pid in batch))
        current = dict(zip(pids, self._alerts.get_open_many([(p, RULE) for p in pids]), strict=True))
        steps: list[Apply] = []
        stepped: list[tuple[Entry, str]] = []
        now = self._clock()
        for e, pid in batch:
            assert e.fields is not None
            raw = current[pid]
            try:
                if isinstance(raw, Exception):  # Redis refused to read this patient's alerts
                    raise raw
                decision = evaluate(
                    observation(e.fields),
                    None if raw == "" else snapshot(json.loads(raw)),
                    now,
                    late_after=self._late_after,
                )
                step = self._step_for(e, pid, raw, decision, now)
            except TRANSIENT:
                raise
            except Exception as exc:  # one bad entry must not stop the others
                self._fail(e, pid, exc)
                continue
            if step.new_alert is not None:
                current[pid] = encode(step.new_alert)
            steps.append(step)
            stepped.append((e, pid))
        retry: list[tuple[Entry, str]] = []
        results = self._alerts.apply_many(steps) if steps else []
        for (e, pid), step, result in zip(stepped, steps, results, strict=True):
            if isinstance(result, TRANSIENT):
                raise result
            if isinstance(result, Exception):
                self._fail(e, pid, result)
            elif result == "conflict":
                retry.append((e, pid))
            elif result == "ok":
                self.stats.evaluated += 1
                self.stats.raised += step.event == "raised"
                self.stats.upgraded += step.event == "upgraded"
        return retry

    def _step_for(self, e: Entry, pid: str, raw: str, d: Decision, now: datetime) -> Apply:
        assert e.fields is not None
        if d.action not in _EVENT or d.priority is None:
            return Apply(pid, RULE, e.entry_id, raw)
        spo2 = e.fields.get("s")
        cause = Cause(
            reading_id=e.fields["r"],
            spo2=None if spo2 is None else float(spo2),
            measured_at=format_utc_ms(int(e.fields["m"])),
            band=d.band,
            late=d.late,
            questionable=d.questionable,
            detail=",".join(d.quality.reasons) or None,
        )
        if d.action is Action.RAISE:
            alert = new_alert(uuid.uuid4().hex, pid, RULE, d.priority, cause, now)
        else:
            alert = upgraded(json.loads(raw), d.priority, cause, now)
        return Apply(pid, RULE, e.entry_id, raw, alert, _EVENT[d.action])

    def _ack(self, e: Entry) -> None:
        pipe = self._r.pipeline(transaction=False)
        pipe.xack(e.stream, keys.EVAL_GROUP, e.entry_id)
        pipe.xdel(e.stream, e.entry_id)
        pipe.execute()

    def _fail(self, e: Entry, pid: str | None, exc: Exception) -> None:
        """Dead-letter the entry, raise a technical alert for the patient, acknowledge the entry."""
        self.stats.failed += 1
        kind = type(exc).__name__
        log.error("evaluation of entry %s failed: %s", e.entry_id, kind)
        log.debug("evaluation failure detail", exc_info=exc)
        raw = json.dumps(e.fields or {}, separators=(",", ":")).encode("utf-8")
        pipe = self._r.pipeline(transaction=False)
        now_ms = int(time.time() * 1000)
        fields = dead_letter_fields("evaluation-failed", f"{kind}: {exc}", e.stream, raw, now_ms)
        pipe.xadd(keys.DEAD_LETTER, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        pipe.hincrby(keys.METRICS, "dead_letter:evaluation-failed", 1)
        pipe.execute()
        if pid is None or not self._raise_technical(e, pid, kind):
            self._ack(e)

    def _raise_technical(self, e: Entry, pid: str, kind: str) -> bool:
        """Open (or keep) the patient's technical alert and settle the entry; False if Redis refused."""
        for _ in range(MAX_CONFLICT_RETRIES):
            (raw_open,) = self._alerts.get_open_many([(pid, FAILED_RULE)])
            if isinstance(raw_open, TRANSIENT):
                raise raw_open
            if isinstance(raw_open, Exception):
                break
            alert = None
            if raw_open == "":  # latched: one open technical alert per patient is enough
                cause = Cause(_field(e, "r"), None, None, None, detail=kind)
                alert = new_alert(uuid.uuid4().hex, pid, FAILED_RULE, Priority.LOW, cause, self._clock())
            step = Apply(pid, FAILED_RULE, e.entry_id, raw_open, alert, "raised" if alert else "")
            [result] = self._alerts.apply_many([step])
            if isinstance(result, TRANSIENT):
                raise result
            if isinstance(result, Exception):
                break
            if result != "conflict":
                return True
        log.error("no technical alert for entry %s: its patient's alert record is unusable", e.entry_id)
        return False


def _field(e: Entry, name: str) -> str | None:
    return None if e.fields is None else e.fields.get(name)
