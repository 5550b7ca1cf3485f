"""Ingest load benchmark: many simulated gateways publish readings over MQTT at a chosen rate.

Prints, for a run of a given length: readings/s offered, stored and evaluated; p50/p99/max
latency from publish to stored and from publish to alert state; dead letters; readings lost
(must be 0) and duplicated (must be 0).

    .venv/bin/python -m bench.ingest_load --rate 1000 --duration 30

Starts its own Redis, Mosquitto and `oxiward api` (ingest + worker in one process), unless
--redis-url/--mqtt-url/--api-url/--token point at a running stack. Each simulated patient
sends green continuous readings (SpO2 96-99) and exactly one red spot-check (SpO2 90) at a random moment:
the red readings measure publish -> alert latency (the worker's alert-event entry id is the
moment the alert state was committed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import redis

from api import keys
from tests.services import MosquittoBroker, RedisServer, free_port, wait_for_port


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def partition(gateway_id: str) -> int:
    import zlib

    return zlib.crc32(gateway_id.encode()) % 16


def address(i: int) -> str:
    return "BE:" + ":".join(f"{b:02X}" for b in i.to_bytes(5, "big"))


Patient = tuple[str, str, str]  # patient id, gateway id, device address


@dataclass
class Offered:
    sent: dict[str, int] = field(default_factory=dict)  # reading id -> publish ms
    red: dict[str, int] = field(default_factory=dict)  # patient -> publish ms of its red reading
    publish_errors: int = 0


def payload(gw: str, addr: str, ms: int, spo2: int, seq: int, mode: str = "continuous") -> tuple[str, bytes]:
    at = iso(ms)
    frame = f"{seq:08x}"
    rid = hashlib.sha256("\x1f".join([addr, "plx-continuous", at, frame]).encode()).hexdigest()[:32]
    body = {
        "v": 1, "reading_id": rid, "measured_at": at, "received_at": at, "mode": mode,
        "spo2": spo2, "pulse": 72, "perfusion_index": 4.2,
        "status": {"measurement": None, "device_sensor": None},
        "source": {"gateway_id": gw, "device_address": addr, "protocol": "plx-continuous", "model": "bench"},
        "frame": frame,
    }  # fmt: skip
    return rid, json.dumps(body, separators=(",", ":")).encode()


def publish_load(
    mqtt_url: str, patients: list[tuple[str, str, str]], rate: float, duration: float
) -> Offered:
    """Publish at `rate` readings/s for `duration` s, spread evenly over the patients."""
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(4)}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, int(port))
    client.loop_start()
    offered = Offered()
    total = int(rate * duration)
    slots = random.sample(range(total), min(total, len(patients)))
    red_at = {p[0]: slot for p, slot in zip(patients, slots, strict=False)}
    red_slot = {slot: pid for pid, slot in red_at.items()}
    start = time.perf_counter()
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pid, gw, addr = patients[n % len(patients)]
        is_red = red_slot.get(n) is not None
        if is_red:
            pid, gw, addr = next(p for p in patients if p[0] == red_slot[n])
        ms = int(time.time() * 1000)
        # The red probe is a spot-check: in continuous mode a single red reading must persist 15 s
        # before it alarms (alerting/continuous.py), which would measure the rule, not the pipeline.
        mode = "spot-check" if is_red else "continuous"
        rid, body = payload(gw, addr, ms, 90 if is_red else 96 + n % 4, n, mode)
        info = client.publish(f"oxiward/v1/readings/{partition(gw):02d}/{gw}", body, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            offered.publish_errors += 1
            continue
        offered.sent[rid] = ms
        if is_red:
            offered.red[pid] = ms
    client.loop_stop()
    client.disconnect()
    return offered


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def eval_progress(r: redis.Redis) -> tuple[int, int]:
    """(entries the evaluation group has read, entries still waiting or unacknowledged)."""
    read = waiting = 0
    for shard in range(keys.SHARDS):
        try:
            groups = r.xinfo_groups(keys.eval_stream(shard))
        except redis.ResponseError:
            continue
        for g in groups:
            read += int(g.get("entries-read") or 0)
            waiting += int(g.get("lag") or 0) + int(g.get("pending") or 0)
    return read, waiting


def collect(
    r: redis.Redis, patients: list[tuple[str, str, str]], offered: Offered, drain_s: float
) -> dict[str, Any]:
    expected = len(offered.sent)
    deadline = time.monotonic() + drain_s
    stored_at = evaluated_at = None
    while time.monotonic() < deadline:
        stored = sum(int(r.xlen(keys.readings(p[0]))) for p in patients)
        if stored >= expected and stored_at is None:
            stored_at = time.time()
        if stored_at is not None and eval_progress(r)[1] == 0:
            evaluated_at = time.time()
            break
        time.sleep(0.2)
    store_lat: list[float] = []
    seen: dict[str, int] = {}
    for pid, _, _ in patients:
        for entry_id, fields in r.xrange(keys.readings(pid)):
            rid = (fields.get(b"r") or b"").decode()  # api/reading_codec.py: `r` = reading id
            seen[rid] = seen.get(rid, 0) + 1
            if rid in offered.sent:
                store_lat.append(int(entry_id.split(b"-")[0]) - offered.sent[rid])
    alert_lat: list[float] = []
    for shard in range(keys.SHARDS):
        for entry_id, fields in r.xrange(keys.alert_events(shard)):
            pid = (fields.get(b"patient_id") or b"").decode()
            if pid in offered.red and (fields.get(b"event") or b"").decode() in {"raised", "upgraded"}:
                alert_lat.append(int(entry_id.split(b"-")[0]) - offered.red[pid])
    metrics = {k.decode(): int(v) for k, v in r.hgetall(keys.METRICS).items()}
    return {
        "expected": expected,
        "stored_unique": sum(1 for rid in offered.sent if rid in seen),
        "lost": sum(1 for rid in offered.sent if rid not in seen),
        "duplicated": sum(c - 1 for c in seen.values() if c > 1),
        "dead_letters": int(r.xlen(keys.DEAD_LETTER)),
        "store_latency_ms": store_lat,
        "alert_latency_ms": alert_lat,
        "stored_at": stored_at,
        "evaluated_at": evaluated_at,
        "metrics": metrics,
        "evaluated": eval_progress(r)[0] - eval_progress(r)[1],
    }


def start_stack(
    workdir: Path, token: str
) -> tuple[RedisServer, MosquittoBroker, subprocess.Popen[bytes], str]:
    rs = RedisServer(name="redis", workdir=workdir)
    rs.start()
    mb = MosquittoBroker(name="mosquitto", workdir=workdir)
    mb.start()
    port = free_port()
    env = dict(os.environ)
    env.update(
        OXIWARD_API_REDIS_URL=rs.url,
        OXIWARD_API_MQTT_URL=mb.url,
        OXIWARD_API_API_TOKENS=token,
        OXIWARD_API_PORT=str(port),
        # enrolling hundreds of patients in a burst is the benchmark's set-up, not abuse
        OXIWARD_API_RATE_LIMIT_PER_S="100000",
        OXIWARD_API_RATE_LIMIT_BURST="100000",
    )
    log = (workdir / "api.log").open("ab")
    cmd = [sys.executable, "-m", "oxiward.cli", "api"]
    api = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, timeout=30)
    return rs, mb, api, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def enrol_all(api_url: str, token: str, patients: list[Patient]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=auth, timeout=30) as http:
        for pid, _, addr in patients:
            body = {"patient_id": pid, "ref": pid, "devices": [addr]}
            http.post("/v1/wards/bench/patients", json=body).raise_for_status()


def report(a: argparse.Namespace, res: dict[str, Any], offered: Offered, t0: float, t_pub: float) -> None:
    n = res["expected"]
    pub_s = t_pub - t0
    print(
        f"machine      {os.cpu_count()} cores; {a.patients} gateways, {a.duration:.0f} s at {a.rate:,.0f}/s"
    )
    print(f"offered      {n} readings in {pub_s:.1f} s = {n / pub_s:,.0f}/s")
    stored = res["stored_unique"]
    if res["stored_at"]:
        rate = stored / (res["stored_at"] - t0)
        print(f"stored       {stored} = {rate:,.0f}/s (first publish to last stored)")
    else:
        print(f"stored       {stored} (NOT all within the drain window)")
    if res["evaluated_at"]:
        rate = res["evaluated"] / (res["evaluated_at"] - t0)
        print(f"evaluated    {res['evaluated']} = {rate:,.0f}/s (first publish to last evaluated)")
    else:
        print(f"evaluated    {res['evaluated']} (NOT all within the drain window)")
    for name, lat in (("stored", res["store_latency_ms"]), ("alert ", res["alert_latency_ms"])):
        top = max(lat, default=float("nan"))
        p50, p99 = pct(lat, 50), pct(lat, 99)
        print(f"publish->{name} ms  p50 {p50:.1f}  p99 {p99:.1f}  max {top:.1f}  (n={len(lat)})")
    print(f"dead letters {res['dead_letters']}")
    print(f"lost         {res['lost']}")
    print(f"duplicated   {res['duplicated']}")
    print(f"publish errors {offered.publish_errors}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000, help="readings/s offered")
    ap.add_argument("--duration", type=float, default=30, help="seconds of load")
    ap.add_argument("--patients", type=int, default=500, help="simulated patients (one gateway each)")
    ap.add_argument("--drain", type=float, default=120, help="seconds to wait for storage and evaluation")
    for flag in ("--redis-url", "--mqtt-url", "--api-url", "--token"):
        ap.add_argument(flag, help="use a running stack instead of starting one")
    a = ap.parse_args()
    token = a.token or secrets.token_hex(24)
    tmp = tempfile.TemporaryDirectory(prefix="oxiward-bench-")
    stack = None
    if a.redis_url and a.mqtt_url and a.api_url:
        redis_url, mqtt_url, api_url = a.redis_url, a.mqtt_url, a.api_url
    else:
        stack = start_stack(Path(tmp.name), token)
        redis_url, mqtt_url, api_url = stack[0].url, stack[1].url, stack[3]
    try:
        patients: list[Patient] = [(f"bench-{i:05d}", f"bgw-{i:05d}", address(i)) for i in range(a.patients)]
        enrol_all(api_url, token, patients)
        r = redis.Redis.from_url(redis_url)
        cpu0 = cpu_seconds(stack[2].pid) if stack else None
        redis_cpu0 = redis_cpu_seconds(r)
        t0 = time.time()
        offered = publish_load(mqtt_url, patients, a.rate, a.duration)
        t_pub = time.time()
        res = collect(r, patients, offered, a.drain)
        redis_cpu = redis_cpu_seconds(r) - redis_cpu0
        cpu1 = cpu_seconds(stack[2].pid) if stack else None
    finally:
        if stack:
            stack[2].terminate()
            stack[2].wait(timeout=30)
            stack[1].stop()
            stack[0].stop()
        tmp.cleanup()
    report(a, res, offered, t0, t_pub)
    if cpu0 is not None and cpu1 is not None:
        used = cpu1 - cpu0
        print(f"service CPU  {used:.1f} s = {used / max(res['expected'], 1) * 1e6:.0f} us per reading")
    # Includes the benchmark's own reads of every history at the end (the same in every run).
    print(f"redis CPU    {redis_cpu:.1f} s = {redis_cpu / max(res['expected'], 1) * 1e6:.0f} us per reading")


if __name__ == "__main__":
    threading.excepthook = lambda args: print("thread error:", args.exc_value, file=sys.stderr)
    main()
