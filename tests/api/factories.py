"""Builders for service tests: enrolment (the same fields api/registry.py writes) and payloads."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from api import keys
from api.contract import readings_topic
from tests.conftest import load_golden

GATEWAY = "gw-0001"
DEVICE = "C0:FF:EE:00:00:01"
TOPIC = readings_topic(GATEWAY)


def enrol(r: redis.Redis, patient_id: str, ward: str, device_address: str, ref: str) -> None:
    """Enrol a patient with one device, writing exactly what api/registry.py writes."""
    address = device_address.upper()
    r.set(keys.device(address), patient_id)
    r.hset(
        keys.patient(patient_id),
        mapping={
            "ward": ward,
            "ref": ref,
            "enrolled_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "devices": address,
        },
    )
    r.sadd(keys.ward_patients(ward), patient_id)
    r.sadd(keys.wards(), ward)


def golden(name: str) -> dict[str, Any]:
    """A golden file's content by name (e.g. 'accept-minimal-plx-cont-01')."""
    return dict(load_golden())[name]


def golden_payload(name: str) -> dict[str, Any]:
    return copy.deepcopy(golden(name)["payload"])


def iso_ms(dt: datetime) -> str:
    return f"{dt.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def reading_id(device_address: str, protocol: str, measured_at: str, frame: str) -> str:
    """The contract's deterministic id (docs/wire-contract.md)."""
    joined = "\x1f".join((device_address, protocol, measured_at, frame))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def payload(
    *,
    spo2: float | None = 97.0,
    pulse: float | None = 72.0,
    measured_at: datetime | None = None,
    mode: str = "spot-check",
    measurement: int | None = None,
    device_sensor: int | None = None,
    device: str = DEVICE,
    gateway: str = GATEWAY,
    seq: int = 0,
) -> dict[str, Any]:
    """A valid reading payload; a distinct `seq` or time gives a distinct reading id."""
    when = measured_at or datetime.now(UTC) - timedelta(seconds=1)
    measured = iso_ms(when)
    frame = f"{seq:08x}"
    return {
        "v": 1,
        "reading_id": reading_id(device, "plx-spot-check", measured, frame),
        "measured_at": measured,
        "received_at": measured,
        "mode": mode,
        "spo2": spo2,
        "pulse": pulse,
        "perfusion_index": None,
        "status": {"measurement": measurement, "device_sensor": device_sensor, "device_clock_not_set": False},
        "source": {
            "gateway_id": gateway,
            "device_address": device,
            "protocol": "plx-spot-check",
            "model": None,
        },
        "frame": frame,
    }


def encode(p: dict[str, Any]) -> bytes:
    return json.dumps(p).encode("utf-8")
