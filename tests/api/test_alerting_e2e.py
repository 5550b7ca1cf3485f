"""From MQTT to escalation: readings and gateway status published to a real Mosquitto, ingested into
a real Redis, evaluated under the patient's care plan by the worker thread, and the scheduler thread
escalating and raising technical alerts on its own -- all on the real clock."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from api.ingest import IngestService
from api.worker import EvaluationWorker
from tests.api import alerting_support as s
from tests.api.factories import GATEWAY, TOPIC, encode, enrol, payload
from tests.api.test_ingest import forget_session, make_settings, publish
from tests.services import MosquittoBroker

pytestmark = pytest.mark.integration

PID = "p-e2e-al-1"
WARD = "ward-e2e"


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    enrol(client, PID, WARD, s.DEVICE, "Bed 1")
    yield client
    client.close()


def test_a_reading_over_mqtt_alerts_under_its_plan_escalates_and_the_gateway_going_offline_is_seen(
    r: redis.Redis, redis_url: str, mosquitto: MosquittoBroker
) -> None:
    s.set_plan(r, PID, {"rule_pack": "news2-scale1"})
    s.set_ward_config(
        r,
        WARD,
        {
            "escalation": {
                "tiers": [{"name": "ward-nurse", "ack_within_s": 1}, {"name": "on-call", "ack_within_s": 60}]
            },
            "technical": {"gateway_offline_after_s": 0, "stale_after_s": 3600, "battery_low_percent": 10},
        },
    )
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    ingest = IngestService(make_settings(redis_url, mosquitto.url, client_id), reconnect_delay=(1, 2))
    worker = EvaluationWorker(s.settings(redis_url), scheduler_interval_s=0.2)
    ingest.start()
    worker.start()
    try:
        wait_for(lambda: ingest.connected, "ingest connected")
        measured = datetime.now(UTC) - timedelta(seconds=2)
        publish(mosquitto.url, [(TOPIC, encode(payload(spo2=91, pulse=80, measured_at=measured)))])
        wait_for(lambda: bool(s.alerts(r, PID)), "an alert")
        [alert] = s.alerts(r, PID)
        # NEWS2 scale 1: SpO2 91 scores 3, a single-parameter 3 (Chart 4), on oximeter data only.
        assert (alert["rule"], alert["priority"], alert["news2_partial"]) == ("news2", "medium", True)
        wait_for(lambda: "escalated" in s.kinds(r, PID), "an escalation to on-call")
        status = {
            "v": 1,
            "gateway_id": GATEWAY,
            "state": "offline",
            "at": measured.isoformat().replace("+00:00", "Z"),
        }
        publish(mosquitto.url, [(f"oxiward/v1/status/{GATEWAY}", json.dumps(status).encode())], retain=True)
        wait_for(
            lambda: "gateway-offline" in {a["rule"] for a in s.alerts(r, PID)}, "a gateway-offline alert"
        )
        offline = next(a for a in s.alerts(r, PID) if a["rule"] == "gateway-offline")
        assert (offline["priority"], offline["technical"]) == ("low", True)
    finally:
        worker.stop()
        ingest.stop(timeout=5)
        publish(mosquitto.url, [(f"oxiward/v1/status/{GATEWAY}", b"")], retain=True)  # clear the retained
        forget_session(mosquitto.url, client_id)
