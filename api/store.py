"""Ingest's only door into Redis (sync redis-py): store a batch of checked messages.

Per batch: one pipelined round trip looks up the device -> patient assignments not in the short
in-process cache; one pipeline then carries, for every message in order, either the ingest script
(api/lua/ingest.lua) on the patient's shard, a dead-letter XADD, or a gateway status HSET, plus the
counters; a last small pipeline adds the stored/duplicate counts. Batching is what makes Python
ingest fast: ~90 us per round trip against 15-30 us per entry inside a pipeline (docs/services.md).

Atomicity: every key the ingest script touches -- the id set, the patient's stream and chart rollup,
the shard's eval stream and latest hash -- carries the shard hash tag `{ox:sNN}` (api/keys.py), so
they live in one hash slot and the script runs as one atomic step there, on a single Redis and on
Redis Cluster. A reading is therefore either stored *and* in its chart minute *and* queued for
evaluation *and* remembered as seen, or none.

Idempotency: the contract's reading id is deterministic, so a re-sent reading (QoS 1 redelivery,
outbox replay, our own retry of a batch after Redis failed mid-way) finds its id in the set and is
counted as a duplicate, nothing else. Dead letters and counters are at-least-once: a batch retried
after a failure may add a dead letter or count a message twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from api import keys
from api.contract import GatewayStatus, Rejection, RejectReason, ValidReading, format_utc_ms
from api.reading_codec import to_fields
from api.rollup_lua import with_rollup

INGEST_LUA = with_rollup("ingest.lua")
#: Dead letters are for people to inspect; cap them so a flood of garbage cannot fill Redis.
DEAD_LETTER_MAXLEN = 1_000_000


#: Redis is away (or still loading): wait and retry. Other Redis errors are refusals of one command
#: (a wrong-type key, out of memory) and are isolated by the callers instead of retried blindly.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError)


def connect(url: str) -> redis.Redis:
    """A sync client for the ingest and worker threads.

    One immediate retry only (it replaces a pooled connection that died with a Redis restart):
    the threads run their own backoff loops, and redis-py's default retries (seconds of backoff
    per call) would make a stop() wait on a Redis that is away.
    """
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=2, retry=Retry(NoBackoff(), 1))


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead-lettered"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class Failure:
    """The service itself failed on a message (not a contract reason): dead-lettered as `reason`."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Checked:
    """One MQTT message after validation at the edge."""

    topic: str
    payload: bytes
    value: ValidReading | GatewayStatus | Rejection | Failure


def dead_letter_fields(reason: str, detail: str, topic: str, raw: bytes, at_ms: int) -> dict[Any, Any]:
    return {"reason": str(reason), "detail": detail, "topic": topic, "raw": raw, "at": format_utc_ms(at_ms)}


class ReadingStore:
    """Stores checked messages; reusable across batches, one per ingest thread."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        retention_ms: int,
        device_cache_ttl: float = 1.0,
        dead_letter_maxlen: int = DEAD_LETTER_MAXLEN,
    ) -> None:
        self._r = client
        self._retention_ms = retention_ms
        # Only assignments are cached, and only briefly: an enrolment takes effect at once, a
        # re-assignment of a device to another patient within `device_cache_ttl` seconds.
        self._cache_ttl = device_cache_ttl
        self._cache: dict[str, tuple[str, float]] = {}
        self._dl_maxlen = dead_letter_maxlen
        self._script = client.register_script(INGEST_LUA)

    def lookup_devices(self, addresses: set[str]) -> dict[str, str | None]:
        """device address -> patient id (None when assigned to no one), cached briefly."""
        now = time.monotonic()
        found: dict[str, str | None] = {}
        missing: list[str] = []
        for addr in addresses:
            hit = self._cache.get(addr)
            if hit is not None and hit[1] > now:
                found[addr] = hit[0]
            else:
                missing.append(addr)
        if missing:
            pipe = self._r.pipeline(transaction=False)
            for addr in missing:
                pipe.get(keys.device(addr))
            for addr, pid in zip(missing, pipe.execute(), strict=True):
                value = None if pid is None else (pid.decode() if isinstance(pid, bytes) else str(pid))
                found[addr] = value
                if value is not None and self._cache_ttl > 0:
                    self._cache[addr] = (value, now + self._cache_ttl)
        return found

    def store_batch(self, batch: Sequence[Checked]) -> list[Outcome]:
        """Store every message of `batch` or raise (redis errors): then nothing may be acknowledged."""
        devices = {c.value.device_address for c in batch if isinstance(c.value, ValidReading)}
        patients = self.lookup_devices(devices) if devices else {}
        now_ms = int(time.time() * 1000)
        pipe = self._r.pipeline(transaction=False)
        kinds: list[Outcome] = []
        readings = statuses = 0
        dead: dict[str, int] = {}
        v: ValidReading | GatewayStatus | Rejection | Failure
        for c in batch:
            v = c.value
            if isinstance(v, GatewayStatus):
                self._queue_status(pipe, v, now_ms)
                kinds.append(Outcome.STATUS)
                statuses += 1
                continue
            readings += 1
            if isinstance(v, ValidReading):
                pid = patients.get(v.device_address)
                if pid is not None:
                    self._queue_reading(pipe, v, pid)
                    kinds.append(Outcome.STORED)
                    continue
                detail = f"device {v.device_address} is assigned to no patient"
                v = Rejection(RejectReason.UNKNOWN_DEVICE, detail)
            self._queue_dead_letter(pipe, v.reason, v.detail, c.topic, c.payload, now_ms)
            kinds.append(Outcome.DEAD_LETTERED)
            dead[v.reason] = dead.get(v.reason, 0) + 1
        if readings:
            pipe.hincrby(keys.METRICS, "received", readings)
        if statuses:
            pipe.hincrby(keys.METRICS, "status", statuses)
        for reason, n in dead.items():
            pipe.hincrby(keys.METRICS, f"dead_letter:{reason}", n)
        results = pipe.execute()
        outcomes = [
            Outcome.DUPLICATE if kind is Outcome.STORED and result is None else kind
            for kind, result in zip(kinds, results, strict=False)
        ]
        self._count(outcomes)
        return outcomes

    def dead_letter(self, reason: str, detail: str, topic: str, raw: bytes) -> None:
        """A single dead letter outside a batch (e.g. a message that made processing fail)."""
        pipe = self._r.pipeline(transaction=False)
        self._queue_dead_letter(pipe, reason, detail, topic, raw, int(time.time() * 1000))
        pipe.hincrby(keys.METRICS, f"dead_letter:{reason}", 1)
        pipe.execute()

    def _count(self, outcomes: list[Outcome]) -> None:
        stored = outcomes.count(Outcome.STORED)
        duplicates = outcomes.count(Outcome.DUPLICATE)
        if stored or duplicates:
            pipe = self._r.pipeline(transaction=False)
            if stored:
                pipe.hincrby(keys.METRICS, "stored", stored)
            if duplicates:
                pipe.hincrby(keys.METRICS, "duplicates", duplicates)
            pipe.execute()

    def _queue_reading(self, pipe: Any, reading: ValidReading, patient_id: str) -> None:
        shard = keys.shard_of(patient_id)
        args: list[str | int] = [reading.reading_id, self._retention_ms, patient_id, reading.measured_ms]
        for name, value in to_fields(reading).items():
            args += (name, value)
        self._script(
            keys=[
                keys.reading_ids(patient_id),
                keys.readings(patient_id),
                keys.eval_stream(shard),
                keys.latest(shard),
                keys.rollup(patient_id),
            ],
            args=args,
            client=pipe,
        )

    def _queue_dead_letter(
        self, pipe: Any, reason: str, detail: str, topic: str, raw: bytes, now_ms: int
    ) -> None:
        pipe.xadd(
            keys.DEAD_LETTER,
            dead_letter_fields(reason, detail, topic, raw, now_ms),
            maxlen=self._dl_maxlen,
            approximate=True,
        )

    @staticmethod
    def _queue_status(pipe: Any, s: GatewayStatus, now_ms: int) -> None:
        # Every field is written (empty when absent) so no field of an older status survives.
        pipe.hset(
            keys.gateway_status(s.gateway_id),
            mapping={
                "state": s.state,
                "at": "" if s.at_ms is None else format_utc_ms(s.at_ms),
                "reason": s.reason or "",
                "outbox_depth": "" if s.outbox_depth is None else str(s.outbox_depth),
                "devices": s.devices_json or "",
                "received_at": format_utc_ms(now_ms),
            },
        )
