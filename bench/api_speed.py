"""REST read speed: one patient's last 24 h at 1 Hz downsampled for a chart, and a 500-patient ward queue.

Targets (issue 5, acceptance 6): the chart under 100 ms, the ward queue under 50 ms, on this machine.
A benchmark, not a test: it prints the figures.

    .venv/bin/python -m bench.api_speed [--repeat 30] [--patients 500]

Starts a private Redis and the service with the uvicorn CLI (its own process, as deployed), seeds:
- one patient with 86,400 readings, one per second over the last 24 h, written straight into the
  history stream in the stored format (api/reading_codec.py), 1 in 50 flagged probe-off;
- a ward of N patients, each with one reading stored through the ingest store and evaluated by the
  real worker (about one in five is red or amber, so the queue has open alerts to order),
then times GETs over one keep-alive HTTP connection and prints min / median / p95 / max.

The chart is served from per-minute aggregates folded incrementally from the history
(api/downsample.py). The first request after the seeding folds all 86,400 readings: that cold
figure is printed separately. In steady state each request folds only what arrived since the last
one (here: up to a minute of new 1 Hz readings is simulated before each timed request).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis

from api import keys
from api.contract import ValidReading, validate_reading
from api.reading_codec import to_fields
from api.settings import ApiSettings
from api.store import Checked, ReadingStore
from api.worker import EvaluationWorker
from tests.api import factories
from tests.services import RedisServer, free_port, wait_for_port

TOKEN = "bench-token-" + "0" * 24
CHART_TARGET_MS = 100.0
QUEUE_TARGET_MS = 50.0
PATIENT = "p-bench-chart"
DEVICE = "C0:FF:EE:BE:00:01"


def _reading(measured_ms: int, i: int) -> ValidReading:
    probe_off = i % 50 == 7
    return ValidReading(
        reading_id=f"{i:032x}",
        measured_ms=measured_ms,
        received_ms=measured_ms + 40,
        mode="continuous",
        spo2=40.0 if probe_off else 92.0 + (i * 7) % 7,
        pulse=60.0 + (i * 13) % 40,
        perfusion_index=None,
        measurement_status=None,
        device_sensor_status=(1 << 11) if probe_off else None,
        device_clock_not_set=False,
        gateway_id="gw-bench",
        device_address=DEVICE,
        protocol="plx-continuous",
        model="PLX-EMU",
        frame=None,
    )


def seed_day(r: redis.Redis, end: datetime, extra_s: int = 0) -> int:
    """86,400 readings at 1 Hz ending at `end`, stored with entry id = measured + 100 ms."""
    end_ms = int(end.timestamp() * 1000)
    start_ms = end_ms - 86_400_000
    pipe = r.pipeline(transaction=False)
    n = 86_400 + extra_s
    for i in range(n):
        m = start_ms + i * 1000
        pipe.xadd(keys.readings(PATIENT), dict[Any, Any](to_fields(_reading(m, i))), id=f"{m + 100}-0")
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    return n


def seed_ward(redis_url: str, patients: int) -> None:
    client = redis.Redis.from_url(redis_url)
    now = datetime.now(UTC)
    for i in range(patients):
        factories.enrol(
            client, f"p-ward-{i:04d}", "north-1", f"C0:FF:EE:{i // 256:02X}:{i % 256:02X}:AA", f"Bed {i}"
        )
    store = ReadingStore(client, retention_ms=14 * 86_400_000)
    batch = []
    for i in range(patients):
        spo2 = [91.0, 93.0, 97.0, 98.0, 96.0][i % 5]
        payload = factories.payload(
            spo2=spo2,
            device=f"C0:FF:EE:{i // 256:02X}:{i % 256:02X}:AA",
            measured_at=now - timedelta(seconds=i),
            seq=i,
        )
        raw = factories.encode(payload)
        batch.append(Checked(factories.TOPIC, raw, validate_reading(factories.TOPIC, raw)))
    store.store_batch(batch)
    settings = ApiSettings(redis_url=redis_url, mqtt_url="mqtt://127.0.0.1:1", api_tokens=TOKEN)  # type: ignore[arg-type]
    EvaluationWorker(settings, client=client).run_once()
    client.close()


def timed(
    call: Callable[[], httpx.Response], repeat: int, before: Callable[[], None] | None = None
) -> list[float]:
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        response = call()
        out.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return out


def report(name: str, ms: list[float], target: float) -> None:
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) >= 20 else max(ms)
    verdict = "OK" if statistics.median(ms) < target else "OVER TARGET"
    print(
        f"{name:<46} min {min(ms):7.1f}  median {statistics.median(ms):7.1f}  p95 {p95:7.1f}  "
        f"max {max(ms):7.1f} ms   (target < {target:.0f} ms: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--patients", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = RedisServer(name="redis", workdir=Path(tmp), appendonly=False)
        store.start()
        port = free_port()
        env = {
            **os.environ,
            "OXIWARD_API_REDIS_URL": store.url,
            "OXIWARD_API_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
            "OXIWARD_API_API_TOKENS": TOKEN,
            "OXIWARD_API_RUN_INGEST": "false",
            "OXIWARD_API_RUN_WORKER": "false",
            "OXIWARD_API_RATE_LIMIT_PER_S": "1000000",
            "OXIWARD_API_RATE_LIMIT_BURST": "1000000",
        }
        cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port)]
        cmd += ["--log-level", "warning", "--no-access-log"]
        server = subprocess.Popen(cmd, env=env)
        try:
            run(store.url, port, args.repeat, args.patients)
        finally:
            server.terminate()
            server.wait(15)
            store.stop()


def run(redis_url: str, port: int, repeat: int, patients: int) -> None:
    r = redis.Redis.from_url(redis_url)
    wait_for_port(port, timeout=60)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    factories.enrol(r, PATIENT, "chart-ward", DEVICE, "Bed 1")
    n = seed_day(r, now)
    print(f"seeded {n:,} readings for one patient in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    seed_ward(redis_url, patients)
    print(f"seeded and evaluated a ward of {patients} patients in {time.perf_counter() - t0:.1f} s")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # From the first seeded reading to "now" (the server's clock, which moved on while seeding).
    start = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    chart_url = f"/v1/patients/{PATIENT}/readings/series?from={start}"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        t0 = time.perf_counter()
        first = client.get(chart_url)
        cold = (time.perf_counter() - t0) * 1000
        first.raise_for_status()
        body = first.json()
        counted = sum(b["readings"] for b in body["buckets"])
        print(f"chart: {len(body['buckets'])} one-minute buckets covering {counted:,} readings")
        print(f"{'chart, first request (folds all 86,400)':<46} {cold:7.1f} ms   (one-off after seeding)")
        tick = [now]

        def one_more_minute() -> None:
            """60 new 1 Hz readings arrive between two chart requests (a chart refreshed each minute)."""
            tick[0] += timedelta(minutes=1)
            end_ms = int(tick[0].timestamp() * 1000)
            pipe = r.pipeline(transaction=False)
            for i in range(60):
                m = end_ms - (59 - i) * 1000
                pipe.xadd(
                    keys.readings(PATIENT),
                    dict[Any, Any](to_fields(_reading(m, 10**6 + m // 1000))),
                    id=f"{m + 100}-0",
                )
            pipe.execute()

        report(
            "chart, 24 h, steady state (+60 new readings)",
            timed(lambda: client.get(chart_url), repeat, one_more_minute),
            CHART_TARGET_MS,
        )
        report("chart, 24 h, nothing new", timed(lambda: client.get(chart_url), repeat), CHART_TARGET_MS)
        baseline = timed(lambda: client.get("/v1/wards/north-1"), repeat)
        report("for scale: GET /v1/wards/{id} (auth + audit only)", baseline, QUEUE_TARGET_MS)
        queue = client.get("/v1/wards/north-1/queue").json()
        alerting = sum(1 for item in queue["items"] if item["worst_alert"] is not None)
        print(f"ward queue: {len(queue['items'])} patients, {alerting} with open alerts")
        report(
            f"ward queue, {patients} patients",
            timed(lambda: client.get("/v1/wards/north-1/queue"), repeat),
            QUEUE_TARGET_MS,
        )
    r.close()


if __name__ == "__main__":
    main()
