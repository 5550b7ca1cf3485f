"""Helpers for the alerting service tests: readings stored through the ingest store, manual
observations and plans written as the API writes them, and views of what the worker saved."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from api import keys
from api.alert_store import SyncAlertStore
from api.contract import datetime_ms, validate_reading
from api.resources import keys as rkeys
from api.settings import ApiSettings
from api.store import Checked, Outcome, ReadingStore
from api.worker import EvaluationWorker
from tests.api.factories import DEVICE, TOPIC, encode, payload

_seq = iter(range(10_000_000))


def settings(redis_url: str, name: str = "worker-0") -> ApiSettings:
    return ApiSettings(
        redis_url=redis_url, mqtt_url="mqtt://127.0.0.1:9", api_tokens="t" * 20, worker_name=name
    )


class Clock:
    """A clock the test moves by hand (the evaluation and delivery workers and the scheduler read it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def worker(redis_url: str, clock: Callable[[], datetime], name: str = "worker-0") -> EvaluationWorker:
    return EvaluationWorker(settings(redis_url, name), clock=clock, run_scheduler=False)


def store(r: redis.Redis, **kw: Any) -> dict[str, Any]:
    """Store one reading as MQTT ingest would (api/store.py); returns its payload."""
    p = payload(seq=next(_seq), **kw)
    raw = encode(p)
    [outcome] = ReadingStore(r, retention_ms=30 * 24 * 3_600_000).store_batch(
        [Checked(TOPIC, raw, validate_reading(TOPIC, raw))]
    )
    assert outcome is Outcome.STORED
    return p


def manual(r: redis.Redis, pid: str, parameter: str, value: float | str, measured_at: datetime) -> None:
    """A manual observation, with the fields api/resources/observations.py `record` writes."""
    v = repr(float(value)) if not isinstance(value, str) else value
    fields = {"pm": parameter, "v": v, "m": str(datetime_ms(measured_at)), "by": "nurse-t"}
    r.xadd(rkeys.manual(pid), fields)  # type: ignore[arg-type]


def set_plan(r: redis.Redis, pid: str, plan: dict[str, Any], version: int = 1) -> None:
    """A care plan record as api/careplans.py stores it."""
    record = {"patient_id": pid, "version": version, "plan": plan, "set_by": "dr-t", "reason": "test"}
    r.set(keys.care_plan(pid), json.dumps(record))


def set_ward_config(r: redis.Redis, ward: str, config: dict[str, Any]) -> None:
    """A ward alerting configuration record as api/ward_config.py stores it."""
    r.set(keys.ward_alerting(ward), json.dumps({"ward_id": ward, "version": 1, "config": config}))


def alerts(r: redis.Redis, pid: str) -> list[dict[str, Any]]:
    return SyncAlertStore(r).list_alerts(pid)


def by_rule(r: redis.Redis, pid: str) -> dict[str, dict[str, Any]]:
    """The patient's alerts by rule (only when each rule has one)."""
    found = alerts(r, pid)
    rules = {a["rule"]: a for a in found}
    assert len(rules) == len(found), [a["rule"] for a in found]
    return rules


def events(r: redis.Redis, pid: str) -> list[dict[str, str]]:
    rows = r.xrange(keys.alert_events(keys.shard_of(pid)))
    out = [{k.decode(): v.decode() for k, v in f.items()} for _, f in rows]
    return [e for e in out if e["patient_id"] == pid]


def kinds(r: redis.Redis, pid: str) -> list[str]:
    return [e["event"] for e in events(r, pid)]


def notifications(r: redis.Redis, pid: str) -> list[dict[str, Any]]:
    rows = r.xrange(keys.notifications(keys.shard_of(pid)))
    out = []
    for _, f in rows:
        note = {k.decode(): v.decode() for k, v in f.items()}
        if note["patient_id"] == pid:
            out.append(
                {
                    k: v
                    if k in {"alert_id", "patient_id", "rule", "priority", "kind", "at"}
                    else json.loads(v)
                    for k, v in note.items()
                }
            )
    return out


def summary(r: redis.Redis, pid: str) -> dict[str, Any] | None:
    raw = r.hget(keys.open_alerts(keys.shard_of(pid)), pid)
    return None if raw is None else dict(json.loads(raw))


async def until(done: Callable[[], Awaitable[bool]]) -> None:
    """Wait for a worker running in its thread to get somewhere, failing after 10 s."""
    deadline = time.monotonic() + 10
    while not await done():
        assert time.monotonic() < deadline, "the worker did not get there in 10 s"
        await asyncio.sleep(0.05)


def nothing_pending(r: redis.Redis, pid: str) -> bool:
    stream = keys.eval_stream(keys.shard_of(pid))
    return r.xpending(stream, keys.EVAL_GROUP)["pending"] == 0 and r.xlen(stream) == 0


@contextmanager
def running_worker(redis_url: str, name: str) -> Iterator[EvaluationWorker]:
    """The evaluation worker in its thread (no scheduler), stopped afterwards."""
    running = EvaluationWorker(settings(redis_url, name), run_scheduler=False, block_ms=100)
    running.start()
    try:
        yield running
    finally:
        running.stop()


async def evaluated(r: redis.Redis, pid: str) -> None:
    """Wait until the running worker has evaluated everything queued for the patient."""

    async def settled() -> bool:
        return nothing_pending(r, pid)

    await until(settled)


def at(minutes: float = 0, base: datetime | None = None) -> datetime:
    return (base or datetime(2026, 11, 30, 9, 0, tzinfo=UTC)) + timedelta(minutes=minutes)


__all__ = ["DEVICE"]
