"""Prometheus metrics for ``GET /metrics``: request latency here, pipeline counters from Redis.

The ingest and evaluation processes count into the Redis hash ``ox:metrics`` (api/keys.py),
because there may be several of them and none serves HTTP; counters that Lua scripts write in the
same atomic step as what they count sit in per-shard hashes (keys.shard_metrics: a script touches
one hash slot) and are summed here. A scrape reads those hashes and a few stream / group facts and
turns them into metric families; the field naming rule below means a new counter written by any
process appears without a change here:

- ``name``          -> ``oxiward_<name>_total``
- ``name:label``    -> ``oxiward_<name>_total{<label name>="label"}``, label name from _LABELS
  (``dead_letter:<reason>``, ``delivery_failed:<channel>``, ``alerts_raised:<priority>``,
  ``alerts_upgraded:<priority>``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api import keys
from api.registry import text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Field prefix in ox:metrics -> (metric name, label name).
_LABELS = {
    "dead_letter": ("dead_letters", "reason"),
    "delivery_failed": ("delivery_failures", "channel"),
    "alerts_raised": ("alerts_raised", "priority"),
    "alerts_upgraded": ("alerts_upgraded", "priority"),
}
_PLAIN = {"received": "readings_received", "stored": "readings_stored", "duplicates": "readings_duplicate"}
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


class HttpMetrics:
    """Per-process metrics: request latency by route template, and the process itself."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.latency = Histogram(
            "oxiward_http_request_duration_seconds",
            "Time to answer a request, by route template (never the raw path: it holds ids).",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)


@dataclass(slots=True)
class Snapshot:
    redis_up: bool = True
    counters: dict[str, int] = field(default_factory=dict)
    dead_letter_length: int = 0
    lag: dict[int, int] = field(default_factory=dict)
    pending: dict[int, int] = field(default_factory=dict)
    open_by_priority: Counter[str] = field(default_factory=Counter)


async def snapshot(r: Redis) -> Snapshot:
    try:
        async with r.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.METRICS)
            pipe.xlen(keys.DEAD_LETTER)
            for shard in range(keys.SHARDS):
                pipe.xinfo_groups(keys.eval_stream(shard))
            for shard in range(keys.SHARDS):
                pipe.hvals(keys.open_alerts(shard))
            for shard in range(keys.SHARDS):
                pipe.hgetall(keys.shard_metrics(shard))
            replies: list[Any] = await pipe.execute(raise_on_error=False)
    except (RedisError, OSError):
        return Snapshot(redis_up=False)
    snap = Snapshot()
    counters: Counter[str] = Counter()
    for counted in [replies[0], *replies[2 + 2 * keys.SHARDS :]]:
        if isinstance(counted, dict):
            counters.update({text(k): int(v) for k, v in counted.items()})
    snap.counters = dict(counters)
    snap.dead_letter_length = replies[1] if isinstance(replies[1], int) else 0
    for shard, groups in enumerate(replies[2 : 2 + keys.SHARDS]):
        for group in groups if isinstance(groups, list) else []:
            if text(group.get("name", "")) == keys.EVAL_GROUP:
                snap.lag[shard] = int(group.get("lag") or 0)
                snap.pending[shard] = int(group.get("pending") or 0)
    for values in replies[2 + keys.SHARDS : 2 + 2 * keys.SHARDS]:
        for raw in values if isinstance(values, list) else []:
            snap.open_by_priority[str(json.loads(raw).get("priority", "unknown"))] += 1
    return snap


def _counter_families(counters: dict[str, int]) -> Iterator[Metric]:
    labelled: dict[str, CounterMetricFamily] = {}
    for name, value in sorted(counters.items()):
        base, _, label = name.partition(":")
        if label:
            metric, label_name = _LABELS.get(base, (base, "kind"))
            full = "oxiward_" + _UNSAFE.sub("_", metric)
            if full not in labelled:
                labelled[full] = CounterMetricFamily(
                    full, f"ox:metrics {base}:<{label_name}>", labels=[label_name]
                )
            labelled[full].add_metric([label], value)
        else:
            metric = _PLAIN.get(base, base)
            yield CounterMetricFamily(
                "oxiward_" + _UNSAFE.sub("_", metric), f"ox:metrics {base}", value=value
            )
    yield from labelled.values()


class SnapshotCollector(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self.snap
        yield GaugeMetricFamily("oxiward_redis_up", "1 if Redis answered this scrape", value=int(s.redis_up))
        if not s.redis_up:
            return
        yield from _counter_families(s.counters)
        yield GaugeMetricFamily(
            "oxiward_dead_letter_length", "entries in the dead-letter stream", value=s.dead_letter_length
        )
        lag = GaugeMetricFamily(
            "oxiward_eval_consumer_lag", "evaluation entries not yet read, by shard", labels=["shard"]
        )
        pending = GaugeMetricFamily(
            "oxiward_eval_pending", "evaluation entries read, not acknowledged", labels=["shard"]
        )
        for shard in sorted(s.lag):
            lag.add_metric([str(shard)], s.lag[shard])
            pending.add_metric([str(shard)], s.pending[shard])
        yield lag
        yield pending
        worst = GaugeMetricFamily(
            "oxiward_patients_with_open_alert",
            "patients by the priority of their worst open alert",
            labels=["priority"],
        )
        for priority in ("high", "medium", "low", "advisory"):
            worst.add_metric([priority], s.open_by_priority.get(priority, 0))
        yield worst


def render(http: HttpMetrics, snap: Snapshot) -> bytes:
    pipeline = CollectorRegistry()
    pipeline.register(SnapshotCollector(snap))
    return generate_latest(http.registry) + generate_latest(pipeline)
