"""Outbox flush benchmark: a 24 h backlog of two oximeters at 1 Hz drains to a local Mosquitto.

Issue 3 (store and forward): "a 24 h backlog flushes in under a minute against local Mosquitto".
The backlog is 2 × 86,400 realistic reading.v1 payloads, written to a real SQLite WAL outbox the
way the gateway writes them (batches, synchronous=FULL). Then the gateway's own publisher
(gateway.mqtt_client.GatewayMqtt, QoS 1, rows deleted only after PUBACK) sends them to a private
Mosquitto while a QoS 1 subscriber (mosquitto_sub, its own process) records what arrives; order
and completeness are checked afterwards.

    .venv/bin/python -m bench.outbox_flush            # the 24 h case
    .venv/bin/python -m bench.outbox_flush --hours 1  # quicker

Prints: rows, outbox size on disk, fill time, drain time (outbox empty = every row PUBACKed),
time until the subscriber had every reading, readings/s, in-flight high-water mark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.model import Reading
from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
from gateway.payload import encode_reading, reading_topic
from tests.services import MosquittoBroker

GATEWAY_ID = "bench-gw-01"
DEVICES = ("C0:FF:EE:00:00:01", "C0:FF:EE:00:00:02")
BATCH = 1000


def backlog(hours: float) -> list[tuple[str, str, bytes]]:
    """One reading per second per device, oldest first, as the gateway would have stored them."""
    topic = reading_topic(GATEWAY_ID)
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    items: list[tuple[str, str, bytes]] = []
    for second in range(int(hours * 3600)):
        at = start + timedelta(seconds=second)
        for index, address in enumerate(DEVICES):
            spo2 = 95.0 + (second + index) % 4
            frame = bytes([0x1C, int(spo2), 0x00, 72, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x32, 0x00])
            reading = Reading(
                measured_at=at, received_at=at, mode="continuous", spo2=spo2, pulse=72.0,
                perfusion_index=5.0, measurement_status=0x0080, device_sensor_status=0,
                device_clock_not_set=False, gateway_id=GATEWAY_ID, device_address=address,
                protocol="plx-continuous", model="Bench PLX", frame=frame,
            )  # fmt: skip
            items.append((reading.reading_id, topic, encode_reading(reading)))
    return items


def start_counter(port: int, topic: str, expected: int, out: Path) -> subprocess.Popen[bytes]:
    """`mosquitto_sub` in its own process (as the service would be), QoS 1, until `expected` arrive.

    A Python subscriber in this process would compete with the publisher for the GIL and make the
    gateway look slower than it is.
    """
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        raise SystemExit("mosquitto_sub not found: install the Debian package mosquitto-clients")
    command = [
        binary, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1", "-C", str(expected),
        "-i", "bench-counter", "-F", "%p",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=out.open("wb"), stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # subscribed before the first publish (mosquitto_sub has no "ready" signal)
    return proc


def received_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_bytes().splitlines():
        start = line.find(b'"reading_id":"') + 14
        ids.append(line[start : start + 32].decode())
    return ids


def paho_baseline(port: int, count: int = 20_000, window: int = 200) -> float:
    """Bare paho: QoS 1 publishes of the same size, `window` unacknowledged at a time, no outbox.

    The ceiling for any Python publisher on this machine right now (services.md: the Python client,
    not the broker, is the bottleneck); the outbox figure is best read as a fraction of it.
    """
    done = threading.Event()
    room = threading.Semaphore(window)
    acked = [0]

    def on_publish(client: paho.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        acked[0] += 1
        room.release()
        if acked[0] == count:
            done.set()

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-baseline", protocol=MQTTProtocolVersion.MQTTv311
    )
    client.max_inflight_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.3)
    payload = b"x" * 438
    began = time.perf_counter()
    for _ in range(count):
        room.acquire()
        client.publish("bench/baseline", payload, qos=1)
    done.wait(120)
    rate = count / (time.perf_counter() - began)
    client.disconnect()
    client.loop_stop()
    return rate


def run(hours: float, max_inflight: int) -> None:
    with tempfile.TemporaryDirectory(prefix="oxiward-bench-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(name="mosquitto", workdir=workdir)
        broker.start()
        try:
            items = backlog(hours)
            box = Outbox(workdir / "outbox.sqlite3", max_rows=max(len(items), 1000))
            began = time.perf_counter()
            for i in range(0, len(items), BATCH):
                box.put_many(items[i : i + BATCH])
            fill_s = time.perf_counter() - began
            size = sum(p.stat().st_size for p in workdir.glob("outbox.sqlite3*"))
            baseline = paho_baseline(broker.port)
            load = os.getloadavg()[0]
            counter = start_counter(broker.port, reading_topic(GATEWAY_ID), len(items), workdir / "sub.out")
            mqtt = GatewayMqtt(
                gateway_id=GATEWAY_ID, host="127.0.0.1", port=broker.port, outbox=box,
                max_inflight=max_inflight,
            )  # fmt: skip
            began = time.perf_counter()
            mqtt.start()
            while box.depth() and time.perf_counter() - began < 600:
                time.sleep(0.05)
            drain_s = time.perf_counter() - began
            try:
                counter.wait(timeout=max(5.0, 600 - drain_s))
            except subprocess.TimeoutExpired:
                counter.kill()
            received_s = time.perf_counter() - began
            mqtt.stop()
            box.close()
            got = received_ids(workdir / "sub.out")
        finally:
            broker.stop()
    sent_ids = [rid for rid, _, _ in items]
    first_seen = list(dict.fromkeys(got))
    print(f"backlog            {len(items):,} readings ({hours:g} h x {len(DEVICES)} devices at 1 Hz)")
    print(f"payload            {sum(len(p) for _, _, p in items) / len(items):.0f} B per reading (JSON)")
    print(f"outbox on disk     {size / 1e6:.1f} MB ({size / len(items):.0f} B per reading)")
    print(f"fill               {fill_s:.1f} s in batches of {BATCH}")
    rate = len(items) / drain_s
    print(f"drain (all PUBACK) {drain_s:.1f} s = {rate:,.0f} readings/s")
    print(f"bare paho now      {baseline:,.0f} msg/s (the outbox path reaches {rate / baseline:.0%} of it)")
    print(f"machine            {os.cpu_count()} CPUs, load average {load:.1f} when the drain started")
    print(f"subscriber got all {received_s:.1f} s ({len(first_seen):,} distinct, {len(got):,} total)")
    print(f"in-flight max      {mqtt.inflight_high_water} (limit {max_inflight})")
    print(f"oldest first       {'yes' if first_seen == sent_ids else 'NO'}")
    print(f"verdict            {'PASS' if drain_s < 60 and first_seen == sent_ids else 'FAIL'} (< 60 s)")


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--hours", type=float, default=24.0, help="backlog length (default 24)")
    parser.add_argument("--max-inflight", type=int, default=200, help="publisher window (default 200)")
    args = parser.parse_args()
    run(args.hours, args.max_inflight)


if __name__ == "__main__":
    main()
