"""REST read speed: one patient's last 24 h at 1 Hz downsampled for a chart, and a 500-patient ward queue.

Targets (issue 5, acceptance 6): the chart under 100 ms, the ward queue under 50 ms, on this machine.
A benchmark, not a test: it prints the figures.

    .venv/bin/python -m bench.api_speed [--repeat 30] [--patients 500] [--restarts 5]

Starts a private Redis and seeds, through the ingest store the MQTT ingest uses (api/store.py, so
the ingest script keeps the chart's per-minute aggregates as it would in service):
- a ward of N patients, each with one reading, evaluated by the real worker (about one in five is
  red or amber, so the queue has open alerts to order);
- two patients with 86,400 readings each, one per second over the last 24 h, 1 in 50 probe-off.
Then, `--restarts` times: the Redis script cache is flushed, the service is started with the uvicorn
CLI (its own process, as deployed) and the first chart request is timed -- the cold figure: a
process that has cached nothing, a new connection, the script sent to Redis again. On the last
start it goes on to time, over one keep-alive HTTP connection, the first chart of the other patient,
charts refreshed while readings arrive, charts with nothing new, and the ward queue, printing
min / median / p95 / max. A target is met when every cold figure and the p95 are under it.
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

import httpx
import redis

from api.contract import ValidReading, validate_reading
from api.settings import ApiSettings
from api.store import Checked, ReadingStore
from api.worker import EvaluationWorker
from tests.api import factories
from tests.services import RedisServer, free_port, wait_for_port

TOKEN = "bench-token-" + "0" * 24
CHART_TARGET_MS = 100.0
QUEUE_TARGET_MS = 50.0
RETENTION_MS = 14 * 86_400_000
PATIENTS = ("p-bench-chart", "p-bench-other")
DEVICES = ("C0:FF:EE:BE:00:01", "C0:FF:EE:BE:00:02")


def _reading(device: str, measured_ms: int, i: int) -> ValidReading:
    probe_off = i % 50 == 7
    return ValidReading(
        reading_id=f"{device[-2:]}{i:030x}",
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
        device_address=device,
        protocol="plx-continuous",
        model="PLX-EMU",
        frame=None,
    )


def store_readings(store: ReadingStore, device: str, measured: range, first_i: int) -> None:
    """Through the ingest store, 1,000 a batch (as MQTT ingest batches them)."""
    ms = list(measured)
    for at in range(0, len(ms), 1000):
        chunk = ms[at : at + 1000]
        batch = [Checked("", b"", _reading(device, m, first_i + at + j)) for j, m in enumerate(chunk)]
        store.store_batch(batch)


def seed_day(store: ReadingStore, device: str, end: datetime) -> int:
    """86,400 readings at 1 Hz measured over the day ending at `end`."""
    end_ms = int(end.timestamp() * 1000)
    store_readings(store, device, range(end_ms - 86_400_000, end_ms, 1000), 0)
    return 86_400


def seed_ward(redis_url: str, patients: int) -> None:
    client = redis.Redis.from_url(redis_url)
    now = datetime.now(UTC)
    for i in range(patients):
        factories.enrol(
            client, f"p-ward-{i:04d}", "north-1", f"C0:FF:EE:{i // 256:02X}:{i % 256:02X}:AA", f"Bed {i}"
        )
    store = ReadingStore(client, retention_ms=RETENTION_MS)
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


def report(name: str, ms: list[float], target: float | None) -> None:
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) >= 20 else max(ms)
    verdict = ""
    if target is not None:
        verdict = f"   (target < {target:.0f} ms at p95: {'OK' if p95 < target else 'OVER TARGET'})"
    print(
        f"{name:<46} min {min(ms):7.1f}  median {statistics.median(ms):7.1f}  p95 {p95:7.1f}  "
        f"max {max(ms):7.1f} ms{verdict}"
    )


class Service:
    """`uvicorn api.main:create_app` in its own process, started and stopped at will."""

    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "OXIWARD_API_REDIS_URL": redis_url,
            "OXIWARD_API_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
            "OXIWARD_API_API_TOKENS": TOKEN,
            "OXIWARD_API_RUN_INGEST": "false",
            "OXIWARD_API_RUN_WORKER": "false",
            "OXIWARD_API_RATE_LIMIT_PER_S": "1000000",
            "OXIWARD_API_RATE_LIMIT_BURST": "1000000",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(self.port)]
        self.process = subprocess.Popen([*cmd, "--log-level", "warning", "--no-access-log"], env=self.env)
        wait_for_port(self.port, timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--restarts", type=int, default=5, help="cold starts of the service, each timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = RedisServer(name="redis", workdir=Path(tmp), appendonly=False)
        store.start()
        service = Service(store.url)
        try:
            run(store.url, service, args.repeat, args.patients, max(1, args.restarts))
        finally:
            service.stop()
            store.stop()


def chart_url(patient: str, now: datetime) -> str:
    start = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    return f"/v1/patients/{patient}/readings/series?from={start}"


def run(redis_url: str, service: Service, repeat: int, patients: int, restarts: int) -> None:
    r = redis.Redis.from_url(redis_url)
    t0 = time.perf_counter()
    seed_ward(redis_url, patients)
    print(f"seeded and evaluated a ward of {patients} patients in {time.perf_counter() - t0:.1f} s")
    now = datetime.now(UTC)
    ingest = ReadingStore(r, retention_ms=RETENTION_MS)
    for patient, device in zip(PATIENTS, DEVICES, strict=True):
        factories.enrol(r, patient, "chart-ward", device, "Bed 1")
        t0 = time.perf_counter()
        n = seed_day(ingest, device, now)
        took = time.perf_counter() - t0
        print(f"stored {n:,} readings for {patient} through the ingest store in {took:.1f} s")
    url, other_url = chart_url(PATIENTS[0], now), chart_url(PATIENTS[1], now)
    cold = []
    for _ in range(restarts):
        service.stop()
        r.script_flush()
        service.start()
        with service.client() as client:
            t0 = time.perf_counter()
            first = client.get(url)
            cold.append((time.perf_counter() - t0) * 1000)
            first.raise_for_status()
    body = first.json()
    counted = sum(b["readings"] for b in body["buckets"])
    print(f"chart: {len(body['buckets'])} one-minute buckets covering {counted:,} readings")
    report(f"chart, cold: first request after start (x{restarts})", cold, CHART_TARGET_MS)
    with service.client() as client:
        t0 = time.perf_counter()
        client.get(other_url).raise_for_status()
        print(f"{'chart, first request for another patient':<46} {(time.perf_counter() - t0) * 1000:7.1f} ms")
        tick = [now]

        def one_more_minute() -> None:
            """60 new 1 Hz readings stored between two chart requests (a chart refreshed each minute)."""
            tick[0] += timedelta(minutes=1)
            end_ms = int(tick[0].timestamp() * 1000)
            store_readings(ingest, DEVICES[0], range(end_ms - 60_000, end_ms, 1000), 10**6 + end_ms // 1000)

        report(
            "chart, warm, +60 new readings each",
            timed(lambda: client.get(url), repeat, one_more_minute),
            CHART_TARGET_MS,
        )
        report("chart, warm, nothing new", timed(lambda: client.get(url), repeat), CHART_TARGET_MS)
        baseline = timed(lambda: client.get("/v1/wards/north-1"), repeat)
        report("for scale: GET /v1/wards/{id} (auth + audit)", baseline, None)
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
