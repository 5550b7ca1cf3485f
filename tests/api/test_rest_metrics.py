"""GET /metrics: request latency by route template, and the pipeline's counters read from Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from prometheus_client.parser import text_string_to_metric_families

from api import keys
from api.store import ReadingStore
from api.worker import EvaluationWorker
from tests.api import factories
from tests.api.rest_support import AUTH, RETENTION_MS, api_client, evaluate, settings, store_readings
from tests.services import RedisServer


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_export_requests_ingest_dead_letters_lag_and_alerts(redis_url: str) -> None:
    # Delivery failures (channel rota-webhook, integrator-webhook, apprise, mqtt) are counted by real
    # failed deliveries: tests/notify/test_delivery_metrics.py.
    now = datetime.now(UTC).replace(microsecond=0)
    device = "C0:FF:EE:0C:00:01"
    r = redis.Redis.from_url(redis_url)
    try:
        async with api_client(redis_url) as client:
            body = {"patient_id": "p-metrics-1", "ref": "Bed 1", "devices": [device]}
            assert (await client.post("/v1/wards/w1/patients", json=body, headers=AUTH)).status_code == 201
            payloads = [
                factories.payload(spo2=s, device=device, seq=i, measured_at=now - timedelta(minutes=3 - i))
                for i, s in enumerate((97.0, 96.0, 84.0))
            ]
            store_readings(redis_url, payloads)
            ReadingStore(r, retention_ms=RETENTION_MS).dead_letter(
                "invalid-json", "not JSON", factories.TOPIC, b"{"
            )
            EvaluationWorker(settings(redis_url), client=r).ensure_groups()
            assert (await client.get("/v1/patients/p-metrics-1", headers=AUTH)).status_code == 200
            before = _samples((await client.get("/metrics")).text)
            evaluate(redis_url, at=now)
            response = await client.get("/metrics")
    finally:
        r.close()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)
    assert _value(after, "oxiward_redis_up") == 1
    assert _value(after, "oxiward_readings_received_total") == 3
    assert _value(after, "oxiward_readings_stored_total") == 3
    assert _value(after, "oxiward_dead_letters_total", reason="invalid-json") == 1
    assert _value(after, "oxiward_dead_letter_length") == 1
    # Counted by the worker's own atomic alert save (api/lua/alerts.lua), once per raised alert.
    assert ("oxiward_alerts_raised_total", (("priority", "high"),)) not in before
    assert _value(after, "oxiward_alerts_raised_total", priority="high") == 1
    shard = str(keys.shard_of("p-metrics-1"))
    assert _value(before, "oxiward_eval_consumer_lag", shard=shard) == 3  # stored, not yet evaluated
    assert _value(after, "oxiward_eval_consumer_lag", shard=shard) == 0
    assert _value(before, "oxiward_patients_with_open_alert", priority="high") == 0
    assert _value(after, "oxiward_patients_with_open_alert", priority="high") == 1
    latency = "oxiward_http_request_duration_seconds_count"
    assert _value(after, latency, method="GET", route="/v1/patients/{patient_id}", status="200") == 1
    assert _value(after, latency, method="POST", route="/v1/wards/{ward_id}/patients", status="201") == 1
    # Labels carry route templates, never ids.
    assert "p-metrics-1" not in response.text
    assert device not in response.text


async def test_metrics_answer_when_redis_is_down(own_redis: RedisServer) -> None:
    async with api_client(own_redis.url) as client:
        own_redis.stop()
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.text)
    assert _value(samples, "oxiward_redis_up") == 0
    assert "process_cpu_seconds_total" in response.text  # the process metrics still come
