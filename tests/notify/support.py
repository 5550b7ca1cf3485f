"""Helpers for the notification tests: a patient on a ward, an alert raised through the alert engine
(so its notification is written exactly as the worker writes it), a rota and an escalation ladder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import SecretStr

from alerting.escalation import EscalationLadder, Tier
from alerting.model import Priority
from alerting.results import RuleResult, Status
from api import keys
from api.alert_engine import PatientAlerts, Step
from api.alert_record import cause_of, iso
from api.alert_store import SyncAlertStore, text
from api.notify import keys as nkeys
from api.notify.delivery import NotificationDelivery
from api.notify.rota import Rota, RotaPut, record
from api.settings import ApiSettings
from api.ward_config import WardConfig
from api.webhooks.delivery import WebhookDelivery
from tests.api.alerting_support import Clock as Clock  # the hand-moved clock, shared

WARD = "north-1"
SECRET = "whsec_test-secret-0123456789"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settings(redis_url: str) -> ApiSettings:
    return ApiSettings(redis_url=redis_url, mqtt_url="mqtt://127.0.0.1:9", api_tokens=SecretStr("t" * 20))


def enrol(r: redis.Redis, pid: str, ref: str, ward: str = WARD, nhs: str | None = None) -> None:
    """The registry's layout (api/registry.py), written directly."""
    fields = {"ward": ward, "ref": ref, "enrolled_at": iso(T0), "devices": ""}
    if nhs is not None:
        fields["nhs"] = nhs
    r.hset(keys.patient(pid), mapping=dict[Any, Any](fields))
    r.sadd(keys.ward_patients(ward), pid)
    r.sadd(keys.wards(), ward)


def raise_alert(r: redis.Redis, pid: str, now: datetime, priority: Priority = Priority.HIGH) -> str:
    """An SpO2 alert raised through the engine and saved atomically, notification included."""
    result = RuleResult("spo2-band", Status.ALERT, priority, measured_at=now, reasons=("spo2<=92",))
    step = Step(PatientAlerts(pid, {}), now)
    step.apply(result, Priority.HIGH, cause_of(result, None, 90.0))
    assert SyncAlertStore(r).save_many([step.change]) == ["ok"]
    return str(json.loads(step.change.alerts[0])["alert_id"])


def clear_condition(r: redis.Redis, pid: str, now: datetime) -> None:
    """The SpO2 condition clears: a medium alert resolves itself with an all-clear (page false)."""
    store = SyncAlertStore(r)
    [raw] = store.get_open_many([(pid, "spo2-band")])
    assert isinstance(raw, str)
    assert raw
    step = Step(PatientAlerts(pid, {"spo2-band": raw}), now)
    result = RuleResult("spo2-band", Status.CLEAR, measured_at=now)
    step.apply(result, Priority.HIGH, cause_of(result, None, 97.0))
    assert store.save_many([step.change]) == ["ok"]


def set_rota(r: redis.Redis, body: dict[str, Any], ward: str = WARD) -> None:
    rota = Rota.from_put(RotaPut.model_validate(body))
    r.set(nkeys.rota(ward), json.dumps(record(ward, rota, 1, "test", iso(T0))))


def webhook(url: str, privacy: str = "minimal") -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "secret": SECRET, "privacy": privacy}


def set_ladder(r: redis.Redis, *seconds: float, ward: str = WARD) -> None:
    ladder = EscalationLadder(tuple(Tier(f"tier-{i}", s) for i, s in enumerate(seconds)))
    config = {"ward_id": ward, "version": 1, "config": WardConfig(escalation=ladder).to_dict()}
    r.set(keys.ward_alerting(ward), json.dumps(config))


def deliveries(r: redis.Redis, alert_id: str) -> list[dict[str, str]]:
    ids = [text(i) for i in r.lrange(nkeys.alert_deliveries(alert_id), 0, -1)]
    return [{text(k): text(v) for k, v in r.hgetall(nkeys.delivery(i)).items()} for i in ids]


def first_status(r: redis.Redis, alert_id: str) -> str:
    """The status of the alert's first delivery ('' before there is one)."""
    found = deliveries(r, alert_id)
    return found[0]["status"] if found else ""


def pump(
    worker: NotificationDelivery | WebhookDelivery, until: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Run delivery passes until the condition holds (retries are due by the wall clock)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        if not worker.run_once():
            time.sleep(0.02)
