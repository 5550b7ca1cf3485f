"""GET /metrics counts real failed deliveries and the alerts behind them (issue 5, operations):
a rota webhook answering 500 is retried, dead-lettered and raises a technical alert, and every
step shows in the exported counters, written by the code paths themselves."""

from __future__ import annotations

import asyncio

import redis
from prometheus_client.parser import text_string_to_metric_families

from api.notify.delivery import NotificationDelivery
from tests.api.rest_support import api_client
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
    failures = ("oxiward_delivery_failures_total", (("channel", "webhook"),))
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
    assert before[(raised, (("priority", "high"),))] == 1  # the SpO2 alert
    # The dead letter raised the delivery-failed technical alert (medium): counted by its save too.
    assert (raised, (("priority", "medium"),)) not in before
    assert after[(raised, (("priority", "medium"),))] == 1
