"""GET /metrics counts real failed deliveries and the alerts behind them (issue 5, operations):
a rota webhook answering 500 is retried, dead-lettered and raises a technical alert, and every
step shows in the exported counters, written by the code paths themselves. Rota webhooks (people
on call) and integrators' webhooks (systems) fail under their own `channel` label."""

from __future__ import annotations

import asyncio

import redis
from prometheus_client.parser import text_string_to_metric_families

from api.notify.delivery import NotificationDelivery
from api.webhooks.delivery import WebhookDelivery
from tests.api.rest_support import AUTH, api_client
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.support import T0, Clock, enrol, first_status, pump, raise_alert, set_rota, webhook

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(redis_url: str) -> Samples:
    async def go() -> str:
        async with api_client(redis_url) as client:
            return (await client.get("/metrics")).text

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(asyncio.run(go()))
        for s in family.samples
    }


def test_failed_webhook_attempts_and_the_alerts_they_cause_are_counted(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    failures = ("oxiward_delivery_failures_total", (("channel", "rota-webhook"),))
    raised = "oxiward_alerts_raised_total"
    with receiver() as rx:
        rx.scripts["/down"] = [500]
        set_rota(
            r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/down"))]}]}]}
        )
        alert_id = raise_alert(r, "p1", T0)
        before = _scrape(redis_url)
        worker = NotificationDelivery(
            r,
            link_base="https://oxiward.example",
            clock=Clock(T0),
            base_delay_s=0.05,
            targets=LOCAL_TARGETS,
            max_attempts=3,
        )
        pump(worker, lambda: first_status(r, alert_id) == "dead-lettered")
        assert len(rx.at("/down")) == 3
    after = _scrape(redis_url)
    assert failures not in before
    assert after[failures] == 3  # one per failed attempt
    assert not [key for key in after if key[0] == failures[0] and key != failures]  # under its own label
    assert before[(raised, (("priority", "high"),))] == 1  # the SpO2 alert
    # The dead letter raised the delivery-failed technical alert (medium): counted by its save too.
    assert (raised, (("priority", "medium"),)) not in before
    assert after[(raised, (("priority", "medium"),))] == 1


def test_failed_integrator_webhook_attempts_are_counted_apart_from_the_rotas(redis_url: str) -> None:
    async def subscribe_and_ping(url: str) -> None:
        async with api_client(redis_url) as client:
            body = {"url": url, "events": ["alert.raised"]}
            created = await client.post("/v1/webhooks", json=body, headers=AUTH)
            assert created.status_code == 201, created.text
            sid = created.json()["subscription_id"]
            assert (await client.post(f"/v1/webhooks/{sid}/ping", headers=AUTH)).status_code == 202

    r = redis.Redis.from_url(redis_url)
    with receiver() as rx:
        rx.scripts["/down"] = [500]
        asyncio.run(subscribe_and_ping(rx.url("/down")))
        worker = WebhookDelivery(r, targets=LOCAL_TARGETS, base_delay_s=0.05, max_attempts=2)
        pump(worker, lambda: len(rx.at("/down")) == 2)
    after = _scrape(redis_url)
    failures = {
        dict(labels)["channel"]: v for (name, labels), v in after.items() if name.endswith("failures_total")
    }
    assert failures == {"integrator-webhook": 2}  # one per failed attempt; never counted as the rota's
